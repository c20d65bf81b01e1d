"""Builds the LoRA / sequence-classification fixture in Tests/DNABertTests/Fixtures/lora/ with PyTorch + peft
(run by hand, ~5 s):

    python3 tools/reference/make_lora_fixture.py

The tensor names, shapes and conventions are documented in Tests/DNABertTests/Fixtures/lora/README.md.
The reference model is tools/reference/dnabert2_classification.py (HF DNABERT-2 BertForSequenceClassification
equivalent + our mean-pooling head). LoRA is applied by peft itself (get_peft_model), the computation runs in
float64 (every stored input is float32, so the float64 model starts from exactly the stored values) and results are
stored as float32.
"""
import copy
import json
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import load_file, save_file as torch_save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnabert2_classification import DNABert2ForSequenceClassification, decay_groups  # noqa: E402
from dnabert2_reference import Config, DNABert2  # noqa: E402

import peft  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "lora")

CFG = dict(vocab_size=64, hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
           intermediate_size=64, type_vocab_size=2, layer_norm_eps=1e-12)
NUM_LABELS = 3
R, ALPHA = 4, 8
TARGETS = ["Wqkv", "attention.output.dense", "gated_layers", "wo"]
MODULES_TO_SAVE = ["classifier", "pooler"]
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 0.01
LORA_B_STD = 0.1
PAD, CLS, SEP = 3, 1, 2
LENGTHS = [12, 8, 5]            # real tokens per sequence, [CLS] and [SEP] included
CLASS_WEIGHTS = [0.25, 1.0, 3.0]

CASES = {
    # name: (problem_type, num_labels, pooling, lora, class weights)
    "case1": ("single_label_classification", 3, "cls", True, None),
    "case2": ("single_label_classification", 3, "cls", True, CLASS_WEIGHTS),
    "case3": ("multi_label_classification", 3, "cls", True, None),
    "case4": ("regression", 1, "cls", True, None),
    "case5": ("single_label_classification", 3, "mean", True, None),
    "case6": ("single_label_classification", 3, "cls", False, None),
}
LABELS = {
    "case1": torch.tensor([0, 2, 1], dtype=torch.int64),
    "case2": torch.tensor([0, 2, 1], dtype=torch.int64),
    "case3": torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=torch.float32),
    "case4": torch.tensor([0.5, -1.25, 2.0], dtype=torch.float32),
    "case5": torch.tensor([0, 2, 1], dtype=torch.int64),
    "case6": torch.tensor([0, 2, 1], dtype=torch.int64),
}


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


def our_name(peft_name: str) -> str:
    """peft parameter name -> the name used in expected.safetensors (= peft's saved key minus base_model.model.)."""
    n = peft_name
    if n.startswith("base_model.model."):
        n = n[len("base_model.model."):]
    return n.replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B.") \
            .replace(".modules_to_save.default.", ".")


def lora_config():
    return LoraConfig(task_type="SEQ_CLS", r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=list(TARGETS),
                      modules_to_save=list(MODULES_TO_SAVE))


def make_base(case, base_sd):
    problem, nl, pooling, _, weights = CASES[case]
    m = DNABert2ForSequenceClassification(Config(**CFG), nl, problem_type=problem, pooling=pooling,
                                          hidden_dropout_prob=0.0, class_weights=weights)
    sd = {k: v.clone() for k, v in base_sd.items()}
    if nl == 1:     # regression head = the first row of the stored 3-label classifier
        sd["classifier.weight"] = sd["classifier.weight"][:1].clone()
        sd["classifier.bias"] = sd["classifier.bias"][:1].clone()
    if pooling == "mean":
        sd = {k: v for k, v in sd.items() if not k.startswith("bert.pooler.")}
    m.load_state_dict(sd, strict=True)
    return m


def logits_of(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).logits.detach().clone()


