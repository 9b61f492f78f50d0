"""The speech runner: stored rows, counted failures, events, cancel, the TTS round trip."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from openbench_desktop.core.audio import MissingDependencyError
from openbench_desktop.core.audio import runner as audio_runner
from openbench_desktop.core.audio.asr import AsrProvider, Clip
from openbench_desktop.core.audio.runner import (
    audio_details,
    execute_audio_run,
    prepare_audio_run,
    speech_demo_spec,
)
from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import (
    DatasetRef,
    Progress,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunSpec,
    RunStarted,
    RunStatus,
    SamplesFinished,
)
from openbench_desktop.core.engine.cancel import CancelToken
from openbench_desktop.core.engine.runner import RunDeps
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.export.samples import read_export, write_export
from openbench_desktop.core.storage import ResultWriter, Store
from tests.support.audio import tone, write_audio


class _Env:
    def __init__(self, home: Path) -> None:
        self.paths = AppPaths.under(home).ensure()
        self.store = Store.open(self.paths)
        self.writer = ResultWriter(self.store)
        self.deps = RunDeps(self.store, self.writer, self.paths, event_interval_s=0.0)

    def close(self) -> None:
        self.writer.close()
        self.store.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[_Env]:
    e = _Env(tmp_path / "home")
    yield e
    e.close()


class FakeAsr(AsrProvider):
    """Answers by file name; raises for names starting with "boom"."""

    kind = "pocketsphinx"
    sample_rate = 16000

    def __init__(self, answers: dict[str, str], on_call: Any = None) -> None:
        super().__init__("fake")
        self.answers = answers
        self.calls: list[tuple[str, float]] = []
        self.on_call = on_call
        self.loaded = False

    def check(self) -> None:
        pass

    def load(self) -> None:
        self.loaded = True

    def transcribe(self, clip: Clip) -> str:
        name = clip.path.name if clip.path else "?"
        self.calls.append((name, len(clip.audio.samples) / clip.audio.sample_rate))
        if self.on_call:
            self.on_call(len(self.calls))
        if name.startswith("boom"):
            raise RuntimeError("decoder exploded")
        return self.answers[name]


def _use(monkeypatch: pytest.MonkeyPatch, fake: AsrProvider) -> None:
    monkeypatch.setattr(audio_runner, "_asr_for", lambda *a, **k: fake)


def _spec(dataset: Path | None, benchmark: str = "asr", **kw: Any) -> RunSpec:
    provider = "pocketsphinx" if benchmark == "asr" else "espeak"
    options = kw.pop("options", {})
    return RunSpec(
        provider=provider, base_url="", model="", benchmark=benchmark,
        dataset=DatasetRef(path=str(dataset) if dataset else None), concurrency=1,
        options=options, **kw,
    )


def _messy_dataset(folder: Path) -> Path:
    write_audio(folder / "good1.wav", tone(1.0, 44100), 44100)
    write_audio(folder / "good2.wav", tone(7.0))  # longer than the warm-up cut
    write_audio(folder / "boom.wav", tone(0.5))
    write_audio(folder / "empty.wav", tone(0.5))
    write_audio(folder / "stray.wav", tone(0.5))
    (folder / "corrupt.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk" + bytes(64))
    (folder / "talk.m4a").write_bytes(b"\0\0\0\x20ftypM4A ")
    (folder / "transcripts.tsv").write_text(
        "file_name\ttranscription\n"
        "good1.wav\tThe cat sat on the mat.\n"
        "good2.wav\tTwenty one dogs\n"
        "corrupt.wav\tnever read\n"
        "talk.m4a\tnever read either\n"
        "missing.wav\tno file\n"
        "empty.wav\t[noise]\n"
        "boom.wav\tkaboom\n",
        encoding="utf-8",
    )
    return folder


def test_asr_run_scores_good_clips_and_counts_every_bad_one(
    env: _Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _messy_dataset(tmp_path / "data")
    fake = FakeAsr({"good1.wav": "the cat sit on mat", "good2.wav": "21 dogs"})
    _use(monkeypatch, fake)
    events: list[Any] = []
    summary = execute_audio_run(_spec(data), env.deps, on_event=events.append)

    assert summary.status is RunStatus.COMPLETED
    assert summary.model == "en-us"  # the provider's default model is recorded
    assert (summary.n_samples, summary.n_ok, summary.n_failed) == (8, 2, 6)
    audio = summary.audio
    assert audio is not None
    assert audio["failure_counts"] == {
        "audio": 2, "dataset": 2, "empty_reference": 1, "transcription": 1,
    }
    # good1: 1 substitution + 1 deletion over 6 words; good2: "21 dogs" = "twenty one dogs"
    assert (audio["substitutions"], audio["deletions"], audio["insertions"]) == (1, 1, 0)
    assert audio["ref_words"] == 8
    assert audio["wer"] == pytest.approx(2 / 8)
    assert audio["wer_ci"] is not None
    assert audio["audio_s"] == pytest.approx(8.0)
    assert audio["rtfx"] == pytest.approx(audio["audio_s"] / audio["processing_s"])
    res = audio["resources"]
    assert res["model_load_s"] >= 0 and res["warmup_clips"] == 1 and res["cpu_s"] > 0
    assert res["peak_rss_mb"] > 10

    # Warm-up: one call on the first readable clip, cut to 5 s; then one call per clip.
    assert fake.calls[0] == ("good1.wav", pytest.approx(1.0))
    assert [name for name, _ in fake.calls[1:]] == ["good1.wav", "good2.wav", "boom.wav"]
    assert fake.calls[2][1] == pytest.approx(7.0)

    rows = {r.sample_id: r for r in env.store.iter_results(summary.run_id)}
    assert len(rows) == 8
    good = rows["good1"]
    assert good.expected == "The cat sat on the mat."
    assert good.output == "the cat sit on mat"
    assert good.extracted == "the cat sit on mat"
    assert good.score == pytest.approx(1 - 2 / 6)
    details = audio_details(good)
    assert details is not None
    assert details["reference_normalized"] == "the cat sat on the mat"
    assert (details["substitutions"], details["deletions"], details["insertions"]) == (1, 1, 0)
    assert details["source_rate"] == 44100 and details["audio_s"] == pytest.approx(1.0)
    assert good.e2e_ms == pytest.approx(details["processing_s"] * 1000)
    assert rows["good2"].correct

    messages = {k: r.error_message for k, r in rows.items() if not r.ok}
    assert messages["corrupt"].startswith("transcripts.tsv line 4: corrupt.wav: cannot read audio")
    assert "talk.m4a: unsupported audio format .m4a" in messages["talk"]
    assert messages["missing"].startswith(
        "transcripts.tsv line 6: audio file missing.wav not found"
    )
    assert "empty after the 'whisper' normalizer" in messages["empty"]
    assert messages["boom"] == (
        "transcripts.tsv line 8: transcription failed: RuntimeError: decoder exploded"
    )
    assert messages["stray.wav"] == (
        "stray.wav: no transcript entry for this file in transcripts.tsv"
    )

    assert isinstance(events[0], RunStarted) and events[0].n_total == 8
    assert isinstance(events[-1], RunFinished)
    finished = [r for e in events if isinstance(e, SamplesFinished) for r in e.results]
    assert sorted(r.index for r in finished) == list(range(8))
    last_progress = [e for e in events if isinstance(e, Progress)][-1]
    assert (last_progress.n_done, last_progress.n_ok, last_progress.n_failed) == (8, 2, 6)

    # The stored summary is the returned one, including the speech figures.
    record = env.store.get_run(summary.run_id)
    assert record.summary is not None and record.summary.audio == summary.audio
    assert record.manifest is not None and len(record.manifest.dataset_sha256 or "") == 64


def test_export_lets_anyone_recompute_the_corpus_wer(
    env: _Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _messy_dataset(tmp_path / "data")
    _use(monkeypatch, FakeAsr({"good1.wav": "the cat sit on mat", "good2.wav": ""}))
    summary = execute_audio_run(_spec(data), env.deps)
    record = env.store.get_run(summary.run_id)
    assert summary.audio is not None
    for fmt in ("csv", "json"):
        out = tmp_path / f"export.{fmt}"
        assert write_export(out, fmt, record, env.store.iter_results(summary.run_id)) == 8
        rows = read_export(out)
        ok = [r for r in rows if r["status"] == "ok"]
        assert len(ok) == 2
        errors = sum(r["substitutions"] + r["deletions"] + r["insertions"] for r in ok)
        assert errors / sum(r["ref_words"] for r in ok) == pytest.approx(summary.audio["wer"])
        refs = [r["reference_normalized"] for r in ok]
        hyps = [r["hypothesis_normalized"] for r in ok]
        assert hyps[1] == ""  # heard nothing: scored as all deletions, not as missing
        assert jiwer.wer(refs, hyps) == pytest.approx(summary.audio["wer"])
        assert {r["reference"] for r in ok} == {"The cat sat on the mat.", "Twenty one dogs"}
        failed = {r["sample_id"]: r for r in rows if r["status"] == "failed"}
        assert failed["talk"]["failure"] == "audio"
        assert failed["talk"]["audio_path"].endswith("talk.m4a")


def test_missing_dependency_fails_before_anything_is_stored(
    env: _Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(MissingDependencyError, match=r"openbench-desktop\[audio\]"):
        execute_audio_run(_spec(None), env.deps)
    monkeypatch.setitem(sys.modules, "jiwer", None)
    monkeypatch.delitem(sys.modules, "pocketsphinx")
    with pytest.raises(MissingDependencyError, match="jiwer"):
        prepare_audio_run(_spec(None))
    assert env.store.list_runs() == []


def test_speech_demo_spec_prepares_the_bundled_clips() -> None:
    prepared = prepare_audio_run(speech_demo_spec())
    assert prepared.kind == "asr" and prepared.n_total == 10
    assert prepared.description.endswith("transcripts.tsv")
    assert prepared.spec.tags == ("demo",)


def test_spec_errors() -> None:
    with pytest.raises(ConfigError, match="cannot run a speech recognition benchmark"):
        prepare_audio_run(RunSpec("openai", "http://x/v1", "m", "asr"))
    with pytest.raises(ConfigError, match="needs --base-url"):
        prepare_audio_run(RunSpec("openai-audio", "", "", "asr"))
    with pytest.raises(ConfigError, match="Unknown normalizer"):
        prepare_audio_run(_spec(None, options={"normalizer": "nope"}))
    with pytest.raises(ConfigError, match="warmup must be between"):
        prepare_audio_run(_spec(None, options={"warmup": 99}))


def test_cancel_between_utterances(
    env: _Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    rows = {}
    for i in range(5):
        write_audio(data / f"c{i}.wav", tone(0.3))
        rows[f"c{i}.wav"] = f"clip {i}"
    (data / "t.tsv").write_text("\n".join(f"{k}\t{v}" for k, v in rows.items()), "utf-8")
    cancel = CancelToken()
    # call 1 is the warm-up; cancel during the second measured clip
    fake = FakeAsr({k: v for k, v in rows.items()},
                   on_call=lambda n: cancel.cancel("stop") if n == 3 else None)
    _use(monkeypatch, fake)
    events: list[Any] = []
    summary = execute_audio_run(_spec(data), env.deps, cancel=cancel, on_event=events.append)
    assert summary.status is RunStatus.CANCELLED and summary.message == "stop"
    assert summary.n_ok == 2 and summary.n_samples == 5
    assert isinstance(events[-1], RunCancelled)
    assert env.store.get_run(summary.run_id).status is RunStatus.CANCELLED


def test_a_model_that_cannot_load_fails_the_run_with_its_message(
    env: _Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(FakeAsr):
        def load(self) -> None:
            raise ConfigError("model folder /models/x has no model.bin")

    _use(monkeypatch, Broken({}))
    events: list[Any] = []
    summary = execute_audio_run(_spec(None), env.deps, on_event=events.append)
    assert summary.status is RunStatus.FAILED
    assert summary.message == "model folder /models/x has no model.bin"
    assert isinstance(events[-1], RunFailed)
    assert env.store.get_run(summary.run_id).status is RunStatus.FAILED


def test_tts_round_trip_espeak_to_pocketsphinx(env: _Env, tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("Good morning.\nThank you very much.\n", encoding="utf-8")
    events: list[Any] = []
    summary = execute_audio_run(
        _spec(texts, "tts", options={"warmup": 0}), env.deps, on_event=events.append
    )
    assert summary.status is RunStatus.COMPLETED, summary.message
    assert (summary.n_ok, summary.n_failed) == (2, 0)
    audio = summary.audio
    assert audio is not None and audio["kind"] == "tts"
    assert audio["provider"] == "espeak → pocketsphinx"
    assert audio["wer"] is not None and 0.0 <= audio["wer"] <= 2.0
    assert audio["rtf"] is not None and 0 < audio["rtf"] < 1  # espeak is far faster than real time
    assert audio["health_issue_counts"] == {"clipping": 0, "silence": 0, "duration": 0}
    assert audio["resources"]["asr_model_load_s"] > 0
    rows = list(env.store.iter_results(summary.run_id))
    assert [r.expected for r in rows] == ["Good morning.", "Thank you very much."]
    for row in rows:
        details = audio_details(row)
        assert details is not None and details["kind"] == "tts"
        clip = Path(details["audio_path"])
        assert clip.parent == env.paths.data_dir / "audio" / summary.run_id and clip.is_file()
        assert details["issues"] == [] and details["synthesis_s"] > 0
        assert row.e2e_ms == pytest.approx(details["synthesis_s"] * 1000)
    assert isinstance(events[-1], RunFinished)


def test_tts_synthesis_failure_is_counted(
    env: _Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openbench_desktop.core.audio.tts import EspeakProvider, Synthesis

    def synthesize(self: EspeakProvider, text: str) -> Synthesis:
        if "fail" in text:
            raise RuntimeError("espeak-ng failed (voice 'en-us'): boom")
        return Synthesis(np.zeros(0, dtype=np.float32), 22050)

    monkeypatch.setattr(EspeakProvider, "synthesize", synthesize)
    _use(monkeypatch, FakeAsr({}))
    texts = tmp_path / "t.txt"
    texts.write_text("please fail here\nsilent one\n", encoding="utf-8")
    summary = execute_audio_run(_spec(texts, "tts", options={"warmup": 0}), env.deps)
    assert summary.status is RunStatus.COMPLETED
    assert summary.n_failed == 2
    assert summary.audio is not None
    assert summary.audio["failure_counts"] == {"synthesis": 2}
    rows = list(env.store.iter_results(summary.run_id))
    assert rows[0].error_message == (
        "t.txt line 1: synthesis failed: RuntimeError: espeak-ng failed (voice 'en-us'): boom"
    )
    assert rows[1].error_message == "t.txt line 2: the synthesiser returned no audio"


def test_execute_run_dispatches_speech_specs_and_refuses_to_resume_them(
    env: _Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GUI and CLI start every kind through execute_run; speech runs are not resumable."""
    from openbench_desktop.core.engine.runner import continue_run, execute_run

    data = _messy_dataset(tmp_path / "data")
    _use(monkeypatch, FakeAsr({"good1.wav": "the cat sat on the mat", "good2.wav": "21 dogs"}))
    summary = execute_run(_spec(data), env.deps)
    assert summary.audio is not None and summary.audio["kind"] == "asr"
    assert env.store.get_run(summary.run_id).spec.benchmark == "asr"
    with pytest.raises(ConfigError, match="cannot be resumed in place"):
        continue_run(summary.run_id, env.deps, only_failed=True)
