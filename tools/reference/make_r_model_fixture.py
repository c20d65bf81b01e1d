#!/usr/bin/env python3
"""PyTorch reference tensors of the tiny model fixture, in plain files the R package's tests read with readBin.

Source: Tests/DNABertTests/Fixtures/model/ (config.json, model.safetensors, expected.safetensors), written by
make_model_fixture.py with the project's plain PyTorch reference (dnabert2_reference.py). R cannot read
safetensors, so this script converts the tensors the R tests need into raw little-endian files:

  manifest.tsv           name, dtype (int32 | float32), dims (row-major, comma separated), file
  input_ids.bin          int32  [3, 35]   the padded batch (HF tokenizers ids of 3 genome sequences)
  attention_mask.bin     int32  [3, 35]
  embedding_output.bin   float32 [3, 35, 48]
  hidden_states.0.bin    float32 [3, 35, 48]   output of encoder layer 0 (0-based)
  hidden_states.1.bin    float32 [3, 35, 48]
  last_hidden_state.bin  float32 [3, 35, 48]
  mlm_columns.bin        int32  [C]       0-based vocabulary ids kept from the MLM logits (the full [3, 35, 4096]
                                          tensor is 1.7 MB): the special tokens, each position's arg max and
                                          a seeded random sample
  mlm_logits.bin         float32 [3, 35, C] mlm_logits[..., mlm_columns]
  attention.0.bin        float32 [3, 6, 35, 35] attention probabilities of layer 0, computed here by running the
  attention.1.bin        float32 [3, 6, 35, 35] reference's layers step by step (not stored in expected.safetensors)

Every file is C (row-major) order, as in PyTorch. Run from the repository root:
    python3 tools/reference/make_r_model_fixture.py [fixture_dir] [out_dir]
"""
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnabert2_reference import Config, DNABert2  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "model")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "bindings", "R", "tests", "testthat", "fixtures",
                                                         "model_reference")


def main():
    os.makedirs(OUT, exist_ok=True)
    exp = load_file(os.path.join(SRC, "expected.safetensors"))
    cfg = json.load(open(os.path.join(SRC, "config.json")))
    c = Config(vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"], num_hidden_layers=cfg["num_hidden_layers"],
               num_attention_heads=cfg["num_attention_heads"], intermediate_size=cfg["intermediate_size"],
               type_vocab_size=cfg["type_vocab_size"], layer_norm_eps=cfg["layer_norm_eps"],
               num_labels=len(cfg.get("id2label", {})), mlm_head=True, pooler=True)
    model = DNABert2(c).eval()
    sd = load_file(os.path.join(SRC, "model.safetensors"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert set(missing) <= {"cls.predictions.decoder.weight"} and not unexpected, (missing, unexpected)

    ids, mask = exp["input_ids"], exp["attention_mask"]
    ref = model(ids, mask)
    # The reference rebuilt from the weights must reproduce the committed expected tensors.
    diff = (ref["last_hidden_state"] - exp["last_hidden_state"]).abs().max().item()
    assert diff < 1e-5, diff

    # Attention probabilities of every layer, with the reference's own modules.
    attn = []
    with torch.no_grad():
        bias = model.attention_bias(mask)
        x = model.bert.embeddings(ids)
        B, L, H = x.shape
        nh = c.num_attention_heads
        hd = H // nh
        for layer in model.bert.encoder.layer:
            q, k, _ = layer.attention.self.Wqkv(x).split(H, dim=-1)
            q = q.view(B, L, nh, hd).transpose(1, 2)
            k = k.view(B, L, nh, hd).transpose(1, 2)
            attn.append(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1))
            x = layer(x, bias)

    logits = exp["mlm_logits"].numpy()
    rng = np.random.default_rng(20261125)
    cols = set(range(5)) | set(int(v) for v in logits.argmax(-1).ravel()) | set(int(v) for v in ids.numpy().ravel())
    cols |= set(int(v) for v in rng.choice(logits.shape[-1], 200, replace=False))
    cols = np.array(sorted(cols), dtype=np.int32)

    tensors = [
        ("input_ids", ids.numpy().astype("<i4")),
        ("attention_mask", mask.numpy().astype("<i4")),
        ("embedding_output", exp["embedding_output"].numpy()),
        ("hidden_states.0", exp["hidden_states.0"].numpy()),
        ("hidden_states.1", exp["hidden_states.1"].numpy()),
        ("last_hidden_state", exp["last_hidden_state"].numpy()),
        ("mlm_columns", cols.astype("<i4")),
        ("mlm_logits", logits[..., cols]),
    ] + [(f"attention.{i}", a.numpy()) for i, a in enumerate(attn)]

    rows = ["name\tdtype\tdims\tfile"]
    for name, arr in tensors:
        if arr.dtype.kind == "f":
            arr, dtype = np.ascontiguousarray(arr, dtype="<f4"), "float32"
        else:
            arr, dtype = np.ascontiguousarray(arr, dtype="<i4"), "int32"
        fname = name + ".bin"
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(arr.tobytes(order="C"))
        rows.append(f"{name}\t{dtype}\t{','.join(str(d) for d in arr.shape)}\t{fname}")
    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    print(f"wrote {len(tensors)} tensors to {OUT} (reference vs expected.safetensors: max diff {diff:.2e})")


if __name__ == "__main__":
    main()
