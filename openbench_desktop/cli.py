"""The headless command line. Shares the core with the GUI; imports it lazily.

``openbench-desktop --help`` must stay fast, so nothing heavy is imported at module level:
each command imports what it needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from openbench_desktop import __version__

if TYPE_CHECKING:
    from collections.abc import Callable

    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.domain import RunRecord, RunSpec, RunSummary
    from openbench_desktop.core.engine.cancel import CancelToken
    from openbench_desktop.core.engine.runner import RunDeps
    from openbench_desktop.core.secrets import SecretStore
    from openbench_desktop.core.storage import Store

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130

CHAT_PROVIDERS = ("openai", "anthropic")
AUDIO_PROVIDERS = (
    "pocketsphinx", "faster-whisper", "whispercpp", "openai-audio", "espeak", "piper",
)


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openbench-desktop",
        description="Benchmark AI models on your own workstation. "
        "Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="keep the database, logs, settings and cache under DIR "
        "(default: $OPENBENCH_HOME, else the platform's user folders)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="open the app offscreen, run the first-launch demo, exit 0 on success",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a benchmark against a model endpoint")
    ep = run.add_argument_group("endpoint")
    ep.add_argument("--provider", default=None, choices=[*CHAT_PROVIDERS, *AUDIO_PROVIDERS],
                    help="API shape: any OpenAI-compatible server, or Anthropic (default: "
                    "openai); speech benchmarks: pocketsphinx (default for asr), "
                    "faster-whisper, whispercpp, openai-audio, espeak (default for tts), "
                    "piper")
    ep.add_argument("--base-url",
                    help="e.g. http://127.0.0.1:8000/v1 (vLLM, Ollama, LM Studio, llama.cpp) "
                    "or https://api.anthropic.com (required, except for local speech models)")
    ep.add_argument("--model", help="model id as the server names it (required, except for "
                    "speech benchmarks: a model folder or file, a voice, or the provider's "
                    "default)")
    ep.add_argument("--api-key-name", metavar="NAME",
                    help="name of a key stored with 'keys set' (default: OPENAI_API_KEY / "
                    "ANTHROPIC_API_KEY from the environment, or no key)")
    bm = run.add_argument_group("benchmark")
    bm.add_argument("--benchmark", required=True, help="gsm8k, mmlu or custom (see 'benchmarks')")
    bm.add_argument("--dataset", metavar="PATH", help="a local JSONL/CSV/Parquet file")
    bm.add_argument("--hub-id", metavar="ID", help="a Hugging Face dataset id, e.g. openai/gsm8k")
    bm.add_argument("--hub-config", metavar="NAME", help="hub dataset config, e.g. main")
    bm.add_argument("--split", help="hub dataset split (default: test)")
    bm.add_argument("--prompt-field", help="custom datasets: the prompt column")
    bm.add_argument("--expected-field", help="custom datasets: the expected-answer column")
    bm.add_argument("--scorer", choices=["exact", "includes", "regex", "numeric"],
                    help="custom datasets: how to score (default: exact)")
    bm.add_argument("--scorer-arg", metavar="PATTERN", help="the pattern for --scorer regex")
    bm.add_argument("--limit", type=int, help="run only the first N samples")
    sp = run.add_argument_group("speech (--benchmark asr or tts)")
    sp.add_argument("--normalizer", choices=["whisper", "basic", "raw"],
                    help="text normalizer applied before WER/CER (default: whisper)")
    sp.add_argument("--language", help="language code passed to the recogniser (default: en)")
    sp.add_argument("--warmup", type=int, help="warm-up passes excluded from RTFx (default 1); "
                    "speed: warm-up requests, not measured (default 0)")
    sp.add_argument("--voice", help="tts: the voice (eSpeak NG voice, a Piper voice's .onnx "
                    "file, or the endpoint's)")
    sp.add_argument("--asr-provider", choices=["pocketsphinx", "faster-whisper", "whispercpp"],
                    help="tts: the recogniser of the round trip (default: pocketsphinx)")
    sp.add_argument("--asr-model", help="tts: the round-trip recogniser's model")
    gen = run.add_argument_group("generation")
    gen.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    gen.add_argument("--temperature", type=float, default=0.0)
    gen.add_argument("--max-tokens", type=int, default=512)
    gen.add_argument("--top-p", type=float)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--system-prompt")
    gen.add_argument("--no-stream", action="store_true",
                     help="ask for non-streamed replies (no TTFT or inter-token latency)")
    gen.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    lim = run.add_argument_group("limits and retries")
    lim.add_argument("--max-duration", type=float, metavar="S",
                     help="stop the run after S seconds (finished samples kept; resumable)")
    lim.add_argument("--cost-cap", type=float, metavar="USD",
                     help="stop before the worst-case spend would pass USD (needs prices)")
    lim.add_argument("--price-in", type=float, metavar="USD_PER_MTOK",
                     help="input price per million tokens (for --cost-cap and the run's cost)")
    lim.add_argument("--price-out", type=float, metavar="USD_PER_MTOK",
                     help="output price per million tokens")
    lim.add_argument("--rpm", type=float, help="client-side limit: requests per minute")
    lim.add_argument("--tpm", type=float, help="client-side limit: tokens per minute")
    lim.add_argument("--max-attempts", type=int, default=5,
                     help="attempts per request for 429/5xx/timeouts/dropped connections")
    out = run.add_argument_group("output")
    out.add_argument("--name", help="a label for the run")
    out.add_argument("--tag", action="append", default=[], help="tag the run (repeatable)")
    out.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    from openbench_desktop.cli_speed import add_selfcheck_parser, add_speed_arguments

    add_speed_arguments(run)

    runs = sub.add_parser("runs", help="list, show or delete stored runs")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    rl = runs_sub.add_parser("list", help="stored runs, newest first")
    rl.add_argument("--limit", type=int, default=50)
    rl.add_argument("--status")
    rl.add_argument("--benchmark")
    rl.add_argument("--model")
    rl.add_argument("--json", action="store_true")
    rs = runs_sub.add_parser("show", help="a run's summary")
    rs.add_argument("run_id", metavar="ID", help="a run id or a unique prefix of one")
    rs.add_argument("--json", action="store_true")
    rd = runs_sub.add_parser("delete", help="delete a run and its samples")
    rd.add_argument("run_id", metavar="ID")
    rr = runs_sub.add_parser(
        "resume", help="finish an interrupted or cancelled run: send exactly the missing samples"
    )
    rr.add_argument("run_id", metavar="ID")
    rr.add_argument("--json", action="store_true")
    rf = runs_sub.add_parser(
        "retry-failed", help="re-send only the failed samples of a run, into the same run"
    )
    rf.add_argument("run_id", metavar="ID")
    rf.add_argument("--json", action="store_true")

    ex = sub.add_parser("export", help="export a run's samples to CSV or JSON")
    ex.add_argument("run_id", metavar="ID")
    ex.add_argument("--format", required=True, choices=["csv", "json"])
    ex.add_argument("--out", required=True, metavar="PATH")

    keys = sub.add_parser("keys", help="API keys in the OS keyring")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    ks = keys_sub.add_parser("set", help="store a key (read from a prompt, or from stdin)")
    ks.add_argument("name")
    keys_sub.add_parser("list", help="names of stored keys (never the values)")
    kd = keys_sub.add_parser("delete", help="delete a stored key")
    kd.add_argument("name")

    models = sub.add_parser("models", help="list the models an endpoint serves")
    models.add_argument("--provider", default="openai", choices=["openai", "anthropic"])
    models.add_argument("--base-url", required=True)
    models.add_argument("--api-key-name", metavar="NAME")

    sub.add_parser("benchmarks", help="list the available benchmarks")
    doc = sub.add_parser(
        "doctor", help="check the database, keyring, folders and optional extras; say what to fix"
    )
    doc.add_argument("--endpoints", action="store_true", help="also contact each saved endpoint")
    doc.add_argument("--json", action="store_true")
    add_selfcheck_parser(sub)
    return parser


# -- helpers -----------------------------------------------------------------------------


def _paths(args: argparse.Namespace) -> AppPaths:
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.logs import setup_logging

    paths = AppPaths.resolve(args.home).ensure()
    setup_logging(paths.log_dir)
    return paths


def _open_store(paths: AppPaths) -> Store:
    from openbench_desktop.core.storage import Store

    store = Store.open(paths)
    store.mark_interrupted()  # runs left 'running' by a process that died
    return store


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")


def _fmt(value: float | None, spec: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _print_summary(summary: RunSummary, record: RunRecord | None = None) -> None:
    s = summary
    lines = [
        f"run {s.run_id}  {s.status}  {s.benchmark} on {s.model}",
        f"  samples   {s.n_ok + s.n_failed}/{s.n_samples} done, {s.n_ok} ok, {s.n_failed} failed",
    ]
    if s.audio:  # speech runs: WER, RTFx and resources instead of accuracy and tokens
        lines.extend(_audio_lines(s.audio))
    else:
        lines.extend(_chat_lines(s))
    if s.speed:  # speed runs: the profile's steps, client-limited flags
        from openbench_desktop.cli_speed import speed_lines

        lines.extend(speed_lines(s.speed))
    if s.error_counts:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(s.error_counts.items()))
        lines.append(f"  errors    {errs}")
    if s.duration_s is not None:
        lines.append(f"  duration  {s.duration_s:.1f} s")
    if s.message:
        lines.append(f"  note      {s.message}")
    print("\n".join(lines))


def _chat_lines(s: RunSummary) -> list[str]:
    lines: list[str] = []
    if s.accuracy is not None and s.accuracy_ci is not None:
        lo, hi = s.accuracy_ci
        lines.append(
            f"  accuracy  {s.accuracy:.1%}  (95% CI {lo:.1%}-{hi:.1%}, Wilson; "
            f"{s.n_correct}/{s.n_ok} answered correctly)"
        )
    for label, pct in (("TTFT", s.ttft_ms), ("ITL", s.itl_ms), ("E2E", s.e2e_ms)):
        if pct.get("p50") is not None:
            lines.append(
                f"  {label:<9} p50 {_fmt(pct['p50'])} ms  p90 {_fmt(pct['p90'])}  "
                f"p95 {_fmt(pct['p95'])}  p99 {_fmt(pct['p99'])}"
            )
    if s.output_tokens_per_s is not None:
        lines.append(
            f"  tokens    {s.input_tokens} in, {s.output_tokens} out, "
            f"{s.output_tokens_per_s:.1f} output tokens/s"
        )
    elif s.n_ok:
        lines.append("  tokens    the server reported no usage: token counts unavailable")
    return lines


def _audio_lines(a: Any) -> list[str]:
    lines = []
    if a.get("wer") is not None:
        ci = a.get("wer_ci")
        ci_text = f"  (95% CI {ci[0]:.1%}-{ci[1]:.1%}, bootstrap)" if ci else ""
        lines.append(
            f"  WER       {a['wer']:.1%}{ci_text}  CER {_fmt(a.get('cer'), '.1%')}  "
            f"[{a.get('normalizer')}; raw WER {_fmt(a.get('wer_raw'), '.1%')}]"
        )
        lines.append(
            f"  edits     {a.get('substitutions')} sub, {a.get('deletions')} del, "
            f"{a.get('insertions')} ins over {a.get('ref_words')} reference words"
        )
    res = a.get("resources") or {}
    if a.get("rtfx") is not None:
        lines.append(
            f"  RTFx      {a['rtfx']:.2f}  ({a.get('audio_s', 0):.1f} s of audio; model load "
            f"{_fmt(res.get('model_load_s'), '.2f')} s, warm-up {_fmt(res.get('warmup_s'), '.2f')}"
            " s excluded)"
        )
    if a.get("health_issue_counts") is not None:
        issues = ", ".join(f"{k} {v}" for k, v in a["health_issue_counts"].items())
        lines.append(f"  health    {a.get('n_healthy')} clip(s) healthy; issues: {issues}")
    if res:
        lines.append(
            f"  resources CPU {_fmt(res.get('cpu_s'), '.1f')} s, peak RSS "
            f"{_fmt(res.get('peak_rss_mb'), '.0f')} MiB, wall {_fmt(res.get('wall_s'), '.1f')} s"
        )
    if a.get("failure_counts"):
        fails = ", ".join(f"{k} {v}" for k, v in sorted(a["failure_counts"].items()))
        lines.append(f"  failed    {fails}")
    return lines


def _summary_json(summary: RunSummary) -> dict[str, Any]:
    data = summary.to_dict()
    # Speech runs: wer, cer, wer_ci, rtfx … at the top level, beside n_failed and status.
    audio = data.pop("audio", None)
    if audio:
        data.update({k: v for k, v in audio.items() if k not in data})
    return data


def _spec_from_args(args: argparse.Namespace) -> RunSpec:
    from openbench_desktop.core.domain import DatasetRef, GenerationParams, RunSpec

    if args.dataset and args.hub_id:
        raise CliError("Give either --dataset or --hub-id, not both.")
    provider = args.provider or "openai"
    if provider not in CHAT_PROVIDERS:
        raise CliError(
            f"--provider {provider} runs speech benchmarks only (--benchmark asr or tts)."
        )
    if not args.base_url:
        raise CliError("--base-url is required (e.g. http://127.0.0.1:8000/v1).")
    if not args.model:
        raise CliError("--model is required (see 'openbench-desktop models').")
    dataset = DatasetRef(
        path=args.dataset,
        hub_id=args.hub_id,
        hub_config=args.hub_config,
        split=args.split,
        prompt_field=args.prompt_field,
        expected_field=args.expected_field,
    )
    params = GenerationParams(
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        top_p=args.top_p,
        stream=not args.no_stream,
        system_prompt=args.system_prompt,
        timeout_s=args.timeout,
    )
    return RunSpec(
        provider=provider,
        base_url=args.base_url.rstrip("/"),
        model=args.model,
        benchmark=args.benchmark,
        dataset=dataset,
        params=params,
        seed=args.seed,
        limit=args.limit,
        concurrency=args.concurrency,
        scorer=args.scorer,
        scorer_arg=args.scorer_arg,
        api_key_name=args.api_key_name,
        name=args.name,
        tags=tuple(args.tag),
        options=_limit_options(args),
    )


def _limit_options(args: argparse.Namespace) -> dict[str, Any]:
    """RunSpec options from the limits flags (only those given)."""
    if args.cost_cap is not None and (args.price_in is None or args.price_out is None):
        raise CliError("--cost-cap needs --price-in and --price-out (USD per million tokens).")
    pairs = {
        "max_duration_s": args.max_duration,
        "cost_cap_usd": args.cost_cap,
        "price_input_per_mtok": args.price_in,
        "price_output_per_mtok": args.price_out,
        "requests_per_minute": args.rpm,
        "tokens_per_minute": args.tpm,
        "retry_attempts": args.max_attempts,
    }
    return {k: v for k, v in pairs.items() if v is not None}


class _ProgressPrinter:
    """A progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, enabled: bool, *, show_accuracy: bool = True) -> None:
        """``show_accuracy``: off for load tests, where no answer is scored."""
        self._enabled = enabled
        self._show_accuracy = show_accuracy
        self._bar: Any = None

    def __call__(self, event: object) -> None:
        from openbench_desktop.core.domain import Progress, RunStarted

        if not self._enabled:
            return
        if isinstance(event, RunStarted):
            from tqdm import tqdm

            self._bar = tqdm(total=event.n_total, unit="sample", file=sys.stderr, leave=False)
        elif isinstance(event, Progress) and self._bar is not None:
            self._bar.n = event.n_done
            postfix = f"failed {event.n_failed}"
            if self._show_accuracy:
                acc = f"{event.n_correct / event.n_ok:.1%}" if event.n_ok else "-"
                postfix = f"acc {acc}, {postfix}"
            self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# -- commands ----------------------------------------------------------------------------


