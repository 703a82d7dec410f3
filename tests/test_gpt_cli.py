"""Tests for ``python -m signlab.gpt``: the generated flags, help, bad names, a short run with its
summary line, checkpoints at the end, readable progress in a log file, missing optional packages,
and DDP under torchrun."""

import dataclasses
import io
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from signlab.gpt import checkpoint
from signlab.gpt.__main__ import build_parser, main
from signlab.gpt.config import RunConfig
from signlab.gpt.runlog import Progress

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_run_option_is_a_flag_with_its_help():
    parser = build_parser()
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert set(actions) == {f.name for f in dataclasses.fields(RunConfig)}
    for f in dataclasses.fields(RunConfig):
        assert f.metadata["help"] in actions[f.name].help, f.name
        assert actions[f.name].default == f.default, f.name
    args = parser.parse_args(["--steps", "7", "--no-checkpoint", "--lr", "0.5", "--data", "bytes"])
    assert (args.steps, args.checkpoint, args.lr, args.data) == (7, False, 0.5, "bytes")


def test_help_lists_presets_and_optimizers(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("cpu-tiny", "colab-t4", "gpt2-124m", "sgd", "signsgd", "signum", "lion", "muon"):
        assert name in out
    assert "0: one checkpoint when the run ends or stops" in " ".join(out.split())


@pytest.mark.parametrize(
    ("args", "listed"),
    [(["--preset", "huge"], "'cpu-tiny', 'colab-t4'"), (["--optimizer", "adam"], "'signsgd'")],
)
def test_unknown_name_exits_listing_valid_ones(args, listed, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main([*args, "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert listed in capsys.readouterr().err


def test_bad_value_exits_with_one_message(capsys, tmp_path):
    assert main(["--steps", "0", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: steps must be an integer >= 1 (got 0)"


def test_short_run_writes_jsonl_and_a_summary_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--steps", "3", "--eval-every", "2", "--out", str(out), "--optimizer", "lion"]
    assert main([*argv, "--no-progress"]) == 0
    records = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["step"] for r in records] == [0, 1, 2]
    assert all("train_loss" in r for r in records)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    summary = lines[0]
    assert summary.startswith("done: lion on cpu-tiny, 3 steps; final train loss ")
    assert f"{records[-1]['train_loss']:.4f}" in summary
    assert f"val loss {records[-1]['val_loss']:.4f} (step 3)" in summary
    assert (
        f"log: {out / 'log.jsonl'}" in summary and f"checkpoint: {out / 'checkpoint.pt'}" in summary
    )


def test_checkpoint_every_zero_writes_one_checkpoint_at_the_end(tmp_path):
    out = tmp_path / "run"
    argv = ["--steps", "4", "--checkpoint-every", "0", "--no-progress", "--optimizer", "sgd"]
    assert main([*argv, "--out", str(out)]) == 0
    state = checkpoint.load(out / "checkpoint.pt")
    assert state["step"] == 4
    plain = tmp_path / "plain"
    assert main([*argv, "--out", str(plain), "--no-checkpoint"]) == 0
    assert not (plain / "checkpoint.pt").exists()


def test_default_output_is_under_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--steps", "1", "--no-progress", "--optimizer", "signsgd"]) == 0
    assert (tmp_path / "runs" / "cpu-tiny" / "signsgd" / "log.jsonl").exists()


@pytest.mark.parametrize("module", ["tiktoken", "datasets"])
def test_missing_optional_package_gets_one_sentence(module, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    if module == "datasets":  # get past tiktoken even where it is not installed
        monkeypatch.setitem(sys.modules, "tiktoken", type(sys)("tiktoken"))
    argv = ["--preset", "colab-t4", "--download", "--data-dir", str(tmp_path), "--steps", "1"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert f"'{module}'" in err and 'pip install "signlab[gpt]"' in err


class _FakeFile(io.StringIO):
    def isatty(self):
        return False


def test_progress_in_a_log_file_is_a_few_plain_lines():
    stream = _FakeFile()
    bar = Progress(total=300, start=0, desc="sgd", stream=stream)
    for done in range(1, 301):
        bar.update(
            done, {"train_loss": 5.0 - done / 100, **({"val_loss": 4.0} if done == 300 else {})}
        )
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 10
    assert lines[0].startswith("sgd: step 30/300  train loss 4.700")
    assert lines[-1].startswith("sgd: step 300/300  train loss 2.000  val loss 4.000")


def test_cli_run_redirected_to_a_file_logs_plain_progress(tmp_path):
    log = tmp_path / "stderr.txt"
    cmd = [sys.executable, "-m", "signlab.gpt", "--steps", "20", "--optimizer", "sgd"]
    cmd += ["--out", str(tmp_path / "run"), "--eval-every", "10"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as err:
        done = subprocess.run(
            cmd, stderr=err, stdout=subprocess.PIPE, text=True, env=env, timeout=300
        )
    assert done.returncode == 0
    text = log.read_text()
    assert "\r" not in text
    assert text.splitlines() == [
        line for line in text.splitlines() if line.startswith("sgd: step ")
    ]
    assert len(text.splitlines()) == 10
    assert done.stdout.startswith("done: sgd on cpu-tiny, 20 steps")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process(tmp_path):
    common = [
        "--steps",
        "6",
        "--optimizer",
        "adamw",
        "--grad-accum",
        "2",
        "--no-progress",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--checkpoint-every",
        "3",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = tmp_path / "single"
    subprocess.run(
        [sys.executable, "-m", "signlab.gpt", *common, "--out", str(single)],
        check=True,
        env=env,
        timeout=300,
    )
    ddp = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "signlab.gpt",
        *common,
        "--out",
        str(ddp),
    ]
    subprocess.run(cmd, check=True, env=env, timeout=300)
    one = [json.loads(line) for line in open(single / "log.jsonl")]
    two = [json.loads(line) for line in open(ddp / "log.jsonl")]
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(6))
    for a, b in zip(one, two, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["tokens"] == a["tokens"]
    assert json.loads((ddp / "run.json").read_text())["world_size"] == 2
    state = checkpoint.load(ddp / "checkpoint.pt")  # both ranks' RNG states, as tensors
    assert state["step"] == 6 and len(state["rng"]) == 2
    assert all(isinstance(r["torch"], torch.Tensor) for r in state["rng"])


def test_parser_for_any_dataclass():
    from signlab.gpt.cli import config_from_args, parser_for

    @dataclasses.dataclass(frozen=True)
    class Toy:
        """A toy configuration."""

        width: tuple[int, ...] = dataclasses.field(default=(1, 2), metadata={"help": "widths"})
        name: str = dataclasses.field(
            default="a", metadata={"help": "a name", "choices": ("a", "b")}
        )
        rate: float | None = dataclasses.field(default=None, metadata={"help": "a rate"})
        fast: bool = dataclasses.field(default=False, metadata={"help": "go fast"})
        hidden: int = dataclasses.field(default=3, metadata={"cli": False})

    parser = parser_for(Toy, prog="toy")
    toy = config_from_args(Toy, parser.parse_args(["--width", "4,8", "--rate", "0.5", "--fast"]))
    assert toy == Toy(width=(4, 8), name="a", rate=0.5, fast=True, hidden=3)
    assert config_from_args(Toy, parser.parse_args([]), hidden=9) == Toy(hidden=9)
    assert "--hidden" not in parser.format_help() and "(default: 1,2)" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--name", "c"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--width", "4,x"])


def test_require_names_the_package_and_the_install_command():
    from signlab.gpt.data import MissingDependencyError, require

    assert require("json", "reading").dumps([1]) == "[1]"
    with pytest.raises(MissingDependencyError, match=r"'no_such_pkg_xyz'.*pip install") as err:
        require("no_such_pkg_xyz", "this feature")
    assert isinstance(err.value, ImportError) and str(err.value).startswith("this feature needs")
    with pytest.raises(MissingDependencyError, match="run `pip install scikit-learn` and try"):
        require("no_such_pkg_xyz", "the CNN", install="pip install scikit-learn")


def test_run_log_rewrites_kept_records_and_closes_on_error(tmp_path):
    from signlab.gpt.runlog import RunLog, read_log, write_records

    write_records(tmp_path / "log.jsonl", [{"step": 0}, {"step": 1}, {"step": 2}])
    progress = Progress(total=5, start=2, desc="x", enabled=False)
    with pytest.raises(RuntimeError):
        with RunLog(tmp_path, [{"step": 0}, {"step": 1}], progress) as log:
            log.write({"step": 2, "train_loss": 1.0})
            log.write({"step": 3, "diverged": "x"}, keep=False)
            raise RuntimeError("stop")
    assert log._file.closed
    assert read_log(tmp_path) == [
        {"step": 0},
        {"step": 1},
        {"step": 2, "train_loss": 1.0},
        {"step": 3, "diverged": "x"},
    ]
    assert log.records == [{"step": 0}, {"step": 1}, {"step": 2, "train_loss": 1.0}]


def test_progress_draws_a_notebook_bar_inside_a_kernel(monkeypatch):
    import types

    from signlab.gpt import runlog

    assert runlog.in_notebook() is False  # pytest is no Jupyter kernel
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    fake = types.SimpleNamespace(get_ipython=lambda: shell)
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert runlog.in_notebook() is True
    made = []

    class Bar:
        def __init__(self, **kw):
            made.append(kw)
            self.n = kw["initial"]

    import tqdm.notebook

    monkeypatch.setattr(tqdm.notebook, "tqdm", Bar)
    bar = Progress(total=8, start=3, desc="sgd")
    assert isinstance(bar.bar, Bar) and made == [{"total": 8, "initial": 3, "desc": "sgd"}]
