"""Render the app icon from ``resources/openbench-desktop.svg`` into every format we ship.

    .venv/bin/python packaging/make_icons.py           # rewrite resources/icons/
    .venv/bin/python packaging/make_icons.py --check   # exit 1 if the committed files are stale

Writes, under ``resources/icons/``:

- ``hicolor/<N>x<N>/apps/openbench-desktop.png`` for N in 16..256: the freedesktop icon
  theme layout, so the Linux install script copies the tree as it is;
- ``openbench-desktop.ico`` (Windows: the .exe and the Inno Setup installer), PNG-compressed
  entries 16..256, which Windows Vista and later read;
- ``openbench-desktop.icns`` (macOS: the .app bundle), PNG entries 16..1024.

Qt's QSvgRenderer draws the PNGs, so the result depends only on the pinned PySide6, not on
Inkscape or ImageMagick being installed. The ICO and ICNS containers are written here by
hand (a few bytes of header around the PNGs): Qt's own writers store one size per file.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "openbench-desktop.svg"
ICONS = ROOT / "resources" / "icons"
NAME = "openbench-desktop"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size (several types share a size: the
# "@2x" retina variants of the smaller point sizes).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic13", 256),
    (b"ic08", 256),
    (b"ic14", 512),
    (b"ic09", 512),
    (b"ic10", 1024),
)


def render_png(renderer: object, size: int) -> bytes:
    """The SVG drawn into a transparent ``size``x``size`` image, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)  # type: ignore[attr-defined]
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.convertToFormat(QImage.Format.Format_ARGB32).save(buffer, "PNG"):
        raise RuntimeError(f"could not encode a {size}px PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICO file whose entries are the given PNGs (ICONDIR + ICONDIRENTRY[] + data)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        png = pngs[size]
        # Width/height 0 means 256 in the ICO format.
        entries += struct.pack(
            "<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset + len(blobs)
        )
        blobs += png
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICNS file: the magic, the total length, then (type, length, PNG) elements."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def render_all(out_dir: Path) -> list[Path]:
    """Render every icon file under ``out_dir``; returns the paths written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"error: {SVG} is not a valid SVG")
    wanted = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES})
    pngs = {size: render_png(renderer, size) for size in wanted}
    written: list[Path] = []
    for size in PNG_SIZES:
        path = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{NAME}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pngs[size])
        written.append(path)
    ico = out_dir / f"{NAME}.ico"
    ico.write_bytes(ico_bytes({size: pngs[size] for size in ICO_SIZES}))
    icns = out_dir / f"{NAME}.icns"
    icns.write_bytes(icns_bytes(pngs))
    return [*written, ico, icns]


def _pixels_close(a: Path, b: Path, tolerance: int = 2) -> bool:
    """Same size and every channel within ``tolerance``: a new CPU's rounding is not stale."""
    from PySide6.QtGui import QImage

    ia = QImage(str(a)).convertToFormat(QImage.Format.Format_RGBA8888)
    ib = QImage(str(b)).convertToFormat(QImage.Format.Format_RGBA8888)
    if ia.isNull() or ib.isNull() or ia.size() != ib.size():
        return False
    da = bytes(ia.constBits())[: ia.sizeInBytes()]
    db = bytes(ib.constBits())[: ib.sizeInBytes()]
    return all(abs(x - y) <= tolerance for x, y in zip(da, db, strict=True))


def check() -> int:
    """1 (and the stale names) when the committed icons differ from a fresh render."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = render_all(Path(tmp))
        stale = []
        for path in fresh:
            committed = ICONS / path.relative_to(tmp)
            if not committed.is_file():
                stale.append(committed)
            elif path.suffix == ".png":
                if not _pixels_close(path, committed):
                    stale.append(committed)
            elif committed.stat().st_size <= 8:
                stale.append(committed)
    for path in stale:
        print(f"stale or missing: {path.relative_to(ROOT)}", file=sys.stderr)
    if stale:
        print("run: .venv/bin/python packaging/make_icons.py", file=sys.stderr)
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    for path in render_all(ICONS):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