def _audio_spec_from_args(args: argparse.Namespace) -> RunSpec:
    """A speech run's spec: provider defaults per benchmark, options from the speech flags."""
    from openbench_desktop.core.domain import DatasetRef, GenerationParams, RunSpec

    if args.hub_id:
        raise CliError("Speech benchmarks read local folders: use --dataset DIR, not --hub-id.")
    benchmark = args.benchmark.strip().lower()
    provider = args.provider or ("pocketsphinx" if benchmark == "asr" else "espeak")
    if provider in CHAT_PROVIDERS:
        raise CliError(
            f"--provider {provider} serves chat models; speech benchmarks take "
            f"{', '.join(AUDIO_PROVIDERS)}."
        )
    options: dict[str, Any] = {}
    for key in ("normalizer", "language", "warmup", "voice", "asr_provider", "asr_model"):
        value = getattr(args, key, None)
        if value is not None:
            options[key] = value
    return RunSpec(
        provider=provider,
        base_url=(args.base_url or "").rstrip("/"),
        model=args.model or "",
        benchmark=benchmark,
        dataset=DatasetRef(path=args.dataset),
        params=GenerationParams(timeout_s=args.timeout),
        seed=args.seed,
        limit=args.limit,
        concurrency=1,
        api_key_name=args.api_key_name,
        name=args.name,
        tags=tuple(args.tag),
        options=options,
    )


