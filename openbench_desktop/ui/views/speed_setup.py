"""The speed (load test) page of Run setup: endpoint, model, load profile, prompts, SLOs.

The inputs mirror :class:`~openbench_desktop.core.speed.runner.SpeedOptions` and the
``run --benchmark speed`` flags of :mod:`openbench_desktop.cli_speed` one for one (same
names and defaults), so a run set up here is the run the CLI would make with the same
flags (a test checks it). The panel only builds a :class:`RunSpec`; the Run setup view
owns the Start button: it calls :meth:`SpeedSetupPanel.build_spec`, then
:meth:`SpeedSetupPanel.prepare` on the DB executor's thread, then ``ctx.controller.start``.

The endpoint and model come from the :class:`EndpointModelPicker` the quality page uses
too; a load test always offers the simulated demo server beside the saved endpoints.

The estimate is plain arithmetic on the inputs; the one slow input, the median latency
of an earlier run of the same model on the same endpoint, is read via ``ctx.db``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
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

from openbench_desktop.core.config.settings import estimate_cost_usd
from openbench_desktop.core.domain import DatasetRef, RunSpec
from openbench_desktop.core.engine.estimate import (
    LatencyHint,
    format_duration,
    recent_median_latency_s,
)
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.speed.metrics import DEFINITIONS
from openbench_desktop.core.speed.profiles import DEFAULT_REQUESTS, MAX_CONCURRENCY_LIMIT
from openbench_desktop.core.speed.runner import SpeedOptions, prepare_speed_run, speed_spec
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.views.endpoint_picker import (
    DEMO_URL_PLACEHOLDER,
    SIMULATED_TAG,
    EndpointChoice,
    EndpointModelPicker,
    PickerOptions,
)

LATENCY_LOOKUP_DELAY_MS: Final = 250

#: (profile value, label, what it does) - the values are the CLI's ``--profile`` choices.
PROFILES: Final = (
    ("synchronous", "Synchronous", "One request at a time: the unloaded latency."),
    ("concurrency", "Concurrency N", "N requests in flight at all times (closed loop)."),
    ("rate", "Constant rate", "R requests per second on a fixed schedule (open loop)."),
    ("poisson", "Poisson rate", "R requests per second on average, random gaps (open loop)."),
    (
        "sweep",
        "Sweep",
        "Synchronous, maximum throughput, then evenly spaced rates in between.",
    ),
)
_OPEN_LOOP: Final = frozenset({"rate", "poisson"})
_DEFAULTS: Final = SpeedOptions()
_DEFAULT_SPEC: Final = speed_spec(base_url="", model="")

#: The speed page's endpoint box: its own object names and wording; the demo is always
#: offered (a load test of the built-in simulated server is a safe first try), and
#: picking an endpoint does not ask it for its models (Discover does).
PICKER_OPTIONS: Final = PickerOptions(
    endpoint_name="speed_endpoint",
    model_name="speed_model",
    discover_name="speed_discover",
    status_name="speed_model_status",
    add_name="speed_add_endpoint",
    discover_text="Discover",
    model_placeholder="model id as the server names it",
    simulated_note=(
        "A simulated server on this computer: the figures measure this app and your "
        "machine, not a model."
    ),
    always_offer_demo=True,
    add_endpoint_link=False,
    discover_on_pick=False,
    quiet_status=True,
)


@dataclass(frozen=True, slots=True)
class SpeedEstimate:
    """What the estimate label says, as numbers (tests read these)."""

    n_requests: int | None  # None: bounded by time at an unknown rate
    duration_s: float | None  # None: unknown until the first run
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None


def _spin(name: str, accessible: str, lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setAccessibleName(accessible)
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setGroupSeparatorShown(True)
    return spin


def _dspin(
    name: str, accessible: str, hi: float, value: float, tip: str, *, decimals: int = 1
) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setObjectName(name)
    spin.setAccessibleName(accessible)
    spin.setRange(0.0, hi)
    spin.setDecimals(decimals)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def _optional(value: float) -> float | None:
    """A spin box whose 0 means "not set" (its special value text says so)."""
    return None if value <= 0 else float(value)


class SpeedSetupPanel(QWidget):
    """Everything a speed run needs, and what it will take (see the module docstring)."""

    changed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speed_setup")
        self.ctx = ctx
        self._base_spec: RunSpec | None = None  # carries what the form doesn't show (tags)
        self._latency: dict[tuple[str, str], LatencyHint | None] = {}
        self._latency_tickets: dict[int, tuple[str, str]] = {}
        self.last_estimate: SpeedEstimate | None = None

        ctx.db.answered.connect(self._on_db_answered)
        self._latency_timer = QTimer(self)
        self._latency_timer.setSingleShot(True)
        self._latency_timer.setInterval(LATENCY_LOOKUP_DELAY_MS)
        self._latency_timer.timeout.connect(self._lookup_latency)

        columns = QHBoxLayout(self)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.setSpacing(16)
        left = QVBoxLayout()
        left.addWidget(self._build_endpoint_group())
        left.addWidget(self._build_load_group())
        left.addWidget(self._build_prompts_group())
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._build_goals_group())
        right.addWidget(self._build_advanced_group())
        right.addWidget(self._build_estimate_group())
        right.addStretch(1)
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)

        self._reload_endpoints()
        self._update_enabled()
        self._connect_changes()
        ctx.signals.settings_changed.connect(self._on_settings_changed)
        self._update_estimate()

    # -- building --------------------------------------------------------------------------

    def _build_endpoint_group(self) -> QGroupBox:
        self.picker = EndpointModelPicker(self.ctx, PICKER_OPTIONS)
        self.picker.changed.connect(self._on_model_changed)
        # The picker's widgets under the names tests and the rest of the panel use.
        self.endpoint_combo = self.picker.endpoint_combo
        self.model_combo = self.picker.model_combo
        self.discover = self.picker.discover
        self.model_status = self.picker.model_status
        return self.picker

    def _build_load_group(self) -> QGroupBox:
        box = QGroupBox("Load profile")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.profile_combo = QComboBox()
        self.profile_combo.setObjectName("speed_profile")
        self.profile_combo.setAccessibleName("Load profile")
        for value, label, tip in PROFILES:
            self.profile_combo.addItem(label, value)
            self.profile_combo.setItemData(
                self.profile_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole
            )
        self.profile_combo.setCurrentIndex(self.profile_combo.findData(_DEFAULTS.profile))
        self.profile_hint = QLabel()
        self.profile_hint.setObjectName("speed_profile_hint")
        self.profile_hint.setWordWrap(True)
        self.profile_hint.setStyleSheet("color: palette(placeholder-text);")
        self.concurrency_spin = _spin(
            "speed_concurrency", "Concurrency", 1, MAX_CONCURRENCY_LIMIT,
            _DEFAULT_SPEC.concurrency, "Concurrency profile: requests in flight (--concurrency)",
        )
        self.rate_spin = _dspin(
            "speed_rate", "Request rate", 1_000_000.0, 10.0,
            "Rate and Poisson profiles: requests per second (--rate)", decimals=2,
        )
        self.rate_spin.setSuffix(" req/s")
        self.steps_spin = _spin(
            "speed_steps", "Sweep steps", 2, 100, _DEFAULTS.steps,
            "Sweep: steps from synchronous to maximum throughput (--steps)",
        )
        self.max_concurrency_spin = _spin(
            "speed_max_concurrency", "Max concurrency", 1, MAX_CONCURRENCY_LIMIT,
            _DEFAULTS.max_concurrency,
            "Rate/Poisson: cap on requests in flight; sweep: the throughput step's "
            "concurrency (--max-concurrency)",
        )
        self.requests_check = QCheckBox("Requests per step")
        self.requests_check.setObjectName("speed_requests_on")
        self.requests_check.setChecked(True)
        self.requests_spin = _spin(
            "speed_requests", "Requests per step", 1, 100_000_000, DEFAULT_REQUESTS,
            "Stop each step after this many requests (--requests)",
        )
        self.duration_check = QCheckBox("Seconds per step")
        self.duration_check.setObjectName("speed_duration_on")
        self.duration_spin = _dspin(
            "speed_duration", "Seconds per step", 86_400.0, 30.0,
            "Stop each step after this long (--duration); with a request count too, "
            "whichever comes first",
        )
        self.duration_spin.setSuffix(" s")
        self.warmup_spin = _spin(
            "speed_warmup", "Warm-up requests", 0, 100_000, _DEFAULTS.warmup,
            "Requests sent before the first step and not measured (--warmup)",
        )
        grid.addWidget(QLabel("Profile"), 0, 0)
        grid.addWidget(self.profile_combo, 0, 1)
        grid.addWidget(self.profile_hint, 0, 2, 1, 2)
        grid.addWidget(QLabel("Concurrency"), 1, 0)
        grid.addWidget(self.concurrency_spin, 1, 1)
        grid.addWidget(QLabel("Rate"), 1, 2)
        grid.addWidget(self.rate_spin, 1, 3)
        grid.addWidget(QLabel("Sweep steps"), 2, 0)
        grid.addWidget(self.steps_spin, 2, 1)
        grid.addWidget(QLabel("Max concurrency"), 2, 2)
        grid.addWidget(self.max_concurrency_spin, 2, 3)
        grid.addWidget(self.requests_check, 3, 0)
        grid.addWidget(self.requests_spin, 3, 1)
        grid.addWidget(self.duration_check, 3, 2)
        grid.addWidget(self.duration_spin, 3, 3)
        grid.addWidget(QLabel("Warm-up"), 4, 0)
        grid.addWidget(self.warmup_spin, 4, 1)
        return box

    def _build_prompts_group(self) -> QGroupBox:
        box = QGroupBox("Prompts and replies")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.synthetic_radio = QRadioButton("Synthetic prompts")
        self.synthetic_radio.setObjectName("speed_synthetic")
        self.synthetic_radio.setChecked(True)
        self.file_radio = QRadioButton("Prompts from a dataset file")
        self.file_radio.setObjectName("speed_from_file")
        self.prompt_group = QButtonGroup(self)
        self.prompt_group.addButton(self.synthetic_radio)
        self.prompt_group.addButton(self.file_radio)
        radios = QHBoxLayout()
        radios.addWidget(self.synthetic_radio)
        radios.addWidget(self.file_radio)
        radios.addStretch(1)
        form.addRow("Prompts", radios)
        self.input_tokens_spin = _spin(
            "speed_input_tokens", "Input tokens", 0, 1_000_000, _DEFAULTS.input_tokens,
            "Synthetic prompt length in tokens, approximated by words (--input-tokens)",
        )
        row = QHBoxLayout()
        row.addWidget(self.input_tokens_spin)
        row.addStretch(1)  # a number needs no full-width field
        form.addRow("Input tokens", row)
        self.dataset_path = QLineEdit()
        self.dataset_path.setObjectName("speed_dataset_path")
        self.dataset_path.setAccessibleName("Prompt dataset file")
        self.dataset_path.setPlaceholderText("a .jsonl, .csv or .parquet file (--dataset)")
        self.browse = QPushButton("Browse…")
        self.browse.setObjectName("speed_dataset_browse")
        self.browse.clicked.connect(self._on_browse)
        self.prompt_field = QLineEdit()
        self.prompt_field.setObjectName("speed_prompt_field")
        self.prompt_field.setAccessibleName("Prompt field")
        self.prompt_field.setPlaceholderText("field (auto)")
        self.prompt_field.setToolTip(
            "The column holding the prompt (--prompt-field); by default the first of "
            "prompt, input, question, text"
        )
        row = QHBoxLayout()
        row.addWidget(self.dataset_path, 3)
        row.addWidget(self.prompt_field, 1)
        row.addWidget(self.browse)
        form.addRow("File", row)
        self.output_tokens_spin = _spin(
            "speed_output_tokens", "Output tokens", 0, 1_000_000,
            _DEFAULT_SPEC.params.max_tokens, "max_tokens asked of the server (--output-tokens)",
        )
        self.ignore_eos_check = QCheckBox("Ask for exactly this many (ignore_eos)")
        self.ignore_eos_check.setObjectName("speed_ignore_eos")
        self.ignore_eos_check.setChecked(_DEFAULTS.ignore_eos)
        self.ignore_eos_check.setToolTip(
            "Send ignore_eos so servers that support it (vLLM, SGLang) generate every "
            "token asked for; others ignore it (--no-ignore-eos turns it off)"
        )
        row = QHBoxLayout()
        row.addWidget(self.output_tokens_spin)
        row.addWidget(self.ignore_eos_check, 1)
        form.addRow("Output tokens", row)
        return box

    def _build_goals_group(self) -> QGroupBox:
        box = QGroupBox("Goodput objectives and overload stop")
        form = QFormLayout(box)
        # Numbers at their natural width, not stretched across the column.
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.slo_spins: dict[str, QDoubleSpinBox] = {}
        for key, label, flag in (
            ("slo_ttft_ms", "TTFT", "--slo-ttft-ms"),
            ("slo_tpot_ms", "TPOT", "--slo-tpot-ms"),
            ("slo_e2e_ms", "End to end", "--slo-e2e-ms"),
        ):
            spin = _dspin(
                f"speed_{key}", f"{label} objective", 10_000_000.0, 0.0,
                f"Goodput counts requests that meet every objective set ({flag}); "
                "off: not an objective",
            )
            spin.setSuffix(" ms")
            spin.setSpecialValueText("off")
            self.slo_spins[key] = spin
            form.addRow(f"{label} ≤", spin)
        self.overload_errors_spin = _dspin(
            "speed_overload_error_rate", "Overload error rate", 100.0,
            _DEFAULTS.overload_error_rate * 100,
            "Stop a step (and a sweep's later steps) when more than this share of the "
            "recent requests failed; off: never", decimals=0,
        )
        self.overload_errors_spin.setSuffix(" % failed")
        self.overload_errors_spin.setSpecialValueText("off")
        self.overload_latency_spin = _dspin(
            "speed_overload_latency_factor", "Overload latency factor", 1000.0,
            _DEFAULTS.overload_latency_factor,
            "Stop when the recent median latency exceeds this many times the unloaded "
            "median; off: never",
        )
        self.overload_latency_spin.setSuffix(" × unloaded")
        self.overload_latency_spin.setSpecialValueText("off")
        form.addRow("Stop above", self.overload_errors_spin)
        form.addRow("Or latency", self.overload_latency_spin)
        return box

    def _build_advanced_group(self) -> QGroupBox:
        box = QGroupBox("Measurement")
        form = QFormLayout(box)
        self.definitions_combo = QComboBox()
        self.definitions_combo.setObjectName("speed_definitions")
        self.definitions_combo.setAccessibleName("Metric definitions")
        titles = {
            "openbench": "OpenBench (default)",
            "vllm": "vLLM bench serve",
            "guidellm": "GuideLLM",
            "llmperf": "LLMPerf",
        }
        for name in DEFINITIONS:
            self.definitions_combo.addItem(titles.get(name, name), name)
        self.definitions_combo.setToolTip(
            "Definitions of the headline figures (--definitions). Every set is computed "
            "from the same timestamps and stored side by side; see docs/METRICS.md."
        )
        form.addRow("Definitions", self.definitions_combo)
        self.client_combo = QComboBox()
        self.client_combo.setObjectName("speed_client")
        self.client_combo.setAccessibleName("Measuring client")
        for value in ("auto", "lean", "httpx"):
            self.client_combo.addItem(value, value)
        self.client_combo.setToolTip(
            "auto: the lean measuring client for OpenAI-compatible servers without a "
            "proxy, else the regular provider (--client)"
        )
        form.addRow("Client", self.client_combo)
        self.seed_spin = _spin(
            "speed_seed", "Seed", -1, 2_147_483_647, -1,
            "Prompts and Poisson arrivals follow it; None: 0 (--seed)",
        )
        self.seed_spin.setSpecialValueText("None")
        self.seed_spin.setGroupSeparatorShown(False)
        form.addRow("Seed", self.seed_spin)
        self.timeout_spin = _dspin(
            "speed_timeout", "Request timeout", 86_400.0, _DEFAULT_SPEC.params.timeout_s,
            "Per-request timeout (--timeout)",
        )
        self.timeout_spin.setMinimum(1.0)
        self.timeout_spin.setSuffix(" s")
        form.addRow("Timeout", self.timeout_spin)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("speed_run_name")
        self.name_edit.setAccessibleName("Run name")
        self.name_edit.setPlaceholderText("optional, shown in History")
        form.addRow("Run name", self.name_edit)
        return box

    def _build_estimate_group(self) -> QGroupBox:
        box = QGroupBox("Estimate")
        self.estimate = QLabel()
        self.estimate.setObjectName("speed_estimate")
        self.estimate.setAccessibleName("Estimate")
        self.estimate.setWordWrap(True)
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        self.estimate.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.estimate.linkActivated.connect(self.ctx.signals.navigate.emit)
        self.estimate.setMinimumHeight(60)
        layout = QVBoxLayout(box)
        layout.addWidget(self.estimate)
        return box

    def _connect_changes(self) -> None:
        for spin in (
            self.concurrency_spin, self.steps_spin, self.max_concurrency_spin,
            self.requests_spin, self.warmup_spin, self.input_tokens_spin,
            self.output_tokens_spin, self.seed_spin,
        ):
            spin.valueChanged.connect(self._on_input_changed)
        for dspin in (
            self.rate_spin, self.duration_spin, self.timeout_spin, self.overload_errors_spin,
            self.overload_latency_spin, *self.slo_spins.values(),
        ):
            dspin.valueChanged.connect(self._on_input_changed)
        for check in (self.requests_check, self.duration_check, self.ignore_eos_check):
            check.toggled.connect(self._on_input_changed)
        for combo in (self.profile_combo, self.definitions_combo, self.client_combo):
            combo.currentIndexChanged.connect(self._on_input_changed)
        self.prompt_group.buttonToggled.connect(self._on_input_changed)
        for edit in (self.dataset_path, self.prompt_field, self.name_edit):
            edit.textChanged.connect(self._on_input_changed)

    # -- endpoints and models --------------------------------------------------------------

    def _demo(self) -> Any:
        return getattr(self.ctx, "demo", None)

    def _reload_endpoints(self) -> None:
        """Rebuild the endpoint list, keeping the current choice selected."""
        self.picker.reload()

    def current_endpoint(self) -> EndpointChoice | None:
        return self.picker.current_endpoint()

    def select_endpoint(self, label: str) -> bool:
        """Choose the endpoint whose name is ``label`` (templates, tests)."""
        return self.picker.select_endpoint(label)

    def _endpoint_url(self, choice: EndpointChoice) -> str:
        return self.picker.endpoint_url(choice)

    @Slot()
    def _on_model_changed(self, *_args: object) -> None:
        self._latency_timer.start()
        self._on_input_changed()

    # -- inputs ------------------------------------------------------------------------------

    def profile(self) -> str:
        return str(self.profile_combo.currentData())

    def _update_enabled(self) -> None:
        profile = self.profile()
        self.concurrency_spin.setEnabled(profile == "concurrency")
        self.rate_spin.setEnabled(profile in _OPEN_LOOP)
        self.steps_spin.setEnabled(profile == "sweep")
        self.max_concurrency_spin.setEnabled(profile in _OPEN_LOOP or profile == "sweep")
        self.requests_spin.setEnabled(self.requests_check.isChecked())
        self.duration_spin.setEnabled(self.duration_check.isChecked())
        from_file = self.file_radio.isChecked()
        self.input_tokens_spin.setEnabled(not from_file)
        for widget in (self.dataset_path, self.prompt_field, self.browse):
            widget.setEnabled(from_file)
        self.profile_hint.setText(next(tip for value, _l, tip in PROFILES if value == profile))

    @Slot()
    def _on_input_changed(self, *_args: object) -> None:
        self._update_enabled()
        self._update_estimate()
        self.changed.emit()

    def _on_browse(self) -> None:
        path = self._choose_file()
        if path:
            self.file_radio.setChecked(True)
            self.dataset_path.setText(path)

    def _choose_file(self) -> str:
        """Ask for a prompt file (tests override this: no dialog)."""
        path, _filter = QFileDialog.getOpenFileName(
            self, "Prompts for the speed run", "", "Datasets (*.jsonl *.csv *.parquet)"
        )
        return path

    # -- the spec ----------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        """The SpeedOptions fields as the form sets them (CLI flag semantics)."""
        profile = self.profile()
        return {
            "profile": profile,
            "rate": round(self.rate_spin.value(), 6) if profile in _OPEN_LOOP else None,
            "steps": self.steps_spin.value(),
            "requests": self.requests_spin.value() if self.requests_check.isChecked() else None,
            "duration_s": (
                round(self.duration_spin.value(), 6) if self.duration_check.isChecked() else None
            ),
            "warmup": self.warmup_spin.value(),
            "input_tokens": self.input_tokens_spin.value(),
            "ignore_eos": self.ignore_eos_check.isChecked(),
            "max_concurrency": self.max_concurrency_spin.value(),
            "definitions": str(self.definitions_combo.currentData()),
            "slo_ttft_ms": _optional(self.slo_spins["slo_ttft_ms"].value()),
            "slo_tpot_ms": _optional(self.slo_spins["slo_tpot_ms"].value()),
            "slo_e2e_ms": _optional(self.slo_spins["slo_e2e_ms"].value()),
            "client": str(self.client_combo.currentData()),
            "overload_error_rate": round(self.overload_errors_spin.value() / 100.0, 6),
            "overload_latency_factor": round(self.overload_latency_spin.value(), 6),
        }

    def _invalid(self) -> str | None:
        """The first input that cannot work, as a one-line actionable message."""
        choice = self.current_endpoint()
        if choice is None:
            return "Choose an endpoint (add one in Settings, or use the demo)."
        if not self.model_combo.currentText().strip():
            return "Choose or type a model (Discover lists the endpoint's models)."
        profile = self.profile()
        if profile in _OPEN_LOOP and self.rate_spin.value() <= 0:
            return f"Set a request rate above 0 req/s for the {profile} profile."
        if self.output_tokens_spin.value() < 1:
            return "Output tokens must be at least 1: a speed run measures streamed tokens."
        if self.file_radio.isChecked():
            if not self.dataset_path.text().strip():
                return "Choose a prompt file, or use synthetic prompts."
        elif self.input_tokens_spin.value() < 1:
            return "Input tokens must be at least 1."
        if self.duration_check.isChecked() and self.duration_spin.value() <= 0:
            return "Set the seconds per step above 0, or untick it."
        return None

    def build_spec(self) -> RunSpec | str:
        """The form as a speed RunSpec, or why it cannot start."""
        problem = self._invalid()
        if problem is not None:
            return problem
        choice = self.current_endpoint()
        assert choice is not None
        base = self._base_spec
        tags = tuple(t for t in (base.tags if base else ()) if t not in (SIMULATED_TAG, "demo"))
        if choice.simulated:
            tags = (*tags, SIMULATED_TAG)
        from_file = self.file_radio.isChecked()
        dataset = DatasetRef(
            path=self.dataset_path.text().strip() if from_file else None,
            prompt_field=(self.prompt_field.text().strip() or None) if from_file else None,
        )
        seed = self.seed_spin.value()
        try:
            return speed_spec(
                base_url=self._endpoint_url(choice),
                model=self.model_combo.currentText().strip(),
                provider=choice.kind,
                concurrency=self.concurrency_spin.value(),
                output_tokens=self.output_tokens_spin.value(),
                seed=None if seed < 0 else seed,
                timeout_s=round(self.timeout_spin.value(), 6),
                api_key_name=choice.api_key_name,
                name=self.name_edit.text().strip() or None,
                tags=tags,
                dataset=dataset,
                **self._options(),
            )
        except (TypeError, ValueError) as exc:  # defensive: the inputs are all bounded
            return f"Invalid speed settings: {exc}"

    def fill_from_spec(self, spec: RunSpec) -> None:
        """Show ``spec`` (Duplicate run, templates, last choices) in the form."""
        self._base_spec = spec
        o = SpeedOptions.from_spec(spec)
        self.picker.select_endpoint_for(spec)
        self.model_combo.setEditText(spec.model)
        self.profile_combo.setCurrentIndex(max(0, self.profile_combo.findData(o.profile)))
        self.concurrency_spin.setValue(spec.concurrency)
        if o.rate is not None:
            self.rate_spin.setValue(o.rate)
        self.steps_spin.setValue(o.steps)
        self.max_concurrency_spin.setValue(o.max_concurrency)
        self.requests_check.setChecked(o.requests is not None)
        if o.requests is not None:
            self.requests_spin.setValue(o.requests)
        self.duration_check.setChecked(o.duration_s is not None)
        if o.duration_s is not None:
            self.duration_spin.setValue(o.duration_s)
        self.warmup_spin.setValue(o.warmup)
        self.input_tokens_spin.setValue(o.input_tokens)
        self.output_tokens_spin.setValue(spec.params.max_tokens)
        self.ignore_eos_check.setChecked(o.ignore_eos)
        from_file = bool(spec.dataset.path)
        (self.file_radio if from_file else self.synthetic_radio).setChecked(True)
        self.dataset_path.setText(spec.dataset.path or "")
        self.prompt_field.setText(spec.dataset.prompt_field or "")
        for key, spin in self.slo_spins.items():
            spin.setValue(getattr(o, key) or 0.0)
        self.overload_errors_spin.setValue(o.overload_error_rate * 100)
        self.overload_latency_spin.setValue(o.overload_latency_factor)
        self.definitions_combo.setCurrentIndex(
            max(0, self.definitions_combo.findData(o.definitions))
        )
        self.client_combo.setCurrentIndex(max(0, self.client_combo.findData(o.client)))
        self.seed_spin.setValue(spec.seed if spec.seed is not None else -1)
        self.timeout_spin.setValue(spec.params.timeout_s)
        self.name_edit.setText(spec.name or "")
        self._on_input_changed()

    def prepare(self, spec: RunSpec) -> RunSpec:
        """Validate fully and start the demo server if used (runs OFF the GUI thread).

        Raises :class:`~openbench_desktop.core.errors.OpenBenchError` with a message for
        the user. Touches no widget: only ``spec`` and the context's services.
        """
        ready = spec
        if spec.base_url.rstrip("/") == DEMO_URL_PLACEHOLDER.rstrip("/"):
            demo = self._demo()
            if demo is None:
                raise ConfigError("The simulated demo server is not available in this app.")
            ready = dataclasses.replace(spec, base_url=str(demo.ensure_started()).rstrip("/"))
        prepare_speed_run(ready, self.ctx.paths)
        return ready

    # -- estimate ----------------------------------------------------------------------------

    def _latency_key(self) -> tuple[str, str] | None:
        choice = self.current_endpoint()
        model = self.model_combo.currentText().strip()
        if choice is None or not model:
            return None
        url = self._endpoint_url(choice)
        return None if url == DEMO_URL_PLACEHOLDER else (model, url)

    @Slot()
    def _lookup_latency(self) -> None:
        key = self._latency_key()
        if key is None or key in self._latency or key in self._latency_tickets.values():
            return
        store = self.ctx.store
        model, url = key
        ticket = self.ctx.db.submit(lambda: recent_median_latency_s(store, model, url))
        self._latency_tickets[ticket] = key

    @Slot(int, object, object)
    def _on_db_answered(self, ticket: int, result: object, _error: object) -> None:
        key = self._latency_tickets.pop(ticket, None)
        if key is None:
            return
        self._latency[key] = result if isinstance(result, LatencyHint) else None
        self._update_estimate()

    def estimate_now(self) -> SpeedEstimate:
        """Requests, duration, tokens and cost of the run as the form stands."""
        o = self._options()
        profile = o["profile"]
        n_steps = o["steps"] if profile == "sweep" else 1
        per_step: int | None = o["requests"]
        duration = o["duration_s"]
        if per_step is None and duration is None:
            per_step = DEFAULT_REQUESTS
        key = self._latency_key()
        hint = self._latency.get(key) if key else None
        latency = hint.seconds if hint else None
        rate = o["rate"] if profile in _OPEN_LOOP else None
        if per_step is None and rate:  # bounded by time only: rate x duration
            per_step = max(1, int(rate * (duration or 0)))
        n = per_step * n_steps if per_step is not None else None
        seconds = _duration(profile, per_step, duration, rate, latency, self._workers(o), o)
        input_tokens = output_tokens = cost = None
        if n is not None:
            output_tokens = n * self.output_tokens_spin.value()
            if not self.file_radio.isChecked():
                input_tokens = n * o["input_tokens"]
            choice = self.current_endpoint()
            simulated = bool(choice and choice.simulated)
            price = None if simulated else self.ctx.settings.price_for(
                self.model_combo.currentText().strip()
            )
            if simulated:
                cost = 0.0
            elif input_tokens is not None:
                cost = estimate_cost_usd(price, input_tokens, output_tokens)
        return SpeedEstimate(n, seconds, input_tokens, output_tokens, cost)

    def _workers(self, o: dict[str, Any]) -> int:
        return {"synchronous": 1, "concurrency": self.concurrency_spin.value()}.get(
            o["profile"], o["max_concurrency"]
        )

    def _update_estimate(self) -> None:
        if not hasattr(self, "estimate"):
            return
        problem = self._invalid()
        est = self.last_estimate = self.estimate_now()
        lines = []
        per = " (all steps)" if self.profile() == "sweep" else ""
        if est.n_requests is not None:
            lines.append(f"<b>{est.n_requests:,}</b> measured requests{per}")
        else:
            lines.append("Requests: as many as the server answers in the time set")
        key = self._latency_key()
        hint = self._latency.get(key) if key else None
        if est.duration_s is None:
            lines.append("Duration: unknown until the first run of this model here")
        else:
            basis = (
                f"median latency of run {hint.run_id[:8]}"
                if hint and self.profile() not in _OPEN_LOOP
                else "the schedule"
                if self.profile() in _OPEN_LOOP or self.duration_check.isChecked()
                else ""
            )
            lines.append(
                f"Duration: ≈ <b>{format_duration(est.duration_s)}</b>"
                + (f" ({basis})" if basis else "")
            )
        choice = self.current_endpoint()
        model = self.model_combo.currentText().strip()
        if choice is not None and choice.simulated:
            lines.append("Cost: <b>$0</b> (simulated server)")
        elif est.output_tokens is not None and est.input_tokens is None:
            lines.append("Cost: depends on the prompt file's length")
        elif est.cost_usd is None:
            name = f"“{model}”" if model else "this model"
            lines.append(
                f'Cost: unknown price for {name} — <a href="settings">add it in Settings</a>'
            )
        else:
            assert est.input_tokens is not None and est.output_tokens is not None
            lines.append(
                f"Cost: at most <b>${est.cost_usd:,.4f}</b> ({est.input_tokens:,} input + "
                f"{est.output_tokens:,} output tokens)"
            )
        if problem:
            lines.append(f'<span style="color:#D55E00">{problem}</span>')
        self.estimate.setText("<br>".join(lines))

    @Slot()
    def _on_settings_changed(self) -> None:
        self._reload_endpoints()
        self._update_estimate()  # prices may have changed


def _duration(
    profile: str,
    per_step: int | None,
    duration_s: float | None,
    rate: float | None,
    latency_s: float | None,
    workers: int,
    o: dict[str, Any],
) -> float | None:
    """Seconds the run should take; None when it depends on a latency not known yet.

    Closed loop: waves of ``workers`` requests, each one median latency long. Open loop:
    requests / rate (plus one latency for the tail). A sweep: its synchronous and
    throughput steps, then rates evenly spaced between the two rates they would reach.
    A duration bound caps every step.
    """
    n_steps = o["steps"] if profile == "sweep" else 1

    def capped(seconds: float | None) -> float | None:
        if duration_s is None:
            return seconds
        return duration_s if seconds is None else min(seconds, duration_s)

    if profile in _OPEN_LOOP and rate:
        if per_step is None:
            return duration_s
        return capped(per_step / rate + (latency_s or 0.0))
    if per_step is None:
        return duration_s * n_steps if duration_s else None
    if latency_s is None:
        return duration_s * n_steps if duration_s else None
    if profile == "sweep":
        sync_rate = 1.0 / latency_s
        max_rate = max(sync_rate, workers / latency_s)
        total = (capped(per_step * latency_s) or 0.0) + (
            capped(math.ceil(per_step / workers) * latency_s) or 0.0
        )
        inner = n_steps - 2
        gap = (max_rate - sync_rate) / (inner + 1) if inner > 0 else 0.0
        for i in range(max(0, inner)):
            total += capped(per_step / (sync_rate + gap * (i + 1))) or 0.0
        return total
    return capped(math.ceil(per_step / max(1, workers)) * latency_s)
