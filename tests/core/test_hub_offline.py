"""Hugging Face Hub splits without the network: file layouts, the local cache, and errors.

No test here talks to huggingface.co. The real client (``HuggingFaceSource``) is replaced for
every test by one that behaves like a machine with no network, and where a test needs an
online Hub it passes ``FolderHub``: a test double that serves Parquet files from tmp_path and
"downloads" them into the cache in huggingface_hub's layout.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from openbench_desktop.core.benchmarks import hub
from openbench_desktop.core.benchmarks.gsm8k import Gsm8kBenchmark
from openbench_desktop.core.benchmarks.hub import (
    CONVERTED_REVISION,
    HubSplit,
    HubUnreachableError,
    HuggingFaceSource,
    cached_split,
    fetch_split,
    split_files,
)
from openbench_desktop.core.benchmarks.multiple_choice import MultipleChoiceBenchmark
from openbench_desktop.core.benchmarks.readers import sha256_files
from openbench_desktop.core.benchmarks.sources import resolve_source
from openbench_desktop.core.domain import DatasetRef
from openbench_desktop.core.errors import DatasetError

GSM8K_FILES = [
    ".gitattributes",
    "README.md",
    "main/test-00000-of-00001.parquet",
    "main/train-00000-of-00001.parquet",
    "socratic/test-00000-of-00001.parquet",
    "socratic/train-00000-of-00001.parquet",
]
MMLU_FILES = [
    ".gitattributes",
    "README.md",
    "dataset_infos.json",
    "abstract_algebra/dev-00000-of-00001.parquet",
    "abstract_algebra/test-00000-of-00001.parquet",
    "abstract_algebra/validation-00000-of-00001.parquet",
    "all/auxiliary_train-00000-of-00001.parquet",
    "all/dev-00000-of-00001.parquet",
    "all/test-00000-of-00001.parquet",
    "all/validation-00000-of-00001.parquet",
    "anatomy/test-00000-of-00001.parquet",
    "auxiliary_train/train-00000-of-00001.parquet",
]
CONVERTED_FILES = [  # the refs/convert/parquet branch
    "default/test/0000.parquet",
    "default/train/0000.parquet",
    "default/train/0001.parquet",
    "big/partial-train/0000.parquet",
]
DATA_FOLDER_FILES = [  # push_to_hub with a single, unnamed config
    "README.md",
    "data/train-00001-of-00002.parquet",
    "data/train-00000-of-00002.parquet",
    "data/test-00000-of-00001.parquet",
    "data/test.csv",
]
NAMED_DATA_FILES = ["data/en/test-00000-of-00001.parquet", "data/fr/test-00000-of-00001.parquet"]

MMLU_ROWS: list[dict[str, Any]] = [
    {
        "question": "Find the degree of Q(sqrt(2)) over Q.",
        "subject": "abstract_algebra",
        "choices": ["0", "2", "4", "6"],
        "answer": 1,
    },
    {
        "question": "Which bone is the longest in the human body?",
        "subject": "anatomy",
        "choices": ["Humerus", "Tibia", "Femur", "Radius"],
        "answer": 2,
    },
]


class OfflineSource:
    """What the real client does with no network: every call is HubUnreachableError."""

    instances: ClassVar[list[OfflineSource]] = []

    def __init__(self, cache_dir: Path, **_: object) -> None:
        self._cache_dir = Path(cache_dir)
        self.calls = 0
        OfflineSource.instances.append(self)

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir

    def list_files(self, repo_id: str, revision: str) -> list[str]:
        self.calls += 1
        raise HubUnreachableError("ConnectError: network disabled in tests")

    def download(self, repo_id: str, filename: str, revision: str) -> Path:
        self.calls += 1
        raise HubUnreachableError("ConnectError: network disabled in tests")


class FolderHub:
    """A Hub served from ``root/<owner>/<name>/<revision>/...`` (a test double for the network).

    Downloads are copied into ``cache_dir`` the way huggingface_hub lays out its cache, so a
    later offline call finds them there.
    """

    def __init__(self, root: Path, cache_dir: Path) -> None:
        self.root = root
        self._cache_dir = cache_dir
        self.calls: list[tuple[str, str, str]] = []

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir

    def list_files(self, repo_id: str, revision: str) -> list[str]:
        self.calls.append(("list", repo_id, revision))
        if not (self.root / repo_id).is_dir():
            raise DatasetError(f"no dataset '{repo_id}' on the Hugging Face Hub")
        base = self.root / repo_id / revision
        if not base.is_dir():
            return []
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    def download(self, repo_id: str, filename: str, revision: str) -> Path:
        self.calls.append(("download", repo_id, filename))
        source = self.root / repo_id / revision / filename
        commit = "c0ffee" + str(len(revision))
        repo_folder = self._cache_dir / ("datasets--" + repo_id.replace("/", "--"))
        ref = repo_folder / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit, encoding="utf-8")
        target = repo_folder / "snapshots" / commit / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the default Hub client unable to reach anything, whatever a test does."""
    OfflineSource.instances = []
    monkeypatch.setattr(hub, "HuggingFaceSource", OfflineSource)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "hub-cache"
    folder.mkdir()
    return folder


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _seed_cache(
    cache_dir: Path,
    repo_id: str,
    files: dict[str, list[dict[str, Any]]],
    *,
    revision: str = "main",
    commit: str = "3f4e5d6c7b8a",
) -> dict[str, Path]:
    """Files in the cache as huggingface_hub leaves them: refs/<revision> and a snapshot."""
    folder = cache_dir / ("datasets--" + repo_id.replace("/", "--"))
    ref = folder / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit + "\n", encoding="utf-8")
    return {
        name: _write_parquet(folder / "snapshots" / commit / name, rows)
        for name, rows in files.items()
    }