def cmd_run(args: argparse.Namespace, secrets: SecretStore | None) -> int:
    from openbench_desktop.core.audio import AUDIO_BENCHMARKS

    if args.benchmark.strip().lower() in AUDIO_BENCHMARKS:
        return _cmd_audio_run(args, secrets)
    from openbench_desktop.core.speed.runner import is_speed_benchmark

    if is_speed_benchmark(args.benchmark):
        return _cmd_speed_run(args, secrets)
    from openbench_desktop.core.engine.runner import execute_run, prepare_run

    spec = _spec_from_args(args)
    paths = _paths(args)
    prepared = prepare_run(spec, paths)  # bad spec or dataset: fail before storing anything

    def start(deps: RunDeps, progress: _ProgressPrinter, cancel: CancelToken) -> RunSummary:
        return execute_run(spec, deps, on_event=progress, cancel=cancel, prepared=prepared)

    return _execute(args, secrets, paths, start)


def _cmd_audio_run(args: argparse.Namespace, secrets: SecretStore | None) -> int:
    from openbench_desktop.core.audio.runner import execute_audio_run, prepare_audio_run

    spec = _audio_spec_from_args(args)
    paths = _paths(args)
    prepared = prepare_audio_run(spec, paths)  # missing extra, bad dataset: fail before storing

    def start(deps: RunDeps, progress: _ProgressPrinter, cancel: CancelToken) -> RunSummary:
        return execute_audio_run(spec, deps, on_event=progress, cancel=cancel, prepared=prepared)

    return _execute(args, secrets, paths, start)


