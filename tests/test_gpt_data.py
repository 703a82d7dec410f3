"""Tests for signlab.gpt.data: offline corpus, windows, tokenize → file → memmap → batches."""

import hashlib
import json

import numpy as np
import pytest
import torch

from signlab.gpt import data


def test_byte_corpus_is_the_pydoc_topics_text():
    from pydoc_data import topics

    tokens = data.byte_corpus()
    assert tokens.dtype == np.uint8 and len(tokens) > 400_000
    text = bytes(tokens).decode("utf-8")
    for key in ("assert", "lambda", "with"):
        assert topics.topics[key] in text


def test_split_is_a_contiguous_cut():
    tokens = np.arange(1000)
    train, val = data.split_tokens(tokens, 0.1)
    assert len(train) == 900 and len(val) == 100
    assert np.array_equal(np.concatenate([train, val]), tokens)
    with pytest.raises(ValueError, match="val_fraction"):
        data.split_tokens(tokens, 1.5)


def test_windows_are_shifted_slices():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 256, size=500).astype(np.uint8)
    gen = torch.Generator().manual_seed(1)
    starts = data.batch_starts(len(tokens), 16, 8, gen)
    assert starts.min() >= 0 and starts.max() <= 500 - 16 - 1
    x, y = data.windows(tokens, starts, 16)
    assert x.dtype == torch.int64 and x.shape == (8, 16)
    for row, s in enumerate(starts.tolist()):
        assert x[row].tolist() == tokens[s : s + 16].tolist()
        assert y[row].tolist() == tokens[s + 1 : s + 17].tolist()


def test_corpus_shorter_than_a_window_raises():
    with pytest.raises(ValueError, match="block_size"):
        data.batch_starts(10, 10, 1, torch.Generator())


def _word_encoder():
    vocab = {}
    return lambda text: [vocab.setdefault(w, len(vocab)) for w in text.split()]


def test_tokenize_to_file_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(40)]
    docs = [" ".join(rng.choice(words, size=rng.integers(1, 30))) for _ in range(50)]
    eot = 999
    encode = _word_encoder()
    expected = []
    ref = _word_encoder()
    for doc in docs:
        expected += ref(doc) + [eot]
    path = tmp_path / "cache" / "train.bin"
    meta = data.tokenize_to_file(iter(docs), encode, path, eot, progress=False)
    raw = path.read_bytes()
    assert meta["n_tokens"] == len(expected)
    assert meta["sha256"] == hashlib.sha256(raw).hexdigest()
    assert np.frombuffer(raw, dtype=np.uint16).tolist() == expected
    tokens = data.load_token_file(path)
    assert isinstance(tokens, np.memmap) and tokens.tolist() == expected
    assert not list(path.parent.glob("*.tmp"))
    x, y = data.windows(tokens, torch.tensor([0, 5]), 8)
    assert x[1].tolist() == expected[5:13] and y[1].tolist() == expected[6:14]


def test_tokenize_stops_at_max_tokens(tmp_path):
    docs = ["a b c d e"] * 10
    meta = data.tokenize_to_file(
        docs, _word_encoder(), tmp_path / "t.bin", 7, max_tokens=13, progress=False
    )
    assert meta["n_tokens"] == 13
    assert data.load_token_file(tmp_path / "t.bin").tolist() == [0, 1, 2, 3, 4, 7] * 2 + [0]


def test_checksum_mismatch_is_detected(tmp_path):
    path = tmp_path / "t.bin"
    data.tokenize_to_file(["x y z"] * 4, _word_encoder(), path, 5, progress=False)
    raw = bytearray(path.read_bytes())
    raw[0] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum"):
        data.load_token_file(path)
    meta = json.loads((tmp_path / "t.bin.json").read_text())
    assert meta["n_tokens"] == 16


def test_token_ids_beyond_dtype_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="token ids"):
        data.tokenize_to_file(["a"], lambda s: [70_000], tmp_path / "t.bin", 0, progress=False)


def test_web_text_needs_explicit_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        data.prepare_web_text(10_000, download=False, directory=tmp_path)
    folder = tmp_path / "fineweb_edu_gpt2_10000"
    folder.mkdir()
    for name in ("train.bin", "val.bin"):
        data.tokenize_to_file(["a b"], _word_encoder(), folder / name, 3, progress=False)
    train, val = data.prepare_web_text(10_000, directory=tmp_path)
    assert data.load_token_file(train).tolist() == [0, 1, 3]
    assert val.name == "val.bin"


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNLAB_CACHE", str(tmp_path))
    if not data.DRIVE_DIR.is_dir():
        assert data.cache_dir() == tmp_path


def test_batched_encoding_feeds_the_same_file(tmp_path):
    docs = [f"doc {i} " + "x " * i for i in range(7)]
    calls = []

    def encode_batch(texts, num_threads):
        calls.append((len(texts), num_threads))
        return [[len(w) for w in t.split()] for t in texts]

    encoded = data.encode_in_batches(iter(docs), encode_batch, batch=3)
    data.tokenize_to_file(encoded, list, tmp_path / "a.bin", 0, progress=False)
    direct = lambda t: [len(w) for w in t.split()]
    data.tokenize_to_file(docs, direct, tmp_path / "b.bin", 0, progress=False)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert [n for n, _ in calls] == [3, 3, 1] and all(k >= 1 for _, k in calls)


def test_sha256_file_matches_hashlib_across_chunks(tmp_path, rng):
    payload = rng.bytes(10_000)
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    assert data.sha256_file(path, chunk=333) == hashlib.sha256(payload).hexdigest()


def test_ensure_web_packages_installs_only_what_is_missing(monkeypatch):
    import importlib.util
    import sys

    from signlab.gpt import data as gdata

    calls = []
    present = {"tiktoken"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if name in present else None
    )
    assert gdata.ensure_web_packages(run=lambda cmd, check: calls.append(cmd)) == ["datasets"]
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "datasets"]]
    present.add("datasets")
    calls.clear()
    assert gdata.ensure_web_packages(run=lambda cmd, check: calls.append(cmd)) == []
    assert calls == []
