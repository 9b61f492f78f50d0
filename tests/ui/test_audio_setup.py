"""The speech Run setup panel: specs per task and provider, missing dependencies, datasets."""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from openbench_desktop.cli import _audio_spec_from_args, build_parser
from openbench_desktop.core.audio.asr import WhisperCppProvider
from openbench_desktop.core.audio.datasets import DEMO_DIR
from openbench_desktop.core.audio.tts import PiperProvider
from openbench_desktop.core.config.settings import Endpoint
from openbench_desktop.core.domain import RunSpec, RunStatus
from openbench_desktop.core.errors import OpenBenchError
from openbench_desktop.ui.views.audio_setup import (
    ESPEAK,
    FASTER_WHISPER,
    OPENAI_AUDIO,
    PIPER,
    POCKETSPHINX,
    WHISPERCPP,
    AudioSetupPanel,
)
from tests.support.audio import DEMO_TEXTS, copy_demo_clips, write_tsv

ENDPOINT = Endpoint("Team server", "openai", "https://speech.example.com/v1", "TEAM_KEY")
REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("OPENBENCH_TEST_MODELS_DIR") or REPO_ROOT / ".cache" / "test-models")
GGML_TINY_EN = MODELS / "whisper" / "ggml-tiny.en.bin"
PIPER_VOICE = MODELS / "piper" / "en_US-joe-medium.onnx"
FETCH_HINT = "run bash packaging/fetch_test_models.sh"

needs_whispercpp = pytest.mark.skipif(
    importlib.util.find_spec("pywhispercpp") is None,
    reason="the 'whispercpp' extra is not installed",
)
needs_piper = pytest.mark.skipif(
    importlib.util.find_spec("piper") is None, reason="the 'piper' extra is not installed"
)


@pytest.fixture
def panel(qtbot, ctx) -> AudioSetupPanel:
    widget = AudioSetupPanel(ctx)
    qtbot.addWidget(widget)
    widget.resize(900, 760)
    widget.show()
    return widget


def _checked(qtbot, panel: AudioSetupPanel) -> None:
    qtbot.waitUntil(lambda: not panel.is_checking(), timeout=10_000)


def _pick(combo, provider: str, endpoint: str | None = None) -> None:
    for i in range(combo.count()):
        choice = combo.itemData(i)
        if choice.provider == provider and (endpoint is None or choice.endpoint == endpoint):
            combo.setCurrentIndex(i)
            return
    offered = [combo.itemText(i) for i in range(combo.count())]
    raise AssertionError(f"{provider} {endpoint} not offered: {offered}")


def _set_task(panel: AudioSetupPanel, task: str) -> None:
    panel.task_combo.setCurrentIndex(panel.task_combo.findData(task))


def _with_endpoint(ctx) -> None:
    ctx.settings.endpoints.append(ENDPOINT)
    ctx.settings.endpoints.append(
        Endpoint("Demo (simulated model, offline)", "openai", "http://127.0.0.1:0/v1",
                 simulated=True)
    )
    ctx.save_settings()


def test_default_is_pocketsphinx_on_the_demo_clips(
    qtbot, panel: AudioSetupPanel, ctx, shots_dir: Path
) -> None:
    _checked(qtbot, panel)
    status = panel.data_status.text()
    assert "10 utterances" in status and "of audio" in status and "transcripts.tsv" in status
    estimate = panel.estimate_label.text()
    assert "26 s of audio" in estimate and "approximate" in estimate
    assert "no cost (local)" in estimate
    assert not panel.asr_status.isVisible()
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    assert (spec.provider, spec.model, spec.benchmark) == (POCKETSPHINX, "en-us", "asr")
    assert spec.dataset.path is None and spec.concurrency == 1
    assert spec.options["normalizer"] == "whisper" and spec.options["warmup"] == 1
    assert panel.prepare(spec) == spec  # the core accepts it (libraries, dataset)

    panel.resize(1280, 800)
    qtbot.wait(50)
    panel.grab().save(str(shots_dir / "audio_setup.png"))


