#!/usr/bin/env python3
"""Pretrain a tiny model for a few steps on a bundled genome and plot its loss (matplotlib when installed).
Usage: python3 pretrain_tiny.py [genome.fa.gz] [out_dir] [steps]"""
import os
import sys
import tempfile

import dnabert

HERE = os.path.dirname(os.path.abspath(__file__))
genome = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data", "hpylori_sjm180.fasta.gz")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(tempfile.gettempdir(), "dnabert-tiny-run")
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 40
tok = dnabert.Tokenizer.from_file(os.path.join(HERE, "..", "data", "dnabert2", "tokenizer.json"))
model = dnabert.pretrain("tiny", tok, [genome], out=out, steps=steps, batch_size=16, seq_len=128, lr=2e-3,
                         eval_every=max(1, steps // 4), checkpoint_every=steps, progress=False)
first, last = model.history[0], model.history[-1]
print(f"{steps} steps: loss {first['loss']:.3f} -> {last['loss']:.3f}, validation loss {last['validation_loss']:.3f}, "
      f"masked-token accuracy {100 * last['validation_accuracy']:.1f}%, {last['tokens_per_second']:.0f} tokens/s")
print(f"model, checkpoints and metrics.jsonl in {out}")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.plot([h["step"] for h in model.history], [h["loss"] for h in model.history], label="training")
    val = [(h["step"], h["validation_loss"]) for h in model.history if h["validation_loss"] is not None]
    plt.plot(*zip(*val), "o-", label="validation")
    plt.xlabel("step"); plt.ylabel("MLM loss"); plt.legend()
    plt.savefig(os.path.join(out, "loss.png"), dpi=100)
    print("loss curve:", os.path.join(out, "loss.png"))
except ImportError:
    pass
