"""Run setup: choose endpoint, model, benchmark, dataset and parameters, then start a run.

The form builds a :class:`RunSpec`; nothing here runs a benchmark. Slow work never runs on
the GUI thread:

* the endpoint and model come from :class:`EndpointModelPicker` (shared with the speed
  page), whose model discovery runs on its probe's own thread pool;
* the dataset check and the final pre-start validation call the core's ``prepare_run`` on
  the DB executor's thread (``ctx.db.submit``), which also reads the latency of earlier
  runs for the duration estimate;
* the run itself is started by ``ctx.controller``.

Answers come back tagged with tickets; an answer to a question the form no longer asks
(the user changed the dataset meanwhile) is dropped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.benchmarks.registry import BENCHMARKS, BenchmarkInfo
from openbench_desktop.core.benchmarks.scorers import SCORERS
from openbench_desktop.core.domain import DatasetRef, GenerationParams, RunSpec
from openbench_desktop.core.engine.estimate import (
    Estimate,
    LatencyHint,
    estimate_run,
    format_duration,
    prompt_chars,
    recent_median_latency_s,
)
from openbench_desktop.core.engine.runner import build_messages, prepare_run
from openbench_desktop.core.errors import OpenBenchError
from openbench_desktop.ui.bridge.db_executor import DbCalls
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.views.endpoint_picker import (
    DEMO_URL_PLACEHOLDER,
    SIMULATED_TAG,
    EndpointChoice,
    EndpointModelPicker,
)
from openbench_desktop.ui.views.run_kinds import (
    KIND_LABELS,
    KIND_QUALITY,
    KIND_SPEECH,
    KIND_SPEED,
    KIND_TIPS,
    run_kind,
)

log = logging.getLogger(__name__)

#: Kinds of benchmark a chat model can take. Speed and audio benchmarks will add their
#: kinds (and the endpoint types that serve them) here; :meth:`RunSetupView.benchmark_allowed`
#: is the one place that filters the list.
CHAT_BENCHMARK_KINDS = frozenset({"quality"})

def spec_kind(spec: RunSpec) -> str:
    """Which page of the setup shows ``spec``."""
    return run_kind(spec.benchmark)


class KindPanel(Protocol):
    """What a page for another kind of run offers (see ``ui/views/speed_setup.py``)."""

    def build_spec(self) -> RunSpec | str: ...
    def fill_from_spec(self, spec: RunSpec) -> None: ...
    def prepare(self, spec: RunSpec) -> RunSpec: ...

SOURCE_BUILTIN, SOURCE_HUB, SOURCE_FILE = "builtin", "hub", "file"
CHECK_DELAY_MS = 250
PREVIEW_CHARS = 4000  # enough to read a prompt; a huge one must not slow the label down
HUB_CHECK_HINT = "Click “Check dataset” to fetch and validate the Hub split."

_ERROR_STYLE = "color: #D55E00;"  # Okabe-Ito vermillion: readable in light and dark
_OK_STYLE = "color: #009E73;"


@dataclass(frozen=True, slots=True)
class _Checked:
    """What the dataset check sends back to the GUI thread: plain numbers and text."""

    n_samples: int
    description: str
    chars: tuple[int, ...]
    first_prompt: str
    first_expected: str


@dataclass(frozen=True, slots=True)
class _Refused:
    """prepare_run refused the spec: the user's mistake, not a crash worth a traceback."""

    message: str


def _style(label: QLabel, text: str, *, error: bool = False, ok: bool = False) -> None:
    label.setText(text)
    label.setStyleSheet(_ERROR_STYLE if error else _OK_STYLE if ok else "")


def _group(title: str) -> tuple[QGroupBox, QFormLayout]:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return box, form


