"""PyTorch eager peer for `dnabert-probe train`: one MLM training step (forward + backward, no optimizer step)
of a DNABERT-2-117M-shaped encoder (bench_forward_probe_torch.Encoder: padded layout, full L×L scores + ALiBi,
GEGLU, post-LayerNorm; train mode, hidden dropout 0.1 where DNABERT-2 has it) plus the MLM head (dense → GELU →
LayerNorm → tied decoder) on the 15% target rows only, as MosaicBERT's BertForMaskedLM does. Float32, MKL.
GFLOP/s = 3 × forward FLOPs, counted exactly as dnabert-probe does.

    python3 bench/bench_train_step_probe.py B L [threads] [reps] [--swift .build/release/dnabert-probe]

With --swift, rounds alternate one PyTorch step and one `dnabert-probe train B L threads 2` run (its best of
2 steps: the first allocates its scratch), so both see the same machine load; prints the best of each and
the ratio PyTorch time / Swift time.
"""
import os, re, resource, subprocess, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_forward_probe_torch import Encoder, H, INTER, LAYERS, VOCAB  # noqa: E402


class MLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = Encoder()
        self.dense = nn.Linear(H, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(VOCAB))
        # Dropout 0.1 as DNABERT-2 in training: after the embeddings, on the attention output, on the GEGLU output.
        for layer in self.enc.layers:
            layer.drop1 = nn.Dropout(0.1)
            layer.drop2 = nn.Dropout(0.1)

    def forward(self, ids, mask, labels):
        x = self.enc(ids, mask)
        sel = labels.view(-1) != -100
        t = x.view(-1, H)[sel]
        y = self.ln(F.gelu(self.dense(t)))
        logits = y @ self.enc.emb.weight.t() + self.bias
        return F.cross_entropy(logits, labels.view(-1)[sel])


def layer_forward(self, x, bias):
    import math
    B, L, _ = x.shape
    HEADS = self.heads
    qkv = self.Wqkv(x).view(B, L, 3, HEADS, H // HEADS)
    q = qkv[:, :, 0].permute(0, 2, 1, 3)
    k = qkv[:, :, 1].permute(0, 2, 3, 1)
    v = qkv[:, :, 2].permute(0, 2, 1, 3)
    s = torch.matmul(q, k) / math.sqrt(H // HEADS) + bias
    p = torch.softmax(s, dim=-1)
    a = torch.matmul(p, v).permute(0, 2, 1, 3).reshape(B, L, H)
    a = self.ln1(self.drop1(self.dense(a)) + x)
    h = self.gated(a)
    g = self.drop2(F.gelu(h[..., :INTER]) * h[..., INTER:])
    return self.ln2(self.wo(g) + a)


def main():
    argv = sys.argv[1:]
    swift = None
    if "--swift" in argv:
        i = argv.index("--swift")
        swift = argv[i + 1]
        del argv[i:i + 2]
    B, L = int(argv[0]), int(argv[1])
    threads = int(argv[2]) if len(argv) > 2 else 2
    reps = int(argv[3]) if len(argv) > 3 else 3
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MLM().train()
    for layer in model.enc.layers:
        layer.heads = 12
        layer.forward = layer_forward.__get__(layer)
    emb_forward = model.enc.forward
    ids = torch.randint(5, VOCAB, (B, L))
    mask = torch.ones(B, L, dtype=torch.long)
    labels = torch.where(torch.rand(B, L) < 0.15, ids, torch.full_like(ids, -100))
    M = int((labels != -100).sum())
    tokens = B * L
    fwd = LAYERS * (2 * tokens * (3 * H * H + H * H + 2 * INTER * H + INTER * H) + 4 * tokens * L * H) \
        + 2 * M * (H * H + H * VOCAB)
    best = 1e9
    best_swift = 1e9
    for _ in range(reps):
        model.zero_grad(set_to_none=False)
        t0 = time.perf_counter()
        loss = model(ids, mask, labels)
        loss.backward()
        best = min(best, time.perf_counter() - t0)
        if swift:
            out = subprocess.run([swift, "train", str(B), str(L), str(threads), "2"], capture_output=True, text=True).stdout
            m = re.search(r"best ([0-9.]+) s", out)
            if m:
                best_swift = min(best_swift, float(m.group(1)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch {torch.__version__} train step B={B} L={L} threads={threads}: best {best:.4f} s, "
          f"{3 * fwd / best / 1e9:.1f} GFLOP/s (3x forward FLOPs), loss {loss.item():.3f}, peak RSS {rss:.0f} MB")
    if swift:
        print(f"dnabert train step B={B} L={L} threads={threads}: best {best_swift:.4f} s, "
              f"{3 * fwd / best_swift / 1e9:.1f} GFLOP/s; speed-up vs PyTorch {best / best_swift:.2f}x")


if __name__ == "__main__":
    main()
