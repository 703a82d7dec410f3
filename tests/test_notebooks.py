"""The committed notebooks: no outputs, the generated Colab cell first, valid launch paths."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks  # noqa: E402

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def test_there_are_chapters():
    assert CHAPTERS, "no chapter notebooks found under book/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name} has outputs committed"
            assert cell["execution_count"] is None


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_installs_signlab_only_in_colab(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and notebooks.COLAB_TAG in first.metadata["tags"]
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f'SIGNLAB_REPO = "{url}"' in first.source
    assert 'IN_COLAB = "google.colab" in sys.modules' in first.source
    # outside Colab the cell is a no-op: running it must not call pip
    code = first.source.replace("subprocess.run(", "(_ for _ in ()).throw(AssertionError)(")
    exec(compile(code, "colab-cell", "exec"), {})


def test_colab_cell_never_pins_torch_or_numpy():
    code = [ln for ln in notebooks.colab_cell().source.splitlines() if not ln.startswith("#")]
    source = "\n".join(code)
    assert "torch" not in source and "numpy" not in source
    assert "--upgrade" not in source and "-U " not in source


def test_sync_check_passes():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "notebooks.py"), "check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_check_detects_outputs_and_missing_colab_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)
    ]
    nb.cells = [cell]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert notebooks.check([path]) == 1
    notebooks.sync([path])
    assert notebooks.check([path]) == 0
    synced = nbformat.read(path, as_version=4)
    assert synced.cells[1].outputs == [] and notebooks.COLAB_TAG in synced.cells[0].metadata.tags


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc["chapters"]]
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f
    listed = {f for f in files}
    for path in CHAPTERS:
        assert f"book/{path.stem}" in listed, f"{path.name} is not in _toc.yml"
