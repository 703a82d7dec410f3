"""Token streams for language-model training: an offline byte corpus and a cached web-text corpus.

Both paths end in the same object, a 1-D array of token ids ``u`` (a ``numpy.memmap`` for the large
one), and training draws batches of windows from it: for a start ``s``, the input is
``u[s : s+T]`` and the target is ``u[s+1 : s+T+1]`` (next-token prediction).

- Offline (tests, the book build): the UTF-8 bytes of the standard library's ``pydoc_data.topics``,
  vocabulary 256, no network.
- Offline at GPU scale: the Python standard library's own modules (:func:`stdlib_documents`, the
  source of every Python installation, under the Python Software Foundation License), tokenized
  with a byte-pair encoding learned from that text (:mod:`signlab.gpt.bpe`) and cached like the
  web corpus (:func:`prepare_offline_text`). For machines that reach no web host.
- Online (Colab): a web-text corpus (FineWeb-Edu) tokenized with GPT-2 BPE (tiktoken), written
  once to a ``uint16`` file with a SHA-256 checksum and cached (on Google Drive when mounted).
  The download runs only through :func:`prepare_web_text` with ``download=True``; the tokenize →
  file → batches logic it uses is the same for any iterable of documents, so tests run it
  offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from signlab import _validate
from signlab._io import atomic_write

BYTE_VOCAB = 256
GPT2_EOT = 50256
GPT2_VOCAB = 50257
DRIVE_DIR = Path("/content/drive/MyDrive")
WEB_TEXT = ("HuggingFaceFW/fineweb-edu", "sample-10BT")
_Doc = TypeVar("_Doc")  # a document as tokenize_to_file reads it (text, or tokens already)


class MissingDependencyError(ImportError):
    """An optional package that a feature needs is not installed; the message says what to run."""


GPT_EXTRA = 'pip install "signlab[gpt]"'  # tiktoken and datasets


def require(module: str, purpose: str, install: str = GPT_EXTRA):
    """Import ``module`` for ``purpose``, or raise :class:`MissingDependencyError` in one sentence
    that names the package and the ``install`` command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{purpose} needs the optional package {module!r}, which is not installed: "
            f"run `{install}` and try again"
        ) from None


WEB_PACKAGES = ("tiktoken", "datasets")
"""What the web corpus needs beyond signlab (the ``gpt`` extra)."""


def ensure_web_packages(run=None) -> list[str]:
    """Install with pip whichever of :data:`WEB_PACKAGES` cannot be imported; the names installed.

    For the chapter's GPU cell in Colab, whose setup installs signlab without its ``gpt`` extra.
    ``run`` is the command runner (``subprocess.run``; a test passes its own).
    """
    import importlib.util
    import subprocess

    missing = [m for m in WEB_PACKAGES if importlib.util.find_spec(m) is None]
    if missing:
        (run or subprocess.run)(
            [sys.executable, "-m", "pip", "install", "-q", *missing], check=True
        )
    return missing


def byte_corpus() -> np.ndarray:
    """The UTF-8 bytes of ``pydoc_data.topics`` (Python's help texts, ~466 kB) as uint8 ids."""
    from pydoc_data import topics

    text = "\n\n".join(topics.topics[k] for k in sorted(topics.topics))
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


STDLIB_SKIP = ("test", "tests", "idle_test", "site-packages", "dist-packages")
"""Folders of the standard library left out of the offline corpus: test suites (absent from many
installations, so the corpus would differ between them) and installed third-party packages."""


def stdlib_documents() -> list[tuple[str, str]]:
    """(path relative to the standard library, text) of its ``.py`` modules, sorted by path.

    About 12 MB of code and docstrings in ~730 files on CPython 3.11 (the count and size differ a
    little between Python versions; a prepared corpus records its own size and checksum).
    """
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in STDLIB_SKIP for part in rel.parts):
            continue
        docs.append((rel.as_posix(), path.read_text(encoding="utf-8", errors="replace")))
    return docs


