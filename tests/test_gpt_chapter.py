"""The GPT-2 chapter's GPU branch, forced onto the CPU at the stand-in scale (slow).

The cells of the Colab edition of ``book/gpt2.ipynb`` that the GPU branch needs (the setup and
import cells, then the section "At GPU scale") run in an empty folder with
``SIGNLAB_GPT_SCALE=standin``: the chapter's own cells choose the GPU recipe, train it (budget
plan, learning-rate sweep, final runs), read the logs back and draw the figures. The training
cell is interrupted from outside, as a reader stopping it would, once a final run has written a
checkpoint; running the cell again must resume and finish, and every later cell must pass.
(The whole notebook, alone and with the GPU branch forced the same way, runs in
``tests/test_colab.py``'s seed-1 run; here the CPU-scale cells are left out so the interruption
is tested without training them a second time.)
"""

import threading
import time
from pathlib import Path

import nbformat
import pytest

from signbook.edition import EDITIONS, Book

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def colab_chapter(tmp_path: Path) -> nbformat.NotebookNode:
    book = Book(ROOT, ref="main")
    chapter = next(c for c in book.project.notebooks() if c.name == "gpt2")
    return book.notebook(chapter, EDITIONS["colab"])


def gpu_branch(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook's cells up to its imports, then its section "At GPU scale" (to the next
    section): what the GPU branch runs, without the CPU-scale training before it."""
    cells = nb.cells
    imports = next(i for i, c in enumerate(cells) if "from signlab.gpt.recipe import" in c.source)
    start = next(i for i, c in enumerate(cells) if c.source.lstrip().startswith("## At GPU scale"))
    end = next(
        i
        for i, c in enumerate(cells)
        if i > start and c.cell_type == "markdown" and c.source.lstrip().startswith("## ")
    )
    kept = nbformat.from_dict(dict(nb))
    kept.cells = cells[: imports + 1] + cells[start:end]
    return kept


def test_gpu_branch_at_the_standin_scale_resumes_after_an_interrupted_cell(tmp_path, monkeypatch):
    from jupyter_client.manager import KernelManager
    from nbclient.exceptions import CellExecutionError

    from signbook.execute import notebook_client

    nb = gpu_branch(colab_chapter(tmp_path))
    monkeypatch.setenv("SIGNLAB_GPT_SCALE", "standin")
    monkeypatch.delenv("SIGNLAB_STATIC_BUILD", raising=False)
    monkeypatch.delenv("SIGNLAB_INSTALL", raising=False)
    folder = tmp_path / "alone"
    folder.mkdir()
    final = folder / "runs" / "gpt2-standin" / "final"
    client = notebook_client(
        nb, km=KernelManager(), timeout=900, resources={"metadata": {"path": str(folder)}}
    )
    train_cell = next(i for i, c in enumerate(nb.cells) if "run_recipe(recipe" in c.source)
    interrupted = False
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if i != train_cell:
                client.execute_cell(cell, i)
                continue
            errors = []

            def run(cell=cell, i=i, errors=errors):
                try:
                    client.execute_cell(cell, i)
                except CellExecutionError as err:
                    errors.append(err)

            worker = threading.Thread(target=run)
            worker.start()
            while worker.is_alive() and not list(final.glob("*/checkpoint.pt")):
                time.sleep(0.2)
            if worker.is_alive():
                client.km.interrupt_kernel()
                interrupted = True
            worker.join()
            assert interrupted, f"the cell ended before a checkpoint: {errors}"
            assert errors and errors[0].ename == "KeyboardInterrupt", errors
            logs = {p.parent.name: p.read_text() for p in final.glob("*/log.jsonl")}
            assert logs  # the interrupted cell left a run behind, with its checkpoint
            client.execute_cell(cell, i)  # the reader runs the cell again: it resumes
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert "Traceback" not in text
    # the GPU figures were drawn from the logs, and the committed-logs cell said what exists
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    kinds = [o.get("output_type") for o in outputs]
    assert "error" not in kinds
    shown = "".join(o.get("text", "") for o in outputs)
    assert "this runtime's scale: standin" in shown
    assert "chose lr" in shown and "device: CPU" in shown
    plotted = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    gpu_titles = [
        o["data"]["application/vnd.plotly.v1+json"]["layout"]["title"]["text"]
        for o in plotted
        if "GPU recipe" in str(o["data"]["application/vnd.plotly.v1+json"]["layout"])
    ]
    assert len(gpu_titles) == 2, gpu_titles  # the gap and the φ figures of the GPU runs
    for name in ("sgd", "signsgd", "muon", "adamw"):
        assert (final / name / "log.jsonl").exists()
