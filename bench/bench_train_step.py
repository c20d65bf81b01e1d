#!/usr/bin/env python3
"""One complete MLM training step: dnabert's public trainer API against PyTorch eager, side by side in one run.

dnabert side: `dnabert.Trainer.step()` (libdnabert through the Python binding) = sample windows from FASTA files,
tokenize, mask 15% (80/10/10), forward + backward (dropout 0.1), global-norm clipping to 1.0, AdamW update.
Evaluation and checkpoints are switched off (eval_every=0, checkpoint_every=0, steps far beyond the timed ones).

PyTorch side: the project's reference model (tools/reference/dnabert2_reference.py, HF parameter names, naive
attention with the [B, heads, L, L] ALiBi bias as DNABERT-2's non-Triton path) in train mode: hidden dropout 0.1
after the embeddings, on the attention output projection and on the GEGLU output (where DNABERT-2 and dnabert have
it); MLM head (dense → GELU → LayerNorm → tied decoder) on the masked rows only, as DNABERT-2's BertForMaskedLM;
cross-entropy; backward; clip_grad_norm_(1.0); torch.optim.AdamW (β = (0.9, 0.98), ε = 1e-6, weight decay 1e-5,
none on biases and LayerNorm weights: dnabert's pretraining recipe), BERT initialisation N(0, 0.02). Random ids
[CLS] … [SEP], exactly round(0.15 × (L − 2)) masked positions per sequence (dnabert draws each non-special token
with p = 0.15: the same on average), 80/10/10; new ids and masks every step.

Both sides: float32, the same shape, batch and thread count (torch.set_num_threads). Each side lives in its own
child process (so its peak RSS, /proc/self/status VmHWM, is its own), driven step by step by this script: warm-up
steps first, then rounds alternate one dnabert step and one PyTorch step, so both see the same machine load.
Reported: best and median seconds per step, tokens/s, GFLOP/s, ratio (PyTorch s / dnabert s, best and median),
peak RSS, and the same run's sgemm rate (2048³ float32) through dnabert's own BLAS (dnabert.blas_benchmark, split
across the threads as the model's layers run it) and through torch.mm.

GFLOP/s uses model FLOPs, one formula for both sides (recomputation, e.g. flash attention's backward recomputing
the probabilities, is not counted):
    forward = layers × (2·T·(4H² + 3·I·H) + 4·B·L²·H) + 2·M·(H² + H·V)
      T = B·L tokens; 4H² = Wqkv + attention output, 3·I·H = GEGLU gated (2I×H) + wo (H×I); 4·B·L²·H = Q·Kᵀ and
      P·V; M = masked rows (B × round(0.15 × (L − 2))) through the head dense (H×H) and the tied decoder (V×H).
    step = 3 × forward (backward = 2 × forward); embeddings, LayerNorm, softmax, GELU, AdamW are not counted.

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the children's environment: the library must pick the fast
kernel by itself. Run it on a quiet machine: under CPU contention PyTorch's OpenMP threads (spin-waiting by default)
lose far more than dnabert's (e.g. a tiny step 0.02 s → 1.3 s here with a niced job on one core);
OMP_WAIT_POLICY=PASSIVE in the environment softens that for PyTorch if a quiet machine is not available.

Usage:
    python3 bench/bench_train_step.py [--shapes base:8x128,base:4x512,small:32x128] [--threads 2]
                                      [--steps 5] [--warmup 1] [--fasta FILE ...] [--no-sgemm]
                                      [--torch-adamw default|foreach|fused]
The library is taken from $DNABERT_LIB, else build/lib/libdnabert.so of this checkout (`make lib`); the Python
binding from bindings/python of this checkout.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("DNABERT_SHARED") or os.path.join(ROOT, "..", "shared")
if not os.path.isdir(os.path.join(SHARED, "data")):
    SHARED = "/work/shared"
TOKENIZER = os.path.join(SHARED, "data", "dnabert2", "tokenizer.json")
if not os.path.isfile(TOKENIZER):
    # a clone without the shared data folder: the repository carries the same file (DNABERT-2's tokenizer), so the
    # benchmarks that need one run from the repository alone
    TOKENIZER = os.path.join(ROOT, "examples", "data", "dnabert2", "tokenizer.json")

PRESETS = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=8, intermediate_size=1024),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}
VOCAB = 4096
SGEMM_N = 2048


def masked_per_sequence(L):
    return int(round(0.15 * (L - 2)))


def step_flops(cfg, B, L):
    H, I, NL, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], VOCAB
    T = B * L
    M = B * masked_per_sequence(L)
    forward = NL * (2 * T * (4 * H * H + 3 * I * H) + 4 * B * L * L * H) + 2 * M * (H * H + H * V)
    return 3 * forward


# ---- children: read commands ("step", "sgemm", "quit") on stdin, answer one JSON line each -------------------

COMMON = r"""
import json, sys, time

