"""The "Endpoint and model" box shared by the quality and speed pages of Run setup.

It lists the saved endpoints, the built-in simulated demo and, after a duplicated run or a
template, an endpoint known only from that run ("… (from the run)"); holds an editable
model combo that "Discover" fills from the endpoint (via :class:`EndpointProbe`, off the
GUI thread); types the demo's model id when the demo is chosen and clears it on leaving;
and turns a choice into the base URL a spec stores. The demo's URL exists only once its
local server runs, so until then a spec holds :data:`DEMO_URL_PLACEHOLDER`, which the page
replaces when the run starts.

The pages differ in a few deliberate ways (which entries a load test offers, the wording of
the demo note, whether picking an endpoint asks it for its models); :class:`PickerOptions`
names them. The picker touches no database and starts no run: its owner listens to
:attr:`EndpointModelPicker.changed` and reads :meth:`~EndpointModelPicker.current_endpoint`,
:meth:`~EndpointModelPicker.model` and :meth:`~EndpointModelPicker.endpoint_url`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from openbench_desktop.core.domain import RunSpec
from openbench_desktop.ui.bridge.endpoint_probe import EndpointProbe, ProbeResult
from openbench_desktop.ui.context import AppContext

#: The tag a spec carries when its endpoint is a simulated server.
SIMULATED_TAG: Final = "simulated"
# A simulated endpoint's real URL exists only once its local server runs; templates and
# "last choices" made before that hold this stand-in, replaced at start.
DEMO_URL_PLACEHOLDER: Final = "http://127.0.0.1:0/v1"
NO_ENDPOINT_TEXT: Final = "No endpoint yet: add one in Settings"
FROM_THE_RUN: Final = "(from the run)"

_ERROR_STYLE = "color: #D55E00;"  # Okabe-Ito vermillion: readable in light and dark
_OK_STYLE = "color: #009E73;"
_QUIET_STYLE = "color: palette(placeholder-text);"


@dataclass(frozen=True, slots=True)
class EndpointChoice:
    """One entry of the endpoint combo."""

    label: str
    kind: str
    base_url: str | None  # None: the demo server, whose URL is known once it runs
    api_key_name: str | None
    source: str  # "saved" | "demo" | "spec" (from a duplicated run or template)
    simulated: bool = False

    @property
    def demo(self) -> bool:
        """The built-in simulated server (its URL is known once it runs)."""
        return self.source == "demo"


@dataclass(frozen=True, slots=True)
class PickerOptions:
    """What differs between the pages that show a picker (the defaults: the quality page)."""

    endpoint_name: str = "endpoint_combo"
    model_name: str = "model_combo"
    discover_name: str = "discover_models"
    status_name: str = "model_status"
    add_name: str = "add_endpoint"
    discover_text: str = "Discover models"
    model_placeholder: str = "type a model id or discover the list"
    simulated_note: str = (
        "A simulated model on this computer: answers and timings are synthetic "
        "(no key, no network)."
    )
    #: Offer the demo beside saved endpoints too (else only while none is saved: a user who
    #: just saved a first endpoint wants that one).
    always_offer_demo: bool = False
    #: Show an "Add an endpoint…" link beside the combo while no endpoint is saved.
    add_endpoint_link: bool = True
    #: Picking an endpoint asks it for its models (its list replaces the previous one's).
    discover_on_pick: bool = True
    #: Plain status lines in the muted placeholder colour rather than the text colour.
    quiet_status: bool = False


class EndpointModelPicker(QGroupBox):
    """Endpoint combo, model combo with Discover, and a status line (see the module doc).

    The list is empty until the owner calls :meth:`reload`, so the owner hears the first
    :attr:`changed` too.
    """

    #: The endpoint or the model changed (the owner re-estimates and looks up latency).
    changed = Signal()

    def __init__(
        self,
        ctx: AppContext,
        options: PickerOptions | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Endpoint and model", parent)
        self.ctx = ctx
        self.options = options or PickerOptions()
        self._choices: list[EndpointChoice] = []
        self._shown_choice: EndpointChoice | None = None
        self._probe_ticket: int | None = None
        self.probe = EndpointProbe(self)
        self.probe.finished.connect(self._on_probe_finished)
        self._build()

    def _build(self) -> None:
        o = self.options
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._form = form

        self.endpoint_combo = QComboBox()
        self.endpoint_combo.setObjectName(o.endpoint_name)
        self.endpoint_combo.setAccessibleName("Endpoint")
        self.endpoint_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.endpoint_combo.activated.connect(self._on_endpoint_activated)
        self.endpoint_combo.currentIndexChanged.connect(self.refresh)
        self.add_endpoint = QPushButton("Add an endpoint…")
        self.add_endpoint.setObjectName(o.add_name)
        self.add_endpoint.setFlat(True)
        self.add_endpoint.setCursor(Qt.CursorShape.PointingHandCursor)
        self.add_endpoint.setStyleSheet("color: palette(link); text-decoration: underline;")
        self.add_endpoint.clicked.connect(lambda: self.ctx.signals.navigate.emit("settings"))
        self.add_endpoint.setVisible(o.add_endpoint_link)
        row = QHBoxLayout()
        row.addWidget(self.endpoint_combo, 1)
        row.addWidget(self.add_endpoint)
        form.addRow("Endpoint", row)

        self.model_combo = QComboBox()
        self.model_combo.setObjectName(o.model_name)
        self.model_combo.setAccessibleName("Model")
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_combo.lineEdit().setPlaceholderText(o.model_placeholder)
        self.model_combo.editTextChanged.connect(self._on_model_edited)
        self.discover = QPushButton(o.discover_text)
        self.discover.setObjectName(o.discover_name)
        self.discover.setAccessibleName("Discover models")
        self.discover.setToolTip("Ask the endpoint for its model list")
        self.discover.clicked.connect(self.discover_models)
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(self.discover)
        form.addRow("Model", row)

        self.model_status = QLabel()
        self.model_status.setObjectName(o.status_name)
        self.model_status.setWordWrap(True)
        form.addRow("", self.model_status)

    # -- reading ---------------------------------------------------------------------------

    @property
    def choices(self) -> tuple[EndpointChoice, ...]:
        return tuple(self._choices)

    def current_endpoint(self) -> EndpointChoice | None:
        i = self.endpoint_combo.currentData()
        if isinstance(i, int) and 0 <= i < len(self._choices):
            return self._choices[i]
        return None

    def model(self) -> str:
        """The model id as typed or chosen, without surrounding blanks."""
        return self.model_combo.currentText().strip()

    def endpoint_url(self, choice: EndpointChoice) -> str:
        """The base URL for a spec (the demo's stand-in until its server runs)."""
        if choice.base_url:
            return choice.base_url
        demo = self._demo()
        if demo is not None and getattr(demo, "running", False):
            return str(demo.ensure_started())  # running: returns at once
        return DEMO_URL_PLACEHOLDER

    def endpoint_memo(self) -> str | None:
        """How "last choices" name the current endpoint: its label, or "demo"."""
        choice = self.current_endpoint()
        if choice is None:
            return None
        return "demo" if choice.demo else choice.label

    # -- the list --------------------------------------------------------------------------

    def _demo(self) -> Any:
        return getattr(self.ctx, "demo", None)

    def reload(self, keep: EndpointChoice | None = None) -> None:
        """Rebuild the endpoint list, keeping the current choice (or ``keep``) selected."""
        explicit = keep is not None
        keep = keep or self.current_endpoint()
        saved = self.ctx.settings.endpoints
        choices = [
            EndpointChoice(e.name, e.kind, e.base_url, e.api_key_name, "saved", e.simulated)
            for e in saved
        ]
        if (self.options.always_offer_demo or not choices) and self._demo() is not None:
            choices.append(self._demo_choice())
        # A duplicated run's own URL stays while it is chosen. The demo is added back only
        # when asked for.
        if (
            keep is not None
            and keep not in choices
            and (keep.source == "spec" or (explicit and keep.demo))
        ):
            choices.append(keep)
        self._choices = choices
        self.endpoint_combo.blockSignals(True)
        self.endpoint_combo.clear()
        for i, choice in enumerate(choices):
            text = choice.label
            if choice.source == "saved" and choice.base_url:
                text = f"{choice.label}  ({choice.base_url})"
            self.endpoint_combo.addItem(text, i)
        if not choices:
            self.endpoint_combo.addItem(NO_ENDPOINT_TEXT, -1)
        index = self._find_choice(keep) if keep is not None else 0
        self.endpoint_combo.setCurrentIndex(max(0, index))
        self.endpoint_combo.blockSignals(False)
        self.add_endpoint.setVisible(self.options.add_endpoint_link and not saved)
        self.refresh()

    @staticmethod
    def _demo_choice() -> EndpointChoice:
        from openbench_desktop.core.demo import DEMO_ENDPOINT_NAME

        return EndpointChoice(DEMO_ENDPOINT_NAME, "openai", None, None, "demo", True)

    def _find_choice(self, choice: EndpointChoice) -> int:
        for i, c in enumerate(self._choices):
            if c.source == choice.source and c.label == choice.label:
                return i
        return -1

    def select_endpoint(self, label: str) -> bool:
        """Choose the endpoint whose name is ``label`` (templates, tests)."""
        for i, choice in enumerate(self._choices):
            if choice.label == label:
                self.endpoint_combo.setCurrentIndex(i)
                return True
        return False

    def select_endpoint_for(self, spec: RunSpec, endpoint: str | None = None) -> None:
        """Choose the endpoint ``spec`` was made with.

        ``endpoint`` names the saved endpoint (or "demo"); without it a simulated spec
        means the demo, and otherwise the endpoint is matched by URL. An unknown URL is
        offered as it is, "… (from the run)".
        """
        url = spec.base_url.rstrip("/")
        on_demo = SIMULATED_TAG in spec.tags or url == DEMO_URL_PLACEHOLDER.rstrip("/")
        wanted: EndpointChoice | None = None
        if endpoint == "demo" or (endpoint is None and on_demo):
            wanted = next((c for c in self._choices if c.demo), None)
            if wanted is None and self._demo() is not None:
                wanted = self._demo_choice()
                self.reload(keep=wanted)
        if wanted is None and endpoint:
            wanted = next(
                (c for c in self._choices if c.source == "saved" and c.label == endpoint), None
            )
        if wanted is None:
            wanted = next(
                (
                    c
                    for c in self._choices
                    if c.base_url and c.base_url.rstrip("/") == url and c.kind == spec.provider
                ),
                None,
            )
        if wanted is None and spec.base_url and spec.base_url != DEMO_URL_PLACEHOLDER:
            wanted = EndpointChoice(
                f"{spec.base_url} {FROM_THE_RUN}",
                spec.provider,
                spec.base_url,
                spec.api_key_name,
                "spec",
            )
            self.reload(keep=wanted)
        if wanted is not None:
            index = self._find_choice(wanted)
            if index >= 0:
                self.endpoint_combo.setCurrentIndex(index)

    # -- reactions -------------------------------------------------------------------------

    @Slot()
    def refresh(self, *_args: object) -> None:
        """Bring the model and the status line in line with the chosen endpoint."""
        from openbench_desktop.core.demo import DEMO_MODEL

        choice = self.current_endpoint()
        previous, self._shown_choice = self._shown_choice, choice
        self.discover.setEnabled(choice is not None)
        simulated = choice is not None and choice.simulated
        if (
            previous is not None
            and previous.simulated
            and not simulated
            and self.model_combo.currentText() == DEMO_MODEL
        ):
            self.model_combo.setEditText("")  # the fake model's id means nothing elsewhere
        if simulated and not self.model_combo.currentText():
            self.model_combo.setEditText(DEMO_MODEL)
        self.show_status(self.options.simulated_note if simulated else "")
        self.changed.emit()

    @Slot(int)
    def _on_endpoint_activated(self, _index: int) -> None:
        """The user picked an endpoint: its models replace the previous endpoint's list."""
        if not self.options.discover_on_pick:
            return
        text = self.model_combo.currentText()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.setEditText(text)
        self.model_combo.blockSignals(False)
        self.discover_models()

    @Slot()
    def _on_model_edited(self, *_args: object) -> None:
        self.changed.emit()

    @Slot()
    def discover_models(self, *_args: object) -> None:
        """Ask the chosen endpoint for its models (the answer fills the model combo)."""
        choice = self.current_endpoint()
        if choice is None:
            self.show_status("Add an endpoint in Settings first.", error=True)
            return
        base_url: str | Callable[[], str]
        if choice.base_url:
            base_url = choice.base_url
        else:
            demo = self._demo()
            if demo is None:
                return
            base_url = demo.ensure_started  # started on the probe's thread, not here
        self.show_status(f"Asking {choice.label} for its models …")
        self.discover.setEnabled(False)
        self._probe_ticket = self.probe.list_models(
            choice.kind, base_url, key_name=choice.api_key_name, secrets=self.ctx.secrets
        )

    @Slot(int, object)
    def _on_probe_finished(self, ticket: int, result: ProbeResult) -> None:
        if ticket != self._probe_ticket:
            return
        self._probe_ticket = None
        self.discover.setEnabled(True)
        if not result.ok:
            self.show_status(f"Could not list models: {result.message}", error=True)
            return
        typed = self.model()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems(list(result.models))
        self.model_combo.blockSignals(False)
        if typed:
            self.model_combo.setEditText(typed)
        elif result.models:
            self.model_combo.setCurrentIndex(0)
        self.changed.emit()
        note = ""
        if typed and result.models and typed not in result.models:
            note = f" '{typed}' is not among them; check the id."
        n = len(result.models)
        self.show_status(
            f"{n} model{'s' if n != 1 else ''} found.{note}", ok=not note, error=bool(note)
        )

    def show_status(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        """Show a line under the model; an empty one takes no room."""
        self.model_status.setText(text)
        quiet = _QUIET_STYLE if self.options.quiet_status else ""
        self.model_status.setStyleSheet(_ERROR_STYLE if error else _OK_STYLE if ok else quiet)
        self._form.setRowVisible(self.model_status, bool(text))
