#!/usr/bin/env python3
"""One fine-tuning step for sequence classification: dnabert's finetuner (C API) against PyTorch + Hugging Face peft,
side by side in one run. LoRA (r 8, alpha 32, dropout 0.05 on Wqkv and attention.output.dense, classifier and pooler
trained as PEFT's modules_to_save) and full fine-tuning.

dnabert side: `dnabert_finetuner_step` through ctypes (libdnabert, no binding layer in the timed path): a shuffled
batch of B labelled random sequences, tokenized and truncated to L tokens (every sequence is long enough to fill L),
forward + backward (hidden dropout 0.1), clipping to 1.0, AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0.01).

PyTorch side: the project's reference DNABERT-2 (tools/reference/dnabert2_classification.py, HF module names) wrapped
by peft's get_peft_model(LoraConfig(task_type SEQ_CLS, ...)) for LoRA, or trained as is for full fine-tuning; a
forward written with the reference's modules (so peft's LoRA layers run) with dropout 0.1 where DNABERT-2 has it, the
ALiBi bias cached, naive attention ([B, heads, L, L], as DNABERT-2 without Triton); cross-entropy; backward;
clip_grad_norm_(1.0); torch.optim.AdamW over the trainable parameters (HF decay groups). Random ids each step.

Both sides: float32, same shape, batch and threads; each in its own process (peak RSS = its own VmHWM); warm-up,
then alternating rounds. OPENBLAS_CORETYPE is removed for the dnabert side so the library picks its kernel itself.

Usage: python3 bench/bench_finetune_step.py [--shapes base:8x128,small:32x128] [--modes lora,full] [--threads 2]
                                            [--steps 5] [--warmup 1]
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_step import COMMON, PRESETS, ROOT, TOKENIZER, TORCH_COMMON, VOCAB, Child, child_env  # noqa: E402

CHILD_DNABERT = COMMON + r"""
import ctypes, os, random
args = json.loads(sys.argv[1])
lib = ctypes.CDLL(os.environ["DNABERT_LIB"])

# The binding's declarations of the C structs (only the structs: the timed calls go straight to the library).
from dnabert.finetune import FinetuneParams, FinetuneMetrics as Metrics

lib.dnabert_finetune_default_params.restype = FinetuneParams
lib.dnabert_last_error.restype = ctypes.c_char_p
def check(s):
    if s != 0:
        raise RuntimeError(lib.dnabert_last_error().decode())

cfg = dict(args["config"], vocab_size=args["vocab"], hidden_dropout_prob=0.1, model_type="bert")
tok = ctypes.c_void_p()
check(lib.dnabert_tokenizer_load(args["tokenizer"].encode(), ctypes.byref(tok)))
model = ctypes.c_void_p()
cj = json.dumps(cfg).encode()
check(lib.dnabert_model_create(cj, ctypes.c_size_t(len(cj)), tok, ctypes.c_uint64(1), ctypes.byref(model)))
rng = random.Random(5)
n = 4096
seqs = ["".join(rng.choice("ACGT") for _ in range(args["L"] * 8)).encode() for _ in range(n)]
labels = [str(i % 2).encode() for i in range(n)]
arr = (ctypes.c_char_p * n)(*seqs)
lens = (ctypes.c_size_t * n)(*[len(s) for s in seqs])
labs = (ctypes.c_char_p * n)(*labels)
ds = ctypes.c_void_p()
check(lib.dnabert_dataset_from_arrays(arr, lens, labs, ctypes.c_size_t(n), None, 0, ctypes.byref(ds)))
p = lib.dnabert_finetune_default_params()
p.lora_r = 8 if args["mode"] == "lora" else 0
p.lora_alpha, p.lora_dropout = 32.0, 0.05
p.lora_targets = b"Wqkv,attention.output.dense"
p.max_steps, p.batch_size, p.max_length, p.n_threads = 1000000, args["B"], args["L"], args["threads"]
p.learning_rate, p.warmup_steps, p.dropout = 5e-4 if args["mode"] == "lora" else 3e-5, 50, 0.1
ft = ctypes.c_void_p()
check(lib.dnabert_finetuner_create(model, ds, None, ctypes.byref(p), ctypes.byref(ft)))
m = Metrics()
m.struct_size = ctypes.sizeof(Metrics)   # result structs carry the caller's size (ABI 0.2)

def step():
    check(lib.dnabert_finetuner_step(ft, ctypes.byref(m)))
    return {"loss": m.loss, "tokens": args["B"] * args["L"], "step": m.step}

def sgemm():
    g = ctypes.c_double()
    check(lib.dnabert_blas_benchmark(args["sgemm_n"], args["threads"], ctypes.byref(g)))
    return g.value

info = ctypes.create_string_buffer(512)
ln = ctypes.c_size_t()
lib.dnabert_blas_info(info, ctypes.c_size_t(512), ctypes.byref(ln))
serve(step, sgemm, info.value.decode())
"""

CHILD_TORCH = COMMON + r"""
import math
import torch, torch.nn.functional as F
args = json.loads(sys.argv[1])
sys.path.insert(0, args["reference_dir"])
from dnabert2_reference import Config
from dnabert2_classification import DNABert2ForSequenceClassification, decay_groups
""" + TORCH_COMMON + r"""
torch.set_num_threads(args["threads"])
torch.manual_seed(1)
c = Config(vocab_size=args["vocab"], **args["config"])
model = DNABert2ForSequenceClassification(c, 2, hidden_dropout_prob=0.1)
bert_init(model)
B, L, V, H, I, P = args["B"], args["L"], args["vocab"], c.hidden_size, c.intermediate_size, 0.1
if args["mode"] == "lora":
    from peft import LoraConfig, get_peft_model
    net = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=32, lora_dropout=0.05,
                                           target_modules=["Wqkv", "attention.output.dense"],
                                           modules_to_save=["classifier", "pooler"]))
    lr = 5e-4
