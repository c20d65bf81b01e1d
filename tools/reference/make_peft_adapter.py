"""Writes a "foreign" LoRA adapter with peft itself for a given base model folder, plus the logits peft computes
with it, so that our library can be tested loading an adapter it did not write:

    python3 tools/reference/make_peft_adapter.py --base-dir MODEL_DIR --out ADAPTER_DIR [--seed 0] \
        [--num-labels N] [--r 4] [--alpha 8] [--targets Wqkv,attention.output.dense,gated_layers,wo] \
        [--modules-to-save classifier,pooler] [--pooling cls|mean] [--inputs batch.npz|batch.json]

MODEL_DIR   config.json + model.safetensors (HF DNABERT-2 names; cls.* ignored). A missing bert.pooler / classifier
            is initialised with seeded torch defaults (it is saved in the adapter through modules_to_save anyway).
ADAPTER_DIR receives what peft's save_pretrained writes (adapter_config.json, adapter_model.safetensors; peft's
            boilerplate README.md model card is removed) and
            expected.json         {"ids": [[...]], "attention_mask": [[...]], "logits": [[...]], "seed": ..., ...}
            expected.safetensors  inputs/ids (I64 [B, L]), inputs/attention_mask (I64 [B, L]), logits (F32 [B, C])
LoRA: peft's own lora_A init (kaiming_uniform, a = sqrt(5), seeded with --seed); lora_B (zero after peft's init)
is overwritten with N(0, --b-std) so the adapter changes the output; the modules_to_save copies are perturbed by
N(0, --head-std) so that a loader ignoring them gives different logits. Without --inputs a seeded batch of
--batch sequences ([CLS]=1 random tokens [SEP]=2, right-padded with [PAD]=3, lengths from --length down) is used.
The logits are computed by reloading the written folder with check_peft_adapter.peft_logits (float64 forward).
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_peft_adapter import CheckError, build_base, load_inputs, peft_logits  # noqa: E402

import peft  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402

PAD, CLS, SEP = 3, 1, 2


def random_batch(gen, vocab, batch, length):
    lengths = [max(3, length - (length * i) // (batch + 1)) for i in range(batch)]
    ids = torch.full((batch, length), PAD, dtype=torch.int64)
    mask = torch.zeros((batch, length), dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, 0] = CLS
        ids[b, 1:n - 1] = torch.randint(5, vocab, (n - 2,), generator=gen)
        ids[b, n - 1] = SEP
        mask[b, :n] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-labels", type=int)
    ap.add_argument("--r", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=8)
    ap.add_argument("--targets", default="Wqkv,attention.output.dense,gated_layers,wo")
    ap.add_argument("--modules-to-save", default="classifier,pooler")
    ap.add_argument("--pooling", choices=["cls", "mean"], default="cls")
    ap.add_argument("--b-std", type=float, default=0.1)
    ap.add_argument("--head-std", type=float, default=0.05)
    ap.add_argument("--inputs")
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--length", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(a.seed)
        gen = torch.Generator().manual_seed(a.seed + 1)
        model, info = build_base(a.base_dir, {}, a.pooling, a.num_labels, allow_missing_head=True,
                                 default_labels=2)
        alpha = int(a.alpha) if float(a.alpha).is_integer() else a.alpha
        cfg = LoraConfig(task_type="SEQ_CLS", r=a.r, lora_alpha=alpha, lora_dropout=0.0,
                         target_modules=[t for t in a.targets.split(",") if t],
                         modules_to_save=[m for m in a.modules_to_save.split(",") if m])
        pm = get_peft_model(model, cfg)
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if ".lora_B." in n:
                    p.copy_(a.b_std * torch.randn(p.shape, generator=gen))
                elif ".modules_to_save." in n:
                    p.add_(a.head_std * torch.randn(p.shape, generator=gen))
        os.makedirs(a.out, exist_ok=True)
        copy.deepcopy(pm).float().save_pretrained(a.out)
        card = os.path.join(a.out, "README.md")
        if os.path.exists(card):
            os.remove(card)
        if a.inputs:
            ids, mask = load_inputs(a.inputs)
        else:
            ids, mask = random_batch(gen, model.c.vocab_size, a.batch, a.length)
        logits, _, _, _ = peft_logits(a.base_dir, a.out, ids, mask, a.pooling, a.num_labels)
    except CheckError as e:
        print(f"make_peft_adapter: ERROR: {e}", file=sys.stderr)
        sys.exit(2)
    meta = {"seed": a.seed, "r": a.r, "lora_alpha": alpha, "pooling": a.pooling, "peft": peft.__version__,
            "torch": torch.__version__, "head_initialised_here": info["head_from_adapter"]}
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump({"ids": ids.tolist(), "attention_mask": mask.tolist(), "logits": logits.tolist(), **meta}, f,
                  indent=1)
    save_file({"inputs/ids": ids.contiguous(), "inputs/attention_mask": mask.contiguous(),
               "logits": logits.float().contiguous()}, os.path.join(a.out, "expected.safetensors"),
              metadata={k: json.dumps(v) for k, v in meta.items()})
    print(f"wrote {a.out}: logits {tuple(logits.shape)}, peft {peft.__version__}")


if __name__ == "__main__":
    main()
