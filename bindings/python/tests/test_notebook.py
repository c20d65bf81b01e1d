"""Executes examples/python/quickstart.ipynb (tokenize, embed, LoRA fine-tune, plots, save/load) with nbclient in a
fresh kernel; any cell error fails the test. Two changes keep it short: the fine-tune cell runs 24 steps instead of
the notebook's two epochs (125 steps), and the task is a copy of coding_200 with its first 100 dev and test rows
(evaluating 400 sequences on both strands is most of a short run's time). Every cell's code runs as written
otherwise. About 20 s on 2 cores (3 minutes unchanged)."""
import os

import pytest

from conftest import head_csv

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
NOTEBOOK = os.path.join(ROOT, "examples", "python", "quickstart.ipynb")


def small_task(folder):
    """coding_200 with its first 100 dev and test rows (the whole training set)."""
    src = os.path.join(ROOT, "examples", "data", "tasks", "coding_200")
    os.makedirs(folder)
    for split, rows in (("train", None), ("dev", 100), ("test", 100)):
        head_csv(os.path.join(src, f"{split}.csv"), os.path.join(folder, f"{split}.csv"), rows)
    return folder


def test_quickstart_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    task_line = 'TASK = os.path.join("..", "data", "tasks", "coding_200")'
    setup = [c for c in nb.cells if c.cell_type == "code" and task_line in c.source]
    assert len(setup) == 1, "the notebook's task line changed: update the shortening here"
    setup[0].source = setup[0].source.replace(task_line, f"TASK = {small_task(str(tmp_path / 'task'))!r}")
    # a shorter fine-tune: the notebook's epochs=2 becomes max_steps=24, dev every 12 steps
    cells = [c for c in nb.cells if c.cell_type == "code" and "dnabert.finetune(" in c.source]
    assert len(cells) == 1 and "epochs=2" in cells[0].source and "eval_every=25" in cells[0].source, \
        "the notebook's fine-tune call changed: update the shortening here"
    cells[0].source = cells[0].source.replace("epochs=2", "max_steps=24").replace("eval_every=25", "eval_every=12")
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()      # raises CellExecutionError with the cell's traceback on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "test:" in text and "predicted" in text, text[-2000:]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2, "the loss curve and the confusion matrix"
    # the fine-tuned classifier beats chance on the test set (the notebook's own printout)
    line = next(s for s in text.splitlines() if s.startswith("test:"))
    acc = float(line.split("'accuracy': ")[1].split(",")[0])
    assert acc > 0.65, line
