#!/usr/bin/env python3
"""Independent check of a dnabert training checkpoint folder (Sources/DNABert/Training/TrainingCheckpoint.swift).

    python3 tools/reference/check_training_checkpoint.py OUT/checkpoint-<step>

Verifies with Python's own zlib, json and the `safetensors` package (not our code): the completion marker's
sizes and CRC-32s, that model.safetensors and optimizer.safetensors open, that every model tensor has an
exp_avg and exp_avg_sq of the same shape (the tied decoder weight excepted), that trainer_state.json parses,
and that the moments load into a torch.optim.AdamW state_dict (PyTorch's own optimizer format).
Exit status 0 when all checks pass.
"""
import json
import os
import sys
import zlib

from safetensors.numpy import load_file


def main(d):
    marker = json.load(open(os.path.join(d, "checkpoint.json")))
    assert marker["format"] == "dnabert-checkpoint", marker.get("format")
    for f in marker["files"]:
        data = open(os.path.join(d, f["name"]), "rb").read()
        assert len(data) == f["size"], (f["name"], len(data), f["size"])
        assert zlib.crc32(data) == f["crc32"], (f["name"], "CRC mismatch")
    model = load_file(os.path.join(d, "model.safetensors"))
    opt = load_file(os.path.join(d, "optimizer.safetensors"))
    state = json.load(open(os.path.join(d, "trainer_state.json")))
    assert state["format"] == "dnabert-trainer-state" and state["step"] == marker["step"]
    names = [n for n in model if n != "cls.predictions.decoder.weight"]
    for n in names:
        for s in (".exp_avg", ".exp_avg_sq"):
            assert n + s in opt, n + s
            assert opt[n + s].shape == model[n].shape, (n + s, opt[n + s].shape, model[n].shape)
        assert (opt[n + ".exp_avg_sq"] >= 0).all(), n
    assert len(opt) == 2 * len(names), "optimizer.safetensors has extra tensors"
    try:
        import torch
        params = [torch.nn.Parameter(torch.from_numpy(model[n].copy())) for n in names]
        o = torch.optim.AdamW(params, betas=(state["optimizer"]["beta1"], state["optimizer"]["beta2"]),
                              eps=state["optimizer"]["eps"], weight_decay=state["optimizer"]["weight_decay"])
        sd = o.state_dict()
        sd["state"] = {i: {"step": torch.tensor(float(state["step"])),
                           "exp_avg": torch.from_numpy(opt[n + ".exp_avg"].copy()),
                           "exp_avg_sq": torch.from_numpy(opt[n + ".exp_avg_sq"].copy())} for i, n in enumerate(names)}
        o.load_state_dict(sd)
        print("torch.optim.AdamW accepted the moments")
    except ImportError:
        pass
    print(f"OK: step {marker['step']}, {len(names)} tensors, {len(marker['files'])} files verified")


if __name__ == "__main__":
    main(sys.argv[1])
