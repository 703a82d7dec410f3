"""The library and the book's machinery are separate distributions (issue 14).

Installing signlab registers nothing for anyone's Jupyter Book, and importing the library loads none of
the book's machinery.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def wheel(source: Path, out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def entry_points(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        return z.read(names[0]).decode() if names else ""


@pytest.mark.slow
def test_pip_install_signlab_registers_no_myst_nb_renderer(tmp_path):
    source = tmp_path / "signlab"  # a copy: setuptools writes build/ into the tree it builds
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    (tmp_path / "wheels").mkdir()
    built = wheel(source, tmp_path / "wheels")
    assert built.name.startswith("signlab-")
    assert "myst_nb" not in entry_points(built)
    with zipfile.ZipFile(built) as z:
        assert not [n for n in z.namelist() if n.startswith("signbook/")]


def test_importing_the_library_loads_none_of_the_book_machinery():
    code = (
        "import sys, signlab.optim, signlab.geometry, signlab.sim\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'signbook', 'sphinx', 'myst_nb', 'nbformat', 'docutils'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
