"""The run manifest: what is needed to reproduce a run (never a secret)."""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime
from importlib import metadata

from openbench_desktop import __version__
from openbench_desktop.core.domain import RunManifest, RunSpec

# The packages whose versions can change a result or a measurement.
_RECORDED_PACKAGES = (
    "httpx",
    "httpx-sse",
    "tenacity",
    "SQLAlchemy",
    "numpy",
    "scipy",
    "pyarrow",
    "huggingface_hub",
    "jiwer",
    "pocketsphinx",
)


def package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in _RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def build_manifest(
    spec: RunSpec, *, dataset_sha256: str | None, dataset_description: str, n_dataset_samples: int
) -> RunManifest:
    return RunManifest(
        app_version=__version__,
        python_version=sys.version.split()[0],
        platform=platform.platform(),
        package_versions=package_versions(),
        dataset_sha256=dataset_sha256,
        dataset_description=dataset_description,
        n_dataset_samples=n_dataset_samples,
        # RunSpec holds only the *name* of a key, never its value.
        config=spec.to_dict(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
