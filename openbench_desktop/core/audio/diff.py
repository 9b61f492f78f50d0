"""Word-level alignment of a reference and a hypothesis, for showing where they differ.

The alignment is jiwer's (``jiwer.process_words``: the same minimum edit distance that
the WER counts come from), so the words a view highlights always add up to the S, D and I
stored for the utterance. Qt-free: the Run detail view turns the operations into HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from openbench_desktop.core.audio.metrics import _jiwer

__all__ = ["DiffOp", "OpKind", "count_ops", "word_diff"]

OpKind = Literal["equal", "substitute", "delete", "insert"]


@dataclass(frozen=True, slots=True)
class DiffOp:
    """A run of words with one fate: ``ref`` words of the reference, ``hyp`` of the
    hypothesis (equal/substitute: both, same length; delete: ref only; insert: hyp only)."""

    kind: OpKind
    ref: tuple[str, ...]
    hyp: tuple[str, ...]


def word_diff(reference: str, hypothesis: str) -> list[DiffOp]:
    """The alignment of two (normalized) strings as runs of equal/changed words.

    An empty reference cannot be aligned by jiwer: every hypothesis word is then an
    insertion (and an empty hypothesis makes every reference word a deletion).
    """
    ref_words, hyp_words = reference.split(), hypothesis.split()
    if not ref_words:
        return [DiffOp("insert", (), tuple(hyp_words))] if hyp_words else []
    if not hyp_words:
        return [DiffOp("delete", tuple(ref_words), ())]
    out = _jiwer().process_words(" ".join(ref_words), " ".join(hyp_words))
    refs, hyps = out.references[0], out.hypotheses[0]
    ops: list[DiffOp] = []
    for chunk in out.alignments[0]:
        ops.append(
            DiffOp(
                chunk.type,
                tuple(refs[chunk.ref_start_idx : chunk.ref_end_idx]),
                tuple(hyps[chunk.hyp_start_idx : chunk.hyp_end_idx]),
            )
        )
    return ops


def count_ops(ops: list[DiffOp]) -> dict[str, int]:
    """Words per kind: ``hits``, ``substitutions``, ``deletions``, ``insertions``."""
    counts = {"hits": 0, "substitutions": 0, "deletions": 0, "insertions": 0}
    for op in ops:
        if op.kind == "equal":
            counts["hits"] += len(op.ref)
        elif op.kind == "substitute":
            counts["substitutions"] += len(op.ref)
        elif op.kind == "delete":
            counts["deletions"] += len(op.ref)
        else:
            counts["insertions"] += len(op.hyp)
    return counts
