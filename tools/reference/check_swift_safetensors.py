"""Checks that files written by our Swift code are read correctly by the Python ecosystem (run by hand):

    python3 tools/reference/check_swift_safetensors.py

1. Safetensors.write: runs the Swift test `writeFileForPythonCheck` with DNABERT_SAFETENSORS_OUT set, then
   reads the file with the `safetensors` package (numpy and torch loaders) and checks names, shapes, values,
   metadata and the 8-byte header alignment.
2. PyTorchCheckpoint.convertToSafetensors (`dnabert convert`): runs `convertForPythonCheck` on the fixture's
   pytorch_model.bin and compares every tensor with torch.load of the same file.
3. Checkpoint.save: runs `saveForPythonCheck` (the fixture model loaded from pytorch_model.bin and saved by
   Swift), loads model.safetensors into tools/reference/dnabert2_reference.py with load_state_dict(strict=True)
   and compares the forward pass with Fixtures/model/expected.safetensors; config.json is checked against the
   fixture's sizes.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file
from safetensors.torch import load_file as torch_load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from dnabert2_reference import Config, DNABert2  # noqa: E402

FIX = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "model")


# Extra `swift test` arguments, e.g. the Makefile's "-c release -Xswiftc -enable-testing --skip-build" (reuse its build).
SWIFT_TEST_FLAGS = os.environ.get("SWIFT_TEST_FLAGS", "").split()


def swift_test(filter_, env):
    subprocess.run(["swift", "test", *SWIFT_TEST_FLAGS, "--filter", filter_], cwd=ROOT, env={**os.environ, **env},
                   check=True, stdout=subprocess.DEVNULL)


def main():
    tmp = tempfile.mkdtemp(prefix="dnabert-st-")
    path = os.path.join(tmp, "w.safetensors")
    swift_test("writeFileForPythonCheck", {"DNABERT_SAFETENSORS_OUT": path})
    t = load_file(path)
    assert list(t) and set(t) == {"weights.a", "b", "c"}, list(t)
    np.testing.assert_array_equal(t["weights.a"], (np.arange(35, dtype=np.float32) * 0.25 - 3).reshape(7, 5))
    np.testing.assert_array_equal(t["b"], np.arange(3, dtype=np.float32) + 0.5)
    np.testing.assert_array_equal(t["c"], (np.arange(3, dtype=np.float32) + 0.5).reshape(1, 1, 3))
    assert all(v.dtype == np.float32 for v in t.values())
    with safe_open(path, "pt") as f:
        assert f.metadata() == {"format": "pt", "writer": "dnabert"}, f.metadata()
    n = struct.unpack("<Q", open(path, "rb").read(8))[0]
    assert (8 + n) % 8 == 0, n
    torch_load_file(path)
    print("Safetensors.write: read back by the safetensors package (numpy + torch), values and metadata exact")

    conv = os.path.join(tmp, "converted.safetensors")
    swift_test("convertForPythonCheck", {"DNABERT_CONVERT_OUT": conv})
    c = torch_load_file(conv)
    ref = torch.load(os.path.join(FIX, "pytorch_model.bin"), weights_only=True)
    assert list(c) and set(c) == set(ref), set(c) ^ set(ref)
    assert all(torch.equal(c[k], ref[k]) for k in ref)
    print("PyTorchCheckpoint.convertToSafetensors: equals torch.load of pytorch_model.bin, tensor for tensor")

    out = os.path.join(tmp, "saved")
    swift_test("saveForPythonCheck", {"DNABERT_CHECKPOINT_OUT": out})
    cfg = json.load(open(os.path.join(out, "config.json")))
    fix = json.load(open(os.path.join(FIX, "config.json")))
    for k in ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
              "layer_norm_eps", "id2label", "label2id", "model_type", "auto_map"]:
        assert cfg[k] == fix[k], (k, cfg[k], fix[k])
    sd = torch_load_file(os.path.join(out, "model.safetensors"))
    with safe_open(os.path.join(out, "model.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt"}
    c = Config(vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"], num_hidden_layers=cfg["num_hidden_layers"],
               num_attention_heads=cfg["num_attention_heads"], intermediate_size=cfg["intermediate_size"],
               num_labels=len(cfg["id2label"]), mlm_head=True, pooler=True)
    model = DNABert2(c).eval()
    model.load_state_dict(sd, strict=True)
    exp = torch_load_file(os.path.join(FIX, "expected.safetensors"))
    got = model(exp["input_ids"], exp["attention_mask"])
    # The same reference on the fixture's own weights, in this process: must be identical (same weights, same
    # kernels). expected.safetensors was written by another torch build/thread count: equal to float32 rounding.
    orig = DNABert2(c).eval()
    orig.load_state_dict({k: v for k, v in torch.load(os.path.join(FIX, "pytorch_model.bin"), weights_only=True).items()
                          if k in sd}, strict=True)
    want = orig(exp["input_ids"], exp["attention_mask"])
    for k in ["last_hidden_state", "mlm_logits", "pooled_output", "classifier_logits"]:
        assert torch.equal(got[k], want[k]), k
        assert torch.allclose(got[k], exp[k], rtol=1e-5, atol=1e-5), (k, (got[k] - exp[k]).abs().max().item())
    print("Checkpoint.save: config.json + model.safetensors load into the PyTorch reference (strict) and give "
          "exactly the outputs of the fixture's own weights (and expected.safetensors to 1e-5)")


if __name__ == "__main__":
    main()
