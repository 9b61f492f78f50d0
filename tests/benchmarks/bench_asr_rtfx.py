"""RTFx through the app's speech runner vs a bare loop over the same model and files.

Goal: the app's RTFx ≥ 0.95 × the bare loop's. Run on demand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_asr_rtfx.py [--rounds 3] [--dataset DIR]

Both sides use PocketSphinx's bundled ``en-us`` model on the same clips (default: the
bundled 10-clip demo) and the same definition: RTFx = Σ audio seconds / Σ seconds spent in
the decoder, one warm-up decode excluded, model load excluded.

- *bare*: ``soundfile.read`` → ``soxr.resample`` → int16 → ``Decoder.process_raw`` in a
  plain ``for`` loop, timing only the decode (``reinit_feat``, ``start_utt`` …
  ``end_utt``, ``hyp``);
- *app*: ``execute_audio_run`` with a temporary database (the writer thread, scoring with
  jiwer, events, resource accounting all running), reading the RTFx it stores.

Also compared: the same ratio over *CPU* seconds (``time.process_time``), which another
job on the machine disturbs far less than wall time; and end-to-end throughput = audio
seconds / wall seconds of the whole loop (reading, resampling, scoring and storing
included; model load and warm-up excluded), which is where any overhead of the app would
show. Rounds alternate which side goes first. On a shared machine, other jobs slow either
side at random (±50% from round to round was seen), so the headline is the *median of the
per-round ratios* (the two sides of a round run back to back, under similar load), with
each side's best (least disturbed) round and medians printed beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from openbench_desktop.core.audio.datasets import (  # noqa: E402
    DEMO_DIR,
    load_audio,
    load_audio_dataset,
)


def bare_loop(paths: list[Path]) -> tuple[float, float, float, float]:
    """(RTFx over decode time, RTFx over decode CPU time, throughput, audio seconds)."""
    import numpy as np
    from pocketsphinx import Decoder

    decoder = Decoder(loglevel="FATAL", samprate=16000)

    def decode(samples: np.ndarray) -> str:
        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp else ""

    decode(load_audio(paths[0], 16000).samples[: 5 * 16000])  # warm-up, as the app does
    audio_s = decode_s = cpu_s = 0.0
    wall = time.perf_counter()
    for path in paths:
        clip = load_audio(path, 16000)  # soundfile + soxr, as the app
        cpu = time.process_time()
        started = time.perf_counter()
        decode(clip.samples)
        decode_s += time.perf_counter() - started
        cpu_s += time.process_time() - cpu
        audio_s += clip.duration_s
    wall_s = time.perf_counter() - wall
    return audio_s / decode_s, audio_s / cpu_s, audio_s / wall_s, audio_s


def app_run(dataset: Path) -> tuple[float, float, float, float]:
    from openbench_desktop.core.audio.runner import execute_audio_run
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.domain import DatasetRef, RunSpec
    from openbench_desktop.core.engine.runner import RunDeps
    from openbench_desktop.core.storage import ResultWriter, Store

    with tempfile.TemporaryDirectory() as home:
        paths = AppPaths.under(home).ensure()
        store = Store.open(paths)
        writer = ResultWriter(store)
        spec = RunSpec(
            provider="pocketsphinx", base_url="", model="", benchmark="asr",
            dataset=DatasetRef(path=str(dataset)), concurrency=1,
        )
        try:
            summary = execute_audio_run(spec, RunDeps(store, writer, paths))
        finally:
            writer.close()
            store.close()
    audio = summary.audio or {}
    res = audio["resources"]
    loop_s = res["wall_s"] - (res["model_load_s"] or 0) - (res["warmup_s"] or 0)
    return audio["rtfx"], audio["rtfx_cpu"], audio["audio_s"] / loop_s, audio["audio_s"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dataset", type=Path, default=DEMO_DIR)
    args = parser.parse_args()
    utterances = load_audio_dataset(args.dataset).utterances
    files = [u.audio_path for u in utterances if u.problem is None and u.audio_path]
    names = ("RTFx", "CPU RTFx", "throughput")
    bare: list[tuple[float, ...]] = []
    app: list[tuple[float, ...]] = []
    for i in range(args.rounds):
        if i % 2 == 0:  # alternate which side goes first
            *b, audio_s = bare_loop(files)
            *a, audio_s2 = app_run(args.dataset)
        else:
            *a, audio_s2 = app_run(args.dataset)
            *b, audio_s = bare_loop(files)
        assert abs(audio_s - audio_s2) < 1e-6, (audio_s, audio_s2)
        bare.append(tuple(b))
        app.append(tuple(a))
        cells = "; ".join(
            f"{n} bare {x:.2f} app {y:.2f} ({y / x:.3f}x)"
            for n, x, y in zip(names, b, a, strict=True)
        )
        print(f"round {i + 1} ({len(files)} clips, {audio_s:.1f} s): {cells}", flush=True)
    print(f"over {args.rounds} rounds (goal: app RTFx >= 0.95x bare):")
    for k, name in enumerate(names):
        xb, yb = max(r[k] for r in bare), max(r[k] for r in app)
        xm = statistics.median(r[k] for r in bare)
        ym = statistics.median(r[k] for r in app)
        ratios = sorted(a[k] / b[k] for a, b in zip(app, bare, strict=True))
        print(
            f"  {name:<10} paired ratio app/bare: median {statistics.median(ratios):.3f}x "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); best round: bare {xb:.2f} "
            f"app {yb:.2f} -> {yb / xb:.3f}x; medians: bare {xm:.2f} app {ym:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