def test_only_speech_providers_and_saved_openai_endpoints_are_offered(
    qtbot, panel: AudioSetupPanel, ctx
) -> None:
    _with_endpoint(ctx)
    labels = [panel.asr_combo.itemText(i) for i in range(panel.asr_combo.count())]
    assert labels[0].startswith("PocketSphinx") and labels[1].startswith("faster-whisper")
    assert "Team server — OpenAI-compatible /audio/transcriptions" in labels
    assert not any("simulated" in label for label in labels)
    # The round trip's recogniser runs locally only.
    _set_task(panel, "tts")
    labels = [panel.asr_combo.itemText(i) for i in range(panel.asr_combo.count())]
    assert len(labels) == 3 and "Team server" not in " ".join(labels)
    assert labels[2] == "whisper.cpp — local (optional 'whispercpp' extra)"
    tts_labels = [panel.tts_combo.itemText(i) for i in range(panel.tts_combo.count())]
    assert tts_labels[0].startswith("eSpeak NG")
    assert tts_labels[1] == "Piper — local voice (optional 'piper' extra)"
    assert "Team server — OpenAI-compatible /audio/speech" in tts_labels


def test_asr_on_an_openai_compatible_endpoint(qtbot, panel: AudioSetupPanel, ctx) -> None:
    _with_endpoint(ctx)
    _pick(panel.asr_combo, OPENAI_AUDIO, "Team server")
    _checked(qtbot, panel)
    assert panel.asr_model.text() == "whisper-1"
    assert "speech.example.com/v1/audio/transcriptions" in panel.asr_model_hint.text()
    assert "TEAM_KEY" in panel.asr_model_hint.text()
    assert "at the list price" in panel.estimate_label.text()
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    assert (spec.provider, spec.base_url, spec.model) == (
        OPENAI_AUDIO, "https://speech.example.com/v1", "whisper-1"
    )
    assert spec.api_key_name == "TEAM_KEY"
    panel.asr_model.clear()
    qtbot.keyClicks(panel.asr_model, "my-asr-model")
    assert "billed by the endpoint" in panel.estimate_label.text()
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec) and spec.model == "my-asr-model"


def test_tts_round_trip_with_espeak(qtbot, panel: AudioSetupPanel, ctx, shots_dir: Path) -> None:
    _set_task(panel, "tts")
    assert panel.tts_group.isVisible()
    assert panel.data_builtin.text().startswith("Built-in sentences")
    _checked(qtbot, panel)
    assert "10 texts" in panel.data_status.text()
    assert panel.voice_edit.text() == "en-us"
    panel.speed_spin.setValue(170)
    estimate = panel.estimate_label.text()
    assert "of speech to synthesise" in estimate and "no cost (local)" in estimate
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    assert (spec.provider, spec.model, spec.benchmark) == (ESPEAK, "en-us", "tts")
    assert spec.options["asr_provider"] == POCKETSPHINX
    assert spec.options["speed"] == 170 and spec.options["voice"] == "en-us"
    if importlib.util.find_spec("pocketsphinx") and panel.tts_status.text() == "":
        assert panel.prepare(spec).model == "en-us"
    panel.resize(1280, 800)
    qtbot.wait(50)
    panel.grab().save(str(shots_dir / "audio_setup_tts.png"))


def test_tts_on_an_openai_compatible_speech_endpoint(qtbot, panel: AudioSetupPanel, ctx) -> None:
    _with_endpoint(ctx)
    _set_task(panel, "tts")
    _pick(panel.tts_combo, OPENAI_AUDIO, "Team server")
    _checked(qtbot, panel)
    assert panel.tts_model.text() == "tts-1" and panel.voice_edit.text() == "alloy"
    assert not panel.speed_spin.isVisible()
    assert "at the list price" in panel.estimate_label.text()
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    assert (spec.provider, spec.model, spec.base_url) == (
        OPENAI_AUDIO, "tts-1", "https://speech.example.com/v1"
    )
    assert spec.options["voice"] == "alloy" and "speed" not in spec.options
    assert spec.api_key_name == "TEAM_KEY"


@pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is not None, reason="faster-whisper is installed"
)
def test_a_missing_library_is_shown_and_start_is_refused(
    qtbot, panel: AudioSetupPanel, shots_dir: Path
) -> None:
    _pick(panel.asr_combo, FASTER_WHISPER)
    _checked(qtbot, panel)
    panel.resize(1280, 800)
    qtbot.wait(50)
    panel.grab().save(str(shots_dir / "audio_setup_missing_dependency.png"))
    expected = (
        "faster-whisper is not installed. Install the 'whisper' extra: "
        "pip install 'openbench-desktop[whisper]'"
    )
    assert panel.asr_status.isVisible()
    assert expected in panel.asr_status.text()
    assert panel.build_spec() == expected
    # The core says the same when asked directly.
    spec = RunSpec(provider=FASTER_WHISPER, base_url="", model="small.en", benchmark="asr")
    with pytest.raises(OpenBenchError, match="faster-whisper is not installed"):
        panel.prepare(spec)
    # Back to PocketSphinx: the message goes away.
    _pick(panel.asr_combo, POCKETSPHINX)
    assert not panel.asr_status.isVisible()
    assert isinstance(panel.build_spec(), RunSpec)


def test_a_missing_program_is_shown_and_start_is_refused(
    qtbot, ctx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no espeak-ng to be found
    panel = AudioSetupPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _set_task(panel, "tts")
    assert panel.tts_status.isVisible()
    text = panel.tts_status.text()
    assert "eSpeak NG (the espeak-ng program) is not installed" in text
    assert "apt-get install espeak-ng" in text
    refusal = panel.build_spec()
    assert isinstance(refusal, str) and refusal.startswith("eSpeak NG")


def test_an_unknown_voice_is_refused_by_prepare(qtbot, panel: AudioSetupPanel) -> None:
    _set_task(panel, "tts")
    if panel.tts_status.text():
        pytest.skip("espeak-ng is not installed")
    panel.voice_edit.clear()
    qtbot.keyClicks(panel.voice_edit, "no-such-voice")
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    with pytest.raises(OpenBenchError, match="eSpeak NG has no voice 'no-such-voice'"):
        panel.prepare(spec)


def test_dataset_folder_with_a_broken_line_and_one_without_transcripts(
    qtbot, panel: AudioSetupPanel, tmp_path: Path
) -> None:
    folder = tmp_path / "clips"
    rows = copy_demo_clips(folder, sorted(DEMO_TEXTS))
    transcript = write_tsv(folder / "transcripts.tsv", rows)
    lines = transcript.read_text(encoding="utf-8").splitlines()
    lines[3] = "demo03.wav"  # line 4: the text is gone
    transcript.write_text("\n".join(lines) + "\n", encoding="utf-8")
    panel._choose_dataset_folder = lambda: str(folder)  # type: ignore[method-assign]
    qtbot.mouseClick(panel.data_folder, Qt.MouseButton.LeftButton)
    assert panel.data_custom.isChecked()
    _checked(qtbot, panel)
    status = panel.data_status.text()
    assert "10 utterances" in status and "transcripts.tsv" in status
    assert "1 of 10 entries cannot be scored" in status
    assert "transcripts.tsv line 4" in status and "no transcript text for demo03.wav" in status
    spec = panel.build_spec()  # the other nine still run; the broken one counts as failed
    assert isinstance(spec, RunSpec) and spec.dataset.path == str(folder)

    panel.limit_spin.setValue(4)
    assert "this run uses the first 4" in panel.data_status.text()

    bare = tmp_path / "bare"
    copy_demo_clips(bare, ["demo01.wav", "demo02.wav"])
    panel._choose_dataset_folder = lambda: str(bare)  # type: ignore[method-assign]
    qtbot.mouseClick(panel.data_folder, Qt.MouseButton.LeftButton)
    _checked(qtbot, panel)
    assert "found 2 audio file(s) but no transcript" in panel.data_status.text()
    refusal = panel.build_spec()
    assert isinstance(refusal, str) and refusal.startswith("The dataset cannot be used:")

    panel.data_path.clear()
    refusal = panel.build_spec()
    assert isinstance(refusal, str) and "Choose a speech dataset folder" in refusal
    panel.data_builtin.setChecked(True)
    _checked(qtbot, panel)
    assert isinstance(panel.build_spec(), RunSpec)


def test_transcript_file_and_texts_file(qtbot, panel: AudioSetupPanel, tmp_path: Path) -> None:
    demo_tsv = str(DEMO_DIR / "transcripts.tsv")
    panel._choose_dataset_file = lambda: demo_tsv  # type: ignore[method-assign]
    qtbot.mouseClick(panel.data_file, Qt.MouseButton.LeftButton)
    _checked(qtbot, panel)
    assert "10 utterances" in panel.data_status.text()

    _set_task(panel, "tts")
    texts = tmp_path / "texts.txt"
    texts.write_text("Hello there.\n\nHow are you today?\n", encoding="utf-8")
    panel._choose_dataset_file = lambda: str(texts)  # type: ignore[method-assign]
    qtbot.mouseClick(panel.data_file, Qt.MouseButton.LeftButton)
    _checked(qtbot, panel)
    assert "2 texts, 6 words, texts.txt" in panel.data_status.text()
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec) and spec.dataset.path == str(texts)


