#!/usr/bin/env python3
"""Tokenizer benchmark: dnabert vs Hugging Face `tokenizers` vs SentencePiece, side by side in one run.

Encoding: a batch of 1 kbp windows and one whole chromosome, with the DNABERT-2 tokenizer (dnabert, HF) and a
SentencePiece BPE model of the same vocabulary size. Training: vocab 4096 on all of ../shared/data/genomes
(~24 Mbp), each trainer in its own child process so that its peak RSS is its own. Prints Mbp/s, seconds, bp/token,
peak RSS and the ratios. Usage: python3 bench/bench_tokenizer.py [--threads 2] [--quick]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("DNABERT_SHARED") or os.path.join(HERE, "..", "..", "shared")
GENOMES = os.path.join(SHARED, "data", "genomes")
DNABERT2 = os.path.join(SHARED, "data", "dnabert2", "tokenizer.json")


def read_fasta(path):
    recs, cur = [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if cur:
                    recs.append("".join(cur))
                cur = []
            else:
                cur.append(line.strip())
    if cur:
        recs.append("".join(cur))
    return recs


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def genome_files():
    return sorted(os.path.join(GENOMES, f) for f in os.listdir(GENOMES) if f.endswith(".fasta.gz"))


# ---- training, each in a child process ---------------------------------------------------------------
# Peak RSS of the child itself: VmHWM starts afresh at exec (ru_maxrss would include the parent's pages at fork).
PEAK = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

TRAINERS = {
    "dnabert": """
import dnabert, sys, json, time
files = json.loads(sys.argv[1]); out = sys.argv[2]
t0 = time.perf_counter()
tok = dnabert.Tokenizer.train(files, vocab_size=4096, threads={threads}, progress=False)
dt = time.perf_counter() - t0
tok.save(out)
print(json.dumps({{"seconds": dt, "peak_rss_mb": peak_rss_mb()}}))
""",
    "hf": """