def _cmd_speed_run(args: argparse.Namespace, secrets: SecretStore | None) -> int:
    from openbench_desktop.cli_speed import speed_spec_from_args
    from openbench_desktop.core.speed.runner import execute_speed_run, prepare_speed_run

    try:
        spec = speed_spec_from_args(args)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    paths = _paths(args)
    prepared = prepare_speed_run(spec, paths)  # bad profile or dataset: fail before storing

    def start(deps: RunDeps, progress: _ProgressPrinter, cancel: CancelToken) -> RunSummary:
        return execute_speed_run(spec, deps, on_event=progress, cancel=cancel, prepared=prepared)

    return _execute(args, secrets, paths, start)


def cmd_continue(args: argparse.Namespace, secrets: SecretStore | None) -> int:
    """``runs resume`` and ``runs retry-failed``."""
    from openbench_desktop.core.engine.runner import continue_run

    paths = _paths(args)
    store = _open_store(paths)
    try:
        run_id = store.resolve_run_id(args.run_id)
    finally:
        store.close()

    def start(deps: RunDeps, progress: _ProgressPrinter, cancel: CancelToken) -> RunSummary:
        return continue_run(
            run_id,
            deps,
            only_failed=args.runs_command == "retry-failed",
            on_event=progress,
            cancel=cancel,
        )

    return _execute(args, secrets, paths, start)