@pytest.fixture(scope="module")
def gsm8k_head(gsm8k_path: Path) -> list[dict[str, Any]]:
    with gsm8k_path.open(encoding="utf-8") as handle:
        return [json.loads(next(handle)) for _ in range(30)]


# --- which files hold a split ------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "config", "split", "expected"),
    [
        (GSM8K_FILES, "main", "test", ["main/test-00000-of-00001.parquet"]),
        (GSM8K_FILES, "socratic", "train", ["socratic/train-00000-of-00001.parquet"]),
        (GSM8K_FILES, "main", "validation", []),
        (GSM8K_FILES, "missing", "test", []),
        # Two configs and none named "default": the caller must choose.
        (GSM8K_FILES, None, "test", []),
        (MMLU_FILES, "all", "test", ["all/test-00000-of-00001.parquet"]),
        (MMLU_FILES, "all", "auxiliary_train", ["all/auxiliary_train-00000-of-00001.parquet"]),
        (MMLU_FILES, "abstract_algebra", "dev", ["abstract_algebra/dev-00000-of-00001.parquet"]),
        (MMLU_FILES, "anatomy", "validation", []),
        (CONVERTED_FILES, "default", "test", ["default/test/0000.parquet"]),
        (
            CONVERTED_FILES,
            "default",
            "train",
            ["default/train/0000.parquet", "default/train/0001.parquet"],
        ),
        (CONVERTED_FILES, "big", "train", ["big/partial-train/0000.parquet"]),
        (
            DATA_FOLDER_FILES,
            None,
            "train",
            ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"],
        ),
        (DATA_FOLDER_FILES, "default", "test", ["data/test-00000-of-00001.parquet"]),
        (NAMED_DATA_FILES, "fr", "test", ["data/fr/test-00000-of-00001.parquet"]),
        (NAMED_DATA_FILES, None, "test", []),
        (["test.parquet", "train.parquet"], None, "test", ["test.parquet"]),
        (["README.md", "data.csv"], None, "test", []),
        ([], "main", "test", []),
    ],
)
def test_split_files(files: list[str], config: str | None, split: str, expected: list[str]) -> None:
    assert split_files(files, config, split) == expected


def test_split_files_with_a_single_config_needs_no_name() -> None:
    only_main = [name for name in GSM8K_FILES if not name.startswith("socratic/")]
    assert split_files(only_main, None, "test") == ["main/test-00000-of-00001.parquet"]


# --- the cache alone ---------------------------------------------------------------------


def test_cached_split_in_huggingface_layout(cache: Path, gsm8k_head: list[dict]) -> None:
    written = _seed_cache(cache, "openai/gsm8k", {"main/test-00000-of-00001.parquet": gsm8k_head})
    found = cached_split(cache, "openai/gsm8k", config="main", split="test")
    assert found == HubSplit(
        "openai/gsm8k", "main", "test", "main", (written["main/test-00000-of-00001.parquet"],)
    )
    assert found.describe() == "openai/gsm8k:main:test"
    assert found.sha256() == sha256_files(found.files)
    records = list(found.records())
    assert [row for _, row, _ in records] == list(range(1, 31))
    assert [record for _, _, record in records] == gsm8k_head


