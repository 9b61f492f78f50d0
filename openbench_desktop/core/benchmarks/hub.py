"""Fetching a dataset split from the Hugging Face Hub as Parquet files, with a local cache.

Where the files come from: the repository's own Parquet files on ``main`` when it has
them in one of the layouts ``datasets``/``push_to_hub`` write (``{config}/{split}-00000-of-
00001.parquet``, ``data/{split}-*.parquet``...), otherwise the Parquet conversion the
Hub keeps for every public dataset on the ``refs/convert/parquet`` branch
(``{config}/{split}/0000.parquet``). Both ``openai/gsm8k`` (configs ``main``,
``socratic``) and ``cais/mmlu`` (``all``, ``abstract_algebra``...) have the former.

The cache is huggingface_hub's own layout under the folder the caller gives
(``AppPaths.hub_cache``): ``datasets--openai--gsm8k/refs/main`` holds the commit and
``datasets--openai--gsm8k/snapshots/<commit>/main/test-00000-of-00001.parquet`` the file.

**Cache first.** A split already in the cache is used without asking the network: a
benchmark should run on the same bytes every time (the manifest records their SHA-256),
and offline starts must be instant rather than wait out huggingface_hub's retries (about
20 s per call when the host is unreachable). ``refresh=True`` asks the Hub for the
current files. When the Hub cannot be reached (no network, ``HF_HUB_OFFLINE=1``, a 5xx),
a cached copy is used if there is one; otherwise the error says so and where it looked.

Network access goes through a small :class:`HubSource` so tests can serve files from a
local folder; no test touches the network.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from openbench_desktop.core.benchmarks.readers import Record, read_parquet, sha256_files
from openbench_desktop.core.errors import DatasetError

__all__ = [
    "CONVERTED_REVISION",
    "HubSource",
    "HubSplit",
    "HubUnreachableError",
    "HuggingFaceSource",
    "cached_split",
    "fetch_split",
    "split_files",
]

log = logging.getLogger(__name__)

MAIN_REVISION = "main"
CONVERTED_REVISION = "refs/convert/parquet"
_REVISIONS = (MAIN_REVISION, CONVERTED_REVISION)
DEFAULT_CONFIG = "default"

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?")
_SHARD_SUFFIX = re.compile(r"-\d+-of-\d+$")


class HubUnreachableError(Exception):
    """The Hub could not be asked (no network, offline mode, server error)."""


class HubSource(Protocol):
    """Where Hub files come from. The default talks to huggingface.co through huggingface_hub."""

    @property
    def cache_dir(self) -> Path: ...

    def list_files(self, repo_id: str, revision: str) -> list[str]:
        """Every file path in the dataset repo at ``revision``; [] if the revision is absent.

        Raises HubUnreachableError when the Hub cannot be asked and DatasetError when the
        repository does not exist (or is private/gated without a token).
        """
        ...

    def download(self, repo_id: str, filename: str, revision: str) -> Path:
        """Fetch one file into the cache and return its local path."""
        ...


@dataclass(frozen=True, slots=True)
class HubSplit:
    """One split of one config, as local Parquet files in reading order."""

    repo_id: str
    config: str
    split: str
    revision: str
    files: tuple[Path, ...]

    def describe(self) -> str:
        return f"{self.repo_id}:{self.config}:{self.split}"

    def sha256(self) -> str:
        return sha256_files(self.files)

    def records(self) -> Iterator[tuple[Path, int, Record]]:
        """``(file, row, record)`` across every shard, in order."""
        for path in self.files:
            for row, record in read_parquet(path):
                yield path, row, record


# --- which files hold a split ------------------------------------------------------------


def _config_and_split(filename: str) -> tuple[str, str] | None:
    """The (config, split) a Parquet file belongs to in the Hub's layouts, else None."""
    path = PurePosixPath(filename)
    if path.suffix != ".parquet":
        return None
    parts = path.parts
    stem = _SHARD_SUFFIX.sub("", path.stem)
    if len(parts) == 3 and path.stem.isdigit():
        # refs/convert/parquet: {config}/{split}/0000.parquet, or partial-{split} when the
        # conversion stopped early for a very large split.
        return parts[0], parts[1].removeprefix("partial-")
    if len(parts) == 3 and parts[0] == "data":
        return parts[1], stem.rsplit("-", 1)[-1]  # data/{config}/{split}-*.parquet
    if len(parts) == 2:
        # {config}/{split}-00000-of-00001.parquet, {config}/{name}-{split}.parquet,
        # and data/{split}-*.parquet for a repo with one unnamed config.
        config = DEFAULT_CONFIG if parts[0] == "data" else parts[0]
        return config, stem.rsplit("-", 1)[-1]
    if len(parts) == 1:
        return DEFAULT_CONFIG, stem.rsplit("-", 1)[-1]
    return None


