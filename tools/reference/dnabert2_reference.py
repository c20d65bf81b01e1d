"""A plain PyTorch implementation of the DNABERT-2 encoder, written from shared/spec/dnabert2-model.md.

It is the project's independent reference: naive (padded) attention with explicit ALiBi and padding
bias, exact-erf GELU, post-LayerNorm blocks, and exactly the Hugging Face state-dict names of the
published checkpoint (bert.embeddings..., bert.encoder.layer.N.attention.self.Wqkv..., mlp.gated_layers,
mlp.wo, mlp.layernorm, cls.predictions..., bert.pooler..., classifier...). No code from DNABERT-2's
bert_layers.py is used. Everything runs in float32 on the CPU.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi slopes; for a non-power-of-two head count, the power-of-two slopes of the largest
    p < n followed by the even-indexed slopes of 2p (the spec's rule)."""
    def pow2(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    if math.log2(n_heads).is_integer():
        s = pow2(n_heads)
    else:
        p = 2 ** math.floor(math.log2(n_heads))
        s = pow2(p) + pow2(2 * p)[0::2][: n_heads - p]
    return torch.tensor(s, dtype=torch.float64)


class Config:
    def __init__(self, vocab_size=4096, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, type_vocab_size=2, layer_norm_eps=1e-12, num_labels=0,
                 mlm_head=True, pooler=False):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.num_labels = num_labels
        self.mlm_head = mlm_head
        self.pooler = pooler or num_labels > 0


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, ids):
        x = self.word_embeddings(ids) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.Wqkv = nn.Linear(c.hidden_size, 3 * c.hidden_size)


class AttentionOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = AttentionOutput(c)


class GatedMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gated_layers = nn.Linear(c.hidden_size, 2 * c.intermediate_size, bias=False)
        self.wo = nn.Linear(c.intermediate_size, c.hidden_size)
        self.layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.attention = Attention(c)
        self.mlp = GatedMLP(c)

    def forward(self, x, bias):
        # x [B, L, H]; bias [B, nh, L, L] = ALiBi + padding
        B, L, H = x.shape
        nh = self.c.num_attention_heads
        hd = H // nh
        qkv = self.attention.self.Wqkv(x)
        q, k, v = qkv.split(H, dim=-1)
        q = q.view(B, L, nh, hd).transpose(1, 2)
        k = k.view(B, L, nh, hd).transpose(1, 2)
        v = v.view(B, L, nh, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        p = torch.softmax(scores, dim=-1)
        ctx = (p @ v).transpose(1, 2).reshape(B, L, H)
        a = self.attention.output.LayerNorm(self.attention.output.dense(ctx) + x)
        h = self.mlp.gated_layers(a)
        g = F.gelu(h[..., : self.c.intermediate_size], approximate="none") * h[..., self.c.intermediate_size:]
        return self.mlp.layernorm(self.mlp.wo(g) + a)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        if c.pooler:
            self.pooler = Pooler(c)


class Transform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class Predictions(nn.Module):
    def __init__(self, c, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = Transform(c)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        self.decoder.weight = word_embeddings.weight   # tied, as in the published checkpoint


class MLMHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.predictions = Predictions(c, word_embeddings)


class DNABert2(nn.Module):
    """bert + optional cls (MLM head) + optional pooler/classifier, HF state-dict names."""

    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.bert = Bert(c)
        if c.mlm_head:
            self.cls = MLMHead(c, self.bert.embeddings.word_embeddings)
        if c.num_labels > 0:
            self.classifier = nn.Linear(c.hidden_size, c.num_labels)

    def attention_bias(self, mask):
        """[B, nh, L, L]: -slope_h * |i - j| + (-10000 where key j is padding)."""
        B, L = mask.shape
        pos = torch.arange(L, dtype=torch.float64)
        dist = (pos[None, :] - pos[:, None]).abs()                       # [L, L]
        alibi = -alibi_slopes(self.c.num_attention_heads)[:, None, None] * dist  # [nh, L, L]
        pad = (1.0 - mask.to(torch.float64))[:, None, None, :] * -10000.0       # [B, 1, 1, L]
        return (alibi[None] + pad).to(torch.float32)

    @torch.no_grad()
    def forward(self, input_ids, attention_mask):
        """Returns a dict: embedding_output, hidden_states (list, one per layer), last_hidden_state,
        and mlm_logits / pooled_output / classifier_logits when those parts exist. Every hidden state is
        zero at padded positions (as DNABERT-2's unpadded implementation returns them)."""
        m = attention_mask.to(torch.float32)[..., None]
        bias = self.attention_bias(attention_mask)
        x = self.bert.embeddings(input_ids)
        out = {"embedding_output": x * m, "hidden_states": []}
        for layer in self.bert.encoder.layer:
            x = layer(x, bias)
            out["hidden_states"].append(x * m)
        last = x * m
        out["last_hidden_state"] = last
        if self.c.mlm_head:
            t = self.cls.predictions.transform
            y = t.LayerNorm(F.gelu(t.dense(last), approximate="none"))
            out["mlm_logits"] = self.cls.predictions.decoder(y)
        if self.c.pooler:
            pooled = torch.tanh(self.bert.pooler.dense(last[:, 0]))
            out["pooled_output"] = pooled
            if self.c.num_labels > 0:
                out["classifier_logits"] = self.classifier(pooled)
        return out