def test_cached_split_reads_shards_in_order(cache: Path) -> None:
    _seed_cache(
        cache,
        "someone/sharded",
        {
            "data/test-00001-of-00002.parquet": [{"n": 3}, {"n": 4}],
            "data/test-00000-of-00002.parquet": [{"n": 1}, {"n": 2}],
        },
    )
    found = cached_split(cache, "someone/sharded", config=None, split="test")
    assert found is not None
    assert found.config == "default"
    assert [path.name for path in found.files] == [
        "test-00000-of-00002.parquet",
        "test-00001-of-00002.parquet",
    ]
    assert [(row, record["n"]) for _, row, record in found.records()] == [
        (1, 1),
        (2, 2),
        (1, 3),
        (2, 4),
    ]


def test_cached_split_falls_back_to_the_converted_branch(cache: Path) -> None:
    _seed_cache(
        cache,
        "someone/csv-only",
        {"default/test/0000.parquet": [{"question": "q"}]},
        revision=CONVERTED_REVISION,
    )
    found = cached_split(cache, "someone/csv-only", config=None, split="test")
    assert found is not None
    assert (found.config, found.revision) == ("default", CONVERTED_REVISION)
    ref = cache / "datasets--someone--csv-only" / "refs" / "refs" / "convert" / "parquet"
    assert ref.is_file()


@pytest.mark.parametrize(
    ("config", "split"),
    [("main", "train"), ("socratic", "test"), (None, "validation")],
)
def test_cached_split_misses_what_is_not_there(
    cache: Path, gsm8k_head: list[dict], config: str | None, split: str
) -> None:
    _seed_cache(cache, "openai/gsm8k", {"main/test-00000-of-00001.parquet": gsm8k_head})
    assert cached_split(cache, "openai/gsm8k", config=config, split=split) is None


def test_cached_split_with_a_broken_cache(cache: Path, gsm8k_head: list[dict]) -> None:
    assert cached_split(cache, "openai/gsm8k", config="main", split="test") is None
    folder = cache / "datasets--openai--gsm8k"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("deadbeef", encoding="utf-8")  # no such snapshot
    assert cached_split(cache, "openai/gsm8k", config="main", split="test") is None
    (folder / "refs" / "main").write_bytes(b"\xff\xfe")  # not text
    assert cached_split(cache, "openai/gsm8k", config="main", split="test") is None


def test_cached_split_ignores_a_deleted_blob(cache: Path, gsm8k_head: list[dict]) -> None:
    # huggingface_hub's snapshots are symlinks into blobs/; a cleaned blob leaves a dangling link.
    folder = cache / "datasets--openai--gsm8k"
    blob = _write_parquet(folder / "blobs" / "0a1b2c", gsm8k_head)
    snapshot = folder / "snapshots" / "abc123" / "main" / "test-00000-of-00001.parquet"
    snapshot.parent.mkdir(parents=True)
    try:
        snapshot.symlink_to(blob)
    except OSError:
        pytest.skip("symlinks are not available here")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("abc123", encoding="utf-8")
    assert cached_split(cache, "openai/gsm8k", config="main", split="test") is not None
    blob.unlink()
    assert cached_split(cache, "openai/gsm8k", config="main", split="test") is None


# --- fetching: cache first, the Hub when needed ----------------------------------------------


def test_cache_is_used_without_asking_the_hub(cache: Path, gsm8k_head: list[dict]) -> None:
    _seed_cache(cache, "openai/gsm8k", {"main/test-00000-of-00001.parquet": gsm8k_head})
    source = FolderHub(cache.parent / "empty-hub", cache)
    found = fetch_split("openai/gsm8k", config="main", split="test", cache_dir=cache, source=source)
    assert found.describe() == "openai/gsm8k:main:test"
    assert source.calls == []


def test_unreachable_hub_and_empty_cache_is_a_clear_error(cache: Path) -> None:
    with pytest.raises(DatasetError) as info:
        fetch_split("openai/gsm8k", config="main", split="test", cache_dir=cache)
    message = str(info.value)
    assert message.startswith("cannot download openai/gsm8k: no network and not in the cache at ")
    assert str(cache) in message
    assert "wanted openai/gsm8k:main:test" in message
    assert "\n" not in message
    assert info.value.__cause__ is None
    # It did try (once), through the default client, which the fixture made offline.
    assert [source.calls for source in OfflineSource.instances] == [1]