def _layout(files: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """config -> split -> sorted files."""
    layout: dict[str, dict[str, list[str]]] = {}
    for filename in files:
        found = _config_and_split(filename)
        if found:
            config, split = found
            layout.setdefault(config, {}).setdefault(split, []).append(filename)
    for splits in layout.values():
        for names in splits.values():
            names.sort()
    return layout


def _resolve_config(layout: dict[str, dict[str, list[str]]], config: str | None) -> str | None:
    if config is not None:
        return config
    if len(layout) == 1:
        return next(iter(layout))
    return DEFAULT_CONFIG if DEFAULT_CONFIG in layout else None


def split_files(files: Iterable[str], config: str | None, split: str) -> list[str]:
    """The files of ``config``/``split`` among a repo listing (sorted), or [].

    ``config=None`` means the repo's only config, else its ``default`` one.
    """
    layout = _layout(files)
    resolved = _resolve_config(layout, config)
    if resolved is None:
        return []
    return layout.get(resolved, {}).get(split, [])


def _describe_layout(layout: dict[str, dict[str, list[str]]]) -> str:
    if not layout:
        return "no Parquet files"
    return "; ".join(
        f"{config}: {', '.join(sorted(splits))}" for config, splits in sorted(layout.items())
    )


# --- the cache -----------------------------------------------------------------------------


def _repo_folder(cache_dir: Path, repo_id: str) -> Path:
    # huggingface_hub's naming: datasets--{owner}--{name}
    return cache_dir / "--".join(["datasets", *repo_id.split("/")])


def _cached_files(cache_dir: Path, repo_id: str, revision: str) -> dict[str, Path]:
    """Files of ``revision`` present in the cache: repo-relative name -> local path."""
    folder = _repo_folder(cache_dir, repo_id)
    ref = folder / "refs" / revision
    try:
        commit = ref.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return {}
    snapshot = folder / "snapshots" / commit
    if not commit or not snapshot.is_dir():
        return {}
    return {
        path.relative_to(snapshot).as_posix(): path
        for path in snapshot.rglob("*.parquet")
        if path.is_file()  # a dangling symlink is a file whose blob was deleted
    }


def cached_split(
    cache_dir: Path, repo_id: str, *, config: str | None, split: str
) -> HubSplit | None:
    """The split from the cache alone (no network), or None if it is not all there."""
    for revision in _REVISIONS:
        cached = _cached_files(cache_dir, repo_id, revision)
        layout = _layout(cached)
        # Without a config name, resolve as online (the only config, else "default"); the
        # cache can only miss a config the Hub has, never invent one.
        resolved = _resolve_config(layout, config)
        names = layout.get(resolved, {}).get(split, []) if resolved else []
        if names:
            assert resolved is not None
            files = tuple(cached[name] for name in names)
            return HubSplit(repo_id, resolved, split, revision, files)
    return None


# --- the Hub -------------------------------------------------------------------------------

_NETWORK_ERROR_NAMES = frozenset(
    {"ConnectError", "ConnectTimeout", "TimeoutException", "TransportError", "NetworkError"}
)


def _is_network_error(exc: BaseException) -> bool:
    # huggingface_hub has used requests, then httpx, then its own httpx2 fork; match the
    # transport errors by name rather than import each library.
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled | LocalEntryNotFoundError | ConnectionError):
        return True
    if isinstance(exc, TimeoutError):
        return True
    return any(cls.__name__ in _NETWORK_ERROR_NAMES for cls in type(exc).__mro__)