def test_fill_from_spec_round_trips(qtbot, panel: AudioSetupPanel, ctx) -> None:
    tts = RunSpec(
        provider=ESPEAK, base_url="", model="en-us+klatt2", benchmark="tts", limit=3,
        concurrency=1,
        options={"normalizer": "basic", "language": "en", "warmup": 0, "voice": "en-us+klatt2",
                 "speed": 200, "asr_provider": POCKETSPHINX},
    )
    changes: list[int] = []
    panel.changed.connect(lambda: changes.append(1))
    panel.fill_from_spec(tts)
    assert changes
    _checked(qtbot, panel)
    rebuilt = panel.build_spec()
    assert isinstance(rebuilt, RunSpec)
    assert rebuilt == tts

    # An endpoint that is no longer saved still shows, with its key name.
    asr = RunSpec(
        provider=OPENAI_AUDIO, base_url="http://10.0.0.5:8000/v1", model="large-v3",
        benchmark="asr", concurrency=1, api_key_name="LAB_KEY",
        options={"normalizer": "whisper", "language": "de", "warmup": 2},
    )
    panel.fill_from_spec(asr)
    _checked(qtbot, panel)
    assert "from an earlier run" in panel.asr_combo.currentText()
    rebuilt = panel.build_spec()
    assert isinstance(rebuilt, RunSpec)
    assert rebuilt == asr


def test_the_built_spec_runs_through_the_controller(qtbot, panel: AudioSetupPanel, ctx) -> None:
    """What the Run setup view does with the panel: build, prepare off the GUI thread, start."""
    panel.limit_spin.setValue(2)
    panel.warmup_spin.setValue(0)
    _checked(qtbot, panel)
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    answers: dict[str, object] = {}

    def answered(ticket: int, result: object, error: object) -> None:
        answers["result"], answers["error"] = result, error

    ctx.db.answered.connect(answered)
    ctx.db.submit(lambda: panel.prepare(spec))
    qtbot.waitUntil(lambda: "result" in answers, timeout=10_000)
    assert answers["error"] is None
    prepared = answers["result"]
    assert isinstance(prepared, RunSpec)
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=60_000):
        ctx.controller.start(prepared)
    (run,) = ctx.store.list_runs()
    assert run.status is RunStatus.COMPLETED and run.n_ok == 2 and run.n_failed == 0