def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

def serve(step, sgemm, info=""):
    print(json.dumps({"ready": True, "rss_mb": peak_rss_mb(), "info": info}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "step":
            t0 = time.perf_counter()
            info = step()
            info["seconds"] = time.perf_counter() - t0
            print(json.dumps(info), flush=True)
        elif cmd == "sgemm":
            print(json.dumps({"gflops": sgemm()}), flush=True)
        elif cmd == "quit":
            print(json.dumps({"rss_mb": peak_rss_mb()}), flush=True)
            return
"""

CHILD_DNABERT = COMMON + r"""
import os, tempfile
import dnabert
args = json.loads(sys.argv[1])
cfg = dict(args["config"], vocab_size=args["vocab"])
tok = dnabert.Tokenizer.from_file(args["tokenizer"])
model = dnabert.Model.from_config(cfg, tokenizer=tok, seed=1)
out = tempfile.mkdtemp(prefix="bench-train-step-")
trainer = dnabert.Trainer(model, args["fasta"], out, steps=1000000, batch_size=args["B"], seq_len=args["L"],
                          lr=5e-4, warmup=100, eval_every=0, checkpoint_every=0, keep_checkpoints=1,
                          validation_windows=args["B"], threads=args["threads"], seed=3)
last = {"tokens": 0}

def step():
    m = trainer.step()
    tokens = m["tokens"] - last["tokens"]
    last["tokens"] = m["tokens"]
    return {"loss": m["loss"], "tokens": tokens, "step": m["step"]}

def sgemm():
    return dnabert.blas_benchmark(args["sgemm_n"], args["threads"])

try:
    serve(step, sgemm, dnabert.blas_info())
finally:
    trainer.close()
    import shutil
    shutil.rmtree(out, ignore_errors=True)
"""

# What both PyTorch children (this script's and bench_finetune_step.py's) share: BERT's initialisation, one
# training-mode encoder layer of the reference model (dropout where DNABERT-2 has it; it reads the child's globals
# c, H, I, P) and the torch.mm rate. Needs math, time, torch, F and args in the child.
TORCH_COMMON = r"""
def bert_init(model):
    # BERT's initialisation (as dnabert's random init): N(0, 0.02), zero biases, LayerNorm (1, 0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layernorm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.02)

def layer_train(layer, x, bias):
    b, l, _ = x.shape
    nh = c.num_attention_heads
    hd = H // nh
    q, k, v = layer.attention.self.Wqkv(x).split(H, dim=-1)
    q = q.view(b, l, nh, hd).transpose(1, 2)
    k = k.view(b, l, nh, hd).transpose(1, 2)
    v = v.view(b, l, nh, hd).transpose(1, 2)
    p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
    ctx = (p @ v).transpose(1, 2).reshape(b, l, H)
    a = layer.attention.output.LayerNorm(F.dropout(layer.attention.output.dense(ctx), P, True) + x)
    h = layer.mlp.gated_layers(a)
    g = F.dropout(F.gelu(h[..., :I]) * h[..., I:], P, True)
    return layer.mlp.layernorm(layer.mlp.wo(g) + a)

def sgemm():
    n = args["sgemm_n"]
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b.t())
    best, reps, start = 1e9, 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - start < 0.5:
        t0 = time.perf_counter(); torch.mm(a, b.t()); best = min(best, time.perf_counter() - t0); reps += 1
    return 2.0 * n ** 3 / best / 1e9
"""

CHILD_TORCH = COMMON + r"""
import math
import torch, torch.nn.functional as F
args = json.loads(sys.argv[1])
sys.path.insert(0, args["reference_dir"])
from dnabert2_reference import Config, DNABert2
""" + TORCH_COMMON + r"""
torch.set_num_threads(args["threads"])
torch.manual_seed(1)
c = Config(vocab_size=args["vocab"], **args["config"])
model = DNABert2(c).train()
bert_init(model)
B, L, V, H, I, P = args["B"], args["L"], args["vocab"], c.hidden_size, c.intermediate_size, 0.1
decay, no_decay = [], []
for name, p in model.named_parameters():
    (no_decay if name.endswith(".bias") or "LayerNorm" in name or "layernorm" in name else decay).append(p)
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-5}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=5e-4, betas=(0.9, 0.98), eps=1e-6,
                        **{"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args["adamw"]])
K = max(1, int(round(0.15 * (L - 2))))
gen = torch.Generator().manual_seed(3)

def batch():
    ids = torch.randint(5, V, (B, L), generator=gen)
    ids[:, 0], ids[:, -1] = 1, 2
    mask = torch.ones(B, L, dtype=torch.long)
    pos = torch.rand(B, L - 2, generator=gen).argsort(dim=1)[:, :K] + 1        # K distinct non-special positions
    labels = torch.full((B, L), -100, dtype=torch.long)
    labels.scatter_(1, pos, ids.gather(1, pos))
    r = torch.rand(B, K, generator=gen)
    new = ids.gather(1, pos)
    new = torch.where(r < 0.8, torch.full_like(new, 4), torch.where(r < 0.9, torch.randint(5, V, new.shape, generator=gen), new))
    ids.scatter_(1, pos, new)
    return ids, mask, labels

# ALiBi part of the bias computed once (as DNABERT-2 caches it); the padding part per batch.
alibi = model.attention_bias(torch.ones(1, L, dtype=torch.long))

def loss_fn(ids, mask, labels):
    bias = alibi + (1.0 - mask.to(torch.float32))[:, None, None, :] * -10000.0
    x = F.dropout(model.bert.embeddings(ids), P, True)
    for layer in model.bert.encoder.layer:
        x = layer_train(layer, x, bias)
    sel = labels.view(-1) != -100
    t = x.reshape(-1, H)[sel]
    tr = model.cls.predictions.transform
    y = tr.LayerNorm(F.gelu(tr.dense(t)))
    logits = model.cls.predictions.decoder(y)
    return F.cross_entropy(logits, labels.view(-1)[sel])

def step():
    ids, mask, labels = batch()
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(ids, mask, labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return {"loss": loss.item(), "tokens": int(mask.sum())}


serve(step, sgemm)
"""


class Child:
    """A benchmark side in its own process: answers "step", "sgemm", "quit" with one JSON line each."""

    def __init__(self, code, args, env):
        self.err = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen([sys.executable, "-c", code, json.dumps(args)], env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        t0 = time.perf_counter()
        self.ready = self._read()
        self.ready["startup_seconds"] = time.perf_counter() - t0

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            self.p.wait()
            self.err.seek(0)
            raise RuntimeError(f"benchmark child failed (exit {self.p.returncode}):\n" + self.err.read()[-3000:])
        return json.loads(line)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self._read()

    def close(self):
        """Ends the child; returns its peak RSS in MB (NaN if it had already failed)."""
        try:
            rss = self.ask("quit")["rss_mb"]
            self.p.stdin.close()
            self.p.wait(timeout=120)
        except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
            rss = float("nan")
        self.err.close()
        return rss


def child_env():
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if not env.get("DNABERT_LIB"):
        for cand in (os.path.join(ROOT, "build", "lib", "libdnabert.so"),
                     os.path.join(ROOT, ".build", "release", "libdnabert.so")):
            if os.path.exists(cand):
                env["DNABERT_LIB"] = cand
                break
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_shape(preset, B, L, a, fasta, env, sgemm):
    cfg = PRESETS[preset]
    common = dict(config=cfg, vocab=VOCAB, B=B, L=L, threads=a.threads, sgemm_n=SGEMM_N)
    ours = Child(CHILD_DNABERT, dict(common, tokenizer=TOKENIZER, fasta=fasta), env)
    try:
        peer = Child(CHILD_TORCH, dict(common, reference_dir=os.path.join(ROOT, "tools", "reference"),
                                       adamw=a.torch_adamw), env)
    except Exception:
        ours.close()
        raise
    try:
        for _ in range(a.warmup):
            ours.ask("step")
            peer.ask("step")
        t_ours, t_peer, tok_ours, tok_peer, loss_ours, loss_peer = [], [], [], [], [], []
        for i in range(a.steps):
            # alternate which side goes first, so neither always follows the other
            order = (ours, peer) if i % 2 == 0 else (peer, ours)
            for side in order:
                r = side.ask("step")
                if side is ours:
                    t_ours.append(r["seconds"]); tok_ours.append(r["tokens"]); loss_ours.append(r["loss"])
                else:
                    t_peer.append(r["seconds"]); tok_peer.append(r["tokens"]); loss_peer.append(r["loss"])
        if sgemm is not None:
            sgemm["dnabert"] = max(sgemm.get("dnabert", 0), ours.ask("sgemm")["gflops"])
            sgemm["torch"] = max(sgemm.get("torch", 0), peer.ask("sgemm")["gflops"])
    finally:
        rss_ours = ours.close()
        rss_peer = peer.close()
    return dict(preset=preset, B=B, L=L, flops=step_flops(cfg, B, L), blas_info=ours.ready["info"],
                ours=dict(best=min(t_ours), median=statistics.median(t_ours), tokens=statistics.median(tok_ours),
                          loss=loss_ours[-1], rss=rss_ours, rss_ready=ours.ready["rss_mb"],
                          startup=ours.ready["startup_seconds"]),
                peer=dict(best=min(t_peer), median=statistics.median(t_peer), tokens=statistics.median(tok_peer),
                          loss=loss_peer[-1], rss=rss_peer, rss_ready=peer.ready["rss_mb"],
                          startup=peer.ready["startup_seconds"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="base:8x128,base:4x512,small:32x128",
                    help="preset:BxL,... (presets: tiny, small, base = DNABERT-2-117M)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per side and shape")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per side first")
    ap.add_argument("--fasta", nargs="+", help="FASTA files for dnabert's sampler (default: the 5 shared genomes, else examples/data/*.fasta.gz)")
    ap.add_argument("--no-sgemm", action="store_true")
    ap.add_argument("--torch-adamw", choices=["default", "foreach", "fused"], default="default",
                    help="torch.optim.AdamW implementation (default: PyTorch's choice, a per-tensor loop on the CPU)")
    a = ap.parse_args()
    fasta = a.fasta or sorted(glob.glob(os.path.join(SHARED, "data", "genomes", "*.fasta.gz"))) \
        or sorted(glob.glob(os.path.join(ROOT, "examples", "data", "*.fasta.gz")))
    if not fasta:
        sys.exit("no FASTA files: give --fasta")
    env = child_env()
    shapes = []
    for s in a.shapes.split(","):
        preset, bl = s.split(":")
        B, L = map(int, bl.split("x"))
        if preset not in PRESETS:
            sys.exit(f"unknown preset {preset}")
        shapes.append((preset, B, L))
    sgemm = None if a.no_sgemm else {}
    import torch
    print(f"MLM training step (data + forward + backward + clip + AdamW), float32, {a.threads} threads, "
          f"best / median of {a.steps} steps after {a.warmup} warm-up; torch {torch.__version__} "
          f"(AdamW: {a.torch_adamw}); "
          f"library {env.get('DNABERT_LIB', '(installed)')}", flush=True)
    rows, blas_info = [], ""
    for i, (preset, B, L) in enumerate(shapes):
        r = run_shape(preset, B, L, a, fasta, env, sgemm if i == 0 else None)
        rows.append(r)
        blas_info = r["blas_info"]
        o, p = r["ours"], r["peer"]
        for name, x in (("dnabert", o), ("torch", p)):
            print(f"  {preset} {B}x{L} {name:8s}: best {x['best']:.3f} s, median {x['median']:.3f} s, last loss "
                  f"{x['loss']:.3f}, {x['tokens']:.0f} tokens/step; peak RSS {x['rss']:.0f} MB ({x['rss_ready']:.0f} MB "
                  f"before the first step); start-up {x['startup']:.1f} s", flush=True)
    print()
    print("| model | batch × tokens | dnabert s/step | tokens/s | GFLOP/s | PyTorch s/step | tokens/s | GFLOP/s | "
          "speed-up (best / median) | peak RSS dnabert / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = {"base": "117M", "small": "small (4 × 256)", "tiny": "tiny"}
    for r in rows:
        o, p, f = r["ours"], r["peer"], r["flops"]
        print(f"| {names[r['preset']]} | {r['B']} × {r['L']} | {o['best']:.3f} | {o['tokens'] / o['best']:,.0f} | "
              f"{f / o['best'] / 1e9:.0f} | {p['best']:.3f} | {p['tokens'] / p['best']:,.0f} | {f / p['best'] / 1e9:.0f} | "
              f"**{p['best'] / o['best']:.2f}×** / {p['median'] / o['median']:.2f}× | "
              f"{o['rss']:,.0f} MB / {p['rss']:,.0f} MB |")
    if blas_info:
        print(f"\ndnabert {blas_info}")
    if sgemm:
        print(f"sgemm {SGEMM_N}³ float32, {a.threads} threads, same run: dnabert's BLAS {sgemm['dnabert']:.0f} GFLOP/s, "
              f"torch.mm {sgemm['torch']:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
