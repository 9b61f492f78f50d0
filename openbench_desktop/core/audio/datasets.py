"""Speech datasets: which audio files, with which reference texts; reading the audio.

``--dataset`` (``DatasetRef.path``) may name:

- a folder with ``metadata.csv`` or ``metadata.jsonl`` (the Hugging Face *audiofolder*
  layout: a ``file_name`` column and a ``transcription`` — or ``text``/``sentence`` —
  column; files may sit in sub-folders);
- a folder of LibriSpeech ``*.trans.txt`` files (each line ``UTTERANCE-ID TEXT``, the audio
  ``UTTERANCE-ID.flac`` beside it), searched recursively;
- a folder with exactly one transcript file ``*.tsv``, ``*.csv`` or ``*.jsonl``;
- a transcript file itself (then only the entries it lists are used).

Transcript files: TSV and CSV either with a header naming an audio column (``file_name``,
``file``, ``path``, ``audio``, ``audio_filepath`` …) and a text column (``transcription``,
``transcript``, ``text``, ``sentence`` …), or without a header as ``FILE<sep>TEXT``. JSONL
holds one object per line with such keys (a NeMo manifest works). Audio paths are relative
to the transcript's folder; a name without a suffix is looked up as ``.wav``/``.flac``/….

Problems with one entry — a missing or unreadable audio file, an unsupported format, a
malformed line, an audio file in the folder that no transcript mentions — never stop the
load: the entry becomes an :class:`Utterance` with ``problem`` set (naming the file and
line), the run counts it as failed and goes on. Only a dataset with nothing usable at all
raises :class:`DatasetError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openbench_desktop.core.audio import AUDIO_EXTRA, MissingDependencyError
from openbench_desktop.core.errors import DatasetError

__all__ = [
    "AUDIO_SUFFIXES",
    "DEMO_DIR",
    "AudioDataset",
    "AudioLoadError",
    "LoadedAudio",
    "TextItem",
    "Utterance",
    "demo_dataset_path",
    "load_audio",
    "load_audio_dataset",
    "load_text_items",
]

#: Read by soundfile (libsndfile ≥ 1.1 reads MP3 too).
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".au")
#: Audio a folder may hold that soundfile cannot read: listed, then failed with a hint.
UNSUPPORTED_SUFFIXES = (".m4a", ".aac", ".wma", ".mp4", ".webm", ".amr")
_ALL_SUFFIXES = AUDIO_SUFFIXES + UNSUPPORTED_SUFFIXES

AUDIO_COLUMNS = (
    "file_name", "file", "filename", "path", "audio", "audio_path", "audio_filepath",
    "audio_file", "wav", "clip",
)
TEXT_COLUMNS = (
    "transcription", "transcript", "text", "sentence", "reference", "normalized_text",
    "raw_text",
)
ID_COLUMNS = ("id", "utt_id", "utterance_id", "key", "segment_id")

#: The bundled demo set (clips made with eSpeak NG from sentences written for the project):
#: ``resources/audio_demo`` in a source checkout and in the frozen bundle; an installed wheel
#: carries it as package data in ``demo_clips`` beside this module (in the repository, a
#: symlink to ``resources/audio_demo``).
_SOURCE_DEMO_DIR = Path(__file__).resolve().parents[3] / "resources" / "audio_demo"
_PACKAGED_DEMO_DIR = Path(__file__).resolve().parent / "demo_clips"
DEMO_DIR = (
    _SOURCE_DEMO_DIR
    if (_SOURCE_DEMO_DIR / "transcripts.tsv").is_file()
    else _PACKAGED_DEMO_DIR.resolve()
)


def demo_dataset_path() -> Path:
    """The bundled speech demo folder; DatasetError if this installation lacks it."""
    if not (DEMO_DIR / "transcripts.tsv").is_file():
        raise DatasetError(
            "The bundled speech demo is missing from this installation "
            f"(expected {DEMO_DIR / 'transcripts.tsv'})."
        )
    return DEMO_DIR


@dataclass(frozen=True, slots=True)
class Utterance:
    """One entry of a speech dataset.

    ``source`` says where the entry came from (``transcripts.tsv line 4``) for messages.
    ``problem`` is set when the entry cannot be scored whatever the model does.
    """

    index: int
    utt_id: str
    audio_path: Path | None
    reference: str | None
    source: str
    problem: str | None = None


@dataclass(frozen=True)
class AudioDataset:
    root: Path
    layout: str  # "audiofolder" | "librispeech" | "transcript"
    transcript_files: tuple[Path, ...]
    utterances: tuple[Utterance, ...]
    _sha256: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def description(self) -> str:
        return str(self.root if len(self.transcript_files) != 1 else self.transcript_files[0])

    def sha256(self) -> str:
        """SHA-256 over the transcripts and every audio file (names and bytes), in order."""
        if not self._sha256:
            digest = hashlib.sha256()
            for path in self.transcript_files:
                digest.update(path.name.encode() + b"\0")
                _hash_file(digest, path)
            for utt in self.utterances:
                if utt.audio_path is not None and utt.audio_path.is_file():
                    digest.update(_relative(utt.audio_path, self.root).encode() + b"\0")
                    _hash_file(digest, utt.audio_path)
            self._sha256.append(digest.hexdigest())
        return self._sha256[0]


def _hash_file(digest: Any, path: Path) -> None:
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        digest.update(b"<unreadable>")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --- transcript readers ---------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    audio: str | None
    text: str | None
    utt_id: str | None
    source: str
    problem: str | None = None


def _pick(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    lowered = {name.strip().lower(): name for name in names}
    for candidate in wanted:
        if candidate in lowered:
            return lowered[candidate]
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"not UTF-8 text (byte {exc.start}); save the transcript as UTF-8", path=str(path)
        ) from None
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None


def _looks_like_audio_name(value: str) -> bool:
    return Path(value.strip()).suffix.lower() in _ALL_SUFFIXES


def _read_delimited(path: Path, delimiter: str) -> Iterator[_Entry]:
    text = _read_text(path)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"'))
    name = path.name
    first = next((r for r in rows if any(c.strip() for c in r)), None)
    if first is None:
        raise DatasetError("the transcript file is empty", path=str(path))
    audio_col = _pick(first, AUDIO_COLUMNS)
    text_col = _pick(first, TEXT_COLUMNS)
    has_header = audio_col is not None or text_col is not None
    if has_header and (audio_col is None or text_col is None):
        missing = "an audio column" if audio_col is None else "a text column"
        expected = AUDIO_COLUMNS if audio_col is None else TEXT_COLUMNS
        raise DatasetError(
            f"the header {first!r} has no {missing}; name it one of: {', '.join(expected)}",
            path=str(path),
            line=1,
        )
    header = [c.strip() for c in first] if has_header else None
    started = False
    for line_no, row in enumerate(rows, start=1):
        if not any(c.strip() for c in row):
            continue
        if header is not None and not started:
            started = True  # the header row itself
            continue
        source = f"{name} line {line_no}"
        if header is not None:
            record = dict(zip(header, row, strict=False))
            assert audio_col is not None and text_col is not None
            id_col = _pick(header, ID_COLUMNS)
            audio = (record.get(audio_col.strip()) or "").strip()
            if not audio:
                yield _Entry(None, None, None, source, f"{source}: no audio file named")
                continue
            yield _Entry(
                audio,
                record.get(text_col.strip()),
                (record.get(id_col) or "").strip() or None if id_col else None,
                source,
            )
        else:
            if len(row) < 2:
                yield _Entry(
                    None, None, None, source,
                    f"{source}: expected FILE{'<TAB>' if delimiter == chr(9) else ','}TEXT, "
                    f"found {delimiter.join(row)!r}",
                )
                continue
            # Extra separators belong to the text (a TSV sentence may hold a tab-free comma).
            yield _Entry(row[0].strip(), delimiter.join(row[1:]), None, source)


def _read_jsonl(path: Path) -> Iterator[_Entry]:
    name = path.name
    for line_no, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{name} line {line_no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _Entry(None, None, None, source, f"{source}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            yield _Entry(None, None, None, source, f"{source}: expected a JSON object")
            continue
        audio_key = _pick(list(obj), AUDIO_COLUMNS)
        text_key = _pick(list(obj), TEXT_COLUMNS)
        audio = obj.get(audio_key) if audio_key else None
        if isinstance(audio, dict):  # {"audio": {"path": ...}} as datasets exports it
            audio = audio.get("path")
        if not isinstance(audio, str) or not audio.strip():
            yield _Entry(
                None, None, None, source,
                f"{source}: no audio file (a key among {', '.join(AUDIO_COLUMNS[:6])} …)",
            )
            continue
        text = obj.get(text_key) if text_key else None
        id_key = _pick(list(obj), ID_COLUMNS)
        utt_id = obj.get(id_key) if id_key else None
        yield _Entry(
            audio.strip(),
            text if isinstance(text, str) else None,
            str(utt_id) if utt_id is not None else None,
            source,
        )


def _read_transcript(path: Path) -> list[_Entry]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return list(_read_jsonl(path))
    if suffix == ".tsv":
        return list(_read_delimited(path, "\t"))
    if suffix == ".csv":
        return list(_read_delimited(path, ","))
    raise DatasetError(
        "unsupported transcript file: expected .tsv, .csv or .jsonl", path=str(path)
    )


def _read_librispeech(path: Path) -> Iterator[_Entry]:
    name = path.name
    for line_no, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{name} line {line_no}"
        utt_id, _, text = line.strip().partition(" ")
        yield _Entry(utt_id, text, utt_id, source)


# --- resolving entries to files -------------------------------------------------------------


def _resolve_audio(base: Path, name: str) -> Path | None:
    candidate = (base / name).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    if not Path(name).suffix:
        for suffix in AUDIO_SUFFIXES:
            with_suffix = candidate.with_name(candidate.name + suffix)
            if with_suffix.is_file():
                return with_suffix.resolve()
    return None


def _audio_files(folder: Path, *, recursive: bool) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(
        p.resolve()
        for p in pattern
        if p.is_file() and p.suffix.lower() in _ALL_SUFFIXES and not p.name.startswith(".")
    )


def _build(
    root: Path,
    layout: str,
    transcripts: Sequence[Path],
    entries: Iterable[tuple[Path, _Entry]],
    unlisted_from: Iterable[Path],
) -> AudioDataset:
    utterances: list[Utterance] = []
    seen: set[Path] = set()
    ids: set[str] = set()

    def unique_id(wanted: str) -> str:
        utt_id, n = wanted, 2
        while utt_id in ids:
            utt_id, n = f"{wanted}#{n}", n + 1
        ids.add(utt_id)
        return utt_id

    for base, entry in entries:
        index = len(utterances)
        if entry.problem is not None:
            utterances.append(
                Utterance(index, unique_id(entry.source), None, None, entry.source, entry.problem)
            )
            continue
        assert entry.audio is not None
        path = _resolve_audio(base, entry.audio)
        utt_id = unique_id(entry.utt_id or Path(entry.audio).stem or entry.source)
        problem = None
        if path is None:
            problem = f"{entry.source}: audio file {entry.audio} not found in {base}"
        elif path in seen:
            problem = f"{entry.source}: {entry.audio} is listed twice; scored once"
        if path is not None:
            seen.add(path)
        if problem is None and entry.text is None:
            problem = f"{entry.source}: no transcript text for {entry.audio}"
        utterances.append(
            Utterance(index, utt_id, path, entry.text, entry.source, problem)
        )
    names = ", ".join(p.name for p in transcripts[:3]) + (" …" if len(transcripts) > 3 else "")
    for path in unlisted_from:
        if path not in seen:
            utterances.append(
                Utterance(
                    len(utterances),
                    unique_id(_relative(path, root)),
                    path,
                    None,
                    _relative(path, root),
                    f"{_relative(path, root)}: no transcript entry for this file in {names}",
                )
            )
    if not utterances:
        raise DatasetError("no audio entries found", path=str(root))
    if all(u.problem for u in utterances):
        first = utterances[0].problem
        raise DatasetError(
            f"none of the {len(utterances)} entries is usable; the first: {first}",
            path=str(root),
        )
    return AudioDataset(root, layout, tuple(transcripts), tuple(utterances))


def load_audio_dataset(path: str | Path) -> AudioDataset:
    """The utterances of a speech dataset folder or transcript file (see the module doc)."""
    target = Path(path).expanduser()
    if not target.exists():
        raise DatasetError("no such file or folder", path=str(target))
    target = target.resolve()
    if target.is_file():
        if target.name.endswith(".trans.txt"):
            entries = [(target.parent, e) for e in _read_librispeech(target)]
            return _build(target.parent, "librispeech", [target], entries, ())
        entries = [(target.parent, e) for e in _read_transcript(target)]
        return _build(target.parent, "transcript", [target], entries, ())

    for meta_name in ("metadata.csv", "metadata.jsonl"):
        meta = target / meta_name
        if meta.is_file():
            entries = [(target, e) for e in _read_transcript(meta)]
            return _build(
                target, "audiofolder", [meta], entries, _audio_files(target, recursive=True)
            )

    trans = sorted(target.rglob("*.trans.txt"))
    if trans:
        entries = [(t.parent, e) for t in trans for e in _read_librispeech(t)]
        folders = sorted({t.parent for t in trans})
        unlisted = [p for f in folders for p in _audio_files(f, recursive=False)]
        return _build(target, "librispeech", trans, entries, unlisted)

    candidates = sorted(
        p for p in target.iterdir()
        if p.is_file() and p.suffix.lower() in (".tsv", ".csv", ".jsonl")
    )
    if len(candidates) == 1:
        transcript = candidates[0]
        entries = [(target, e) for e in _read_transcript(transcript)]
        return _build(
            target, "transcript", [transcript], entries, _audio_files(target, recursive=False)
        )
    if len(candidates) > 1:
        raise DatasetError(
            "several transcript files here ("
            + ", ".join(p.name for p in candidates)
            + "); give the one to use as --dataset",
            path=str(target),
        )
    n_audio = len(_audio_files(target, recursive=True))
    raise DatasetError(
        f"found {n_audio} audio file(s) but no transcript: add metadata.csv (file_name, "
        "transcription), a transcripts.tsv (FILE<TAB>TEXT), a .csv/.jsonl, or LibriSpeech "
        "*.trans.txt files",
        path=str(target),
    )


# --- texts for speech synthesis -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextItem:
    index: int
    item_id: str
    text: str
    source: str


def load_text_items(path: str | Path | None) -> tuple[list[TextItem], str, Path | None]:
    """Texts to synthesise: (items, description, file whose bytes identify the set).

    ``None`` means the bundled demo sentences. A ``.txt`` file gives one text per non-empty
    line; a speech dataset (folder or transcript file) gives its reference texts.
    """
    target = Path(path).expanduser() if path else demo_dataset_path()
    if target.is_file() and target.suffix.lower() == ".txt" and not target.name.endswith(
        ".trans.txt"
    ):
        lines = _read_text(target).splitlines()
        items = [
            TextItem(i, f"line{n}", line.strip(), f"{target.name} line {n}")
            for i, (n, line) in enumerate(
                ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
            )
        ]
        if not items:
            raise DatasetError("no text lines", path=str(target))
        return items, str(target.resolve()), target.resolve()
    dataset = load_audio_dataset(target)
    usable = [u for u in dataset.utterances if (u.reference or "").strip()]
    items = [
        TextItem(i, u.utt_id, (u.reference or "").strip(), u.source)
        for i, u in enumerate(usable)
    ]
    if not items:
        raise DatasetError("no reference texts to synthesise", path=str(target))
    first = dataset.transcript_files[0] if dataset.transcript_files else None
    return items, dataset.description, first


# --- reading audio --------------------------------------------------------------------------


class AudioLoadError(Exception):
    """One file cannot be read; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class LoadedAudio:
    samples: Any  # numpy float32, mono, at ``sample_rate``
    sample_rate: int
    source_rate: int
    channels: int
    duration_s: float  # from the file's own frame count and rate (before resampling)


