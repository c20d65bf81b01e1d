"""Writes a DNABERT-2-117M-sized random checkpoint (not committed: ~470 MB each) for timing and
checking the Swift readers at full size (run by hand):

    python3 tools/reference/make_large_checkpoint.py /tmp/dnabert-large
    DNABERT_LARGE_CHECKPOINT_DIR=/tmp/dnabert-large swift test -c release --filter largeCheckpoint

The directory gets config.json (the published one), pytorch_model.bin (torch.save of the state dict with
the tied decoder, like the published file) and model.safetensors (safetensors package, no decoder).
"""
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnabert2_reference import Config, DNABert2  # noqa: E402


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1)
    model = DNABert2(Config(mlm_head=True))
    sd = model.state_dict()
    n = sum(v.numel() for k, v in sd.items() if k != "cls.predictions.decoder.weight")
    print("parameters (tied decoder once):", n)
    torch.save(sd, os.path.join(out, "pytorch_model.bin"))
    save_file({k: v.contiguous() for k, v in sd.items() if k != "cls.predictions.decoder.weight"},
              os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(os.environ.get("DNABERT_CONFIG", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                                                               "data", "dnabert2", "config.json")), os.path.join(out, "config.json"))


if __name__ == "__main__":
    main()
