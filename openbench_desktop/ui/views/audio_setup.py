"""Run setup for speech benchmarks: recognition (ASR) and the synthesis round trip (TTS → ASR).

:class:`AudioSetupPanel` is one page of the Run setup, shown when the user picks a speech
benchmark. It holds its own inputs and an estimate; the Run setup view owns the Start
button and calls :meth:`~AudioSetupPanel.build_spec`, then :meth:`~AudioSetupPanel.prepare`
off the GUI thread, then ``ctx.controller.start``.

Only speech providers are offered: PocketSphinx, faster-whisper and whisper.cpp (local
recognition), eSpeak NG and Piper (local synthesis) and every saved OpenAI-compatible
endpoint as an ``/audio/transcriptions`` or ``/audio/speech`` server. A provider whose
library or program is missing says so next to the choice with the exact thing to install,
and :meth:`build_spec` refuses with the same words; so does a whisper.cpp model file or a
Piper voice file that is not there. Availability is checked cheaply
(``importlib.util.find_spec``, ``importlib.metadata``, ``shutil.which``, ``Path.is_file``):
nothing is imported or run on the GUI thread. Loading a dataset (listing files, reading
audio headers for the total duration) runs on the DB executor's thread.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.audio import (
    ASR_BENCHMARK,
    AUDIO_EXTRA,
    TTS_BENCHMARK,
    MissingDependencyError,
)
from openbench_desktop.core.audio.normalize import DEFAULT_NORMALIZER, NORMALIZERS
from openbench_desktop.core.domain import DatasetRef, GenerationParams, RunSpec
from openbench_desktop.core.engine.estimate import format_duration
from openbench_desktop.core.errors import OpenBenchError
from openbench_desktop.ui.bridge.db_executor import DbCalls
from openbench_desktop.ui.context import AppContext

__all__ = [
    "AudioSetupPanel",
    "DatasetCheck",
    "ProviderChoice",
    "check_speech_dataset",
    "check_texts",
    "missing_dependency",
]

POCKETSPHINX, FASTER_WHISPER, WHISPERCPP, OPENAI_AUDIO, ESPEAK, PIPER = (
    "pocketsphinx", "faster-whisper", "whispercpp", "openai-audio", "espeak", "piper",
)
LOCAL_PROVIDERS = frozenset({POCKETSPHINX, FASTER_WHISPER, WHISPERCPP, ESPEAK, PIPER})
#: Recognisers whose model is typed or browsed for (the round trip records it as asr_model).
MODEL_RECOGNISERS = frozenset({FASTER_WHISPER, WHISPERCPP})
TASKS = (
    (ASR_BENCHMARK, "Speech recognition (ASR)"),
    (TTS_BENCHMARK, "Speech synthesis round trip (TTS → ASR)"),
)
NORMALIZER_LABELS = {
    "whisper": "Whisper-style (English; numbers, contractions, spelling)",
    "basic": "Basic (lower-case, no punctuation; any language)",
    "raw": "Raw (texts as written: case and punctuation count)",
}
DEMO_CLIPS_LABEL = "Bundled demo clips (10, offline)"
BUILTIN_TEXTS_LABEL = "Built-in sentences (the 10 demo texts)"

#: Real-time factors (audio seconds per processing second) seen for each recogniser on an
#: ordinary laptop CPU, for the time estimate only: PocketSphinx measured ~2 on the demo
#: clips (docs/METRICS.md), faster-whisper small/base int8 on CPU ~3-8, whisper.cpp
#: tiny/base on a few CPU threads ~5-10 (larger models much less), a hosted endpoint ~10-30
#: including the upload. The estimate says it is approximate.
TYPICAL_RTFX = {POCKETSPHINX: 2.0, FASTER_WHISPER: 4.0, WHISPERCPP: 6.0, OPENAI_AUDIO: 15.0}
#: Synthesis speed (audio seconds per second): eSpeak NG is formant synthesis, very fast;
#: a Piper "medium" voice (a small VITS network on onnxruntime) ~10 on a laptop CPU.
TYPICAL_TTS_RTFX = {ESPEAK: 50.0, PIPER: 10.0, OPENAI_AUDIO: 5.0}
WORDS_PER_AUDIO_S = 2.5  # ~150 words per minute: converts text length to speech length
#: Published list prices of OpenAI's audio models (USD): per minute of audio (transcription)
#: and per million input characters (speech). Other models are billed however their server
#: bills; the estimate then says it does not know.
ASR_PRICE_PER_MIN = {"whisper-1": 0.006}
TTS_PRICE_PER_MCHAR = {"tts-1": 15.0, "tts-1-hd": 30.0}

CHECK_DELAY_MS = 250
_ERROR_STYLE = "color: #D55E00;"  # Okabe-Ito vermillion, readable in light and dark
_OK_STYLE = "color: #009E73;"
_WARN_STYLE = "color: #E69F00;"


# --- plain helpers (no Qt) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """One entry of a provider combo."""

    label: str
    provider: str
    endpoint: str | None = None  # the saved endpoint's name (OpenAI-compatible servers)
    base_url: str = ""
    api_key_name: str | None = None

    @property
    def local(self) -> bool:
        return self.provider in LOCAL_PROVIDERS


@dataclass(frozen=True, slots=True)
class DatasetCheck:
    """What a dataset check sends back to the GUI thread: plain numbers and text."""

    n_entries: int
    n_problems: int
    first_problem: str | None
    description: str  # for the summary line: "transcripts.tsv", "texts.txt"
    audio_s: float | None = None  # ASR: total duration of the readable clips
    words: int = 0  # TTS: words to synthesise
    chars: int = 0  # TTS: characters (what speech endpoints bill)


@dataclass(frozen=True, slots=True)
class _Refused:
    message: str


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[name] is None (blocked)
        return False


def _has_distribution(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def missing_dependency(provider: str) -> str | None:
    """Why ``provider`` cannot run here (the core's own install message), or None.

    Cheap: looks the libraries up without importing them and the program up on PATH. The
    libraries every speech run needs (soundfile, soxr, jiwer) are checked for each provider.
    """
    from openbench_desktop.core.audio.asr import WhisperCppProvider
    from openbench_desktop.core.audio.tts import EspeakProvider, PiperProvider

    if provider == POCKETSPHINX and not _has_module("pocketsphinx"):
        return str(MissingDependencyError(
            "PocketSphinx (local speech recognition)", extra=AUDIO_EXTRA
        ))
    if provider == FASTER_WHISPER and not _has_module("faster_whisper"):
        return str(MissingDependencyError("faster-whisper", extra="whisper"))
    if provider == WHISPERCPP and not _has_module("pywhispercpp"):
        return str(MissingDependencyError(
            "pywhispercpp (whisper.cpp)", extra=WhisperCppProvider.EXTRA
        ))
    if provider == PIPER:
        if not _has_module("piper"):
            return str(MissingDependencyError("Piper (piper-tts)", extra=PiperProvider.EXTRA))
        # Another PyPI project is imported as "piper" too; the core tells them apart by
        # importing it, which loads onnxruntime: the installed distribution's name is enough.
        if not _has_distribution("piper-tts"):
            return str(MissingDependencyError(
                "Piper (piper-tts; the 'piper' module found here is another package)",
                extra=PiperProvider.EXTRA,
            ))
    if provider == ESPEAK and not (shutil.which("espeak-ng") or shutil.which("espeak")):
        return str(MissingDependencyError(
            "eSpeak NG (the espeak-ng program)", hint=EspeakProvider.INSTALL_HINT
        ))
    for module, what in (
        ("soundfile", "soundfile (reading audio)"),
        ("soxr", "soxr (resampling audio)"),
        ("jiwer", "jiwer (word error rate)"),
    ):
        if not _has_module(module):
            return str(MissingDependencyError(what, extra=AUDIO_EXTRA))
    return None


def _looks_like_path(model: str) -> bool:
    """whisper.cpp takes a file or a model name; the same test as the core's provider."""
    m = model.replace("\\", "/")
    return (
        "/" in m
        or m.startswith((".", "~"))
        or (len(m) > 1 and m[1] == ":")
        or m.lower().endswith((".bin", ".gguf"))
    )


def model_file_problem(provider: str, model: str) -> str | None:
    """Why a whisper.cpp model file or a Piper voice file cannot be used, or None.

    The core's own words (its providers' ``check``), from a ``stat`` only: nothing is read,
    so this is cheap enough to run on every keystroke. An empty field is not a problem
    here (the refusal asks for one); a whisper.cpp model *name* is left to the core.
    """
    model = model.strip()
    if not model:
        return None
    path = Path(model).expanduser()
    if provider == WHISPERCPP:
        if path.is_file() or not (path.is_dir() or _looks_like_path(model)):
            return None
        what = "is a folder, not a model file" if path.is_dir() else "does not exist"
        return (
            f"whisper.cpp model {path} {what}: give a ggml model file such as "
            "ggml-base.en.bin."
        )
    if provider == PIPER:
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            return f"Piper voice {path} {what}: give the path of a voice's .onnx file."
        config = Path(f"{path}.json")
        if not config.is_file():
            return (
                f"Piper voice {path} has no config beside it: expected {config} "
                "(each voice is published as a .onnx and a .onnx.json)."
            )
    return None


def _audio_seconds(paths: list[Path]) -> float | None:
    """Total duration from the files' headers (no decoding); None without soundfile."""
    try:
        import soundfile
    except (ImportError, OSError):
        return None
    total = 0.0
    for path in paths:
        try:
            total += float(soundfile.info(str(path)).duration)
        except (RuntimeError, OSError, ValueError, TypeError):
            continue  # unreadable: the run will report it on that clip
    return total


def check_speech_dataset(path: str | None) -> DatasetCheck:
    """Load a speech dataset's listing (``None``: the bundled demo) and sum its audio.

    Raises the loader's DatasetError when nothing in it is usable. Runs off the GUI thread.
    """
    from openbench_desktop.core.audio.datasets import demo_dataset_path, load_audio_dataset

    dataset = load_audio_dataset(path or demo_dataset_path())
    problems = [u.problem for u in dataset.utterances if u.problem]
    files = [u.audio_path for u in dataset.utterances if u.audio_path and not u.problem]
    names = [p.name for p in dataset.transcript_files]
    description = ", ".join(names[:2]) + (" …" if len(names) > 2 else "") or dataset.root.name
    return DatasetCheck(
        n_entries=len(dataset.utterances),
        n_problems=len(problems),
        first_problem=problems[0] if problems else None,
        description=description,
        audio_s=_audio_seconds(files),
    )


def check_texts(path: str | None) -> DatasetCheck:
    """The texts a round trip would synthesise (``None``: the built-in sentences)."""
    from openbench_desktop.core.audio.datasets import load_text_items

    items, description, identity = load_text_items(path)
    return DatasetCheck(
        n_entries=len(items),
        n_problems=0,
        first_problem=None,
        description=identity.name if identity is not None else Path(description).name,
        words=sum(len(item.text.split()) for item in items),
        chars=sum(len(item.text) for item in items),
    )


def _styled(label: QLabel, text: str, style: str = "") -> None:
    label.setText(text)
    label.setStyleSheet(style)
    label.setVisible(bool(text))


def _status_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


def _group(title: str, name: str) -> tuple[QGroupBox, QFormLayout]:
    box = QGroupBox(title)
    box.setObjectName(name)
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return box, form


# --- the panel -------------------------------------------------------------------------------


class AudioSetupPanel(QWidget):
    """The speech part of the Run setup (see the module docstring)."""

    changed = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._db_calls = DbCalls(ctx.db, self)
        self._check_ticket: int | None = None
        self._checked: DatasetCheck | None = None
        self._check_error: str | None = None
        self._spec_choices: list[ProviderChoice] = []  # endpoints known only from a spec
        self._filling = False
        # The choices the model/voice fields were last filled for: a field is reset only
        # when its own combo changes (picking a recogniser must not wipe a chosen voice).
        self._asr_shown: ProviderChoice | None = None
        self._tts_shown: ProviderChoice | None = None
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._run_check)
        ctx.signals.settings_changed.connect(self._on_settings_changed)

        self._build()
        self._reload_providers()
        self._on_task_changed()

    # -- building --------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_task_group())
        layout.addWidget(self._build_tts_group())
        layout.addWidget(self._build_asr_group())
        layout.addWidget(self._build_data_group())
        layout.addWidget(self._build_scoring_group())
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("audio_estimate")
        self.estimate_label.setAccessibleName("Speech run estimate")
        self.estimate_label.setWordWrap(True)
        layout.addWidget(self.estimate_label)
        layout.addStretch(1)

    def _build_task_group(self) -> QGroupBox:
        box, form = _group("Speech benchmark", "audio_task_group")
        self.task_combo = QComboBox()
        self.task_combo.setObjectName("audio_task")
        self.task_combo.setAccessibleName("Speech task")
        for key, label in TASKS:
            self.task_combo.addItem(label, key)
        self.task_combo.currentIndexChanged.connect(self._on_task_changed)
        form.addRow("Task:", self.task_combo)
        self.task_hint = QLabel()
        self.task_hint.setObjectName("audio_task_hint")
        self.task_hint.setWordWrap(True)
        form.addRow(self.task_hint)
        return box

    def _build_asr_group(self) -> QGroupBox:
        box, form = _group("Speech recogniser", "audio_asr_group")
        self.asr_group = box
        self.asr_combo = QComboBox()
        self.asr_combo.setObjectName("audio_asr_provider")
        self.asr_combo.setAccessibleName("Speech recogniser")
        self.asr_combo.currentIndexChanged.connect(self._on_asr_changed)
        form.addRow("Recogniser:", self.asr_combo)
        self.asr_status = _status_label("audio_asr_status")
        form.addRow(self.asr_status)
        self.asr_model = QLineEdit()
        self.asr_model.setObjectName("audio_asr_model")
        self.asr_model.setAccessibleName("Recogniser model")
        self.asr_model.textChanged.connect(self._on_input_changed)
        self.asr_model_browse = QPushButton("Folder…")
        self.asr_model_browse.setObjectName("audio_asr_model_browse")
        self.asr_model_browse.setAccessibleName("Choose the recogniser model")
        self.asr_model_browse.clicked.connect(self._on_browse_model)
        row = QHBoxLayout()
        row.addWidget(self.asr_model, 1)
        row.addWidget(self.asr_model_browse)
        form.addRow("Model:", row)
        self.asr_model_hint = QLabel()
        self.asr_model_hint.setObjectName("audio_asr_model_hint")
        self.asr_model_hint.setWordWrap(True)
        form.addRow(self.asr_model_hint)
        return box

    def _build_tts_group(self) -> QGroupBox:
        box, form = _group("Speech synthesiser", "audio_tts_group")
        self.tts_group = box
        self.tts_combo = QComboBox()
        self.tts_combo.setObjectName("audio_tts_provider")
        self.tts_combo.setAccessibleName("Speech synthesiser")
        self.tts_combo.currentIndexChanged.connect(self._on_tts_changed)
        form.addRow("Synthesiser:", self.tts_combo)
        self.tts_status = _status_label("audio_tts_status")
        form.addRow(self.tts_status)
        self.tts_model = QLineEdit()
        self.tts_model.setObjectName("audio_tts_model")
        self.tts_model.setAccessibleName("Synthesis model")
        self.tts_model.setPlaceholderText("tts-1")
        self.tts_model.textChanged.connect(self._on_input_changed)
        form.addRow("Model:", self.tts_model)
        self.voice_edit = QLineEdit()
        self.voice_edit.setObjectName("audio_voice")
        self.voice_edit.setAccessibleName("Voice")
        self.voice_edit.textChanged.connect(self._on_input_changed)
        self.voice_browse = QPushButton("File…")
        self.voice_browse.setObjectName("audio_voice_browse")
        self.voice_browse.setAccessibleName("Choose a Piper voice file")
        self.voice_browse.setToolTip("Choose a Piper voice (.onnx, with its .onnx.json beside it)")
        self.voice_browse.clicked.connect(self._on_browse_voice)
        row = QHBoxLayout()
        row.addWidget(self.voice_edit, 1)
        row.addWidget(self.voice_browse)
        form.addRow("Voice:", row)
        self.voice_hint = QLabel()
        self.voice_hint.setObjectName("audio_voice_hint")
        self.voice_hint.setWordWrap(True)
        self.voice_hint.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.voice_hint)
        self.speed_spin = QSpinBox()
        self.speed_spin.setObjectName("audio_speed")
        self.speed_spin.setAccessibleName("Speaking speed")
        self.speed_spin.setRange(80, 450)
        self.speed_spin.setValue(150)
        self.speed_spin.setSuffix(" words/min")
        self.speed_spin.setMaximumWidth(160)
        self.speed_spin.valueChanged.connect(self._on_input_changed)
        form.addRow("Speed:", self.speed_spin)
        self._tts_form = form
        return box

    def _build_data_group(self) -> QGroupBox:
        box, form = _group("Dataset", "audio_data_group")
        self.data_group = box
        self.data_builtin = QRadioButton(DEMO_CLIPS_LABEL)
        self.data_builtin.setObjectName("audio_dataset_builtin")
        self.data_custom = QRadioButton("Your own clips:")
        self.data_custom.setObjectName("audio_dataset_custom")
        group = QButtonGroup(self)
        group.addButton(self.data_builtin)
        group.addButton(self.data_custom)
        self.data_builtin.setChecked(True)
        self.data_builtin.toggled.connect(self._on_source_toggled)
        self.data_path = QLineEdit()
        self.data_path.setObjectName("audio_dataset_path")
        self.data_path.setAccessibleName("Speech dataset folder or transcript file")
        self.data_path.textChanged.connect(self._on_data_path_edited)
        self.data_folder = QPushButton("Folder…")
        self.data_folder.setObjectName("audio_dataset_folder")
        self.data_folder.clicked.connect(self._on_browse_folder)
        self.data_file = QPushButton("File…")
        self.data_file.setObjectName("audio_dataset_file")
        self.data_file.clicked.connect(self._on_browse_file)
        row = QHBoxLayout()
        row.addWidget(self.data_custom)
        row.addWidget(self.data_path, 1)
        row.addWidget(self.data_folder)
        row.addWidget(self.data_file)
        form.addRow(self.data_builtin)
        form.addRow(row)
        self.data_status = _status_label("audio_dataset_status")
        form.addRow(self.data_status)
        self.data_hint = QLabel()
        self.data_hint.setObjectName("audio_dataset_hint")
        self.data_hint.setWordWrap(True)
        self.data_hint.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.data_hint)
        return box

    def _build_scoring_group(self) -> QGroupBox:
        box, form = _group("Scoring and measurement", "audio_scoring_group")
        self.normalizer_combo = QComboBox()
        self.normalizer_combo.setObjectName("audio_normalizer")
        self.normalizer_combo.setAccessibleName("Text normalizer")
        for name in NORMALIZERS:
            self.normalizer_combo.addItem(NORMALIZER_LABELS.get(name, name), name)
        self.normalizer_combo.setCurrentIndex(self.normalizer_combo.findData(DEFAULT_NORMALIZER))
        self.normalizer_combo.setToolTip(
            "Applied to the reference and the transcript before WER/CER (docs/METRICS.md)"
        )
        self.normalizer_combo.currentIndexChanged.connect(self._on_input_changed)
        form.addRow("Normalizer:", self.normalizer_combo)
        self.language_edit = QLineEdit("en")
        self.language_edit.setObjectName("audio_language")
        self.language_edit.setAccessibleName("Language code")
        self.language_edit.setMaximumWidth(80)
        self.language_edit.setToolTip("Passed to the recogniser (e.g. en, de); empty: detect")
        self.language_edit.textChanged.connect(self._on_input_changed)
        form.addRow("Language:", self.language_edit)
        self.warmup_spin = QSpinBox()
        self.warmup_spin.setObjectName("audio_warmup")
        self.warmup_spin.setAccessibleName("Warm-up passes")
        self.warmup_spin.setRange(0, 10)
        self.warmup_spin.setValue(1)
        self.warmup_spin.setToolTip("Untimed passes before the measured run (excluded from RTFx)")
        self.warmup_spin.setMaximumWidth(160)
        self.warmup_spin.valueChanged.connect(self._on_input_changed)
        form.addRow("Warm-up passes:", self.warmup_spin)
        self.limit_spin = QSpinBox()
        self.limit_spin.setObjectName("audio_limit")
        self.limit_spin.setAccessibleName("Limit")
        self.limit_spin.setRange(0, 1_000_000)
        self.limit_spin.setSpecialValueText("all")
        self.limit_spin.setSuffix(" entries")
        self.limit_spin.setMaximumWidth(160)
        self.limit_spin.valueChanged.connect(self._on_limit_changed)
        form.addRow("Use the first:", self.limit_spin)
        return box

    # -- choices ---------------------------------------------------------------------------

    def task(self) -> str:
        return str(self.task_combo.currentData() or ASR_BENCHMARK)

    def _endpoints(self, what: str) -> list[ProviderChoice]:
        """Saved OpenAI-compatible endpoints (the simulated demo serves chat only)."""
        out = [
            ProviderChoice(
                f"{e.name} — OpenAI-compatible {what}",
                OPENAI_AUDIO,
                endpoint=e.name,
                base_url=e.base_url,
                api_key_name=e.api_key_name,
            )
            for e in self.ctx.settings.endpoints
            if e.kind == "openai" and not e.simulated
        ]
        return out + [c for c in self._spec_choices if what in c.label]

    def _asr_choices(self) -> list[ProviderChoice]:
        local = [
            ProviderChoice("PocketSphinx — local, offline (en-us)", POCKETSPHINX),
            ProviderChoice("faster-whisper — local (optional 'whisper' extra)", FASTER_WHISPER),
            ProviderChoice("whisper.cpp — local (optional 'whispercpp' extra)", WHISPERCPP),
        ]
        if self.task() == TTS_BENCHMARK:
            return local  # the core runs the round trip's recogniser locally only
        return local + self._endpoints("/audio/transcriptions")

    def _tts_choices(self) -> list[ProviderChoice]:
        espeak = ProviderChoice("eSpeak NG — local, offline", ESPEAK)
        piper = ProviderChoice("Piper — local voice (optional 'piper' extra)", PIPER)
        return [espeak, piper, *self._endpoints("/audio/speech")]

    @staticmethod
    def _fill_combo(combo: QComboBox, choices: list[ProviderChoice]) -> None:
        keep = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for choice in choices:
            combo.addItem(choice.label, choice)
            combo.setItemData(
                combo.count() - 1, choice.base_url or choice.label, Qt.ItemDataRole.ToolTipRole
            )
        index = next((i for i, c in enumerate(choices) if c == keep), 0)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)

    def _reload_providers(self) -> None:
        self._fill_combo(self.asr_combo, self._asr_choices())
        self._fill_combo(self.tts_combo, self._tts_choices())

    def asr_choice(self) -> ProviderChoice:
        choice = self.asr_combo.currentData()
        return choice if isinstance(choice, ProviderChoice) else ProviderChoice("", POCKETSPHINX)

    def tts_choice(self) -> ProviderChoice:
        choice = self.tts_combo.currentData()
        return choice if isinstance(choice, ProviderChoice) else ProviderChoice("", ESPEAK)

    def _select(self, combo: QComboBox, provider: str, base_url: str = "") -> bool:
        for i in range(combo.count()):
            c = combo.itemData(i)
            if isinstance(c, ProviderChoice) and c.provider == provider and (
                provider != OPENAI_AUDIO or c.base_url.rstrip("/") == base_url.rstrip("/")
            ):
                combo.setCurrentIndex(i)
                return True
        return False

    # -- reactions -------------------------------------------------------------------------

    @Slot()
    def _on_task_changed(self, *_args: object) -> None:
        tts = self.task() == TTS_BENCHMARK
        self._fill_combo(self.asr_combo, self._asr_choices())
        self.tts_group.setVisible(tts)
        self.asr_group.setTitle(
            "Round-trip recogniser (hears the synthesised audio)" if tts else "Speech recogniser"
        )
        self.data_group.setTitle("Texts to synthesise" if tts else "Dataset")
        self.data_builtin.setText(BUILTIN_TEXTS_LABEL if tts else DEMO_CLIPS_LABEL)
        self.data_custom.setText("Your own texts:" if tts else "Your own clips:")
        self.data_folder.setVisible(not tts)
        self.data_hint.setText(
            "A .txt file (one text per line) or a speech dataset whose transcripts are read."
            if tts
            else "A folder with metadata.csv, a transcripts.tsv (FILE<TAB>TEXT), a .csv/.jsonl "
            "transcript, or LibriSpeech *.trans.txt files; or one transcript file."
        )
        self.task_hint.setText(
            "Each text is spoken by the synthesiser, then transcribed by a local recogniser; "
            "WER of the round trip measures intelligibility, and RTF the synthesis speed."
            if tts
            else "Transcribes each clip and scores it against its reference: WER, CER "
            "(with a 95% bootstrap interval) and RTFx (audio seconds per processing second)."
        )
        self.task_hint.setStyleSheet("color: palette(placeholder-text);")
        self._update_provider_widgets()
        self._schedule_check()

    @Slot()
    def _on_asr_changed(self, *_args: object) -> None:
        self._update_provider_widgets()
        self._on_input_changed()

    @Slot()
    def _on_tts_changed(self, *_args: object) -> None:
        self._update_provider_widgets()
        self._on_input_changed()

    def _update_provider_widgets(self) -> None:
        asr = self.asr_choice()
        if not self._filling and asr != self._asr_shown:
            # Each provider has its own kind of model; a name typed for another is wrong here.
            self.asr_model.blockSignals(True)
            self.asr_model.setText({POCKETSPHINX: "en-us", OPENAI_AUDIO: "whisper-1"}.get(
                asr.provider, ""))
            self.asr_model.blockSignals(False)
        self.asr_model.setReadOnly(asr.provider == POCKETSPHINX)
        self.asr_model_browse.setVisible(asr.provider in MODEL_RECOGNISERS)
        # faster-whisper reads a folder, whisper.cpp a single ggml file.
        self.asr_model_browse.setText("File…" if asr.provider == WHISPERCPP else "Folder…")
        self.asr_model_browse.setToolTip(
            "Choose a whisper.cpp ggml model file (*.bin)"
            if asr.provider == WHISPERCPP
            else "Choose a CTranslate2-converted Whisper model folder"
        )
        self.asr_model.setPlaceholderText({
            FASTER_WHISPER: "a converted model folder, or a name such as small.en (needs "
            "internet)",
            WHISPERCPP: "a ggml model file, or a name such as base.en (needs internet)",
        }.get(asr.provider, ""))
        self.asr_model_hint.setText({
            POCKETSPHINX: "The bundled US English model; no key, no network.",
            FASTER_WHISPER: "A CTranslate2 Whisper model folder works offline; a name is "
            "downloaded on first use.",
            WHISPERCPP: "A ggml model file, e.g. ggml-base.en.bin (or a name such as base.en, "
            "downloaded with internet).",
            OPENAI_AUDIO: f"POST {asr.base_url}/audio/transcriptions"
            + (f" with the key '{asr.api_key_name}'" if asr.api_key_name else " (no key)"),
        }.get(asr.provider, ""))
        self.asr_model_hint.setStyleSheet("color: palette(placeholder-text);")

        tts = self.tts_choice()
        espeak, piper = tts.provider == ESPEAK, tts.provider == PIPER
        endpoint = tts.provider == OPENAI_AUDIO
        if not self._filling and tts != self._tts_shown:
            self.voice_edit.blockSignals(True)
            self.voice_edit.setText({ESPEAK: "en-us", PIPER: ""}.get(tts.provider, "alloy"))
            self.voice_edit.blockSignals(False)
            self.tts_model.blockSignals(True)
            self.tts_model.setText("tts-1" if endpoint else "")
            self.tts_model.blockSignals(False)
        self._asr_shown, self._tts_shown = asr, tts
        # A local synthesiser's model is its voice; only an endpoint has both.
        self._tts_form.setRowVisible(self.tts_model, endpoint)
        # Speed is eSpeak's words per minute; Piper's length_scale is relative to each
        # voice's own default, so it has no words/min value to show here.
        self._tts_form.setRowVisible(self.speed_spin, espeak)
        self.speed_spin.setEnabled(espeak)
        self.voice_browse.setVisible(piper)
        self._tts_form.setRowVisible(self.voice_hint, piper)
        self.voice_hint.setText("A Piper voice .onnx with its .onnx.json beside it.")
        self.voice_edit.setPlaceholderText("path/to/en_US-lessac-medium.onnx" if piper else "")
        self.voice_edit.setToolTip({
            ESPEAK: "An eSpeak NG voice (espeak-ng --voices), e.g. en-us or en-us+klatt2",
            PIPER: "A Piper voice's .onnx file; its .onnx.json config must be beside it",
        }.get(tts.provider, "The endpoint's voice, e.g. alloy"))
        self._update_dependency_status()

    def _asr_problem(self) -> str | None:
        """A missing library, else a model file that is not there (the red line)."""
        provider = self.asr_choice().provider
        return missing_dependency(provider) or model_file_problem(
            provider, self.asr_model.text()
        )

    def _tts_problem(self) -> str | None:
        provider = self.tts_choice().provider
        return missing_dependency(provider) or model_file_problem(
            provider, self.voice_edit.text()
        )

    def _update_dependency_status(self) -> None:
        asr_problem = self._asr_problem()
        _styled(self.asr_status, f"✗ {asr_problem}" if asr_problem else "", _ERROR_STYLE)
        tts_problem = self._tts_problem() if self.task() == TTS_BENCHMARK else None
        _styled(self.tts_status, f"✗ {tts_problem}" if tts_problem else "", _ERROR_STYLE)

    @Slot()
    def _on_input_changed(self, *_args: object) -> None:
        self._update_dependency_status()  # a stat per file field: cheap
        self._update_estimate()
        if not self._filling:
            self.changed.emit()

    @Slot()
    def _on_limit_changed(self, *_args: object) -> None:
        self._show_check()
        self._on_input_changed()

    @Slot()
    def _on_source_toggled(self, *_args: object) -> None:
        self._schedule_check()

    @Slot()
    def _on_data_path_edited(self, *_args: object) -> None:
        if self.data_path.text().strip() and not self.data_custom.isChecked():
            self.data_custom.setChecked(True)  # typing a path means "use it"
        self._schedule_check()

    def _on_browse_folder(self) -> None:
        path = self._choose_dataset_folder()
        if path:
            self.use_dataset_path(path)

    def _on_browse_file(self) -> None:
        path = self._choose_dataset_file()
        if path:
            self.use_dataset_path(path)

    def _on_browse_model(self) -> None:
        if self.asr_choice().provider == WHISPERCPP:
            path = self._choose_model_file()
        else:
            path = self._choose_model_folder()
        if path:
            self.asr_model.setText(path)

    def _on_browse_voice(self) -> None:
        path = self._choose_voice_file()
        if path:
            self.voice_edit.setText(path)

    def _choose_dataset_folder(self) -> str:
        """Ask for a speech dataset folder (tests override this to skip the dialog)."""
        return QFileDialog.getExistingDirectory(
            self, "Choose a speech dataset folder", self.data_path.text()
        )

    def _choose_dataset_file(self) -> str:
        """Ask for a transcript or text file (tests override this to skip the dialog)."""
        if self.task() == TTS_BENCHMARK:
            filters = "Texts (*.txt *.tsv *.csv *.jsonl);;All files (*)"
        else:
            filters = "Transcripts (*.tsv *.csv *.jsonl *.trans.txt);;All files (*)"
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose a file", self.data_path.text(), filters
        )
        return path

    def _choose_model_folder(self) -> str:
        """Ask for a faster-whisper model folder (tests override this)."""
        return QFileDialog.getExistingDirectory(
            self, "Choose a converted Whisper model folder", self.asr_model.text()
        )

    def _choose_model_file(self) -> str:
        """Ask for a whisper.cpp ggml model file (tests override this)."""
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose a whisper.cpp model file", self.asr_model.text(),
            "ggml models (*.bin);;All files (*)",
        )
        return path

    def _choose_voice_file(self) -> str:
        """Ask for a Piper voice .onnx file (tests override this)."""
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose a Piper voice", self.voice_edit.text(),
            "Piper voices (*.onnx);;All files (*)",
        )
        return path

    def use_dataset_path(self, path: str) -> None:
        """Use ``path`` (a folder or a file) as the dataset, or as the texts for TTS."""
        self.data_custom.setChecked(True)
        self.data_path.setText(path)
        self._schedule_check()

    @Slot()
    def _on_settings_changed(self) -> None:
        self._reload_providers()
        self._update_provider_widgets()
        self._update_estimate()

    # -- dataset check ---------------------------------------------------------------------

    def _dataset_path(self) -> str | None:
        if self.data_custom.isChecked():
            return self.data_path.text().strip() or None
        return None

    def _schedule_check(self) -> None:
        self._check_ticket = None
        self._checked, self._check_error = None, None
        if self.data_custom.isChecked() and not self.data_path.text().strip():
            what = "texts file" if self.task() == TTS_BENCHMARK else "folder or transcript file"
            _styled(self.data_status, f"Choose a {what}.", _WARN_STYLE)
        else:
            _styled(self.data_status, "Checking …")
            self._check_timer.start()
        self._update_estimate()
        if not self._filling:
            self.changed.emit()

    @Slot()
    def _run_check(self) -> None:
        self._check_timer.stop()
        if self.data_custom.isChecked() and not self.data_path.text().strip():
            return
        task, path = self.task(), self._dataset_path()
        check = check_texts if task == TTS_BENCHMARK else check_speech_dataset

        def work() -> DatasetCheck | _Refused:
            try:
                return check(path)
            except OpenBenchError as exc:
                return _Refused(str(exc))

        self._check_ticket = self._submit(work, self._on_checked)

    def _on_checked(self, result: object, error: str | None, ticket: int) -> None:
        if ticket != self._check_ticket:
            return  # the inputs changed since this check was asked
        if isinstance(result, _Refused):
            error = result.message
        if error is not None or not isinstance(result, DatasetCheck):
            self._checked, self._check_error = None, error or "The dataset could not be read."
        else:
            self._checked, self._check_error = result, None
        self._show_check()
        self._update_estimate()
        self.changed.emit()

    def _show_check(self) -> None:
        if self._check_error is not None:
            _styled(self.data_status, f"✗ {self._check_error}", _ERROR_STYLE)
            return
        c = self._checked
        if c is None:
            return
        limit = self.limit_spin.value()
        used = f"; this run uses the first {limit}" if 0 < limit < c.n_entries else ""
        if self.task() == TTS_BENCHMARK:
            text = f"✓ {c.n_entries} texts, {c.words} words, {c.description}{used}"
        else:
            audio = f", {format_duration(c.audio_s)} of audio" if c.audio_s is not None else ""
            text = f"✓ {c.n_entries} utterances{audio}, {c.description}{used}"
        style = _OK_STYLE
        if c.n_problems:
            text += (
                f"\n⚠ {c.n_problems} of {c.n_entries} entries cannot be scored and will count "
                f"as failed; the first: {c.first_problem}"
            )
            style = _WARN_STYLE
        _styled(self.data_status, text, style)

    @property
    def dataset_check(self) -> DatasetCheck | None:
        """The last successful check of the current dataset (None: pending or failed)."""
        return self._checked

    def is_checking(self) -> bool:
        """A dataset check is scheduled or running."""
        return self._check_timer.isActive() or (
            self._check_ticket is not None and self._checked is None and self._check_error is None
        )

    # -- estimate --------------------------------------------------------------------------

    def _used_fraction(self, c: DatasetCheck) -> float:
        limit = self.limit_spin.value()
        return min(1.0, limit / c.n_entries) if limit and c.n_entries else 1.0

    def estimate_text(self) -> str:
        c = self._checked
        if c is None:
            return "Estimate: waiting for the dataset check …" if self._check_error is None else ""
        asr, tts = self.asr_choice(), self.tts_choice()
        fraction = self._used_fraction(c)
        if self.task() == TTS_BENCHMARK:
            # eSpeak speaks at the chosen rate; Piper's and an endpoint's voice at a typical one.
            words_per_s = self.speed_spin.value() / 60 if tts.provider == ESPEAK else (
                WORDS_PER_AUDIO_S
            )
            audio_s = c.words * fraction / words_per_s
            synth_s = audio_s / TYPICAL_TTS_RTFX.get(tts.provider, 5.0)
            expected = synth_s + audio_s / TYPICAL_RTFX.get(asr.provider, 2.0)
            parts = [
                f"≈ {format_duration(audio_s)} of speech to synthesise",
                f"expected ≈ {format_duration(max(1.0, expected))} (approximate: typical "
                f"speeds of {self._short(tts)} and {self._short(asr)}, plus model loading)",
            ]
            if tts.local:
                parts.append("no cost (local)")
            else:
                price = TTS_PRICE_PER_MCHAR.get(self.tts_model.text().strip() or "tts-1")
                parts.append(
                    f"≈ ${c.chars * fraction * price / 1e6:.4f} at the list price"
                    if price is not None
                    else "cost: billed by the endpoint (not estimated)"
                )
            return "Estimate: " + "; ".join(parts) + "."
        if c.audio_s is None:
            return f"Estimate: {c.n_entries} clips; audio length unknown (soundfile missing)."
        audio_s = c.audio_s * fraction
        rtfx = TYPICAL_RTFX.get(asr.provider, 2.0)
        parts = [
            f"{format_duration(audio_s)} of audio",
            f"expected ≈ {format_duration(max(1.0, audio_s / rtfx))} with "
            f"{self._short(asr)} (approximate: a typical RTFx of {rtfx:g}, plus model loading)",
        ]
        if asr.local:
            parts.append("no cost (local)")
        else:
            price = ASR_PRICE_PER_MIN.get(self.asr_model.text().strip())
            parts.append(
                f"≈ ${audio_s / 60 * price:.4f} at the list price of ${price}/min"
                if price is not None
                else "cost: billed by the endpoint (not estimated)"
            )
        return "Estimate: " + "; ".join(parts) + "."

    @staticmethod
    def _short(choice: ProviderChoice) -> str:
        return {
            POCKETSPHINX: "PocketSphinx",
            FASTER_WHISPER: "faster-whisper",
            WHISPERCPP: "whisper.cpp",
            ESPEAK: "eSpeak NG",
            PIPER: "Piper",
        }.get(choice.provider, choice.endpoint or "the endpoint")

    def _update_estimate(self) -> None:
        self.estimate_label.setText(self.estimate_text())

    # -- the contract ----------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why Start would be refused now (one actionable line), or None."""
        tts = self.task() == TTS_BENCHMARK
        asr = self.asr_choice()
        if tts:
            problem = self._tts_problem()
            if problem:
                return problem
        problem = self._asr_problem()
        if problem:
            return problem
        if asr.provider == FASTER_WHISPER and not self.asr_model.text().strip():
            return (
                "faster-whisper needs a model: choose a converted model folder (Folder…) or "
                "type a name such as small.en."
            )
        if asr.provider == WHISPERCPP and not self.asr_model.text().strip():
            return (
                "whisper.cpp needs a model: choose a ggml model file (File…), e.g. "
                "ggml-base.en.bin, or type a name such as base.en (downloaded with internet)."
            )
        if asr.provider == OPENAI_AUDIO and not self.asr_model.text().strip():
            return "Type the endpoint's transcription model, e.g. whisper-1."
        if tts and self.tts_choice().provider == ESPEAK and not self.voice_edit.text().strip():
            return "Type an eSpeak NG voice, e.g. en-us."
        if tts and self.tts_choice().provider == PIPER and not self.voice_edit.text().strip():
            return (
                "Piper needs a voice: choose its .onnx file (File…), with its .onnx.json "
                "beside it."
            )
        if tts and self.tts_choice().provider == OPENAI_AUDIO and not (
            self.tts_model.text().strip()
        ):
            return "Type the endpoint's speech model, e.g. tts-1."
        if self.data_custom.isChecked() and not self.data_path.text().strip():
            if tts:
                return "Choose a texts file, or use the built-in sentences."
            return "Choose a speech dataset folder or transcript file, or use the demo clips."
        if self._check_error is not None:
            return f"The dataset cannot be used: {self._check_error}"
        return None

    def build_spec(self) -> RunSpec | str:
        refusal = self.refusal()
        if refusal is not None:
            return refusal
        tts = self.task() == TTS_BENCHMARK
        asr = self.asr_choice()
        options: dict[str, Any] = {
            "normalizer": str(self.normalizer_combo.currentData() or DEFAULT_NORMALIZER),
            "language": self.language_edit.text().strip(),
            "warmup": self.warmup_spin.value(),
        }
        if tts:
            synth = self.tts_choice()
            voice = self.voice_edit.text().strip()
            options["asr_provider"] = asr.provider
            if asr.provider in MODEL_RECOGNISERS:
                options["asr_model"] = self.asr_model.text().strip()
            if synth.provider == ESPEAK:
                options.update(voice=voice, speed=self.speed_spin.value())
                model = voice  # eSpeak's "model" is its voice (recorded with the run)
            elif synth.provider == PIPER:
                # The voice file is the model, as `--provider piper --model VOICE.onnx`.
                model = voice
            else:
                options["voice"] = voice or None
                model = self.tts_model.text().strip()
            provider, endpoint = synth.provider, synth
        else:
            provider, endpoint = asr.provider, asr
            model = self.asr_model.text().strip()
        limit = self.limit_spin.value()
        return RunSpec(
            provider=provider,
            base_url=endpoint.base_url if provider == OPENAI_AUDIO else "",
            model=model,
            benchmark=self.task(),
            dataset=DatasetRef(path=self._dataset_path()),
            params=GenerationParams(),
            limit=limit or None,
            concurrency=1,
            api_key_name=endpoint.api_key_name if provider == OPENAI_AUDIO else None,
            options={k: v for k, v in options.items() if v is not None},
        )

    def prepare(self, spec: RunSpec) -> RunSpec:
        """Validate fully (libraries, voice, model folder, dataset); called off the GUI thread.

        Raises the core's OpenBenchError unchanged (its message is for the user).
        """
        from openbench_desktop.core.audio.runner import prepare_audio_run

        return prepare_audio_run(spec, self.ctx.paths).spec

    def fill_from_spec(self, spec: RunSpec) -> None:
        """Show ``spec`` in the form (Duplicate run, templates)."""
        kind = spec.benchmark.strip().lower()
        options = dict(spec.options)
        tts = kind == TTS_BENCHMARK
        self._filling = True
        try:
            self._remember_endpoint(spec, tts)
            self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(
                TTS_BENCHMARK if tts else ASR_BENCHMARK)))
            self._on_task_changed()
            if tts:
                self._select(self.tts_combo, spec.provider, spec.base_url)
                self._select(self.asr_combo, str(options.get("asr_provider") or POCKETSPHINX))
                espeak, piper = spec.provider == ESPEAK, spec.provider == PIPER
                local = espeak or piper
                self.voice_edit.setText(
                    str(options.get("voice") or (spec.model if local else "") or "")
                    or ("en-us" if espeak else "" if piper else "alloy")
                )
                self.tts_model.setText("" if local else spec.model)
                self.speed_spin.setValue(int(options.get("speed", 150)))
                self.asr_model.setText(str(options.get("asr_model") or (
                    "en-us" if options.get("asr_provider", POCKETSPHINX) == POCKETSPHINX
                    else "")))
            else:
                self._select(self.asr_combo, spec.provider, spec.base_url)
                self.asr_model.setText(spec.model or {
                    POCKETSPHINX: "en-us", OPENAI_AUDIO: "whisper-1"}.get(spec.provider, ""))
            self._update_provider_widgets()
            index = self.normalizer_combo.findData(
                str(options.get("normalizer") or DEFAULT_NORMALIZER))
            self.normalizer_combo.setCurrentIndex(max(0, index))
            language = options.get("language", "en")
            self.language_edit.setText(str(language or ""))
            self.warmup_spin.setValue(int(options.get("warmup", 1)))
            self.limit_spin.setValue(spec.limit or 0)
            if spec.dataset.path:
                self.data_custom.setChecked(True)
                self.data_path.setText(spec.dataset.path)
            else:
                self.data_path.setText("")
                self.data_builtin.setChecked(True)
        finally:
            self._filling = False
        self._schedule_check()

    def _remember_endpoint(self, spec: RunSpec, tts: bool) -> None:
        """A spec's endpoint that is not (or no longer) saved still shows as a choice."""
        if spec.provider != OPENAI_AUDIO or not spec.base_url:
            return
        url = spec.base_url.rstrip("/")
        saved = any(
            e.base_url.rstrip("/") == url and e.kind == "openai"
            for e in self.ctx.settings.endpoints
        )
        if saved:
            return
        what = "/audio/speech" if tts else "/audio/transcriptions"
        choice = ProviderChoice(
            f"{url} — OpenAI-compatible {what} (from an earlier run)",
            OPENAI_AUDIO,
            endpoint=url,
            base_url=url,
            api_key_name=spec.api_key_name,
        )
        if choice not in self._spec_choices:
            self._spec_choices.append(choice)
        self._reload_providers()

    # -- plumbing --------------------------------------------------------------------------

    def _submit(
        self, fn: Callable[[], object], done: Callable[[object, str | None, int], None]
    ) -> int:
        return self._db_calls.submit(fn, done)