def _execute(
    args: argparse.Namespace,
    secrets: SecretStore | None,
    paths: AppPaths,
    start: Callable[[RunDeps, _ProgressPrinter, CancelToken], RunSummary],
) -> int:
    """Run ``start`` with a store, writer, Ctrl+C handling and a progress bar; report."""
    import signal

    from openbench_desktop.core.domain import RunStatus
    from openbench_desktop.core.engine.cancel import CancelToken
    from openbench_desktop.core.engine.runner import RunDeps
    from openbench_desktop.core.storage import ResultWriter

    store = _open_store(paths)
    writer = ResultWriter(store)
    cancel = CancelToken()
    previous = signal.signal(
        signal.SIGINT, lambda *_: cancel.cancel("Interrupted (Ctrl+C); finished samples kept.")
    )
    from openbench_desktop.core.speed.runner import is_speed_benchmark

    progress = _ProgressPrinter(
        enabled=sys.stderr.isatty(),
        show_accuracy=not is_speed_benchmark(getattr(args, "benchmark", None)),
    )
    try:
        deps = RunDeps(store=store, writer=writer, paths=paths, secrets=secrets)
        summary = start(deps, progress, cancel)
    finally:
        progress.close()
        signal.signal(signal.SIGINT, previous)
        writer.close()
        store.close()
    if args.json:
        _print_json(_summary_json(summary))
    else:
        _print_summary(summary)
    if summary.status is RunStatus.COMPLETED:
        return EXIT_OK
    print(f"error: {summary.message or 'the run did not complete'}", file=sys.stderr)
    return EXIT_CANCELLED if summary.status is RunStatus.CANCELLED else EXIT_RUN_FAILED


