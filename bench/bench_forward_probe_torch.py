"""PyTorch eager peer for dnabert-probe: a DNABERT-2-117M-shaped encoder (random weights, float32) written
the way the published bert_layers.py runs on CPU without Triton: padded layout, full L×L scores + ALiBi bias,
softmax, GEGLU MLP, post-LayerNorm. Prints time, GFLOP/s (same FLOP count as dnabert-probe) and peak RSS.

    python3 bench/bench_forward_probe_torch.py B L [threads] [reps]
"""
import math, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

H, HEADS, LAYERS, INTER, VOCAB = 768, 12, 12, 3072, 4096


def alibi_slopes(n):
    def p2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return p2(n)
    p = 2 ** math.floor(math.log2(n))
    return p2(p) + alibi_slopes(2 * p)[0::2][: n - p]


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.Wqkv = nn.Linear(H, 3 * H)
        self.dense = nn.Linear(H, H)
        self.ln1 = nn.LayerNorm(H, eps=1e-12)
        self.gated = nn.Linear(H, 2 * INTER, bias=False)
        self.wo = nn.Linear(INTER, H)
        self.ln2 = nn.LayerNorm(H, eps=1e-12)

    def forward(self, x, bias):
        B, L, _ = x.shape
        qkv = self.Wqkv(x).view(B, L, 3, HEADS, H // HEADS)
        q = qkv[:, :, 0].permute(0, 2, 1, 3)
        k = qkv[:, :, 1].permute(0, 2, 3, 1)
        v = qkv[:, :, 2].permute(0, 2, 1, 3)
        s = torch.matmul(q, k) / math.sqrt(H // HEADS) + bias
        p = torch.softmax(s, dim=-1)
        a = torch.matmul(p, v).permute(0, 2, 1, 3).reshape(B, L, H)
        a = self.ln1(self.dense(a) + x)
        h = self.gated(a)
        g = F.gelu(h[..., :INTER]) * h[..., INTER:]
        return self.ln2(self.wo(g) + a)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, H)
        self.tok_type = nn.Embedding(2, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.register_buffer("slopes", torch.tensor(alibi_slopes(HEADS)))

    def forward(self, ids, mask):
        B, L = ids.shape
        x = self.ln(self.emb(ids) + self.tok_type.weight[0])
        pos = torch.arange(L)
        rel = (pos[None, :] - pos[:, None]).abs()
        bias = -self.slopes[:, None, None] * rel[None]          # [heads, L, L]
        bias = bias[None] + (1.0 - mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x * mask[..., None]


def main():
    B, L = int(sys.argv[1]), int(sys.argv[2])
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Encoder().eval()
    ids = torch.randint(5, VOCAB, (B, L))
    mask = torch.ones(B, L, dtype=torch.long)
    flops = LAYERS * (2 * B * L * (3 * H * H + H * H + 2 * INTER * H + INTER * H) + 4 * B * L * L * H)
    best = 1e9
    with torch.inference_mode():
        for _ in range(reps):
            t0 = time.perf_counter()
            model(ids, mask)
            best = min(best, time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch {torch.__version__} B={B} L={L} threads={threads}: best {best:.4f} s, {flops / best / 1e9:.1f} GFLOP/s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
