"""Byte-level byte-pair encoding, trained on a corpus: the tokenizer of the offline GPU corpus.

GPT-2 reads text as tokens of a byte-pair encoding (BPE; Sennrich et al., 2016, on bytes as in
Radford et al., 2019): start from the 256 byte values and, again and again, give the most
frequent pair of adjacent tokens a new id of its own, until the vocabulary holds V tokens.
Frequent words then become single tokens and rare ones stay spelled out in pieces, so a
sequence of T tokens covers several times T bytes.

GPT-2's own merge table is a download; a machine that reaches only the package registries cannot
fetch it. :func:`train_bpe` learns a table from the corpus itself instead (the same algorithm, a
smaller V). As in GPT-2, text is first cut into pieces (a word with its leading space, a number,
a run of punctuation, a run of whitespace) and merges never cross a piece boundary. The last id,
``V − 1``, is the end-of-text token that separates documents.

Training keeps every distinct piece once with its count, the count of every adjacent pair, and
for every pair the pieces it occurs in, so a merge touches only those pieces.
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from signlab import _validate

PIECE = re.compile(r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")
"""Where text is cut before merging: contractions, letters, digits, other symbols, whitespace."""

BYTES = 256


def pieces(text: str) -> list[bytes]:
    """The UTF-8 pieces of ``text`` that merges stay inside (their concatenation is ``text``)."""
    return [m.encode("utf-8") for m in PIECE.findall(text)]


@dataclass(frozen=True)
class BPE:
    """A trained encoding: ``merges[k]`` = (a, b) made token ``256 + k``; ``eot`` = V − 1."""

    merges: tuple[tuple[int, int], ...]

    @property
    def vocab_size(self) -> int:
        """V = 256 bytes + one token per merge + the end-of-text token."""
        return BYTES + len(self.merges) + 1

    @property
    def eot(self) -> int:
        """The end-of-text id, V − 1, written between documents."""
        return self.vocab_size - 1

    def token_bytes(self) -> list[bytes]:
        """The bytes each id stands for (the end-of-text id: empty)."""
        table = [bytes([b]) for b in range(BYTES)]
        for a, b in self.merges:
            table.append(table[a] + table[b])
        return [*table, b""]

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: each piece's bytes merged in the order the merges were learned."""
        rank = {pair: BYTES + k for k, pair in enumerate(self.merges)}
        cache: dict[bytes, list[int]] = {}
        out: list[int] = []
        for piece in pieces(text):
            ids = cache.get(piece)
            if ids is None:
                ids = cache[piece] = _merge_piece(list(piece), rank)
            out.extend(ids)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (invalid UTF-8 at a cut is replaced, as GPT-2 does)."""
        table = self.token_bytes()
        return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")

    def save(self, path: str | os.PathLike) -> None:
        """Write the merges as JSON (``{"merges": [[a, b], ...]}``)."""
        from signlab._io import atomic_write

        with atomic_write(path) as f:
            json.dump({"merges": [list(m) for m in self.merges]}, f)

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPE:
        """Read what :meth:`save` wrote."""
        with open(path) as f:
            return cls(tuple((int(a), int(b)) for a, b in json.load(f)["merges"]))


def _merge_piece(ids: list[int], rank: dict[tuple[int, int], int]) -> list[int]:
    """Apply the learned merges to one piece, the earliest-learned applicable pair first."""
    while len(ids) > 1:
        best = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, 1 << 30))
        new = rank.get(best)
        if new is None:
            return ids
        ids = _replace(ids, best, new)
    return ids


def _replace(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair`` (left to right) made ``new``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _pairs(ids: list[int]) -> Counter:
    return Counter(zip(ids, ids[1:]))


class _PairIndex:
    """Every distinct piece as a token list with its count, the count of every adjacent pair (with
    the pieces' multiplicities), for every pair the pieces it occurs in, and a max-heap of counts
    whose stale entries are skipped when popped."""

    def __init__(self, counts: Counter):
        self.words = [list(p) for p in counts]
        self.freq = list(counts.values())
        self.count: Counter = Counter()
        self.where: dict[tuple[int, int], set[int]] = defaultdict(set)
        for w, ids in enumerate(self.words):
            for pair, k in _pairs(ids).items():
                self.count[pair] += k * self.freq[w]
                self.where[pair].add(w)
        self.heap = [(-c, pair) for pair, c in self.count.items()]
        heapq.heapify(self.heap)

    def most_frequent(self) -> tuple[tuple[int, int], int] | None:
        """The most frequent pair (smallest ids on a tie) and its count; None when none is left."""
        while self.heap:
            neg, pair = heapq.heappop(self.heap)
            if self.count.get(pair, 0) == -neg:
                return pair, -neg
        return None

    def merge(self, pair: tuple[int, int], new: int) -> None:
        """Replace ``pair`` by ``new`` in every piece that holds it, updating the counts."""
        changed = set()
        for w in self.where.pop(pair):
            before = _pairs(self.words[w])
            self.words[w] = _replace(self.words[w], pair, new)
            after = _pairs(self.words[w])
            for p in before.keys() | after.keys():
                delta = (after.get(p, 0) - before.get(p, 0)) * self.freq[w]
                if delta:
                    self.count[p] += delta
                    changed.add(p)
                if p in after:
                    self.where[p].add(w)
                elif p in self.where:
                    self.where[p].discard(w)
        self.count.pop(pair, None)
        for p in changed - {pair}:
            if self.count[p] > 0:
                heapq.heappush(self.heap, (-self.count[p], p))
            else:
                self.count.pop(p)


def train_bpe(texts: Iterable[str], vocab_size: int) -> BPE:
    """Learn ``vocab_size − 257`` merges from ``texts`` (fewer if no pair occurs twice).

    Each round merges the most frequent adjacent pair over all pieces (counted with the pieces'
    multiplicities); a tie goes to the pair with the smaller ids, so the result is the same on
    every machine.
    """
    vocab_size = _validate.integer("vocab_size", vocab_size, low=BYTES + 1, high=1 << 16)
    counts: Counter = Counter()
    for text in texts:
        counts.update(pieces(text))
    index = _PairIndex(counts)
    merges: list[tuple[int, int]] = []
    while len(merges) < vocab_size - BYTES - 1:
        top = index.most_frequent()
        if top is None or top[1] < 2:
            break
        index.merge(top[0], BYTES + len(merges))
        merges.append(top[0])
    return BPE(tuple(merges))
