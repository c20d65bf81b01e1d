#!/usr/bin/env python3
"""Reference fixture for the Swift AdamW / LRSchedule / GradClip (Tests/DNABertTests/AdamWTests.swift).

PyTorch does everything: torch.optim.AdamW with the Hugging Face Trainer's two parameter groups (decay all but
biases and LayerNorm parameters, decided here by module type as HF's get_decay_parameter_names does),
torch.nn.utils.clip_grad_norm_, and transformers' get_linear_schedule_with_warmup re-implemented as a LambdaLR
with HF's formula. The parameter names and shapes are those of a tiny DNABERT-2 (HF state-dict names), listed
here by hand from the model spec, not taken from the Swift layout.

Usage: python3 tools/reference/make_optimizer_fixture.py [out.json]
"""
import json
import sys

import numpy as np
import torch

V, H, I, L, T, C = 12, 8, 16, 2, 2, 3  # vocab, hidden, intermediate, layers, token types, labels


def names_and_shapes():
    out = [("bert.embeddings.word_embeddings.weight", [V, H]),
           ("bert.embeddings.token_type_embeddings.weight", [T, H]),
           ("bert.embeddings.LayerNorm.weight", [H]), ("bert.embeddings.LayerNorm.bias", [H])]
    for l in range(L):
        p = f"bert.encoder.layer.{l}."
        out += [(p + "attention.self.Wqkv.weight", [3 * H, H]), (p + "attention.self.Wqkv.bias", [3 * H]),
                (p + "attention.output.dense.weight", [H, H]), (p + "attention.output.dense.bias", [H]),
                (p + "attention.output.LayerNorm.weight", [H]), (p + "attention.output.LayerNorm.bias", [H]),
                (p + "mlp.gated_layers.weight", [2 * I, H]), (p + "mlp.wo.weight", [H, I]), (p + "mlp.wo.bias", [H]),
                (p + "mlp.layernorm.weight", [H]), (p + "mlp.layernorm.bias", [H])]
    out += [("bert.pooler.dense.weight", [H, H]), ("bert.pooler.dense.bias", [H]),
            ("classifier.weight", [C, H]), ("classifier.bias", [C]),
            ("cls.predictions.transform.dense.weight", [H, H]), ("cls.predictions.transform.dense.bias", [H]),
            ("cls.predictions.transform.LayerNorm.weight", [H]), ("cls.predictions.transform.LayerNorm.bias", [H]),
            ("cls.predictions.decoder.bias", [V])]
    return out


# Modules that are nn.LayerNorm in DNABERT-2's modelling code.
LAYERNORM_MODULES = ("embeddings.LayerNorm", "attention.output.LayerNorm", "mlp.layernorm", "transform.LayerNorm")


def decays(name):
    module = name.rsplit(".", 1)[0]
    return "bias" not in name and not module.endswith(LAYERNORM_MODULES)


def flat(t):
    """Float32 values as the shortest decimals that round-trip in Float32 (keeps the fixture small)."""
    return [float(np.format_float_positional(x, unique=True)) if abs(x) >= 1e-4 else float(np.format_float_scientific(x, unique=True)) for x in t.detach().flatten().numpy().astype(np.float32)]


def linear_warmup(warmup, total):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return f


def run(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    params = [(n, torch.nn.Parameter(torch.randn(s, generator=g) * 0.5)) for n, s in names_and_shapes()]
    initial = {n: p.detach().clone() for n, p in params}
    groups = [{"params": [p for n, p in params if decays(n)], "weight_decay": cfg["weight_decay"]},
              {"params": [p for n, p in params if not decays(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                            foreach=False, fused=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_warmup(cfg["warmup"], cfg["total"]))
    steps = []
    for k in range(cfg["total"]):
        scale = [0.05, 0.3, 0.02, 0.2, 0.01, 0.4, 0.03][k % 7]  # norms on both sides of max_norm
        grads = {}
        for n, p in params:
            p.grad = torch.randn(p.shape, generator=g) * scale
            grads[n] = p.grad.clone()
        norm = torch.nn.utils.clip_grad_norm_([p for _, p in params], cfg["max_norm"], foreach=False)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        steps.append({"grads": {n: flat(t) for n, t in grads.items()},
                      "norm": float(norm), "lr": lr,
                      "params": {n: flat(p) for n, p in params}})
    state = {n: {"exp_avg": flat(opt.state[p]["exp_avg"]),
                 "exp_avg_sq": flat(opt.state[p]["exp_avg_sq"])} for n, p in params}
    return {"config": cfg, "seed": seed,
            "decay": {n: decays(n) for n, _ in params},
            "initial": {n: flat(t) for n, t in initial.items()},
            "steps": steps, "final_state": state}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/DNABertTests/Fixtures/optimizer/adamw.json"
    cfg_a = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.98, "eps": 1e-6, "weight_decay": 0.1,
             "warmup": 2, "total": 7, "max_norm": 1.0}
    cfg_b = {"lr": 3e-3, "beta1": 0.8, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01,
             "warmup": 0, "total": 5, "max_norm": 0.5}
    fixture = {"torch_version": torch.__version__,
               "model": {"vocab_size": V, "hidden_size": H, "intermediate_size": I, "num_hidden_layers": L,
                         "type_vocab_size": T, "num_labels": C, "num_attention_heads": 2},
               "runs": [run(cfg_a, 1), run(cfg_b, 2)]}
    with open(out, "w") as f:
        json.dump(fixture, f)
    print("wrote", out)


if __name__ == "__main__":
    main()
