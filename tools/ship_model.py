#!/usr/bin/env python3
"""Copy a checkpoint's model into examples/models/NAME for shipping: config.json, tokenizer.json and
model.safetensors without the tied decoder copy (`cls.predictions.decoder.weight` equals the word embeddings;
DNABERT-2's code and dnabert tie them on load), which keeps the small model under 25 MB.
Usage: python3 tools/ship_model.py CHECKPOINT_DIR examples/models/NAME"""
import json
import os
import shutil
import sys

from safetensors.numpy import load_file, save_file

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
tensors = load_file(os.path.join(src, "model.safetensors"))
dec = tensors.pop("cls.predictions.decoder.weight", None)
if dec is not None:
    assert (dec == tensors["bert.embeddings.word_embeddings.weight"]).all(), "decoder is not tied"
save_file(tensors, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
for f in ("config.json", "tokenizer.json"):
    shutil.copy(os.path.join(src, f), os.path.join(dst, f))
state = json.load(open(os.path.join(src, "trainer_state.json")))
print("shipped step", state.get("step"), "->", dst, os.path.getsize(os.path.join(dst, "model.safetensors")) // 1024, "KiB")