import os, sys, json, time
os.environ["RAYON_NUM_THREADS"] = "{threads}"
from tokenizers import Tokenizer, models, trainers, pre_tokenizers
lines = open(sys.argv[3]).read().split("\\n")
t0 = time.perf_counter()
tok = Tokenizer(models.BPE(unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tr = trainers.BpeTrainer(vocab_size=4096, min_frequency=2, show_progress=False,
                         special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"])
tok.train_from_iterator(lines, tr)
dt = time.perf_counter() - t0
tok.save(sys.argv[2])
print(json.dumps({{"seconds": dt, "peak_rss_mb": peak_rss_mb()}}))
""",
    "sentencepiece": """
import sys, json, time
import sentencepiece as spm
t0 = time.perf_counter()
spm.SentencePieceTrainer.train(input=sys.argv[3], model_prefix=sys.argv[2], model_type="bpe", vocab_size=4096,
    character_coverage=1.0, num_threads={threads}, add_dummy_prefix=False, max_sentence_length=20000,
    input_sentence_size=0, bos_id=-1, eos_id=-1, minloglevel=2, train_extremely_large_corpus=False,
    user_defined_symbols=[], split_by_whitespace=True)
dt = time.perf_counter() - t0
print(json.dumps({{"seconds": dt, "peak_rss_mb": peak_rss_mb()}}))
""",
}


def run_child(code, args):
    r = subprocess.run([sys.executable, "-c", PEAK + code] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"child failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def bp_per_token(encode_batch, windows):
    tokens = sum(encode_batch(windows))
    return sum(len(w) for w in windows) / tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, skip training")
    ap.add_argument("--line-length", type=int, default=1000, help="line length of the corpus given to HF/SentencePiece")
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    import numpy as np  # noqa: F401
    from tokenizers import Tokenizer as HFTokenizer
    import sentencepiece as spm
    import dnabert

    repeat = 2 if args.quick else 3
    files = genome_files()
    genomes = {os.path.basename(f): read_fasta(f) for f in files}
    corpus = [s for recs in genomes.values() for s in recs]
    total_bp = sum(len(s) for s in corpus)
    windows = [s[i:i + 1000] for s in corpus for i in range(0, len(s) - 999, 1000)]
    chromosome = genomes["ecoli_k12_mg1655.fasta.gz"][0]
    print(f"corpus: {len(files)} genomes, {total_bp / 1e6:.1f} Mbp; {len(windows)} windows of 1 kbp; "
          f"chromosome {len(chromosome) / 1e6:.2f} Mbp; threads {args.threads}")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = os.path.join(tmp, "corpus.txt")
        with open(corpus_path, "w") as f:
            L = args.line_length
            f.write("\n".join(s[i:i + L] for s in corpus for i in range(0, len(s), L)))

        # ---- encoding with DNABERT-2's tokenizer (dnabert vs HF) and an SP model of the same size ----
        ours = dnabert.Tokenizer.from_file(DNABERT2)
        hf = HFTokenizer.from_file(DNABERT2)
        spm.SentencePieceTrainer.train(input=corpus_path, model_prefix=os.path.join(tmp, "sp_enc"), model_type="bpe",
                                       vocab_size=4096, character_coverage=1.0, num_threads=args.threads,
                                       add_dummy_prefix=False, max_sentence_length=20000, bos_id=-1, eos_id=-1,
                                       minloglevel=2, input_sentence_size=200000, shuffle_input_sentence=True)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "sp_enc.model"))
        wb = windows
        enc = {
            "dnabert": (lambda: ours.encode_batch(wb, threads=args.threads), lambda: ours.encode(chromosome)),
            "hf": (lambda: hf.encode_batch(wb), lambda: hf.encode(chromosome)),
            "sentencepiece": (lambda: sp.encode(wb, num_threads=args.threads), lambda: sp.encode(chromosome)),
        }
        print("\nencoding (Mbp/s, best of %d)" % repeat)
        print(f"{'':15s} {'batch 1 kbp':>12s} {'chromosome':>12s}")
        for name, (batch_fn, chrom_fn) in enc.items():
            tb = best_of(batch_fn, repeat)
            tc = best_of(chrom_fn, repeat)
            results[name] = {"batch_mbps": len(wb) * 1000 / tb / 1e6, "chrom_mbps": len(chromosome) / tc / 1e6}
            print(f"{name:15s} {results[name]['batch_mbps']:12.1f} {results[name]['chrom_mbps']:12.1f}")
        for peer in ("hf", "sentencepiece"):
            print(f"dnabert / {peer:13s} {results['dnabert']['batch_mbps'] / results[peer]['batch_mbps']:10.2f}x "
                  f"{results['dnabert']['chrom_mbps'] / results[peer]['chrom_mbps']:10.2f}x")

        if args.quick:
            return
        # ---- training ----
        print(f"\ntraining to vocab 4096 on {total_bp / 1e6:.1f} Mbp (HF and SentencePiece get {args.line_length} bp lines)")
        train = {}
        for name in ("dnabert", "hf", "sentencepiece"):
            out = os.path.join(tmp, f"trained_{name}" + ("" if name == "sentencepiece" else ".json"))
            code = TRAINERS[name].format(threads=args.threads)
            train[name] = run_child(code, [json.dumps(files), out, corpus_path])
            train[name]["path"] = out
        # compression on the 1 kbp windows, each with its own trained model
        t_ours = dnabert.Tokenizer.from_file(train["dnabert"]["path"])
        t_hf = HFTokenizer.from_file(train["hf"]["path"])
        t_sp = spm.SentencePieceProcessor(model_file=train["sentencepiece"]["path"] + ".model")
        sample = windows[::7]
        train["dnabert"]["bp_per_token"] = bp_per_token(
            lambda w: [len(r) for r in t_ours.encode_batch(w, add_special_tokens=False)], sample)
        train["hf"]["bp_per_token"] = bp_per_token(
            lambda w: [len(e.ids) for e in t_hf.encode_batch(w, add_special_tokens=False)], sample)
        train["sentencepiece"]["bp_per_token"] = bp_per_token(lambda w: [len(e) for e in t_sp.encode(w)], sample)
        print(f"{'':15s} {'seconds':>9s} {'bp/token':>9s} {'peak RSS MB':>12s}")
        for name, r in train.items():
            print(f"{name:15s} {r['seconds']:9.2f} {r['bp_per_token']:9.3f} {r['peak_rss_mb']:12.0f}")
        for peer in ("hf", "sentencepiece"):
            print(f"dnabert vs {peer:13s} speed {train[peer]['seconds'] / train['dnabert']['seconds']:6.2f}x   "
                  f"compression {train['dnabert']['bp_per_token'] / train[peer]['bp_per_token']:6.3f}   "
                  f"memory {train['dnabert']['peak_rss_mb'] / train[peer]['peak_rss_mb']:6.2f}")


if __name__ == "__main__":
    main()
