"""Executes examples/python/quickstart.ipynb (tokenize, embed, LoRA fine-tune, plots, save/load) with nbclient in a
fresh kernel; any cell error fails the test. The fine-tune cell runs 40 steps instead of the notebook's two epochs
(125 steps, about 3 minutes on 2 cores): every cell's code runs as written otherwise. About 40 s on 2 cores."""
import os

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
NOTEBOOK = os.path.join(ROOT, "examples", "python", "quickstart.ipynb")


def test_quickstart_notebook_runs():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # a shorter fine-tune (the only change): the notebook's epochs=2 becomes max_steps=40, dev every 20 steps
    cells = [c for c in nb.cells if c.cell_type == "code" and "dnabert.finetune(" in c.source]
    assert len(cells) == 1 and "epochs=2" in cells[0].source and "eval_every=25" in cells[0].source, \
        "the notebook's fine-tune call changed: update the shortening here"
    cells[0].source = cells[0].source.replace("epochs=2", "max_steps=40").replace("eval_every=25", "eval_every=20")
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