class RunSetupView(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._base_spec: RunSpec | None = None  # carries fields the form doesn't show
        self._db_calls = DbCalls(ctx.db, self)
        self._check_ticket: int | None = None
        self._checked: _Checked | None = None
        self._check_error: str | None = None
        self._latency: dict[tuple[str, str], LatencyHint | None] = {}
        self._starting = False
        self._my_jobs: set[int] = set()
        self._saving = False
        self.last_estimate: Estimate | None = None

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._run_check)
        self._latency_timer = QTimer(self)
        self._latency_timer.setSingleShot(True)
        self._latency_timer.setInterval(CHECK_DELAY_MS)
        self._latency_timer.timeout.connect(self._lookup_latency)

        self._build()
        ctx.signals.settings_changed.connect(self._on_settings_changed)
        ctx.signals.duplicate_run.connect(self._on_duplicate_run)
        # Rich-text link colours are fixed when the text is set: redraw with the new palette.
        ctx.signals.theme_changed.connect(lambda _theme: self._update_estimate())
        ctx.controller.job_rejected.connect(self._on_job_rejected)

        self._reload_endpoints()
        self._reload_templates()
        self._restore_last_choices()
        self._update_dataset_widgets()
        self._schedule_check()
        self._update_estimate()

    # -- building --------------------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel("New run")
        title.setObjectName("setup_title")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)

        self.template_combo = QComboBox()
        self.template_combo.setObjectName("template_combo")
        self.template_combo.setAccessibleName("Run templates")
        self.template_combo.setMinimumContentsLength(16)
        self.template_combo.currentIndexChanged.connect(self._on_template_chosen)
        self.template_save = QPushButton("Save as template…")
        self.template_save.setObjectName("template_save")
        self.template_save.clicked.connect(self._on_save_template)
        self.template_delete = QPushButton("Delete")
        self.template_delete.setObjectName("template_delete")
        self.template_delete.setToolTip("Delete the template chosen on the left")
        self.template_delete.clicked.connect(self._on_delete_template)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(QLabel("Template:"))
        header.addWidget(self.template_combo)
        header.addWidget(self.template_delete)
        header.addWidget(self.template_save)

        self.kind_group = QButtonGroup(self)
        self.kind_group.setExclusive(True)
        kinds = QHBoxLayout()
        kinds.addWidget(QLabel("Benchmark:"))
        self._kind_buttons: dict[str, QPushButton] = {}
        for kind, label in KIND_LABELS.items():
            button = QPushButton(label)
            button.setCheckable(True)
            button.setObjectName(f"kind_{kind}")
            button.setAccessibleName(f"Benchmark kind: {label}")
            button.setToolTip(KIND_TIPS[kind])
            button.clicked.connect(lambda _checked=False, k=kind: self.set_kind(k))
            self.kind_group.addButton(button)
            kinds.addWidget(button)
            self._kind_buttons[kind] = button
        kinds.addStretch(1)
        self._kind_buttons[KIND_QUALITY].setChecked(True)
        self._kind = KIND_QUALITY
        self._panels: dict[str, QWidget] = {}
        self._kind_pages: dict[str, QWidget] = {}
        self._start_slots: dict[str, QVBoxLayout] = {}

        left = QVBoxLayout()
        left.addWidget(self._build_model_group())
        left.addWidget(self._build_benchmark_group())
        left.addWidget(self._build_preview_group(), 1)
        right = QVBoxLayout()
        right.addWidget(self._build_params_group())
        right.addWidget(self._build_start_group())
        right.addStretch(1)
        quality = QWidget()
        quality.setObjectName("kind_page_quality")
        columns = QHBoxLayout(quality)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.setSpacing(16)
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        self.kind_stack = QStackedWidget()
        self.kind_stack.setObjectName("kind_stack")
        self.kind_stack.addWidget(quality)
        self._kind_pages[KIND_QUALITY] = quality

        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.addLayout(header)
        layout.addLayout(kinds)
        layout.addWidget(self.kind_stack, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _build_model_group(self) -> QGroupBox:
        self.picker = EndpointModelPicker(self.ctx)  # the default options: this page's
        self.picker.changed.connect(self._on_model_changed)
        # The picker's widgets under the names tests and the rest of the view use.
        self.endpoint_combo = self.picker.endpoint_combo
        self.add_endpoint = self.picker.add_endpoint
        self.model_combo = self.picker.model_combo
        self.discover_models = self.picker.discover
        self.model_status = self.picker.model_status
        return self.picker

    def _build_benchmark_group(self) -> QGroupBox:
        box, form = _group("Benchmark and dataset")
        self.benchmark_combo = QComboBox()
        self.benchmark_combo.setObjectName("benchmark_combo")
        self.benchmark_combo.setAccessibleName("Benchmark")
        for info in BENCHMARKS.values():
            if self.benchmark_allowed(info):
                self.benchmark_combo.addItem(info.title, info.name)
        self.benchmark_combo.currentIndexChanged.connect(self._on_benchmark_changed)
        form.addRow("Benchmark", self.benchmark_combo)
        self.benchmark_description = QLabel()
        self.benchmark_description.setObjectName("benchmark_description")
        self.benchmark_description.setWordWrap(True)
        form.addRow("", self.benchmark_description)

        self.dataset_builtin = QRadioButton("Built-in")
        self.dataset_builtin.setObjectName("dataset_builtin")
        self.dataset_hub = QRadioButton("Hugging Face Hub")
        self.dataset_hub.setObjectName("dataset_hub")
        self.dataset_file = QRadioButton("File")
        self.dataset_file.setObjectName("dataset_file")
        self.dataset_group = QButtonGroup(self)
        radios = QHBoxLayout()
        for radio in (self.dataset_builtin, self.dataset_hub, self.dataset_file):
            self.dataset_group.addButton(radio)
            radios.addWidget(radio)
        radios.addStretch(1)
        self.dataset_group.buttonToggled.connect(self._on_source_toggled)
        form.addRow("Dataset", radios)

        self.hub_id = QLineEdit()
        self.hub_id.setObjectName("hub_id")
        self.hub_id.setAccessibleName("Hugging Face dataset id")
        self.hub_id.setPlaceholderText("e.g. openai/gsm8k")
        self.hub_config = QLineEdit()
        self.hub_config.setObjectName("hub_config")
        self.hub_config.setAccessibleName("Hub config")
        self.hub_config.setPlaceholderText("config (default)")
        self.hub_split = QLineEdit()
        self.hub_split.setObjectName("hub_split")
        self.hub_split.setAccessibleName("Hub split")
        self.hub_split.setPlaceholderText("split (test)")
        self.hub_row = QWidget()
        hub = QHBoxLayout(self.hub_row)
        hub.setContentsMargins(0, 0, 0, 0)
        hub.addWidget(self.hub_id, 3)
        hub.addWidget(self.hub_config, 1)
        hub.addWidget(self.hub_split, 1)
        form.addRow("Hub id", self.hub_row)
        for edit in (self.hub_id, self.hub_config, self.hub_split):
            edit.textEdited.connect(self._on_hub_edited)

        self.dataset_path = QLineEdit()
        self.dataset_path.setObjectName("dataset_path")
        self.dataset_path.setAccessibleName("Dataset file")
        self.dataset_path.setPlaceholderText("a .jsonl, .csv or .parquet file")
        self.dataset_path.textChanged.connect(self._on_dataset_input_changed)
        self.dataset_browse = QPushButton("Browse…")
        self.dataset_browse.setObjectName("dataset_browse")
        self.dataset_browse.clicked.connect(self._on_browse)
        self.file_row = QWidget()
        file_row = QHBoxLayout(self.file_row)
        file_row.setContentsMargins(0, 0, 0, 0)
        file_row.addWidget(self.dataset_path, 1)
        file_row.addWidget(self.dataset_browse)
        form.addRow("File", self.file_row)

        self.scorer_combo = QComboBox()
        self.scorer_combo.setObjectName("scorer_combo")
        self.scorer_combo.setAccessibleName("Scorer")
        for info in SCORERS.values():
            self.scorer_combo.addItem(info.title, info.name)
            self.scorer_combo.setItemData(
                self.scorer_combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
            )
        self.scorer_combo.currentIndexChanged.connect(self._on_scorer_changed)
        self.scorer_pattern = QLineEdit()
        self.scorer_pattern.setObjectName("scorer_pattern")
        self.scorer_pattern.setAccessibleName("Regex pattern")
        self.scorer_pattern.setPlaceholderText(r"e.g. Answer:\s*(?P<answer>.+)")
        self.scorer_pattern.textChanged.connect(self._on_dataset_input_changed)
        self.scoring_row = QWidget()
        scoring = QHBoxLayout(self.scoring_row)
        scoring.setContentsMargins(0, 0, 0, 0)
        scoring.addWidget(self.scorer_combo)
        scoring.addWidget(self.scorer_pattern, 1)
        form.addRow("Scorer", self.scoring_row)
        self._bench_form = form

        self.dataset_check = QPushButton("Check dataset")
        self.dataset_check.setObjectName("dataset_check")
        self.dataset_check.setToolTip("Load and validate the dataset now (Hub ids may download)")
        self.dataset_check.clicked.connect(self._run_check)
        self.dataset_status = QLabel()
        self.dataset_status.setObjectName("dataset_status")
        self.dataset_status.setWordWrap(True)
        self.dataset_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dataset_status.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred
        )
        row = QHBoxLayout()
        row.addWidget(self.dataset_status, 1)
        row.addWidget(self.dataset_check)
        form.addRow("", row)
        return box

    def _build_preview_group(self) -> QGroupBox:
        box = QGroupBox("What the model receives (first sample)")
        self.prompt_preview = QPlainTextEdit()
        self.prompt_preview.setObjectName("prompt_preview")
        self.prompt_preview.setAccessibleName("First prompt")
        self.prompt_preview.setReadOnly(True)
        self.prompt_preview.setPlaceholderText(
            "The first prompt appears here once the dataset is checked."
        )
        self.prompt_preview.setMinimumHeight(80)
        self.expected_preview = QLabel()
        self.expected_preview.setObjectName("expected_preview")
        self.expected_preview.setWordWrap(True)
        self.expected_preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout(box)
        form.addRow(self.prompt_preview)
        form.addRow("Expected answer:", self.expected_preview)
        return box

    def _build_params_group(self) -> QGroupBox:
        box, form = _group("Parameters")
        self.limit_spin = QSpinBox()
        self.limit_spin.setObjectName("limit_spin")
        self.limit_spin.setAccessibleName("Sample limit")
        self.limit_spin.setRange(0, 10_000_000)
        self.limit_spin.setSpecialValueText("All samples")
        self.limit_spin.setToolTip("Run only the first N samples (0: all)")
        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setObjectName("concurrency_spin")
        self.concurrency_spin.setAccessibleName("Concurrency")
        self.concurrency_spin.setRange(1, 4096)
        self.concurrency_spin.setToolTip("Requests in flight at once")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setObjectName("temperature_spin")
        self.temperature_spin.setAccessibleName("Temperature")
        self.temperature_spin.setRange(0.0, 2.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setDecimals(2)
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setObjectName("max_tokens_spin")
        self.max_tokens_spin.setAccessibleName("Max tokens")
        self.max_tokens_spin.setRange(1, 1_000_000)
        self.max_tokens_spin.setSingleStep(64)
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seed_spin")
        self.seed_spin.setAccessibleName("Seed")
        self.seed_spin.setRange(-1, 2_147_483_647)
        self.seed_spin.setSpecialValueText("None")
        self.seed_spin.setToolTip("Sent to servers that support it; None sends no seed")
        self.run_name = QLineEdit()
        self.run_name.setObjectName("run_name")
        self.run_name.setAccessibleName("Run name")
        self.run_name.setPlaceholderText("optional, shown in History")
        form.addRow("Limit", self.limit_spin)
        form.addRow("Concurrency", self.concurrency_spin)
        form.addRow("Temperature", self.temperature_spin)
        form.addRow("Max tokens", self.max_tokens_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Run name", self.run_name)
        self._set_params(RunSpec(provider="openai", base_url="", model="", benchmark="gsm8k"))
        self.limit_spin.valueChanged.connect(self._on_params_changed)
        self.concurrency_spin.valueChanged.connect(self._on_params_changed)
        self.max_tokens_spin.valueChanged.connect(self._on_params_changed)
        return box

    def _build_start_group(self) -> QWidget:
        box = QGroupBox("Estimate")
        self.estimate = QLabel()
        self.estimate.setObjectName("estimate")
        self.estimate.setWordWrap(True)
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        self.estimate.linkActivated.connect(self.ctx.signals.navigate.emit)
        self.estimate.setMinimumHeight(60)
        self.estimate.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.start_button = QPushButton("Start run")
        self.start_button.setObjectName("start_button")
        self.start_button.setAccessibleName("Start run")
        self.start_button.setDefault(True)
        self.start_button.setMinimumHeight(36)
        font = self.start_button.font()
        font.setBold(True)
        self.start_button.setFont(font)
        self.start_button.clicked.connect(self._on_start)
        self.start_button.setToolTip("Check the dataset and start the run (Ctrl+Enter)")
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self._on_start)
        self.start_status = QLabel()
        self.start_status.setObjectName("start_status")
        self.start_status.setWordWrap(True)
        self.start_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        inner = QVBoxLayout(box)
        inner.addWidget(self.estimate)
        self.estimate_box = box
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        # The Start button and its status line move to the page of the chosen kind.
        self._start_holder = QWidget()
        start_layout = QVBoxLayout(self._start_holder)
        start_layout.setContentsMargins(0, 0, 0, 0)
        start_layout.addWidget(self.start_button)
        start_layout.addWidget(self.start_status)
        layout.addWidget(self._start_holder)
        self._start_slots[KIND_QUALITY] = layout
        self.start_status.hide()
        return holder

    # -- kinds of run ----------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self._kind

    def panel(self, kind: str) -> Any:
        """The page of ``kind`` (built on first use); None for the quality form."""
        if kind == KIND_QUALITY:
            return None
        panel = self._panels.get(kind)
        if panel is None:
            if kind == KIND_SPEED:
                from openbench_desktop.ui.views.speed_setup import SpeedSetupPanel

                panel = SpeedSetupPanel(self.ctx)
            elif kind == KIND_SPEECH:
                from openbench_desktop.ui.views.audio_setup import AudioSetupPanel

                panel = AudioSetupPanel(self.ctx)
            else:
                raise ValueError(f"unknown kind of run: {kind}")
            panel.changed.connect(self._on_panel_changed)
            page = QWidget()
            page.setObjectName(f"kind_page_{kind}")
            row = QHBoxLayout(page)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(16)
            row.addWidget(panel, 3)
            slot = QVBoxLayout()
            slot.addStretch(1)
            row.addLayout(slot, 1)
            self._start_slots[kind] = slot
            self._panels[kind] = panel
            self._kind_pages[kind] = page
            self.kind_stack.addWidget(page)
        return panel

    def set_kind(self, kind: str) -> None:
        """Show the page for ``kind`` (quality, speed or speech)."""
        self.panel(kind)
        self._kind = kind
        self._kind_buttons[kind].setChecked(True)
        slot = self._start_slots[kind]
        # Quality: under its estimate box; other kinds: at the top of their right column.
        slot.insertWidget(1 if kind == KIND_QUALITY else 0, self._start_holder)
        self.kind_stack.setCurrentWidget(self._kind_pages[kind])
        self._status(self.start_status, "")

    @Slot()
    def _on_panel_changed(self) -> None:
        if self.start_status.isVisible() and not self._starting:
            self._status(self.start_status, "")

    # -- the hook for other model kinds ----------------------------------------------------

    def benchmark_allowed(self, info: BenchmarkInfo) -> bool:
        """Whether the chosen kind of model can take ``info`` (all endpoints chat today)."""
        return info.kind in CHAT_BENCHMARK_KINDS

    # -- endpoints and models --------------------------------------------------------------

    def _demo(self) -> Any:
        return getattr(self.ctx, "demo", None)

    def _reload_endpoints(self, keep: EndpointChoice | None = None) -> None:
        """Rebuild the endpoint list, keeping the current choice (or ``keep``) selected."""
        self.picker.reload(keep)

    def current_endpoint(self) -> EndpointChoice | None:
        return self.picker.current_endpoint()

    def _endpoint_url(self, choice: EndpointChoice) -> str:
        """The base URL for a spec (the demo's stand-in until its server runs)."""
        return self.picker.endpoint_url(choice)

    @Slot()
    def _on_model_changed(self, *_args: object) -> None:
        """The endpoint or the model changed: its latency and the estimate may too."""
        self._latency_timer.start()
        self._update_estimate()

    # -- benchmark and dataset -------------------------------------------------------------

    def _benchmark_info(self) -> BenchmarkInfo | None:
        return BENCHMARKS.get(str(self.benchmark_combo.currentData() or ""))

    def _source(self) -> str:
        if self.dataset_hub.isChecked():
            return SOURCE_HUB
        if self.dataset_file.isChecked():
            return SOURCE_FILE
        return SOURCE_BUILTIN

    def _set_source(self, source: str) -> None:
        radio = {
            SOURCE_BUILTIN: self.dataset_builtin,
            SOURCE_HUB: self.dataset_hub,
            SOURCE_FILE: self.dataset_file,
        }[source]
        radio.setChecked(True)

    @Slot()
    def _on_benchmark_changed(self, *_args: object) -> None:
        info = self._benchmark_info()
        if info is not None:
            self.benchmark_description.setText(info.description)
        self._update_dataset_widgets()
        self._schedule_check()

    def _update_dataset_widgets(self) -> None:
        info = self._benchmark_info()
        has_builtin = bool(info and info.builtin_dataset)
        self.dataset_builtin.setEnabled(has_builtin)
        self.dataset_builtin.setToolTip(
            "" if has_builtin else "This benchmark has no built-in data: choose a file or Hub id"
        )
        if not has_builtin and self.dataset_builtin.isChecked():
            self.dataset_file.setChecked(True)
        if self.dataset_group.checkedButton() is None:
            self._set_source(SOURCE_BUILTIN if has_builtin else SOURCE_FILE)
        source = self._source()
        self.hub_row.setEnabled(source == SOURCE_HUB)
        self.file_row.setEnabled(source == SOURCE_FILE)
        custom = bool(info and info.name == "custom")
        self._bench_form.setRowVisible(self.scoring_row, custom)
        scorer = SCORERS.get(str(self.scorer_combo.currentData() or ""))
        self.scorer_pattern.setEnabled(bool(scorer and scorer.needs_arg))

    @Slot()
    def _on_source_toggled(self, *_args: object) -> None:
        self._update_dataset_widgets()
        self._schedule_check()

    @Slot()
    def _on_scorer_changed(self, *_args: object) -> None:
        self._update_dataset_widgets()
        self._schedule_check()

    @Slot()
    def _on_dataset_input_changed(self, *_args: object) -> None:
        self._schedule_check()

    @Slot()
    def _on_hub_edited(self, *_args: object) -> None:
        # Hub ids are not loaded on every keystroke: that may download. "Check dataset" does.
        self._invalidate_check()
        self._status(self.dataset_status, HUB_CHECK_HINT)
        self._update_estimate()

    def _on_browse(self) -> None:
        path = self._choose_file()
        if path:
            self.use_dataset_file(path)

    def _choose_file(self) -> str:
        """Ask for a dataset file (tests override this to skip the dialog)."""
        path, _filter = QFileDialog.getOpenFileName(
            self,
            "Choose a dataset",
            self.dataset_path.text(),
            "Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)",
        )
        return path

    def use_dataset_file(self, path: str) -> None:
        """Use ``path`` as the dataset (File > Import dataset and the Browse button)."""
        self.dataset_file.setChecked(True)
        self.dataset_path.setText(path)
        self._update_dataset_widgets()
        self._schedule_check()

    def _invalidate_check(self) -> None:
        self._check_ticket = None
        self._checked = None
        self._check_error = None

    def _schedule_check(self) -> None:
        """Validate the dataset shortly after the last change (not for Hub ids)."""
        self._invalidate_check()
        if self._source() == SOURCE_HUB:
            self._status(self.dataset_status, HUB_CHECK_HINT)
        elif self._source() == SOURCE_FILE and not self.dataset_path.text().strip():
            self._status(self.dataset_status, "Choose a dataset file.")
        else:
            self._status(self.dataset_status, "Checking the dataset …")
            self._check_timer.start()
        self._update_estimate()

    def _dataset_ref(self) -> DatasetRef:
        base = self._base_spec.dataset if self._base_spec is not None else DatasetRef()
        source = self._source()
        keep = {
            "prompt_field": base.prompt_field,
            "expected_field": base.expected_field,
        }
        if source == SOURCE_FILE:
            path = self.dataset_path.text().strip()
            fmt = base.format if base.path == path else None
            return DatasetRef(path=path or None, format=fmt, **keep)
        if source == SOURCE_HUB:
            return DatasetRef(
                hub_id=self.hub_id.text().strip() or None,
                hub_config=self.hub_config.text().strip() or None,
                split=self.hub_split.text().strip() or None,
                **keep,
            )
        return DatasetRef(**keep)

    def _check_spec(self) -> RunSpec:
        """The form's spec for loading the dataset; a missing model or endpoint is filled
        with a stand-in so the check reports on the data, not on the unfinished form."""
        spec = self._spec_from_form(self.current_endpoint())
        return dataclasses.replace(
            spec,
            model=spec.model or "dataset-check",
            base_url=spec.base_url if spec.base_url.startswith("http") else DEMO_URL_PLACEHOLDER,
            limit=None,
        )

    @Slot()
    def _run_check(self) -> None:
        self._check_timer.stop()
        if self._source() == SOURCE_FILE and not self.dataset_path.text().strip():
            self._status(self.dataset_status, "Choose a dataset file.", error=True)
            return
        spec = self._check_spec()
        paths = self.ctx.paths
        system_prompt = spec.params.system_prompt
        self._status(self.dataset_status, "Checking the dataset …")

        def check() -> _Checked | _Refused:
            try:
                prepared = prepare_run(spec, paths)
            except OpenBenchError as exc:
                return _Refused(str(exc))
            samples = prepared.dataset.samples
            first = build_messages(spec, samples[0])
            return _Checked(
                len(samples),
                prepared.dataset.description,
                tuple(prompt_chars(samples, system_prompt)),
                "\n\n".join(f"[{m.role}]\n{m.content}" for m in first)[:PREVIEW_CHARS],
                samples[0].expected[:PREVIEW_CHARS],
            )

        ticket = self._submit(check, self._on_checked)
        self._check_ticket = ticket

    def _on_checked(self, result: object, error: str | None, ticket: int) -> None:
        if ticket != self._check_ticket:
            return  # the form changed since this check was asked
        if isinstance(result, _Refused):
            error = result.message
        if error is not None or not isinstance(result, _Checked):
            self._checked, self._check_error = None, error or "The dataset could not be read."
            self._status(self.dataset_status, f"✗ {self._check_error}", error=True)
            self.prompt_preview.setPlainText("")
            self.expected_preview.setText("")
        else:
            self._checked, self._check_error = result, None
            self.prompt_preview.setPlainText(result.first_prompt)
            self.expected_preview.setText(result.first_expected)
            limit = self.limit_spin.value()
            used = f"; this run uses the first {limit}" if 0 < limit < result.n_samples else ""
            _style(
                self.dataset_status,
                f"✓ {result.n_samples} samples in {result.description}{used}.",
                ok=True,
            )
        self._update_estimate()

    # -- parameters and estimate -----------------------------------------------------------

    @Slot()
    def _on_params_changed(self, *_args: object) -> None:
        if self._checked is not None:
            limit = self.limit_spin.value()
            n = self._checked.n_samples
            used = f"; this run uses the first {limit}" if 0 < limit < n else ""
            _style(
                self.dataset_status,
                f"✓ {n} samples in {self._checked.description}{used}.",
                ok=True,
            )
        self._update_estimate()

    def _latency_key(self) -> tuple[str, str] | None:
        choice = self.current_endpoint()
        model = self.model_combo.currentText().strip()
        if choice is None or not model or not choice.base_url:
            return None
        return model, choice.base_url

    @Slot()
    def _lookup_latency(self) -> None:
        key = self._latency_key()
        if key is None or key in self._latency:
            self._update_estimate()
            return
        store = self.ctx.store
        model, url = key

        def done(result: object, error: str | None, _ticket: int) -> None:
            self._latency[key] = result if isinstance(result, LatencyHint) else None
            self._update_estimate()

        self._submit(lambda: recent_median_latency_s(store, model, url), done)

    def _update_estimate(self) -> None:
        if not hasattr(self, "estimate"):
            return
        self.last_estimate = None
        if self._checked is None:
            why = "fix the dataset first" if self._check_error else "waiting for the dataset check"
            self.estimate.setText(f"<span>Cost and duration: {why}.</span>")
            return
        limit = self.limit_spin.value()
        chars = self._checked.chars[:limit] if limit else self._checked.chars
        model = self.model_combo.currentText().strip()
        choice = self.current_endpoint()
        simulated = bool(choice and choice.simulated)
        price = None if simulated else self.ctx.settings.price_for(model)
        key = self._latency_key()
        est = estimate_run(
            chars,
            max_tokens=self.max_tokens_spin.value(),
            concurrency=self.concurrency_spin.value(),
            price=price,
            latency=self._latency.get(key) if key else None,
        )
        self.last_estimate = est
        lines = [
            f"<b>{est.n_requests:,}</b> requests · ≈ {est.input_tokens:,} input tokens "
            f"(characters ÷ 4) · at most {est.output_tokens:,} output tokens "
            f"(max tokens × requests)"
        ]
        if simulated:
            lines.append("Cost: <b>$0</b> (simulated model)")
        elif est.cost_usd is None:
            name = f"“{model}”" if model else "this model"
            lines.append(
                f'Cost: unknown price for {name} — <a href="settings">add it in Settings</a>'
            )
        else:
            assert price is not None
            lines.append(
                f"Cost: at most <b>${est.cost_usd:,.4f}</b> "
                f"(${price.input_per_mtok:g} / ${price.output_per_mtok:g} per 1M tokens, "
                f"price of “{price.model}”)"
            )
        lines.append(f"Duration: ≈ <b>{format_duration(est.duration_s)}</b> ({est.basis})")
        self.estimate.setText("<br>".join(lines))

    # -- the spec ----------------------------------------------------------------------------

    def _set_params(self, spec: RunSpec) -> None:
        self.limit_spin.setValue(spec.limit or 0)
        self.concurrency_spin.setValue(spec.concurrency)
        self.temperature_spin.setValue(spec.params.temperature)
        self.max_tokens_spin.setValue(spec.params.max_tokens)
        self.seed_spin.setValue(spec.seed if spec.seed is not None else -1)
        self.run_name.setText(spec.name or "")

    def _spec_from_form(self, choice: EndpointChoice | None) -> RunSpec:
        base = self._base_spec or RunSpec(provider="openai", base_url="", model="", benchmark="")
        tags = tuple(t for t in base.tags if t not in (SIMULATED_TAG, "demo"))
        if choice is not None and choice.simulated:
            tags = (*tags, SIMULATED_TAG)
        scorer = scorer_arg = None
        if self.benchmark_combo.currentData() == "custom":
            scorer = str(self.scorer_combo.currentData())
            info = SCORERS.get(scorer)
            if info is not None and info.needs_arg:
                scorer_arg = self.scorer_pattern.text() or None
        seed = self.seed_spin.value()
        return dataclasses.replace(
            base,
            provider=choice.kind if choice else base.provider,
            base_url=self._endpoint_url(choice) if choice else base.base_url,
            api_key_name=choice.api_key_name if choice else None,
            model=self.model_combo.currentText().strip(),
            benchmark=str(self.benchmark_combo.currentData() or ""),
            dataset=self._dataset_ref(),
            params=dataclasses.replace(
                base.params,
                temperature=round(self.temperature_spin.value(), 4),
                max_tokens=self.max_tokens_spin.value(),
            ),
            seed=None if seed < 0 else seed,
            limit=self.limit_spin.value() or None,
            concurrency=self.concurrency_spin.value(),
            scorer=scorer,
            scorer_arg=scorer_arg,
            name=self.run_name.text().strip() or None,
            tags=tags,
        )

    def build_spec(self) -> RunSpec | str:
        """The current page as a RunSpec, or a message saying what is missing."""
        panel = self.panel(self._kind)
        if panel is not None:
            spec: RunSpec | str = panel.build_spec()
            return spec
        return self._build_quality_spec()

    def _build_quality_spec(self) -> RunSpec | str:
        choice = self.current_endpoint()
        if choice is None:
            return "Choose an endpoint (add one in Settings)."
        spec = self._spec_from_form(choice)
        if not spec.model:
            return "Choose or type a model."
        if not spec.benchmark:
            return "Choose a benchmark."
        if self._source() == SOURCE_FILE and not spec.dataset.path:
            return "Choose a dataset file."
        if self._source() == SOURCE_HUB and not spec.dataset.hub_id:
            return "Enter a Hugging Face dataset id, e.g. openai/gsm8k."
        if spec.scorer == "regex" and not spec.scorer_arg:
            return "The regex scorer needs a pattern."
        return spec

    def fill_from_spec(self, spec: RunSpec, endpoint: str | None = None) -> None:
        """Show ``spec`` in the form (duplicate run, template, last choices).

        ``endpoint`` names the saved endpoint (or "demo") it was made with; without it the
        endpoint is matched by URL, and an unknown URL is offered as it is. A speed or
        speech spec opens its own page.
        """
        kind = spec_kind(spec)
        self.set_kind(kind)
        panel = self.panel(kind)
        if panel is not None:
            panel.fill_from_spec(spec)
            return
        self._base_spec = spec
        self._select_endpoint_for(spec, endpoint)
        self.model_combo.setEditText(spec.model)
        index = self.benchmark_combo.findData(spec.benchmark)
        if index >= 0:
            self.benchmark_combo.setCurrentIndex(index)
        ref = spec.dataset
        self.dataset_path.setText(ref.path or "")
        self.hub_id.setText(ref.hub_id or "")
        self.hub_config.setText(ref.hub_config or "")
        self.hub_split.setText(ref.split or "")
        info = BENCHMARKS.get(spec.benchmark)
        if ref.path:
            self._set_source(SOURCE_FILE)
        elif ref.hub_id:
            self._set_source(SOURCE_HUB)
        elif info is not None and info.builtin_dataset:
            self._set_source(SOURCE_BUILTIN)
        else:
            self._set_source(SOURCE_FILE)
        scorer_index = self.scorer_combo.findData(spec.scorer or "exact")
        self.scorer_combo.setCurrentIndex(max(0, scorer_index))
        self.scorer_pattern.setText(spec.scorer_arg or "")
        self._set_params(spec)
        self._on_benchmark_changed()
        self.picker.refresh()
        self._schedule_check()

    def _select_endpoint_for(self, spec: RunSpec, endpoint: str | None) -> None:
        self.picker.select_endpoint_for(spec, endpoint)

    def _endpoint_memo(self) -> str | None:
        return self.picker.endpoint_memo()

    # -- start -----------------------------------------------------------------------------

    def _on_start(self) -> None:
        if self._starting:
            return
        spec = self.build_spec()
        if isinstance(spec, str):
            self._status(self.start_status, spec, error=True)
            return
        panel = self.panel(self._kind)
        self._starting = True
        self.start_button.setEnabled(False)
        self._status(self.start_status, "Checking the run …")
        if panel is not None:
            checked = spec

            def prepare_panel() -> RunSpec | _Refused:
                try:
                    ready: RunSpec = panel.prepare(checked)
                except OpenBenchError as exc:
                    return _Refused(str(exc))
                return ready

            self._submit(prepare_panel, self._on_prepared)
            return
        choice = self.current_endpoint()
        assert choice is not None
        demo = self._demo() if choice.source == "demo" else None
        paths = self.ctx.paths

        def prepare() -> RunSpec | _Refused:
            ready = spec
            try:
                if demo is not None:  # the simulated server starts here, off the GUI thread
                    ready = dataclasses.replace(spec, base_url=str(demo.ensure_started()))
                prepare_run(ready, paths)
            except OpenBenchError as exc:
                return _Refused(str(exc))
            return ready

        self._submit(prepare, self._on_prepared)

    def _on_prepared(self, result: object, error: str | None, _ticket: int) -> None:
        self._starting = False
        self.start_button.setEnabled(True)
        if isinstance(result, _Refused):
            error = result.message
        if error is not None or not isinstance(result, RunSpec):
            self._status(self.start_status, f"Not started: {error}", error=True)
            return
        self._remember(result)
        job_id = self.ctx.controller.start(result)
        self._my_jobs.add(job_id)
        self._status(self.start_status, f"Started {result.model} on {result.benchmark}.", ok=True)
        self.ctx.signals.navigate.emit("live")

    @Slot(int, str)
    def _on_job_rejected(self, job_id: int, message: str) -> None:
        if job_id not in self._my_jobs:
            return
        self._my_jobs.discard(job_id)
        self._status(self.start_status, f"The run did not start: {message}", error=True)
        self.ctx.signals.navigate.emit("setup")  # the message is here, with the form

    def _remember(self, spec: RunSpec) -> None:
        endpoint = self._endpoint_memo() if self._kind == KIND_QUALITY else None
        self.ctx.settings.last_run = {"endpoint": endpoint, "spec": spec.to_dict()}
        self._save_settings()

    def _restore_last_choices(self) -> None:
        memo = self.ctx.settings.last_run
        data = memo.get("spec") if isinstance(memo, dict) else None
        if isinstance(data, dict):
            try:
                spec = RunSpec.from_dict(data)
            except (TypeError, ValueError) as exc:
                log.warning("ignoring the saved run setup: %s", exc)
            else:
                endpoint = memo.get("endpoint")
                self.fill_from_spec(spec, endpoint if isinstance(endpoint, str) else None)
                return
        # Defaults: GSM8K on its built-in problems, the most common first run.
        self._base_spec = RunSpec(
            provider="openai",
            base_url="",
            model="",
            benchmark="gsm8k",
            params=GenerationParams(),
        )
        index = self.benchmark_combo.findData("gsm8k")
        self.benchmark_combo.setCurrentIndex(max(0, index))
        self._set_source(SOURCE_BUILTIN)
        self._on_benchmark_changed()

    # -- templates -------------------------------------------------------------------------

    def _reload_templates(self) -> None:
        current = self.template_combo.currentData()
        self.template_combo.blockSignals(True)
        self.template_combo.clear()
        names = sorted(self.ctx.settings.templates)
        self.template_combo.addItem("Load a template…" if names else "No templates yet", None)
        for name in names:
            self.template_combo.addItem(name, name)
        index = self.template_combo.findData(current) if current else 0
        self.template_combo.setCurrentIndex(max(0, index))
        self.template_combo.blockSignals(False)
        self.template_combo.setEnabled(bool(names))
        self.template_delete.setEnabled(bool(current) and index > 0)

    @Slot(int)
    def _on_template_chosen(self, index: int) -> None:
        name = self.template_combo.itemData(index)
        self.template_delete.setEnabled(bool(name))
        if name:
            self.load_template(str(name))

    def load_template(self, name: str) -> bool:
        data = self.ctx.settings.templates.get(name)
        if not isinstance(data, dict):
            return False
        try:
            spec = RunSpec.from_dict(data)
        except (TypeError, ValueError) as exc:
            self._status(self.start_status, f"The template '{name}' is damaged: {exc}", error=True)
            return False
        self.fill_from_spec(spec)
        self._status(self.start_status, f"Loaded the template '{name}'.", ok=True)
        return True

    def _ask_template_name(self, suggestion: str) -> str | None:
        """Ask for a template name (tests override this to skip the dialog)."""
        name, ok = QInputDialog.getText(self, "Save as template", "Template name:", text=suggestion)
        return name if ok else None

    def _on_save_template(self) -> None:
        if self._kind == KIND_QUALITY:
            spec = self._spec_from_form(self.current_endpoint())
        else:
            built = self.build_spec()
            if isinstance(built, str):
                self._status(self.start_status, f"Not saved: {built}", error=True)
                return
            spec = built
        suggestion = spec.name or " · ".join(p for p in (spec.model, spec.benchmark) if p)
        name = (self._ask_template_name(suggestion) or "").strip()
        if not name:
            return
        if name in self.ctx.settings.templates and not self._confirm(
            "Replace template", f"A template named '{name}' exists. Replace it?"
        ):
            return
        self.ctx.settings.templates[name] = spec.to_dict()
        self._save_settings()
        self._reload_templates()
        self.template_combo.blockSignals(True)  # show it as chosen without reloading it
        self.template_combo.setCurrentIndex(max(0, self.template_combo.findData(name)))
        self.template_combo.blockSignals(False)
        self.template_delete.setEnabled(True)
        self._status(self.start_status, f"Saved the template '{name}'.", ok=True)

    def _on_delete_template(self) -> None:
        name = self.template_combo.currentData()
        if not name or not self._confirm("Delete template", f"Delete the template '{name}'?"):
            return
        self.ctx.settings.templates.pop(str(name), None)
        self._save_settings()
        self._reload_templates()
        self._status(self.start_status, f"Deleted the template '{name}'.")

    def _confirm(self, title: str, text: str) -> bool:
        """Ask yes/no (tests override this to answer without a dialog)."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- plumbing --------------------------------------------------------------------------

    def _status(self, label: QLabel, text: str, *, error: bool = False, ok: bool = False) -> None:
        """Show a status line; an empty one takes no room."""
        _style(label, text, error=error, ok=ok)
        label.setVisible(bool(text))

    def _submit(
        self, fn: Callable[[], object], done: Callable[[object, str | None, int], None]
    ) -> int:
        return self._db_calls.submit(fn, done)

    def _save_settings(self) -> None:
        self._saving = True
        try:
            self.ctx.save_settings()
        finally:
            self._saving = False

    @Slot()
    def _on_settings_changed(self) -> None:
        if self._saving:
            return
        self._reload_endpoints()
        self._reload_templates()
        self._update_estimate()  # prices may have changed

    @Slot(object)
    def _on_duplicate_run(self, spec: object) -> None:
        if isinstance(spec, RunSpec):
            self.fill_from_spec(spec)
            self._status(self.start_status, "Filled in from an earlier run: adjust and start.")
