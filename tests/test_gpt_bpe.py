"""Tests for signlab.gpt.bpe (a byte-level BPE learned from a corpus) and the offline standard-
library corpus it tokenizes (signlab.gpt.data.prepare_offline_text)."""

import re
from collections import Counter

import numpy as np
import pytest

from signlab.gpt import data as gdata
from signlab.gpt.bpe import BPE, pieces, train_bpe

WORDS = r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"


def brute_force_merges(texts, n_merges):
    """BPE by the definition, written independently: every round recount all adjacent pairs
    inside every piece occurrence, merge the most frequent (ties: the smallest pair)."""
    seqs = [list(p.encode()) for t in texts for p in re.findall(WORDS, t)]
    merges = []
    for k in range(n_merges):
        counts = Counter()
        for s in seqs:
            counts.update(zip(s, s[1:]))
        if not counts:
            break
        top = max(counts.values())
        if top < 2:
            break
        pair = min(p for p, c in counts.items() if c == top)
        merges.append(pair)
        new = 256 + k
        for i, s in enumerate(seqs):
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and (s[j], s[j + 1]) == pair:
                    out.append(new)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
    return merges


TEXTS = [
    "the cat sat on the mat; the cat ate the rat.\n",
    "def the_cat(x):\n    return x + 1  # the cat's 22 lives\n",
    "aaaa aaaa bbbb aaaa 1234 1234\n",
]


def test_pieces_cover_the_text_and_split_words_from_spaces_and_symbols():
    text = "def f(x):\n    return x_1  # it's 42"
    got = pieces(text)
    assert b"".join(got) == text.encode()
    assert b" return" in got and b" 42" in got and b"'s" in got


def test_training_matches_the_definition_on_a_small_corpus():
    bpe = train_bpe(TEXTS, 256 + 40 + 1)
    assert list(bpe.merges) == brute_force_merges(TEXTS, 40)


def test_encode_decode_round_trip_and_compression(seed):
    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "gamma", "delta", "ünïcode", "42", "(x)", "\n", "  "]
    text = " ".join(rng.choice(words, 400))
    bpe = train_bpe([text], 300)
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert len(ids) < len(text.encode()) / 2  # frequent words became single tokens
    assert max(ids) < bpe.eot == bpe.vocab_size - 1


def test_token_bytes_spell_each_merge():
    bpe = train_bpe(TEXTS, 270)
    table = bpe.token_bytes()
    for k, (a, b) in enumerate(bpe.merges):
        assert table[256 + k] == table[a] + table[b]


def test_save_load(tmp_path):
    bpe = train_bpe(TEXTS, 280)
    bpe.save(tmp_path / "t.json")
    assert BPE.load(tmp_path / "t.json") == bpe


def test_vocab_size_is_validated():
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 257"):
        train_bpe(TEXTS, 100)


def test_stdlib_documents_leave_out_tests_and_are_sorted():
    docs = gdata.stdlib_documents()
    names = [n for n, _ in docs]
    assert names == sorted(names) and len(names) > 100
    assert not any("/test/" in f"/{n}" or n.startswith("test/") for n in names)
    assert any(n == "json/decoder.py" for n in names)
    assert sum(len(t) for _, t in docs) > 3_000_000


def test_validation_split_is_by_name():
    names = [f"mod{i}.py" for i in range(2000)]
    held = [n for n in names if gdata.is_validation(n)]
    assert 0.01 < len(held) / len(names) < 0.035  # one in 50, by a hash
    assert all(gdata.is_validation(n) for n in held)  # the same answer every time


def test_offline_corpus_is_prepared_once_and_decodes_to_the_library(tmp_path):
    train, val, tok = gdata.prepare_offline_text(300, max_bytes=60_000, directory=tmp_path)
    bpe = BPE.load(tok)
    tokens = gdata.load_token_file(train)
    assert tokens.max() <= bpe.eot and (tokens == bpe.eot).any()
    docs = gdata.stdlib_documents()
    first_doc = next(t for n, t in docs if not gdata.is_validation(n))
    first = bpe.decode(tokens[: int(np.argmax(tokens == bpe.eot))].tolist())
    assert first_doc.startswith(first[:1000]) and len(first) > 0
    mtime = train.stat().st_mtime_ns
    assert gdata.prepare_offline_text(300, 60_000, tmp_path) == (train, val, tok)
    assert train.stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert len(gdata.load_token_file(val)) > 0