def _record_brief(r: RunRecord) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "status": str(r.status),
        "benchmark": r.benchmark,
        "model": r.model,
        "provider": r.provider,
        "base_url": r.base_url,
        "name": r.name,
        "tags": list(r.tags),
        "created_at": r.created_at,
        "n_total": r.n_total,
        "n_ok": r.n_ok,
        "n_failed": r.n_failed,
        "accuracy": r.accuracy,
        "duration_s": r.duration_s,
    }


def cmd_runs(args: argparse.Namespace) -> int:
    store = _open_store(_paths(args))
    try:
        if args.runs_command == "list":
            records = store.list_runs(
                limit=args.limit, status=args.status, benchmark=args.benchmark, model=args.model
            )
            if args.json:
                _print_json([_record_brief(r) for r in records])
                return EXIT_OK
            if not records:
                print("No runs yet. Start one with 'openbench-desktop run --help'.")
                return EXIT_OK
            print(f"{'RUN':<12} {'CREATED':<20} {'STATUS':<11} {'BENCHMARK':<10} "
                  f"{'MODEL':<28} {'DONE':>11} {'ACC':>6}")
            for r in records:
                acc = _fmt(r.accuracy * 100 if r.accuracy is not None else None, ".1f")
                print(f"{r.run_id[:12]:<12} {r.created_at[:19]:<20} {r.status!s:<11} "
                      f"{r.benchmark[:10]:<10} {r.model[:28]:<28} "
                      f"{r.n_ok + r.n_failed:>5}/{r.n_total:<5} {acc:>6}")
            return EXIT_OK
        run_id = store.resolve_run_id(args.run_id)
        if args.runs_command == "delete":
            store.delete_run(run_id)
            print(f"Deleted run {run_id}.")
            return EXIT_OK
        record = store.get_run(run_id)
        summary = record.summary or _summary_of(store, record)
        if args.json:
            _print_json(_summary_json(summary))
        else:
            _print_summary(summary, record)
        return EXIT_OK
    finally:
        store.close()