# --- whisper.cpp and Piper ------------------------------------------------------------------


def _cli_spec(flags: str) -> RunSpec:
    """What `openbench-desktop run FLAGS` would run (the CLI's own spec builder)."""
    return _audio_spec_from_args(build_parser().parse_args(["run", *shlex.split(flags)]))


def _fake_voice(folder: Path, *, config: bool = True) -> Path:
    """A file named like a Piper voice: the panel only looks at whether it is there."""
    folder.mkdir(parents=True, exist_ok=True)
    voice = folder / "en_US-test-medium.onnx"
    voice.write_bytes(b"onnx")
    if config:
        Path(f"{voice}.json").write_text('{"audio": {"sample_rate": 22050}}', encoding="utf-8")
    return voice


def _real_models() -> tuple[Path, Path]:
    if not GGML_TINY_EN.is_file():
        pytest.skip(f"{GGML_TINY_EN} is missing: {FETCH_HINT}")
    if not (PIPER_VOICE.is_file() and Path(f"{PIPER_VOICE}.json").is_file()):
        pytest.skip(f"{PIPER_VOICE} is missing: {FETCH_HINT}")
    return GGML_TINY_EN, PIPER_VOICE


@needs_whispercpp
def test_whispercpp_asr_builds_the_cli_spec(
    qtbot, panel: AudioSetupPanel, tmp_path: Path, shots_dir: Path
) -> None:
    model = GGML_TINY_EN if GGML_TINY_EN.is_file() else tmp_path / "ggml-tiny.en.bin"
    model.touch(exist_ok=True)
    _pick(panel.asr_combo, WHISPERCPP)
    _checked(qtbot, panel)
    assert panel.asr_model.text() == "" and not panel.asr_model.isReadOnly()
    assert panel.asr_model_browse.isVisible() and panel.asr_model_browse.text() == "File…"
    assert panel.asr_model_hint.text() == (
        "A ggml model file, e.g. ggml-base.en.bin (or a name such as base.en, downloaded "
        "with internet)."
    )
    refusal = panel.build_spec()
    assert isinstance(refusal, str) and refusal.startswith("whisper.cpp needs a model")
    asked: list[str] = []

    def choose() -> str:
        asked.append("file")
        return str(model)

    panel._choose_model_file = choose  # type: ignore[method-assign]
    qtbot.mouseClick(panel.asr_model_browse, Qt.MouseButton.LeftButton)
    assert asked == ["file"] and panel.asr_model.text() == str(model)
    assert not panel.asr_status.isVisible()
    estimate = panel.estimate_label.text()
    assert "with whisper.cpp (approximate: a typical RTFx of 6" in estimate
    assert "no cost (local)" in estimate
    spec = panel.build_spec()
    assert spec == _cli_spec(
        f"--benchmark asr --provider whispercpp --model {model} "
        "--normalizer whisper --language en --warmup 1"
    )
    # A model *name* is left to the core (downloaded on first use).
    panel.asr_model.setText("base.en")
    assert not panel.asr_status.isVisible()
    assert isinstance(panel.build_spec(), RunSpec)

    panel.asr_model.setText(str(model))
    panel.resize(1280, 800)
    qtbot.wait(50)
    panel.grab().save(str(shots_dir / "audio_setup_whispercpp.png"))