def is_validation(name: str, every: int = 50) -> bool:
    """Whether document ``name`` is held out: one in ``every``, chosen by a hash of the name, so
    the split does not depend on the order or number of the other documents."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % _validate.integer("every", every) == 0


_PREPARED: dict[tuple, tuple[Path, Path, Path]] = {}
"""The corpora this process has prepared or found, by their arguments (a recipe's runs reuse it)."""


def prepare_offline_text(
    vocab_size: int, max_bytes: int | None = None, directory: str | os.PathLike | None = None
) -> tuple[Path, Path, Path]:
    """Train/val token files of the standard-library corpus and its BPE, prepared once, reused.

    The first ``max_bytes`` characters of the documents (all when None) are read; a BPE with
    ``vocab_size`` tokens is learned from the training documents (:func:`signlab.gpt.bpe.train_bpe`),
    and both parts are written as ``uint16`` token files with checksums (one in 50 documents,
    chosen by :func:`is_validation`, is held out). Returns (train, val, tokenizer.json); the
    folder's name holds ``vocab_size`` and a hash of the text, so another Python's library or
    another size is prepared afresh.
    """
    from signlab.gpt.bpe import train_bpe

    key = (vocab_size, max_bytes, None if directory is None else str(directory))
    known = _PREPARED.get(key)
    if known is not None and all(p.exists() for p in known):
        return known  # this process prepared or found it already: skip reading the library
    docs = stdlib_documents()
    if max_bytes is not None:
        budget, kept = _validate.integer("max_bytes", max_bytes, low=1000), []
        for name, text in docs:
            if budget <= 0:
                break
            kept.append((name, text[:budget]))
            budget -= len(text)
        docs = kept
    digest = hashlib.sha256("\0".join(f"{n}\0{t}" for n, t in docs).encode()).hexdigest()[:12]
    root = Path(directory) if directory is not None else cache_dir()
    out = root / f"stdlib_bpe{vocab_size}_{digest}"
    train, val, tok = out / "train.bin", out / "val.bin", out / "tokenizer.json"
    _PREPARED[key] = (train, val, tok)
    if train.exists() and val.exists() and tok.exists():
        return train, val, tok
    train_docs = [t for n, t in docs if not is_validation(n)]
    val_docs = [t for n, t in docs if is_validation(n)]
    if not val_docs:  # a small stand-in corpus: hold out its last document
        train_docs, val_docs = train_docs[:-1], train_docs[-1:]
    bpe = train_bpe(train_docs, vocab_size)
    out.mkdir(parents=True, exist_ok=True)
    tokenize_to_file(train_docs, bpe.encode, train, bpe.eot, progress=False)
    tokenize_to_file(val_docs, bpe.encode, val, bpe.eot, progress=False)
    bpe.save(tok)
    return train, val, tok


def split_tokens(tokens: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split a token stream into a training head and a validation tail (a contiguous cut)."""
    _validate.unit_interval("val_fraction", val_fraction)
    cut = len(tokens) - int(round(val_fraction * len(tokens)))
    return tokens[:cut], tokens[cut:]


def batch_starts(
    n_tokens: int, block_size: int, n: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` window starts, uniform on {0, …, n_tokens − T − 1}, from a private generator."""
    high = n_tokens - block_size
    if high < 1:
        raise ValueError(f"the corpus must hold more than block_size + 1 = {block_size + 1} tokens")
    return torch.randint(high, (n,), generator=generator)


def windows(tokens: np.ndarray, starts: torch.Tensor, block_size: int):
    """Inputs ``u[s:s+T]`` and next-token targets ``u[s+1:s+T+1]`` for each start s, as int64."""
    idx = starts.numpy()[:, None] + np.arange(block_size + 1)[None, :]
    chunk = torch.from_numpy(np.asarray(tokens[idx], dtype=np.int64))
    return chunk[:, :-1], chunk[:, 1:]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file, read in chunks so large token files never load whole."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def tokenize_to_file(
    documents: Iterable[_Doc],
    encode: Callable[[_Doc], list[int]],
    path: str | os.PathLike,
    eot: int,
    max_tokens: int | None = None,
    dtype=np.uint16,
    progress: bool = True,
) -> dict:
    """Tokenize documents into one flat file ``[doc₁, eot, doc₂, eot, …]`` and return its metadata.

    The stream is written atomically (:func:`signlab._io.atomic_write`: a temporary file moved
    into place only when complete), so an interrupted run never leaves a truncated cache; a JSON
    sidecar ``path + '.json'``, written the same way, records the token count, dtype and SHA-256
    checksum, which :func:`load_token_file` verifies.
    """
    from tqdm.auto import tqdm

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    limit = None if max_tokens is None else _validate.integer("max_tokens", max_tokens)
    top = np.iinfo(dtype).max
    n = 0
    # on a terminal a live bar; in a log file or a notebook's captured output one update per 30 s
    every = 0.5 if sys.stderr.isatty() else 30.0
    bar = tqdm(
        total=limit,
        unit="tok",
        unit_scale=True,
        disable=not progress,
        desc=path.name,
        mininterval=every,
    )
    with bar, atomic_write(path, "wb") as f:
        for doc in documents:
            ids = np.asarray([*encode(doc), eot], dtype=np.int64)
            if ids.size and (ids.min() < 0 or ids.max() > top):
                raise ValueError(f"token ids must lie in [0, {top}] for dtype {np.dtype(dtype)}")
            if limit is not None:
                ids = ids[: limit - n]
            ids.astype(dtype).tofile(f)
            n += ids.size
            bar.update(ids.size)
            if limit is not None and n >= limit:
                break
    meta = {"n_tokens": n, "dtype": np.dtype(dtype).name, "sha256": sha256_file(path)}
    with atomic_write(path.with_name(path.name + ".json")) as f:
        json.dump(meta, f)
    return meta


def load_token_file(path: str | os.PathLike, verify: bool = True) -> np.memmap:
    """Open a token file as a read-only memory map, checking size and checksum (its sidecar)."""
    path = Path(path)
    with open(path.with_name(path.name + ".json")) as f:
        meta = json.load(f)
    if verify and sha256_file(path) != meta["sha256"]:
        raise ValueError(f"checksum mismatch for {path}: delete it and prepare the data again")
    tokens = np.memmap(path, dtype=meta["dtype"], mode="r")
    if len(tokens) != meta["n_tokens"]:
        raise ValueError(f"{path} holds {len(tokens)} tokens, its sidecar says {meta['n_tokens']}")
    return tokens


def cache_dir() -> Path:
    """Where prepared corpora live: Google Drive when mounted (survives Colab disconnects), else
    ``$SIGNLAB_CACHE`` or ``~/.cache/signlab``."""
    if DRIVE_DIR.is_dir():
        return DRIVE_DIR / "signlab_cache"
    return Path(os.environ.get("SIGNLAB_CACHE", Path.home() / ".cache" / "signlab"))


def prepare_web_text(
    n_tokens: int, download: bool = False, directory: str | os.PathLike | None = None
) -> tuple[Path, Path]:
    """Train/val token files of FineWeb-Edu under GPT-2 BPE, prepared once and then reused.

    Needs ``pip install tiktoken datasets`` and network access; it streams documents (no full
    download), keeps the first ``n_tokens`` for training and the next ``n_tokens // 100`` for
    validation. Without ``download=True`` it only opens an existing cache, so nothing is fetched
    by accident.
    """
    _validate.integer("n_tokens", n_tokens, low=1000)
    root = Path(directory) if directory is not None else cache_dir()
    out = root / f"fineweb_edu_gpt2_{n_tokens}"
    train, val = out / "train.bin", out / "val.bin"
    if train.exists() and val.exists():
        return train, val
    if not download:
        raise FileNotFoundError(
            f"no prepared corpus at {out}; call prepare_web_text(..., download=True) "
            "or pass --download to `python -m signlab.gpt` (needs network, tiktoken, datasets)"
        )
    tiktoken = require("tiktoken", "--download (GPT-2 tokenization)")
    datasets = require("datasets", "--download (streaming FineWeb-Edu)")

    enc = tiktoken.get_encoding("gpt2")
    docs = (row["text"] for row in datasets.load_dataset(*WEB_TEXT, split="train", streaming=True))
    encoded = encode_in_batches(docs, enc.encode_ordinary_batch)
    tokenize_to_file(encoded, list, train, GPT2_EOT, max_tokens=n_tokens)
    tokenize_to_file(encoded, list, val, GPT2_EOT, max_tokens=max(n_tokens // 100, 1))
    return train, val


def encode_in_batches(
    documents: Iterable[str], encode_batch: Callable, batch: int = 1024
) -> Iterable[list[int]]:
    """Token lists of ``documents``, encoded ``batch`` at a time on every CPU core.

    ``encode_batch(texts, num_threads=k)`` is tiktoken's multithreaded batch encoder; feeding
    the result to :func:`tokenize_to_file` with ``encode=list`` keeps one code path for both.
    """
    batch = _validate.integer("batch", batch)
    threads = os.cpu_count() or 1
    chunk = []
    for doc in documents:
        chunk.append(doc)
        if len(chunk) == batch:
            yield from encode_batch(chunk, num_threads=threads)
            chunk = []
    if chunk:
        yield from encode_batch(chunk, num_threads=threads)
