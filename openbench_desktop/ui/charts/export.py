"""Export a chart as PNG (at a chosen DPI), SVG, and the numbers behind it as CSV.

PNG: pyqtgraph's ``ImageExporter`` renders the plot item scaled by ``dpi / 96`` (Qt's
logical pixel is 1/96 inch), so a chart that is 4 inches wide on screen is 4 inches wide
in print at any DPI, with proportionally finer detail; the DPI is written into the PNG
(``pHYs`` chunk, via ``QImage.setDotsPerMeterX/Y``) so word processors place it at that
size. SVG: pyqtgraph's ``SVGExporter`` (works with the pinned PySide6 6.10.3; broken on
6.11+, see tests/ui/test_qt_pin.py). CSV: ``csv`` module, UTF-8, one header row.

Every file is written to a temporary name beside the target and renamed into place, so a
failed export never leaves a truncated file under the chosen name.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter
from PySide6.QtWidgets import QGraphicsItem

SCREEN_DPI = 96.0
METERS_PER_INCH = 0.0254
FORMATS: tuple[str, ...] = ("png", "svg", "csv")
DEFAULT_DPI = 300


class ExportableChart(Protocol):
    """What the exporters need: a pyqtgraph plot widget that can list its numbers."""

    slug: str

    def getPlotItem(self) -> pg.PlotItem: ...

    def data_table(self) -> tuple[list[str], list[list[object]]]: ...


def _replace_atomically(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def _scaled_with_scene(root: QGraphicsItem) -> Iterator[None]:
    """Let every item under ``root`` scale with the export for the duration.

    Legends set ``ItemIgnoresTransformations`` (so zooming never resizes them); in a
    scaled render that leaves them at screen size and out of place, tiny in a 300 dpi
    image. Cleared during the export, restored after.
    """
    flag = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
    changed: list[QGraphicsItem] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.flags() & flag:
            node.setFlag(flag, False)
            changed.append(node)
        stack.extend(node.childItems())
    try:
        yield
    finally:
        for node in changed:
            node.setFlag(flag, True)


def render_png(item: pg.PlotItem, dpi: float = DEFAULT_DPI) -> bytes:
    """The item as PNG bytes, ``dpi / 96`` times its on-screen size, tagged with ``dpi``."""
    from PySide6.QtCore import QBuffer, QIODevice

    if dpi <= 0:
        raise ValueError("dpi must be positive")
    exporter = ImageExporter(item)
    width = item.sceneBoundingRect().width()
    if width < 1:
        raise ValueError("the chart has no size yet; show it before exporting")
    # Setting the width also sets the height (the exporter keeps the aspect ratio).
    exporter.parameters()["width"] = max(1, round(width * dpi / SCREEN_DPI))
    with _scaled_with_scene(item):
        image = exporter.export(toBytes=True)
    dots_per_meter = round(dpi / METERS_PER_INCH)
    image.setDotsPerMeterX(dots_per_meter)
    image.setDotsPerMeterY(dots_per_meter)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the chart as PNG")
    return bytes(buffer.data().data())


def export_png(
    chart: ExportableChart, path: str | os.PathLike[str], dpi: float = DEFAULT_DPI
) -> Path:
    # A chart that can thicken its cosmetic pens for the render does (CompareChart does).
    scaled = getattr(chart, "scaled_lines", None)
    with scaled(dpi / SCREEN_DPI) if callable(scaled) else contextlib.nullcontext():
        data = render_png(chart.getPlotItem(), dpi)
    return _replace_atomically(Path(path), data)


def export_svg(chart: ExportableChart, path: str | os.PathLike[str]) -> Path:
    data = SVGExporter(chart.getPlotItem()).export(toBytes=True)
    return _replace_atomically(Path(path), bytes(data))


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV text for a table; None is written as an empty cell, floats at full precision."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    return out.getvalue().encode("utf-8")


def export_csv(
    header: Sequence[str], rows: Iterable[Sequence[object]], path: str | os.PathLike[str]
) -> Path:
    return _replace_atomically(Path(path), csv_bytes(header, rows))


def format_for(path: str | os.PathLike[str]) -> str | None:
    """``png``, ``svg`` or ``csv`` from the file name, or None."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


def export_chart(
    chart: ExportableChart,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    dpi: float = DEFAULT_DPI,
) -> Path:
    """One chart to ``path`` as ``fmt`` (default: from the suffix)."""
    fmt = fmt or format_for(path)
    if fmt == "png":
        return export_png(chart, path, dpi)
    if fmt == "svg":
        return export_svg(chart, path)
    if fmt == "csv":
        header, rows = chart.data_table()
        return export_csv(header, rows, path)
    raise ValueError(f"cannot export to {Path(path).name}: choose a .png, .svg or .csv file")


def export_charts(
    charts: Iterable[ExportableChart],
    folder: str | os.PathLike[str],
    dpi: float = DEFAULT_DPI,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Every chart in every format into ``folder`` as ``<slug>.<format>``."""
    out = Path(folder)
    written = []
    for chart in charts:
        for fmt in formats:
            written.append(export_chart(chart, out / f"{chart.slug}.{fmt}", fmt, dpi))
    return written
