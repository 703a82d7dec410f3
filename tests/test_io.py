"""signlab._io.atomic_write and the writers built on it: all or nothing, no temporary file left."""

from __future__ import annotations

import json
import os

import pytest
import torch

from signlab._io import atomic_write
from signlab.gpt import checkpoint, data, runlog


class Boom(Exception):
    pass


def test_a_completed_block_replaces_the_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path) as f:
        f.write("new ")
        f.write("content")
        assert path.read_text() == "old"  # nothing visible until the block ends
    assert path.read_text() == "new content"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_binary_mode_creates_a_new_file(tmp_path):
    path = tmp_path / "blob.bin"
    with atomic_write(path, "wb") as f:
        f.write(b"\x00\xff")
    assert path.read_bytes() == b"\x00\xff"
    assert os.listdir(tmp_path) == ["blob.bin"]


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_failure_inside_the_block_keeps_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(error), atomic_write(path) as f:
        f.write("half of the new")
        f.flush()
        raise error()
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_failure_before_the_first_write_leaves_no_file(tmp_path):
    path = tmp_path / "never.txt"
    with pytest.raises(Boom), atomic_write(path):
        raise Boom()
    assert os.listdir(tmp_path) == []


def test_the_temporary_is_a_sibling_with_a_unique_name(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_write(path) as f1, atomic_write(path) as f2:
        names = {os.path.basename(f1.name), os.path.basename(f2.name)}
        assert len(names) == 2 and all(n.startswith("out.txt.") for n in names)
        assert {os.path.dirname(f1.name), os.path.dirname(f2.name)} == {str(tmp_path)}
        f1.write("first")
        f2.write("second")
    assert path.read_text() == "first"  # the outer block ends last: its rename wins
    assert os.listdir(tmp_path) == ["out.txt"]


def test_text_options_reach_open(tmp_path):
    path = tmp_path / "latin.txt"
    with atomic_write(path, encoding="latin-1") as f:
        f.write("é")
    assert path.read_bytes() == b"\xe9"


@pytest.mark.parametrize("mode", ["a", "r", "w+", "xb"])
def test_modes_other_than_writing_are_refused(tmp_path, mode):
    with pytest.raises(ValueError, match="mode"), atomic_write(tmp_path / "x", mode):
        pass
    assert os.listdir(tmp_path) == []


# the writers that use it: a failure half way through keeps what was there


def test_a_failed_checkpoint_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / checkpoint.CHECKPOINT_NAME
    checkpoint.save(path, {"step": 1, "w": torch.ones(3)})
    with pytest.raises(Exception, match="pickle|lambda"):
        checkpoint.save(path, {"step": 2, "w": torch.zeros(3), "bad": lambda: 0})
    state = checkpoint.load(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert os.listdir(tmp_path) == [checkpoint.CHECKPOINT_NAME]


def test_a_failed_log_rewrite_keeps_the_previous_log(tmp_path):
    path = tmp_path / runlog.LOG_NAME
    runlog.write_records(path, [{"step": 0}, {"step": 1}])
    with pytest.raises(TypeError):
        runlog.write_records(path, [{"step": 0}, {"step": object()}])
    assert runlog.read_log(tmp_path) == [{"step": 0}, {"step": 1}]
    assert os.listdir(tmp_path) == [runlog.LOG_NAME]


def test_an_interrupted_tokenization_keeps_the_previous_cache(tmp_path):
    path = tmp_path / "train.bin"
    data.tokenize_to_file(["a b"], lambda t: [1, 2], path, 0, progress=False)
    before = path.read_bytes(), (tmp_path / "train.bin.json").read_text()

    def documents():
        yield "c d"
        raise Boom()

    with pytest.raises(Boom):
        data.tokenize_to_file(documents(), lambda t: [3, 4, 5], path, 0, progress=False)
    assert (path.read_bytes(), (tmp_path / "train.bin.json").read_text()) == before
    assert json.loads(before[1])["n_tokens"] == 3
    assert sorted(os.listdir(tmp_path)) == ["train.bin", "train.bin.json"]
