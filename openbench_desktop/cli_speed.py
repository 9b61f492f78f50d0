"""The command line's speed pieces: ``run --benchmark speed`` flags, output, ``selfcheck``.

Kept apart from :mod:`openbench_desktop.cli` so that module only gains a few hooks. Like
the rest of the CLI it imports nothing heavy at module level (``--help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.domain import RunSpec

PROFILES = ("synchronous", "concurrency", "rate", "poisson", "sweep")
DEFINITIONS = ("openbench", "vllm", "guidellm", "llmperf")


def add_speed_arguments(run: argparse.ArgumentParser) -> None:
    """The ``run`` flags of ``--benchmark speed`` (``--warmup`` is shared with speech)."""
    g = run.add_argument_group(
        "speed (--benchmark speed; also --concurrency, --seed, --timeout, --warmup N)"
    )
    g.add_argument("--profile", choices=PROFILES, default="concurrency",
                   help="load profile (default: concurrency)")
    g.add_argument("--rate", type=float, help="rate/poisson: requests per second")
    g.add_argument("--steps", type=int, default=8,
                   help="sweep: steps from synchronous to maximum throughput (default 8)")
    g.add_argument("--requests", type=int,
                   help="requests per step (default 100 unless --duration is given)")
    g.add_argument("--duration", type=float, metavar="S", help="seconds per step")
    g.add_argument("--input-tokens", type=int, default=256,
                   help="synthetic prompt length in tokens, approximated by words (default 256;"
                   " --dataset uses the file's prompts instead)")
    g.add_argument("--output-tokens", type=int, default=64,
                   help="max_tokens asked of the server (default 64)")
    g.add_argument("--no-ignore-eos", action="store_true",
                   help="do not send ignore_eos (sent by default where the server accepts it)")
    g.add_argument("--max-concurrency", type=int, default=64,
                   help="rate/poisson: cap on requests in flight; sweep: the throughput step's "
                   "concurrency (default 64)")
    g.add_argument("--definitions", choices=DEFINITIONS, default="openbench",
                   help="metric definitions of the headline figures (all are stored side by "
                   "side; default: openbench)")
    g.add_argument("--slo-ttft-ms", type=float, help="goodput: TTFT objective")
    g.add_argument("--slo-tpot-ms", type=float, help="goodput: TPOT objective")
    g.add_argument("--slo-e2e-ms", type=float, help="goodput: end-to-end objective")
    g.add_argument("--client", choices=["auto", "lean", "httpx"], default="auto",
                   help="measuring client (default auto: the lean client for OpenAI-compatible "
                   "servers without a proxy)")


def add_selfcheck_parser(sub: Any) -> None:
    sc = sub.add_parser(
        "selfcheck",
        help="measure this app's own timing accuracy and throughput ceiling on this machine",
    )
    sc.add_argument("--quick", action="store_true", help="shorter steps (less precise)")
    sc.add_argument("--json", action="store_true")


def speed_spec_from_args(args: argparse.Namespace) -> RunSpec:
    from openbench_desktop.core.domain import DatasetRef
    from openbench_desktop.core.speed.runner import speed_spec

    if not args.base_url:
        raise ValueError("--base-url is required (e.g. http://127.0.0.1:8000/v1).")
    if not args.model:
        raise ValueError("--model is required (see 'openbench-desktop models').")
    if args.dataset and args.hub_id:
        raise ValueError("Give either --dataset or --hub-id, not both.")
    dataset = DatasetRef(
        path=args.dataset,
        hub_id=args.hub_id,
        hub_config=args.hub_config,
        split=args.split,
        prompt_field=args.prompt_field,
    )
    return speed_spec(
        base_url=args.base_url,
        model=args.model,
        provider=args.provider or "openai",
        concurrency=args.concurrency,
        output_tokens=args.output_tokens,
        seed=args.seed,
        timeout_s=args.timeout,
        api_key_name=args.api_key_name,
        name=args.name,
        tags=tuple(args.tag),
        dataset=dataset,
        profile=args.profile,
        rate=args.rate,
        steps=args.steps,
        requests=args.requests,
        duration_s=args.duration,
        warmup=args.warmup or 0,
        input_tokens=args.input_tokens,
        ignore_eos=not args.no_ignore_eos,
        max_concurrency=args.max_concurrency,
        definitions=args.definitions,
        slo_ttft_ms=args.slo_ttft_ms,
        slo_tpot_ms=args.slo_tpot_ms,
        slo_e2e_ms=args.slo_e2e_ms,
        client=args.client,
    )


def _f(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def speed_lines(speed: Mapping[str, Any]) -> list[str]:
    """The text summary of a speed run: profile, one line per step, flags."""
    profile = speed.get("profile") or {}
    lines = [
        f"  profile   {profile.get('description', '?')}; {profile.get('prompts', '')}; "
        f"{speed.get('definitions')} definitions; client {profile.get('client')}",
    ]
    warm = speed.get("warmup") or {}
    if warm.get("requests"):
        lines.append(f"  warm-up   {warm['requests']} request(s) not measured "
                     f"({warm.get('failed', 0)} failed)")
    header = (
        f"  {'step':<22} {'ok':>5} {'fail':>4} {'req/s':>7} {'tok/s':>8} "
        f"{'TTFT p50':>9} {'p99':>8} {'ITL p50':>8} {'TPOT p50':>9} {'E2E p50':>8}"
    )
    lines.append(header)
    for step in speed.get("steps") or []:
        m = step.get("metrics") or {}
        flag = " *" if step.get("client_limited") else ""
        lines.append(
            f"  {step.get('label', '?'):<22} {step.get('n_ok', 0):>5} {step.get('n_failed', 0):>4} "
            f"{_f(step.get('requests_per_s'), '.2f'):>7} "
            f"{_f(step.get('output_tokens_per_s')):>8} "
            f"{_f((m.get('ttft_ms') or {}).get('p50')):>9} "
            f"{_f((m.get('ttft_ms') or {}).get('p99')):>8} "
            f"{_f((m.get('itl_ms') or {}).get('p50'), '.2f'):>8} "
            f"{_f((m.get('tpot_ms') or {}).get('p50'), '.2f'):>9} "
            f"{_f((m.get('e2e_ms') or {}).get('p50')):>8}{flag}"
        )
        if step.get("goodput_requests_per_s") is not None:
            lines.append(
                f"  {'':<22} goodput {step['goodput_requests_per_s']:.2f} req/s "
                f"({_f((step.get('slo_attainment') or 0) * 100, '.0f')}% met the SLOs)"
            )
        if step.get("reasoning_first"):
            first = (m.get("ttft_first_token_ms") or {}).get("p50")
            lines.append(
                f"  {'':<22} {step['reasoning_first']} reasoning-first stream(s): first "
                f"reasoning token p50 {_f(first)} ms (TTFT above is the first content token)"
            )
    if speed.get("stopped"):
        lines.append(f"  stopped   {speed['stopped'].get('reason')}")
    if speed.get("client_limited"):
        lines.append("  * CLIENT-LIMITED: these results may describe this machine, not the server:")
        lines.extend(f"      - {reason}" for reason in speed.get("client_limited_reasons") or [])
    for note in speed.get("notes") or []:
        lines.append(f"  note      {note}")
    return lines


def cmd_selfcheck(args: argparse.Namespace, paths: AppPaths) -> int:
    import json

    from openbench_desktop.core.speed.selfcheck import run_selfcheck, save_selfcheck

    def say(text: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"  {text}", file=sys.stderr)

    if args.quick:
        result = run_selfcheck(
            concurrencies=(1, 16), step_s=0.5, accuracy_requests=6, on_progress=say
        )
    else:
        result = run_selfcheck(on_progress=say)
    saved = save_selfcheck(result, paths.data_dir)
    if args.json:
        sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
    else:
        acc = result["accuracy"]
        ceiling = result["ceiling"]
        print(f"self-check on {result['machine']['cores']} core(s), Python "
              f"{result['machine']['python']}")
        print(f"  accuracy  TTFT p50 {_f(acc['ttft_p50_ms'], '.2f')} ms vs server "
              f"{_f(acc['server_ttft_p50_ms'], '.2f')} ms ({_f(acc['ttft_error_p50_ms'], '+.2f')} "
              f"ms); ITL p50 error {_f(acc['itl_error_p50_ms'], '+.3f')} ms; delivery lag p50 "
              f"{_f(acc['delivery_lag_ms']['p50'], '.2f')} ms")
        for step in ceiling["steps"]:
            print(f"  c={step['concurrency']:<4} {step['requests_per_s']:8.1f} req/s "
                  f"{step['chunks_per_s']:9.0f} chunks/s  loop CPU "
                  f"{step['loop_cpu_share']:.0%}  lag p99 "
                  f"{_f(step['loop_lag_ms'].get('p99'), '.1f')} ms")
        for message in result["messages"]:
            print(f"  {message}")
        print(f"  saved to {saved}")
    return 0 if result["ok"] else 1
