"""User settings: saved endpoints, the pricing table, run templates, UI choices.

A JSON file under the config folder, written atomically. It never holds a secret: an
endpoint names its key (``api_key_name``), the keyring holds the value.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openbench_desktop.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    kind: str  # "openai" | "anthropic"
    base_url: str
    api_key_name: str | None = None
    simulated: bool = False  # the built-in loopback demo model


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    model: str
    input_per_mtok: float
    output_per_mtok: float


# Public list prices (USD / 1M tokens) as a starting point; users edit them in Settings.
DEFAULT_PRICES: tuple[Price, ...] = (
    Price("gpt-4o", 2.50, 10.00),
    Price("gpt-4o-mini", 0.15, 0.60),
    Price("claude-3-5-sonnet-latest", 3.00, 15.00),
    Price("claude-3-5-haiku-latest", 0.80, 4.00),
)


@dataclass
class Settings:
    endpoints: list[Endpoint] = field(default_factory=list)
    prices: list[Price] = field(default_factory=lambda: list(DEFAULT_PRICES))
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> RunSpec dict
    theme: str = "light"
    last_run: dict[str, Any] = field(default_factory=dict)  # the run setup's last choices
    first_launch_done: bool = False

    def price_for(self, model: str) -> Price | None:
        for price in self.prices:
            if price.model == model:
                return price
        # "gpt-4o-2024-08-06" uses the "gpt-4o" price: the longest matching prefix wins.
        matches = [p for p in self.prices if model.startswith(p.model)]
        return max(matches, key=lambda p: len(p.model)) if matches else None

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "endpoints": [dataclasses.asdict(e) for e in self.endpoints],
            "prices": [dataclasses.asdict(p) for p in self.prices],
            "templates": self.templates,
            "theme": self.theme,
            "last_run": self.last_run,
            "first_launch_done": self.first_launch_done,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        return cls(
            endpoints=[Endpoint(**e) for e in data.get("endpoints", [])],
            prices=[Price(**p) for p in data.get("prices", [])] or list(DEFAULT_PRICES),
            templates=dict(data.get("templates", {})),
            theme=data.get("theme", "light"),
            last_run=dict(data.get("last_run", {})),
            first_launch_done=bool(data.get("first_launch_done", False)),
        )


def estimate_cost_usd(
    price: Price | None, input_tokens: float, output_tokens: float
) -> float | None:
    if price is None:
        return None
    return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6


def load_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        return Settings.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(
            f"{path}: the settings file is damaged ({exc}). Fix it or move it away; "
            "OpenBench will start with defaults."
        ) from None


def save_settings(path: Path, settings: Settings) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(settings.to_dict(), fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