def _summary_of(store: Store, record: RunRecord) -> RunSummary:
    """A run that has no stored summary yet (running, interrupted): compute it."""
    from openbench_desktop.core.engine.metrics import summarize

    return summarize(
        run_id=record.run_id,
        status=record.status,
        benchmark=record.benchmark,
        model=record.model,
        n_samples=record.n_total,
        results=store.iter_results(record.run_id),
        duration_s=record.duration_s,
        message=record.message,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from openbench_desktop.core.export.samples import write_export

    store = _open_store(_paths(args))
    try:
        run_id = store.resolve_run_id(args.run_id)
        record = store.get_run(run_id)
        n = write_export(Path(args.out), args.format, record, store.iter_results(run_id))
    finally:
        store.close()
    print(f"Wrote {n} samples of run {run_id} to {args.out}", file=sys.stderr)
    return EXIT_OK


def _read_secret_value(name: str) -> str:
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"Value for {name} (input hidden): ")
    else:
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise CliError("No key given (empty input); nothing stored.")
    return value


def cmd_keys(args: argparse.Namespace, secrets: SecretStore | None) -> int:
    from openbench_desktop.core.secrets import KeyringSecretStore

    store = secrets or KeyringSecretStore()
    if args.keys_command == "set":
        from openbench_desktop.core.secrets.store import validate_name

        validate_name(args.name)
        store.set(args.name, _read_secret_value(args.name))
        print(f"Stored key {args.name!r} in {store.describe()}.", file=sys.stderr)
    elif args.keys_command == "list":
        for name in store.names():
            print(name)
    else:
        store.delete(args.name)
        print(f"Deleted key {args.name!r}.", file=sys.stderr)
    return EXIT_OK


def cmd_models(args: argparse.Namespace, secrets: SecretStore | None) -> int:
    import asyncio

    from openbench_desktop.core.providers.registry import make_provider
    from openbench_desktop.core.secrets import KeyringSecretStore, resolve_api_key

    store = secrets or (KeyringSecretStore() if args.api_key_name else None)
    key = resolve_api_key(args.provider, args.api_key_name, store)

    async def fetch() -> list[str]:
        provider = make_provider(args.provider, args.base_url.rstrip("/"), key, concurrency=1)
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    for model in asyncio.run(fetch()):
        print(model)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    import dataclasses

    from openbench_desktop.core.doctor import run_checks

    checks = run_checks(_paths(args), endpoints=args.endpoints)
    if args.json:
        _print_json([dataclasses.asdict(c) for c in checks])
    else:
        for c in checks:
            mark = "ok  " if c.ok else ("note" if c.optional else "FAIL")
            print(f"[{mark}] {c.name}: {c.detail}")
            if not c.ok and c.fix:
                print(f"       fix: {c.fix}")
    return EXIT_OK if all(c.ok or c.optional for c in checks) else EXIT_RUN_FAILED


def cmd_benchmarks() -> int:
    from openbench_desktop.core.benchmarks.registry import BENCHMARKS

    for name, info in BENCHMARKS.items():
        title = getattr(info, "title", info)
        print(f"{name:<10} {title}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, secrets: SecretStore | None = None) -> int:
    """Entry point. ``secrets`` lets tests inject a secret store instead of the OS keyring."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from openbench_desktop.ui.app import run_app

        return run_app(home=args.home, smoke=args.smoke)
    from openbench_desktop.core.errors import OpenBenchError

    try:
        if args.command == "run":
            return cmd_run(args, secrets)
        if args.command == "runs":
            if args.runs_command in ("resume", "retry-failed"):
                return cmd_continue(args, secrets)
            return cmd_runs(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "keys":
            return cmd_keys(args, secrets)
        if args.command == "models":
            return cmd_models(args, secrets)
        if args.command == "benchmarks":
            return cmd_benchmarks()
        if args.command == "doctor":
            return cmd_doctor(args)
        if args.command == "selfcheck":
            from openbench_desktop.cli_speed import cmd_selfcheck

            return cmd_selfcheck(args, _paths(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except OpenBenchError as exc:
        from openbench_desktop.core.errors import StorageError
        from openbench_desktop.core.providers.base import ProviderError

        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED if isinstance(exc, StorageError | ProviderError) else EXIT_BAD_INPUT
    parser.error(f"unknown command {args.command!r}")
    return EXIT_BAD_INPUT
