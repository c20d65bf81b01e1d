"""Builds the MLM training fixture in Tests/DNABertTests/Fixtures/training/ with PyTorch (run by hand):

    python3 tools/reference/make_training_fixture.py

* config.json          HF-style config of a tiny DNABERT-2 MLM model (hidden 48, 6 heads: not a power of two,
                       2 layers, intermediate 64, vocab 4096; decoder tied to the word embeddings)
* model.safetensors    its seeded random weights (no decoder weight: tied)
* expected.safetensors
    input_ids, attention_mask, labels (I64)   a padded batch of 4 real genome windows tokenized by HF `tokenizers`
                       with DNABERT-2's tokenizer.json; 15% of the real non-special tokens are targets, with the
                       80/10/10 rule ([MASK] / random token / unchanged) applied here with a seeded RNG, so the
                       masked inputs and labels are fixed; labels -100 elsewhere
    loss (F32 [1])     mean cross-entropy over the targets (dropout 0)
    grad.<name>        d loss / d parameter for every parameter (HF names; the word-embedding gradient includes the
                       tied decoder's share)
    adamw.loss         [3] the loss before each of 3 AdamW steps on this batch
    adamw.<name>       every parameter after 3 steps of torch.optim.AdamW(lr 1e-3, betas (0.9, 0.98), eps 1e-6,
                       weight_decay 1e-5) with no decay on biases and LayerNorm weights (two param groups)
The reference runs in float64 (dnabert2_reference.py modules, model.double()) and is stored as float32.
"""
import gzip
import json
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import save_file as torch_save_file
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnabert2_reference import Config, DNABert2  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "training")
DATA = os.environ.get("DNABERT_DATA", "/work/shared/data")

CFG = dict(vocab_size=4096, hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
           intermediate_size=64, type_vocab_size=2, layer_norm_eps=1e-12)
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.98), 1e-6, 1e-5


def read_fasta_gz(path):
    seq = []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if seq:
                    break
                continue
            seq.append(line.strip())
    return "".join(seq)


def pick_sequences(rng):
    picks = [("ecoli_k12_mg1655", 400), ("saureus_n315", 260), ("hpylori_sjm180", 330), ("ecoli_k12_mg1655", 120)]
    out = []
    for name, n in picks:
        g = read_fasta_gz(os.path.join(DATA, "genomes", name + ".fasta.gz")).upper()
        while True:
            start = rng.randrange(0, len(g) - n)
            s = g[start:start + n]
            if set(s) <= set("ACGT"):
                out.append((name, start, s))
                break
    return out


def randomize(model, gen):
    for name, p in model.named_parameters():
        with torch.no_grad():
            if "LayerNorm" in name or "layernorm" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("word_embeddings.weight") or name.endswith("token_type_embeddings.weight"):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            elif name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def mlm_loss(model, ids, mask, labels):
    bias = model.attention_bias(mask).to(next(model.parameters()).dtype)
    x = model.bert.embeddings(ids)
    for layer in model.bert.encoder.layer:
        x = layer(x, bias)
    t = model.cls.predictions.transform
    y = t.LayerNorm(F.gelu(t.dense(x), approximate="none"))
    logits = model.cls.predictions.decoder(y)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(20261125)
    gen = torch.Generator().manual_seed(1234)
    model = DNABert2(Config(**CFG, mlm_head=True, pooler=False))
    randomize(model, gen)
    model = model.double()

    sd = {k: v.detach().float().contiguous().numpy() for k, v in model.state_dict().items()
          if k != "cls.predictions.decoder.weight"}
    np_save_file(sd, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})
    cfg = {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_act": "gelu",
        "attention_probs_dropout_prob": 0.0, "hidden_dropout_prob": 0.1, "alibi_starting_size": 512,
        "initializer_range": 0.02, "max_position_embeddings": 512, "position_embedding_type": "absolute",
        "pad_token_id": 0, "torch_dtype": "float32", "vocab_size": CFG["vocab_size"],
        "hidden_size": CFG["hidden_size"], "num_hidden_layers": CFG["num_hidden_layers"],
        "num_attention_heads": CFG["num_attention_heads"], "intermediate_size": CFG["intermediate_size"],
        "type_vocab_size": CFG["type_vocab_size"], "layer_norm_eps": CFG["layer_norm_eps"],
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)

    tok = Tokenizer.from_file(os.path.join(DATA, "dnabert2", "tokenizer.json"))
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    seqs = pick_sequences(rng)
    enc = tok.encode_batch([s for _, _, s in seqs])
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    special = {tok.token_to_id(s) for s in ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]}
    mask_id = tok.token_to_id("[MASK]")
    labels = torch.full_like(ids, -100)
    masked = ids.clone()
    B, L = ids.shape
    for b in range(B):
        for i in range(L):
            tid = int(ids[b, i])
            if mask[b, i] == 0 or tid in special or rng.random() >= 0.15:
                continue
            labels[b, i] = tid
            r = rng.random()
            if r < 0.8:
                masked[b, i] = mask_id
            elif r < 0.9:
                masked[b, i] = rng.randrange(5, CFG["vocab_size"])
    print("batch", tuple(ids.shape), "targets", int((labels != -100).sum()), "real", int(mask.sum()))

    names = [n for n, _ in model.named_parameters()]
    loss = mlm_loss(model, masked, mask, labels)
    model.zero_grad()
    loss.backward()
    exp = {"input_ids": masked, "attention_mask": mask, "labels": labels,
           "loss": torch.tensor([loss.item()], dtype=torch.float32)}
    for n, p in model.named_parameters():
        exp["grad." + n] = p.grad.detach().float()

    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm.weight" in n or "layernorm.weight" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm.weight" in n or "layernorm.weight" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        l = mlm_loss(model, masked, mask, labels)
        losses.append(l.item())
        l.backward()
        opt.step()
    exp["adamw.loss"] = torch.tensor(losses, dtype=torch.float32)
    for n, p in model.named_parameters():
        exp["adamw." + n] = p.detach().float()
    meta = {
        "sequences": json.dumps([[n, s, len(q)] for n, s, q in seqs]),
        "parameters": json.dumps(names),
        "optimizer": json.dumps({"lr": LR, "betas": BETAS, "eps": EPS, "weight_decay": WD,
                                 "no_decay": "biases and LayerNorm weights"}),
    }
    torch_save_file({k: v.contiguous() for k, v in exp.items()}, os.path.join(OUT, "expected.safetensors"), metadata=meta)
    print("loss", loss.item(), "losses", losses)


if __name__ == "__main__":
    main()
