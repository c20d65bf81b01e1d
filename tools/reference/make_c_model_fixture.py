"""Writes Tests/c/model_expected.bin for the C model test from the PyTorch reference fixture
(Tests/DNABertTests/Fixtures/model/expected.safetensors, made by make_model_fixture.py):
int32 B, L, H; int32 ids[B*L]; int32 mask[B*L]; float32 last_hidden_state[B*L*H] (little endian)."""
import os

import numpy as np
from safetensors.numpy import load_file

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
e = load_file(os.path.join(root, "Tests", "DNABertTests", "Fixtures", "model", "expected.safetensors"))
ids = e["input_ids"].astype("<i4")
mask = e["attention_mask"].astype("<i4")
hidden = e["last_hidden_state"].astype("<f4")
B, L, H = hidden.shape
with open(os.path.join(root, "Tests", "c", "model_expected.bin"), "wb") as f:
    f.write(np.array([B, L, H], dtype="<i4").tobytes())
    f.write(ids.tobytes())
    f.write(mask.tobytes())
    f.write(hidden.tobytes())
print("wrote", B, L, H)
