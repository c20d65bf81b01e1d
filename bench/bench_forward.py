#!/usr/bin/env python3
"""Encoder forward pass: dnabert vs PyTorch eager, side by side in one run.

DNABERT-2-117M shape (12 layers, hidden 768, 12 heads, GEGLU 3072), random weights, float32, same thread count.
The PyTorch peer is what a user of the original gets on a CPU: eager modules with
`scaled_dot_product_attention` and the ALiBi bias as an additive [heads, L, L] mask. Each (side, shape) runs in its
own child process so that its peak RSS is its own. Prints seconds, GFLOP/s (attention FLOPs counted), peak RSS,
the ratios, and the sgemm rate of the same run (torch.mm on the MLP shape).

Usage: python3 bench/bench_forward.py [--threads 2] [--shapes 1x128,8x128,1x512,1x2048,1x8192] [--memory]
  --memory also measures dnabert's peak RSS at 1k, 4k, 16k and 32k tokens (PyTorch cannot: its bias alone is L x L x 12).
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the children's environment: the library must pick the
fast kernel by itself.
"""
import argparse
import json
import os
import subprocess
import sys

H, I, NH, NL, V = 768, 3072, 12, 12, 4096


def flops(B, L):
    T = B * L
    per_layer = 2 * T * (3 * H * H + H * H + 2 * I * H + I * H) + 4 * B * L * L * H
    return NL * per_layer


CHILD_DNABERT = r"""
import json, sys, time, resource
import numpy as np
import dnabert
B, L, threads, reps = map(int, sys.argv[1:5])
cfg = {"vocab_size": %d, "hidden_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
       "intermediate_size": %d}
m = dnabert.Model.from_config(cfg, seed=1)
rng = np.random.default_rng(0)
ids = rng.integers(5, cfg["vocab_size"], size=(B, L)).astype(np.int32)
ids[:, 0] = 1; ids[:, -1] = 2
m.forward(ids[:, :min(L, 64)], threads=threads)
best = 1e9
for _ in range(reps):
    t0 = time.perf_counter(); m.forward(ids, threads=threads); best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "rss_mb": peak_rss_mb(),
                  "blas": dnabert.blas_info()}))
""" % (V, H, NL, NH, I)

CHILD_TORCH = r"""
import json, sys, time, resource, math
import torch, torch.nn as nn, torch.nn.functional as F
B, L, threads, reps = map(int, sys.argv[1:5])
torch.set_num_threads(threads)
torch.manual_seed(0)
H, I, NH, NL, V = %d, %d, %d, %d, %d

def alibi_slopes(n):
    def pow2(n):
        start = 2 ** (-8 / n)
        return [start ** (i + 1) for i in range(n)]
    if math.log2(n).is_integer():
        return pow2(n)
    p = 2 ** math.floor(math.log2(n))
    return pow2(p) + pow2(2 * p)[0::2][: n - p]

class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.Wqkv = nn.Linear(H, 3 * H); self.dense = nn.Linear(H, H); self.ln1 = nn.LayerNorm(H, eps=1e-12)
        self.gated = nn.Linear(H, 2 * I, bias=False); self.wo = nn.Linear(I, H); self.ln2 = nn.LayerNorm(H, eps=1e-12)
    def forward(self, x, bias):
        b, l, _ = x.shape
        q, k, v = self.Wqkv(x).view(b, l, 3, NH, H // NH).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = self.ln1(self.dense(a.transpose(1, 2).reshape(b, l, H)) + x)
        h = self.gated(x)
        g = F.gelu(h[..., :I]) * h[..., I:]
        return self.ln2(self.wo(g) + x)

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, H); self.ln = nn.LayerNorm(H, eps=1e-12)
        self.layers = nn.ModuleList([Layer() for _ in range(NL)])
    def forward(self, ids, mask):
        l = ids.shape[1]
        pos = torch.arange(l)
        alibi = -torch.tensor(alibi_slopes(NH))[:, None, None] * (pos[None, :] - pos[:, None]).abs()[None]
        bias = alibi[None] + (1.0 - mask[:, None, None, :].float()) * -10000.0
        x = self.ln(self.emb(ids))
        for layer in self.layers:
            x = layer(x, bias)
        return x * mask[..., None]

m = Encoder().eval()
ids = torch.randint(5, V, (B, L)); mask = torch.ones(B, L, dtype=torch.long)
with torch.inference_mode():
    m(ids[:, :min(L, 64)], mask[:, :min(L, 64)])
    best = 1e9
    for _ in range(reps):
        t0 = time.perf_counter(); m(ids, mask); best = min(best, time.perf_counter() - t0)
    a = torch.randn(B * L if B * L >= 512 else 512, H); w = torch.randn(I, H)
    torch.mm(a, w.t())
    t0 = time.perf_counter(); n = 0
    while time.perf_counter() - t0 < 1.0:
        torch.mm(a, w.t()); n += 1
    sgemm = 2 * a.shape[0] * H * I * n / (time.perf_counter() - t0) / 1e9
print(json.dumps({"seconds": best, "rss_mb": peak_rss_mb(),
                  "sgemm_gflops": sgemm}))
""" % (H, I, NH, NL, V)


# Peak RSS of the child itself: VmHWM starts afresh at exec (ru_maxrss would include the parent's pages at fork).
PEAK = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""


def child(code, B, L, threads, reps):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    r = subprocess.run([sys.executable, "-c", PEAK + code, str(B), str(L), str(threads), str(reps)], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="1x128,8x128,1x512,1x2048,1x8192")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--memory", action="store_true")
    args = ap.parse_args()
    shapes = [tuple(map(int, s.split("x"))) for s in args.shapes.split(",")]
    print(f"DNABERT-2-117M shape, random weights, float32, {args.threads} threads; best of {args.reps}")
    print(f"{'B x L':>8s} | {'dnabert s':>9s} {'GFLOP/s':>8s} {'RSS MB':>7s} | {'torch s':>8s} {'GFLOP/s':>8s} "
          f"{'RSS MB':>7s} | {'speed':>6s} {'memory':>6s} | torch.mm GFLOP/s")
    blas = None
    for B, L in shapes:
        reps = args.reps if B * L <= 2048 else max(1, args.reps - 1)
        ours = child(CHILD_DNABERT, B, L, args.threads, reps)
        peer = child(CHILD_TORCH, B, L, args.threads, reps)
        blas = ours["blas"]
        f = flops(B, L)
        print(f"{B:>3d}x{L:<4d} | {ours['seconds']:9.3f} {f / ours['seconds'] / 1e9:8.1f} {ours['rss_mb']:7.0f} | "
              f"{peer['seconds']:8.3f} {f / peer['seconds'] / 1e9:8.1f} {peer['rss_mb']:7.0f} | "
              f"{peer['seconds'] / ours['seconds']:5.2f}x {ours['rss_mb'] / peer['rss_mb']:6.2f} | "
              f"{peer['sgemm_gflops']:.0f}", flush=True)
    print(f"dnabert BLAS: {blas}")
    if args.memory:
        print("\ndnabert peak RSS against length (1 sequence):")
        for L in (1024, 4096, 16384, 32768):
            r = child(CHILD_DNABERT, 1, L, args.threads, 1)
            print(f"  {L:6d} tokens: {r['seconds']:7.2f} s, {r['rss_mb']:7.0f} MB peak RSS", flush=True)


if __name__ == "__main__":
    main()