@needs_piper
def test_piper_round_trip_builds_the_cli_spec(
    qtbot, panel: AudioSetupPanel, tmp_path: Path, shots_dir: Path
) -> None:
    real = PIPER_VOICE.is_file() and Path(f"{PIPER_VOICE}.json").is_file()
    voice = PIPER_VOICE if real else _fake_voice(tmp_path / "voices")
    _set_task(panel, "tts")
    _pick(panel.tts_combo, PIPER)
    _checked(qtbot, panel)
    # Piper's model is its voice file; eSpeak's words/min mean nothing to it.
    assert not panel.speed_spin.isVisible() and not panel.tts_model.isVisible()
    assert panel.voice_browse.isVisible()
    assert panel.voice_hint.text() == "A Piper voice .onnx with its .onnx.json beside it."
    assert panel.voice_edit.text() == ""
    refusal = panel.build_spec()
    assert isinstance(refusal, str) and refusal.startswith("Piper needs a voice")

    panel._choose_voice_file = lambda: str(voice)  # type: ignore[method-assign]
    qtbot.mouseClick(panel.voice_browse, Qt.MouseButton.LeftButton)
    assert panel.voice_edit.text() == str(voice)
    assert not panel.tts_status.isVisible()
    estimate = panel.estimate_label.text()
    assert "typical speeds of Piper and PocketSphinx" in estimate and "no cost" in estimate
    spec = panel.build_spec()
    assert spec == _cli_spec(
        f"--benchmark tts --provider piper --model {voice} --asr-provider pocketsphinx "
        "--normalizer whisper --language en --warmup 1"
    )

    # The same round trip heard by whisper.cpp carries its model, as --asr-model does.
    if importlib.util.find_spec("pywhispercpp") is not None:
        ggml = GGML_TINY_EN if GGML_TINY_EN.is_file() else tmp_path / "ggml-tiny.en.bin"
        ggml.touch(exist_ok=True)
        _pick(panel.asr_combo, WHISPERCPP)
        panel._choose_model_file = lambda: str(ggml)  # type: ignore[method-assign]
        qtbot.mouseClick(panel.asr_model_browse, Qt.MouseButton.LeftButton)
        spec = panel.build_spec()
        assert spec == _cli_spec(
            f"--benchmark tts --provider piper --model {voice} --asr-provider whispercpp "
            f"--asr-model {ggml} --normalizer whisper --language en --warmup 1"
        )
        panel.fill_from_spec(RunSpec(
            provider=ESPEAK, base_url="", model="en-us", benchmark="tts",
            options={"voice": "en-us", "asr_provider": POCKETSPHINX},
        ))
        assert isinstance(spec, RunSpec)
        panel.fill_from_spec(spec)  # Duplicate run brings every choice back
        _checked(qtbot, panel)
        assert panel.build_spec() == spec
        assert panel.voice_edit.text() == str(voice) and panel.asr_model.text() == str(ggml)

    panel.resize(1280, 800)
    qtbot.wait(50)
    panel.grab().save(str(shots_dir / "audio_setup_piper.png"))


@needs_whispercpp
@needs_piper
def test_missing_model_and_voice_files_are_refused_with_their_paths(
    qtbot, panel: AudioSetupPanel, tmp_path: Path, shots_dir: Path
) -> None:
    missing = tmp_path / "models" / "ggml-base.en.bin"
    _pick(panel.asr_combo, WHISPERCPP)
    panel.asr_model.setText(str(missing))
    assert panel.asr_status.isVisible()
    expected = (
        f"whisper.cpp model {missing} does not exist: give a ggml model file such as "
        "ggml-base.en.bin."
    )
    assert panel.asr_status.text() == f"✗ {expected}"
    assert panel.build_spec() == expected
    with pytest.raises(OpenBenchError) as core:  # the core's own words
        WhisperCppProvider(str(missing)).check()
    assert str(core.value) == expected
    panel.asr_model.setText(str(tmp_path))
    assert "is a folder, not a model file" in panel.asr_status.text()

    _pick(panel.asr_combo, POCKETSPHINX)
    _set_task(panel, "tts")
    _pick(panel.tts_combo, PIPER)
    gone = tmp_path / "voices" / "en_US-amy-low.onnx"
    panel.voice_edit.setText(str(gone))
    expected = f"Piper voice {gone} does not exist: give the path of a voice's .onnx file."
    assert panel.tts_status.isVisible() and panel.tts_status.text() == f"✗ {expected}"
    assert panel.build_spec() == expected
    with pytest.raises(OpenBenchError) as core:
        PiperProvider(str(gone)).check()
    assert str(core.value) == expected
    # The .onnx without its .onnx.json: named, with the file expected beside it.
    lone = _fake_voice(tmp_path / "lone", config=False)
    panel.voice_edit.setText(str(lone))
    refusal = panel.build_spec()
    assert isinstance(refusal, str) and f"expected {lone}.json" in refusal
    with pytest.raises(OpenBenchError) as core:
        PiperProvider(str(lone)).check()
    assert str(core.value) == refusal
    panel.resize(1280, 800)
    qtbot.wait(50)
    panel.grab().save(str(shots_dir / "audio_setup_piper_missing_config.png"))
    panel.voice_edit.setText(str(_fake_voice(tmp_path / "ok")))
    assert not panel.tts_status.isVisible()