class HuggingFaceSource:
    """The real Hub, through huggingface_hub (imported lazily; it pulls in an HTTP stack).

    ``endpoint`` defaults to huggingface_hub's (``HF_ENDPOINT``, for mirrors); ``token``
    to its usual lookup (``HF_TOKEN`` or a saved login), needed for gated datasets.
    """

    def __init__(
        self, cache_dir: Path, *, endpoint: str | None = None, token: str | None = None
    ) -> None:
        self._cache_dir = Path(cache_dir)
        self._endpoint = endpoint
        self._token = token

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir

    def _translate(self, exc: Exception, repo_id: str) -> Exception:
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            RepositoryNotFoundError,
        )

        if isinstance(exc, GatedRepoError):
            return DatasetError(
                f"{repo_id} is gated on the Hugging Face Hub: accept its terms on the "
                "website and log in (HF_TOKEN) to download it"
            )
        if isinstance(exc, RepositoryNotFoundError):
            return DatasetError(
                f"no dataset '{repo_id}' on the Hugging Face Hub (or it is private: "
                "log in with HF_TOKEN)"
            )
        if _is_network_error(exc):
            return HubUnreachableError(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, HfHubHTTPError):
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status is None or status >= 500 or status == 429:
                return HubUnreachableError(f"the Hub answered {status or 'with an error'}")
            return DatasetError(f"the Hugging Face Hub refused {repo_id}: {exc}")
        return exc

    def list_files(self, repo_id: str, revision: str) -> list[str]:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RevisionNotFoundError

        api = HfApi(endpoint=self._endpoint, token=self._token)
        try:
            return api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
        except RevisionNotFoundError:
            return []  # e.g. no refs/convert/parquet branch
        except Exception as exc:
            raise self._translate(exc, repo_id) from exc

    def download(self, repo_id: str, filename: str, revision: str) -> Path:
        from huggingface_hub import hf_hub_download

        try:
            local = hf_hub_download(
                repo_id,
                filename,
                repo_type="dataset",
                revision=revision,
                cache_dir=self._cache_dir,
                endpoint=self._endpoint,
                token=self._token,
            )
        except Exception as exc:
            raise self._translate(exc, repo_id) from exc
        return Path(str(local))


def _check_repo_id(repo_id: str) -> None:
    if not _REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise DatasetError(
            f"'{repo_id}' is not a Hugging Face dataset id (expected owner/name, "
            "e.g. openai/gsm8k)"
        )


def _fetch_online(source: HubSource, repo_id: str, config: str | None, split: str) -> HubSplit:
    layouts: list[tuple[str, dict[str, dict[str, list[str]]]]] = []
    for revision in _REVISIONS:
        listing = source.list_files(repo_id, revision)
        layout = _layout(listing)
        layouts.append((revision, layout))
        resolved = _resolve_config(layout, config)
        names: Sequence[str] = layout.get(resolved, {}).get(split, []) if resolved else []
        if names:
            assert resolved is not None
            files = tuple(source.download(repo_id, name, revision) for name in names)
            return HubSplit(repo_id, resolved, split, revision, files)
    # Name what exists, from the branch that has the most to offer.
    revision, layout = max(layouts, key=lambda item: len(item[1]))
    wanted = f"config '{config}', split '{split}'" if config else f"split '{split}'"
    if config is None and len(layout) > 1:
        wanted = f"split '{split}' (this dataset has several configs: choose one)"
    raise DatasetError(
        f"{repo_id} has no Parquet data for {wanted}. "
        f"Available ({revision}): {_describe_layout(layout)}"
    )


def fetch_split(
    repo_id: str,
    *,
    config: str | None,
    split: str,
    cache_dir: Path,
    source: HubSource | None = None,
    refresh: bool = False,
) -> HubSplit:
    """Local Parquet files for ``repo_id`` / ``config`` / ``split`` (see the module doc).

    Raises DatasetError for an unknown repo, config or split, and when the Hub cannot be
    reached and the split is not in ``cache_dir``.
    """
    _check_repo_id(repo_id)
    cache_dir = Path(cache_dir)
    source = source if source is not None else HuggingFaceSource(cache_dir)
    if not refresh:
        cached = cached_split(cache_dir, repo_id, config=config, split=split)
        if cached is not None:
            return cached
    try:
        return _fetch_online(source, repo_id, config, split)
    except HubUnreachableError as exc:
        cached = cached_split(cache_dir, repo_id, config=config, split=split)
        if cached is not None:
            log.warning("Hub unreachable (%s); using the cached copy of %s", exc, repo_id)
            return cached
        what = f"{repo_id}:{config}:{split}" if config else f"{repo_id}:{split}"
        raise DatasetError(
            f"cannot download {repo_id}: no network and not in the cache at {cache_dir} "
            f"(wanted {what}; {exc})"
        ) from None