else:
    net = model
    lr = 3e-5
net.train()
named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
opt = torch.optim.AdamW(decay_groups(named, 0.01), lr=lr, betas=(0.9, 0.999), eps=1e-8)
inner = net.base_model.model if args["mode"] == "lora" else model
bert = inner.bert
gen = torch.Generator().manual_seed(3)
from dnabert2_classification import attention_bias
alibi = attention_bias(torch.ones(1, L, dtype=torch.long), c.num_attention_heads, torch.float32)

def step():
    ids = torch.randint(5, V, (B, L), generator=gen)
    ids[:, 0], ids[:, -1] = 1, 2
    labels = torch.randint(0, 2, (B,), generator=gen)
    opt.zero_grad(set_to_none=True)
    x = F.dropout(bert.embeddings(ids), P, True)
    for layer in bert.encoder.layer:
        x = layer_train(layer, x, alibi)
    pooled = torch.tanh(bert.pooler.dense(x[:, 0]))
    logits = inner.classifier(F.dropout(pooled, P, True))
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
    opt.step()
    return {"loss": loss.item(), "tokens": B * L}

serve(step, sgemm)
"""


def run(preset, B, L, mode, a, env):
    common = dict(config=PRESETS[preset], vocab=VOCAB, B=B, L=L, threads=a.threads, sgemm_n=2048, mode=mode)
    ours = Child(CHILD_DNABERT, dict(common, tokenizer=TOKENIZER), env)
    try:
        peer = Child(CHILD_TORCH, dict(common, reference_dir=os.path.join(ROOT, "tools", "reference")), env)
    except Exception:
        ours.close()
        raise
    t = {"ours": [], "peer": []}
    try:
        for _ in range(a.warmup):
            ours.ask("step")
            peer.ask("step")
        for i in range(a.steps):
            for name, side in ((("ours", ours), ("peer", peer)) if i % 2 == 0 else (("peer", peer), ("ours", ours))):
                t[name].append(side.ask("step")["seconds"])
        sg = (ours.ask("sgemm")["gflops"], peer.ask("sgemm")["gflops"]) if a.sgemm else None
    finally:
        rss_o, rss_p = ours.close(), peer.close()
    return dict(preset=preset, B=B, L=L, mode=mode, ours=min(t["ours"]), ours_med=statistics.median(t["ours"]),
                peer=min(t["peer"]), peer_med=statistics.median(t["peer"]), rss_o=rss_o, rss_p=rss_p, sgemm=sg,
                info=ours.ready["info"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="base:8x128,small:32x128")
    ap.add_argument("--modes", default="lora,full")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--no-sgemm", dest="sgemm", action="store_false")
    a = ap.parse_args()
    env = child_env()
    import torch
    import peft
    print(f"fine-tuning step (classification, forward + backward + clip + AdamW), float32, {a.threads} threads, best / "
          f"median of {a.steps} after {a.warmup} warm-up; torch {torch.__version__}, peft {peft.__version__}", flush=True)
    rows = []
    for s in a.shapes.split(","):
        preset, bl = s.split(":")
        B, L = map(int, bl.split("x"))
        for mode in a.modes.split(","):
            r = run(preset, B, L, mode, a, env)
            rows.append(r)
            print(f"  {preset} {B}x{L} {mode}: dnabert {r['ours']:.3f} s (median {r['ours_med']:.3f}), PyTorch+peft "
                  f"{r['peer']:.3f} s (median {r['peer_med']:.3f}); peak RSS {r['rss_o']:.0f} / {r['rss_p']:.0f} MB", flush=True)
            a.sgemm = a.sgemm and r["sgemm"] is None
            if r["sgemm"]:
                rows[-1]["sgemm_line"] = (f"sgemm 2048³, {a.threads} threads, same run: dnabert's BLAS {r['sgemm'][0]:.0f} "
                                          f"GFLOP/s, torch.mm {r['sgemm'][1]:.0f} GFLOP/s")
    print()
    print("| model | batch × tokens | mode | dnabert s/step | PyTorch (+peft) s/step | speed-up (best / median) | "
          "peak RSS dnabert / PyTorch |")
    print("|---|---|---|---|---|---|---|")
    names = {"base": "117M", "small": "small (4 × 256)", "tiny": "tiny"}
    for r in rows:
        print(f"| {names[r['preset']]} | {r['B']} × {r['L']} | {'LoRA r 8 (Wqkv, attention output)' if r['mode'] == 'lora' else 'full'} | "
              f"{r['ours']:.3f} | {r['peer']:.3f} | **{r['peer'] / r['ours']:.2f}×** / {r['peer_med'] / r['ours_med']:.2f}× | "
              f"{r['rss_o']:,.0f} MB / {r['rss_p']:,.0f} MB |")
    for r in rows:
        if r.get("sgemm_line"):
            print("\n" + r["sgemm_line"])
    if rows:
        print(f"dnabert {rows[0]['info']}")


if __name__ == "__main__":
    main()