def test_missing_whispercpp_and_piper_extras_are_named(
    qtbot, ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    # find_spec and import now fail, even when an earlier test imported them.
    monkeypatch.setitem(sys.modules, "pywhispercpp", None)
    monkeypatch.setitem(sys.modules, "pywhispercpp.model", None)
    monkeypatch.setitem(sys.modules, "piper", None)
    panel = AudioSetupPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _pick(panel.asr_combo, WHISPERCPP)
    expected = (
        "pywhispercpp (whisper.cpp) is not installed. Install the 'whispercpp' extra: "
        "pip install 'openbench-desktop[whispercpp]'"
    )
    assert panel.asr_status.isVisible() and panel.asr_status.text() == f"✗ {expected}"
    assert panel.build_spec() == expected
    with pytest.raises(OpenBenchError) as core:
        WhisperCppProvider("base.en").check()
    assert str(core.value) == expected

    _pick(panel.asr_combo, POCKETSPHINX)
    _set_task(panel, "tts")
    _pick(panel.tts_combo, PIPER)
    expected = (
        "Piper (piper-tts) is not installed. Install the 'piper' extra: "
        "pip install 'openbench-desktop[piper]'"
    )
    assert panel.tts_status.isVisible() and panel.tts_status.text() == f"✗ {expected}"
    assert panel.build_spec() == expected
    with pytest.raises(OpenBenchError) as core:
        PiperProvider("v.onnx").check()
    assert str(core.value) == expected


@needs_whispercpp
@needs_piper
@pytest.mark.slow
def test_a_real_piper_to_whispercpp_round_trip_from_the_panel(
    qtbot, panel: AudioSetupPanel, ctx
) -> None:
    """Real voice, real recogniser, two built-in sentences: build, prepare off-thread, run."""
    ggml, voice = _real_models()
    _set_task(panel, "tts")
    _pick(panel.tts_combo, PIPER)
    panel.voice_edit.setText(str(voice))
    _pick(panel.asr_combo, WHISPERCPP)
    panel.asr_model.setText(str(ggml))
    panel.limit_spin.setValue(2)
    panel.warmup_spin.setValue(0)
    _checked(qtbot, panel)
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    answers: dict[str, object] = {}

    def answered(ticket: int, result: object, error: object) -> None:
        answers["result"], answers["error"] = result, error

    ctx.db.answered.connect(answered)
    ctx.db.submit(lambda: panel.prepare(spec))
    qtbot.waitUntil(lambda: "result" in answers, timeout=10_000)
    assert answers["error"] is None
    prepared = answers["result"]
    assert isinstance(prepared, RunSpec)
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=60_000):
        ctx.controller.start(prepared)
    (run,) = ctx.store.list_runs()
    assert run.status is RunStatus.COMPLETED and (run.n_ok, run.n_failed) == (2, 0)
    audio = ctx.store.get_run(run.run_id).summary.audio
    assert audio["provider"] == "piper → whispercpp"
    # Two good local models on clear speech: measured WER 0; a broken pipeline gives ≥ 0.9.
    assert audio["wer"] is not None and audio["wer"] < 0.3
