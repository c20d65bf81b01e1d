#!/usr/bin/env python3
"""Fine-tune the project's pretrained model with LoRA on a labelled task (train/dev/test CSV files
`sequence,label`), print the test metrics, save the adapter (Hugging Face PEFT format) and reload it.
Usage: python3 finetune.py [MODEL_DIR] [TASK_DIR] [OUT_DIR] [EPOCHS]
Defaults: the bundled dnabert2-small-5genomes model, the bundled coding_200 task, a temporary folder, 1 epoch."""
import os
import sys
import tempfile
import time

import dnabert

HERE = os.path.dirname(os.path.abspath(__file__))
model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "models", "dnabert2-small-5genomes")
task = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data", "tasks", "coding_200")
out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(tempfile.gettempdir(), "dnabert-finetune-example")
epochs = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0

model = dnabert.Model.from_pretrained(model_dir)
print(model)
t0 = time.perf_counter()
clf = dnabert.finetune(model, os.path.join(task, "train.csv"), dev=os.path.join(task, "dev.csv"),
                       test=os.path.join(task, "test.csv"), lora_r=8, lora_alpha=32, epochs=epochs, batch_size=32,
                       select_by="mcc", out=out, progress=sys.stderr.isatty())
seconds = time.perf_counter() - t0
print(clf)
dev = [h for h in clf.history if h["dev_loss"] is not None]
print(f"{len(clf.history)} steps in {seconds:.1f} s; dev MCC by evaluation: "
      + ", ".join(f"step {h['step']}: {h['dev_mcc']:.3f}" for h in dev))
print("test metrics:", ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in clf.test_metrics.items()))
print(f"adapter, metrics.jsonl and test_metrics.json in {out}")

# the saved adapter reloads onto the same base model and predicts the same
again = dnabert.Classifier.load(model, out)
seqs = ["ATGGCTAAAGCTGGTATTGCTGAAGCTCGTAAAGCTGCTGAAGAAATCGCTCGTCAGCTGGCTGAAGAACTGGCGAAATAA",
        "TTTTATATATATAAAAATTTTTTAAATATATTTTTAAATTTAAATATATATTTTTATATAAATTTTAAAAATATATATTTTA"]
proba = again.predict_proba(seqs)
assert (abs(proba - clf.predict_proba(seqs)) < 1e-6).all()
for s, label, p in zip(seqs, again.predict(seqs), proba):
    print(f"{s[:30]}...  label {label}  probabilities " + " ".join(f"{x:.3f}" for x in p))