def main():
    t0 = torch.get_num_threads()
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20261125)

    # base model (float32 values, 3 labels, pooler)
    base = DNABert2ForSequenceClassification(Config(**CFG), NUM_LABELS)
    randomize(base, gen)
    base_sd = {k: v.detach().float().contiguous() for k, v in base.state_dict().items()}
    np_save_file({k: v.numpy() for k, v in base_sd.items()}, os.path.join(OUT, "base.safetensors"),
                 metadata={"format": "pt"})
    cfg = {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_act": "gelu",
        "attention_probs_dropout_prob": 0.0, "hidden_dropout_prob": 0.0, "classifier_dropout": None,
        "alibi_starting_size": 512, "initializer_range": 0.02, "max_position_embeddings": 512,
        "position_embedding_type": "absolute", "pad_token_id": 0, "torch_dtype": "float32",
        "num_labels": NUM_LABELS,
        "id2label": {str(i): f"LABEL_{i}" for i in range(NUM_LABELS)},
        "label2id": {f"LABEL_{i}": i for i in range(NUM_LABELS)},
        **{k: CFG[k] for k in CFG},
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)

    # inputs: [CLS] random tokens [SEP], right-padded with [PAD]=3, attention_mask 1 on real tokens
    L = max(LENGTHS)
    ids = torch.full((len(LENGTHS), L), PAD, dtype=torch.int64)
    mask = torch.zeros((len(LENGTHS), L), dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        ids[b, 0] = CLS
        ids[b, 1:n - 1] = torch.randint(5, CFG["vocab_size"], (n - 2,), generator=gen)
        ids[b, n - 1] = SEP
        mask[b, :n] = 1
    exp = {"inputs/ids": ids, "inputs/attention_mask": mask}

    lora_init = None
    peft_case1_after = None
    for case, (problem, nl, pooling, use_lora, weights) in CASES.items():
        model = make_base(case, base_sd)
        if use_lora:
            torch.manual_seed(7)       # peft draws lora_A from the global RNG (kaiming_uniform_, a=sqrt(5))
            model = get_peft_model(model, lora_config())
            named = dict(model.named_parameters())
            if lora_init is None:
                lora_init = {}
                for n, p in named.items():
                    if ".lora_A." in n:
                        lora_init[our_name(n)] = p.detach().clone()
                    elif ".lora_B." in n:
                        assert torch.count_nonzero(p) == 0, "peft initialises lora_B to zero"
                        lora_init[our_name(n)] = (LORA_B_STD * torch.randn(p.shape, generator=gen)).float()
            with torch.no_grad():
                for n, p in named.items():
                    if ".lora_" in n:
                        p.copy_(lora_init[our_name(n)])
        else:
            for p in model.parameters():
                p.requires_grad_(True)
        model = model.double()
        trainable = [(our_name(n), p) for n, p in model.named_parameters() if p.requires_grad]
        labels = LABELS[case]
        exp[f"{case}/labels"] = labels
        if weights is not None:
            exp[f"{case}/class_weights"] = torch.tensor(weights, dtype=torch.float32)
        if nl == 1:
            exp[f"{case}/init/classifier.weight"] = base_sd["classifier.weight"][:1].clone()
            exp[f"{case}/init/classifier.bias"] = base_sd["classifier.bias"][:1].clone()

        model.train()   # dropout p = 0 everywhere, so train/eval give the same numbers
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        model.zero_grad()
        out.loss.backward()
        exp[f"{case}/logits"] = out.logits.detach().float()
        exp[f"{case}/loss"] = torch.tensor([out.loss.item()], dtype=torch.float32)
        for n, p in trainable:
            assert p.grad is not None, f"{case}: no gradient for {n}"
            exp[f"{case}/grad/{n}"] = p.grad.detach().float()
            if ".lora_" in n:
                assert torch.count_nonzero(p.grad) > 0, f"{case}: zero gradient for {n}"

        if case == "case6":
            # independent check 1: the no-grad reference forward of dnabert2_reference.py gives the same logits
            ref = DNABert2(Config(**CFG, num_labels=NUM_LABELS, mlm_head=False))
            ref.load_state_dict(base_sd, strict=True)
            rl = ref.double()(ids, mask)["classifier_logits"]
            d = (rl - out.logits.detach()).abs().max().item()
            assert d < 1e-12, f"classification head differs from dnabert2_reference by {d}"
        if use_lora:
            # independent check 2: W + (alpha / r) * B @ A folded by hand into a plain model gives the same logits
            sd = {k: v.double() for k, v in make_base(case, base_sd).state_dict().items()}
            for n in lora_init:
                if ".lora_A." in n:
                    mod = n[: n.index(".lora_A.")]
                    a, b = lora_init[n].double(), lora_init[mod + ".lora_B.weight"].double()
                    sd[mod + ".weight"] = sd[mod + ".weight"] + (ALPHA / R) * (b @ a)
            plain = make_base(case, base_sd).double()
            plain.load_state_dict(sd, strict=True)
            d = (logits_of(plain, ids, mask) - out.logits.detach()).abs().max().item()
            assert d < 1e-12, f"{case}: hand-merged LoRA logits differ by {d}"
            merged = copy.deepcopy(model).merge_and_unload()
            ml = logits_of(merged, ids, mask)
            exp[f"{case}/merged_logits"] = ml.float()
            d = (ml - out.logits.detach()).abs().max().item()
            assert d < 1e-10, f"{case}: merged logits differ by {d}"

        opt = torch.optim.AdamW(decay_groups(trainable, WD), lr=LR, betas=BETAS, eps=EPS)
        opt.step()
        for n, p in trainable:
            exp[f"{case}/after/{n}"] = p.detach().float()
        exp[f"{case}/logits_after"] = logits_of(model, ids, mask).float()
        print(f"{case}: loss {out.loss.item():.6f}  trainable tensors {len(trainable)}  "
              f"params {sum(p.numel() for _, p in trainable)}")
        if case == "case1":
            peft_case1_after = model

    for n, v in lora_init.items():
        exp[f"lora/init/{n}"] = v

    # Task 2: peft's own adapter file for case 1 after its AdamW step (float32 copy)
    ad_dir = os.path.join(OUT, "peft_adapter")
    shutil.rmtree(ad_dir, ignore_errors=True)
    copy.deepcopy(peft_case1_after).float().save_pretrained(ad_dir)
    card = os.path.join(ad_dir, "README.md")      # peft also writes a boilerplate model card: not kept
    if os.path.exists(card):
        os.remove(card)
    # the logits of base.safetensors + that adapter, loaded back by peft (float64 forward)
    fresh = make_base("case1", base_sd)
    with warnings.catch_warnings():
        warnings.simplefilter("error")         # a missing/unexpected key warning fails the build
        loaded = PeftModel.from_pretrained(fresh, ad_dir)
    pl = logits_of(loaded.double(), ids, mask)
    exp["peft_adapter/logits"] = pl.float()
    d = (pl.float() - exp["case1/logits_after"]).abs().max().item()
    assert d < 1e-5, f"reloaded adapter logits differ by {d}"

    # a hand-written minimal adapter (numpy + json, no peft) must load identically
    saved = load_file(os.path.join(ad_dir, "adapter_model.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "adapter_config.json"), "w") as f:
            json.dump({"peft_type": "LORA", "task_type": "SEQ_CLS", "r": R, "lora_alpha": ALPHA,
                       "target_modules": TARGETS, "modules_to_save": MODULES_TO_SAVE}, f)
        np_save_file({k: v.numpy() for k, v in saved.items()}, os.path.join(tmp, "adapter_model.safetensors"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            hand = PeftModel.from_pretrained(make_base("case1", base_sd), tmp)
        hl = logits_of(hand.double(), ids, mask)
        assert torch.equal(hl, pl), "hand-written minimal adapter gives different logits"

    meta = {
        "config": json.dumps(CFG), "cases": json.dumps(CASES), "torch": torch.__version__, "peft": peft.__version__,
        "lora": json.dumps({"r": R, "lora_alpha": ALPHA, "scaling": ALPHA / R, "targets": TARGETS,
                            "modules_to_save": MODULES_TO_SAVE, "lora_B_init": f"N(0, {LORA_B_STD})"}),
        "optimizer": json.dumps({"lr": LR, "betas": BETAS, "eps": EPS, "weight_decay": WD, "steps": 1,
                                 "no_decay": "biases and LayerNorm weights"}),
    }
    torch_save_file({k: v.contiguous() for k, v in sorted(exp.items())}, os.path.join(OUT, "expected.safetensors"),
                    metadata=meta)
    torch.set_num_threads(t0)
    print("peft", peft.__version__, "torch", torch.__version__, "tensors", len(exp))


if __name__ == "__main__":
    main()