def test_unreachable_hub_with_refresh_uses_the_cache(
    cache: Path, gsm8k_head: list[dict], caplog: pytest.LogCaptureFixture
) -> None:
    _seed_cache(cache, "openai/gsm8k", {"main/test-00000-of-00001.parquet": gsm8k_head})
    with caplog.at_level(logging.WARNING, logger=hub.__name__):
        found = fetch_split(
            "openai/gsm8k", config="main", split="test", cache_dir=cache, refresh=True
        )
    assert found.config == "main"
    assert "using the cached copy of openai/gsm8k" in caplog.text


def test_download_then_offline(tmp_path: Path, cache: Path, gsm8k_head: list[dict]) -> None:
    root = tmp_path / "hub"
    _write_parquet(root / "openai/gsm8k/main/main/test-00000-of-00001.parquet", gsm8k_head)
    _write_parquet(root / "openai/gsm8k/main/socratic/test-00000-of-00001.parquet", gsm8k_head)
    (root / "openai/gsm8k/main/README.md").write_text("# GSM8K", encoding="utf-8")
    online = FolderHub(root, cache)
    first = fetch_split("openai/gsm8k", config="main", split="test", cache_dir=cache, source=online)
    assert online.calls == [
        ("list", "openai/gsm8k", "main"),
        ("download", "openai/gsm8k", "main/test-00000-of-00001.parquet"),
    ]
    assert first.revision == "main"
    assert all(path.is_relative_to(cache) for path in first.files)

    # Offline now: the same bytes come from the cache, without a call.
    again = fetch_split("openai/gsm8k", config="main", split="test", cache_dir=cache)
    assert again == first
    assert again.sha256() == first.sha256()
    assert [source.calls for source in OfflineSource.instances] == [0]


def test_falls_back_to_the_converted_branch(
    tmp_path: Path, cache: Path, gsm8k_head: list[dict]
) -> None:
    root = tmp_path / "hub"
    (root / "someone/csv-only/main").mkdir(parents=True)
    (root / "someone/csv-only/main/test.csv").write_text("question,answer\n", encoding="utf-8")
    _write_parquet(
        root / "someone/csv-only" / CONVERTED_REVISION / "default/test/0000.parquet", gsm8k_head
    )
    found = fetch_split(
        "someone/csv-only",
        config=None,
        split="test",
        cache_dir=cache,
        source=FolderHub(root, cache),
    )
    assert (found.config, found.revision) == ("default", CONVERTED_REVISION)
    assert len(list(found.records())) == 30
    # ...and a later offline call finds it in the cache too.
    assert cached_split(cache, "someone/csv-only", config=None, split="test") == found


@pytest.mark.parametrize(
    ("config", "split", "fragment"),
    [
        ("main", "validation", "config 'main', split 'validation'"),
        ("nope", "test", "config 'nope', split 'test'"),
        (None, "test", "split 'test' (this dataset has several configs: choose one)"),
    ],
)
def test_unknown_config_or_split_lists_what_exists(
    tmp_path: Path,
    cache: Path,
    gsm8k_head: list[dict],
    config: str | None,
    split: str,
    fragment: str,
) -> None:
    root = tmp_path / "hub"
    for name in GSM8K_FILES:
        if name.endswith(".parquet"):
            _write_parquet(root / "openai/gsm8k/main" / name, gsm8k_head[:1])
    with pytest.raises(DatasetError) as info:
        fetch_split(
            "openai/gsm8k",
            config=config,
            split=split,
            cache_dir=cache,
            source=FolderHub(root, cache),
        )
    message = str(info.value)
    assert message.startswith("openai/gsm8k has no Parquet data for ")
    assert fragment in message
    assert message.endswith("Available (main): main: test, train; socratic: test, train")


