#!/usr/bin/env python3
"""`make demo`: the main job on the bundled data — train a DNABERT-2-style BPE tokenizer on a bundled genome,
encode another genome with it and with DNABERT-2's own tokenizer; embed and predict masked tokens with the
project's pretrained default model; fine-tune it with LoRA on a bundled classification task and report test
metrics."""
import gzip
import os
import tempfile
import time

import numpy as np

import dnabert

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
train_file = os.path.join(DATA, "hpylori_sjm180.fasta.gz")
test_file = os.path.join(DATA, "saureus_n315.fasta.gz")


def read(path):
    with gzip.open(path, "rt") as f:
        return "".join(line.strip() for line in f if not line.startswith(">"))


print(f"dnabert {dnabert.version()} ({dnabert.library_path})")
t0 = time.perf_counter()
tok = dnabert.Tokenizer.train([train_file], vocab_size=4096)
print(f"trained a 4096-token BPE tokenizer on H. pylori ({len(read(train_file)) / 1e6:.2f} Mbp) "
      f"in {time.perf_counter() - t0:.2f} s")
out = os.path.join(tempfile.gettempdir(), "dnabert-demo-tokenizer.json")
tok.save(out)
print(f"saved to {out} (Hugging Face tokenizer.json format)")

genome = read(test_file)
windows = [genome[i:i + 1000] for i in range(0, len(genome) - 999, 1000)]
reference = dnabert.Tokenizer.from_file(os.path.join(DATA, "dnabert2", "tokenizer.json"))
print(f"\nencoding S. aureus ({len(genome) / 1e6:.2f} Mbp):")
print(f"{'tokenizer':28s} {'bp/token':>9s} {'batch 1 kbp':>13s} {'whole genome':>14s}")
for name, t in (("trained on H. pylori", tok), ("DNABERT-2 (published)", reference)):
    t0 = time.perf_counter()
    rows = t.encode_batch(windows, add_special_tokens=False)
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = t.encode(genome, add_special_tokens=False)
    tc = time.perf_counter() - t0
    print(f"{name:28s} {len(genome) / len(ids):9.2f} {len(windows) * 1000 / tb / 1e6:8.1f} Mbp/s "
          f"{len(genome) / tc / 1e6:9.1f} Mbp/s")
    assert t.decode(ids) == genome
print("\ndecode(encode(genome)) == genome for both tokenizers")

# ---- embeddings with the project's pretrained model ---------------------------------------------------
# examples/models/dnabert2-small-5genomes: 4 layers x 256 hidden, DNABERT-2's tokenizer, pretrained by
# `dnabert pretrain` on the five genomes of ../shared/data (see examples/models/README.md).
print(f"\nBLAS: {dnabert.blas_info()}")
model = dnabert.Model.from_pretrained(os.path.join(DATA, "..", "models", "dnabert2-small-5genomes"))
print(f"model: {model}")
sample = windows[:512]
t0 = time.perf_counter()
emb = model.embed(sample, progress=False)
dt = time.perf_counter() - t0
print(f"embedded {len(sample)} windows of 1 kbp -> {emb.shape} in {dt:.2f} s ({len(sample) * 1000 / dt / 1e3:.0f} kbp/s)")
unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
print(f"cosine similarity of neighbouring windows {np.sum(unit[1:] * unit[:-1], axis=1).mean():.3f}")
t0 = time.perf_counter()
whole = model.embed([genome[:200_000]], max_length=512, overlap=64, progress=False)
print(f"one 200 kbp sequence (sliding windows of 512 tokens) -> {whole.shape} in {time.perf_counter() - t0:.2f} s")

# masked-token prediction: hide one token of a real sequence and ask the model for it
ids = reference.encode(genome[5000:5300])
masked = ids.copy()
masked[20] = reference.special_ids["mask"]
top = np.argsort(-model.mlm_logits(masked)[0, 20])[:5]
print(f"masked token {reference.id_to_token(int(ids[20]))!r}; model's top 5: "
      + ", ".join(reference.id_to_token(int(t)) for t in top))

# ---- LoRA fine-tuning on a bundled task ---------------------------------------------------------------------
# examples/data/tasks/coding_200: 200 bp windows of U. maydis, inside a coding sequence (1) or intergenic (0);
# 2000 training, 400 dev and 400 test sequences from different chromosomes. The windows come from either strand,
# so the classifier is strand-symmetric: it trains on both strands and averages its scores over them.
task = os.path.join(DATA, "tasks", "coding_200")
print("\nLoRA fine-tuning on coding_200 (2000 train / 400 dev / 400 test):")
t0 = time.perf_counter()
clf = dnabert.finetune(model, os.path.join(task, "train.csv"), dev=os.path.join(task, "dev.csv"),
                       test=os.path.join(task, "test.csv"), lora_r=8, lora_alpha=32, epochs=3, select_by="mcc",
                       reverse_complement=True, progress=False)
print(f"{clf.info['trainable_parameters']:,} trainable parameters (of {model.info['num_parameters']:,}), "
      f"{time.perf_counter() - t0:.0f} s")
print("test: " + ", ".join(f"{k} {v:.3f}" for k, v in clf.test_metrics.items() if k in
                           ("accuracy", "f1", "mcc", "precision", "recall")))
out = os.path.join(tempfile.gettempdir(), "dnabert-demo-adapter")
clf.save(out)
print(f"adapter saved to {out} (Hugging Face PEFT format: adapter_config.json, adapter_model.safetensors)")
probe = [genome[100_000:100_200], genome[200_000:200_200]]
print("P(coding) of two S. aureus windows: " + ", ".join(f"{p:.3f}" for p in clf.predict_proba(probe)[:, 1]))