def _soundfile() -> Any:
    try:
        import soundfile
    except (ImportError, OSError) as exc:  # OSError: the library is there, libsndfile not
        raise MissingDependencyError("soundfile (reading audio)", extra=AUDIO_EXTRA) from exc
    return soundfile


def resample(samples: Any, source_rate: int, target_rate: int) -> Any:
    """``samples`` (float32 mono) from ``source_rate`` to ``target_rate`` with soxr (HQ)."""
    if source_rate == target_rate:
        return samples
    try:
        import soxr
    except ImportError as exc:
        raise MissingDependencyError("soxr (resampling audio)", extra=AUDIO_EXTRA) from exc
    import numpy as np

    return np.asarray(soxr.resample(samples, source_rate, target_rate, quality="HQ"),
                      dtype=np.float32)


def load_audio(path: Path, sample_rate: int | None) -> LoadedAudio:
    """Read ``path`` as float32 mono, resampled to ``sample_rate`` (None: keep the file's).

    Raises AudioLoadError naming the file for an unreadable, empty or unsupported file,
    and MissingDependencyError if soundfile/soxr are not installed.
    """
    import numpy as np

    sf = _soundfile()
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED_SUFFIXES:
        raise AudioLoadError(
            f"{path.name}: unsupported audio format {suffix} (readable: "
            f"{', '.join(s.lstrip('.') for s in AUDIO_SUFFIXES)}); convert it, e.g. "
            f"'sox in{suffix} -r 16000 -c 1 out.wav' or ffmpeg"
        )
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError) as exc:  # LibsndfileError ⊂ RuntimeError
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise AudioLoadError(f"{path.name}: cannot read audio ({detail})") from None
    frames, channels = data.shape
    if frames == 0:
        raise AudioLoadError(f"{path.name}: the file holds no audio samples")
    mono = data[:, 0] if channels == 1 else data.mean(axis=1, dtype=np.float32)
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    target = sample_rate or rate
    return LoadedAudio(
        samples=resample(mono, rate, target),
        sample_rate=target,
        source_rate=int(rate),
        channels=int(channels),
        duration_s=frames / float(rate),
    )