def test_unknown_repository(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(DatasetError, match="no dataset 'nobody/nothing'"):
        fetch_split(
            "nobody/nothing",
            config=None,
            split="test",
            cache_dir=cache,
            source=FolderHub(tmp_path / "hub", cache),
        )


@pytest.mark.parametrize("repo_id", ["", "../etc/passwd", "a/b/c", "owner/..", "has space/x"])
def test_invalid_repo_id(cache: Path, repo_id: str) -> None:
    with pytest.raises(DatasetError, match="is not a Hugging Face dataset id"):
        fetch_split(repo_id, config=None, split="test", cache_dir=cache)
    assert OfflineSource.instances == []


# --- the benchmarks on Hub ids, offline ------------------------------------------------------


def test_gsm8k_hub_id_from_the_cache(cache: Path, gsm8k_head: list[dict]) -> None:
    written = _seed_cache(cache, "openai/gsm8k", {"main/test-00000-of-00001.parquet": gsm8k_head})
    loaded = Gsm8kBenchmark(hub_cache=cache).load(DatasetRef(hub_id="openai/gsm8k"))
    assert loaded.description == "openai/gsm8k:main:test"
    assert loaded.sha256 == sha256_files(written.values())
    assert len(loaded.samples) == 30
    assert [s.expected for s in loaded.samples[:3]] == ["18", "3", "70000"]
    assert all(source.calls == 0 for source in OfflineSource.instances)


def test_mmlu_hub_id_from_the_cache(cache: Path) -> None:
    _seed_cache(cache, "cais/mmlu", {"all/test-00000-of-00001.parquet": MMLU_ROWS})
    loaded = MultipleChoiceBenchmark(hub_cache=cache).load(DatasetRef(hub_id="cais/mmlu"))
    assert loaded.description == "cais/mmlu:all:test"
    assert [s.expected for s in loaded.samples] == ["B", "C"]
    assert loaded.samples[1].metadata == {
        "choices": ("Humerus", "Tibia", "Femur", "Radius"),
        "subject": "anatomy",
    }


def test_mmlu_subject_config_and_split_from_the_reference(cache: Path) -> None:
    _seed_cache(
        cache,
        "cais/mmlu",
        {
            "all/test-00000-of-00001.parquet": MMLU_ROWS,
            "anatomy/validation-00000-of-00001.parquet": MMLU_ROWS[1:],
        },
    )
    ref = DatasetRef(hub_id="cais/mmlu", hub_config="anatomy", split="validation")
    loaded = MultipleChoiceBenchmark(hub_cache=cache).load(ref)
    assert loaded.description == "cais/mmlu:anatomy:validation"
    assert [s.expected for s in loaded.samples] == ["C"]


def test_benchmark_hub_id_offline_without_cache(cache: Path) -> None:
    with pytest.raises(DatasetError) as info:
        Gsm8kBenchmark(hub_cache=cache).load(DatasetRef(hub_id="openai/gsm8k"))
    assert "cannot download openai/gsm8k: no network and not in the cache" in str(info.value)
    assert "openai/gsm8k:main:test" in str(info.value)


def test_hub_id_without_a_cache_folder() -> None:
    with pytest.raises(DatasetError, match="no cache folder was configured"):
        resolve_source(DatasetRef(hub_id="openai/gsm8k"), hub_cache=None)


def test_file_and_hub_id_together(cache: Path) -> None:
    with pytest.raises(DatasetError, match="both a file and a Hugging Face id"):
        resolve_source(DatasetRef(path="x.jsonl", hub_id="openai/gsm8k"), hub_cache=cache)


# --- the real client's error translation (no request is made) --------------------------------


def _response(status: int) -> SimpleNamespace:
    return SimpleNamespace(status_code=status, headers={}, request=None)


def _translate(exc: Exception, tmp_path: Path) -> Exception:
    # The class itself, not the module attribute the autouse fixture replaced.
    return HuggingFaceSource(tmp_path)._translate(exc, "openai/gsm8k")


def test_translate_missing_and_gated_repositories(tmp_path: Path) -> None:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    missing = _translate(RepositoryNotFoundError("404", response=_response(404)), tmp_path)
    assert isinstance(missing, DatasetError)
    assert "no dataset 'openai/gsm8k' on the Hugging Face Hub" in str(missing)
    gated = _translate(GatedRepoError("403", response=_response(403)), tmp_path)
    assert isinstance(gated, DatasetError)
    assert "gated" in str(gated) and "HF_TOKEN" in str(gated)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_translate_server_trouble_is_unreachable(tmp_path: Path, status: int) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    translated = _translate(HfHubHTTPError("boom", response=_response(status)), tmp_path)
    assert isinstance(translated, HubUnreachableError)
    assert str(status) in str(translated)


def test_translate_client_error_is_a_dataset_error(tmp_path: Path) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    translated = _translate(HfHubHTTPError("forbidden", response=_response(403)), tmp_path)
    assert isinstance(translated, DatasetError)
    assert "refused openai/gsm8k" in str(translated)


def test_translate_network_errors(tmp_path: Path) -> None:
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    for exc in (
        OfflineModeIsEnabled("offline"),
        LocalEntryNotFoundError("not cached"),
        ConnectionError("refused"),
        TimeoutError("slow"),
        type("ConnectTimeout", (Exception,), {})("timed out"),
    ):
        assert isinstance(_translate(exc, tmp_path), HubUnreachableError), exc
    other = ValueError("a bug")
    assert _translate(other, tmp_path) is other
