"""Loads a LoRA adapter folder with peft (PeftModel.from_pretrained) on the reference DNABERT-2 classifier and
prints / writes / compares the logits. Proves that an adapter written by our library is a valid peft adapter.

    python3 tools/reference/check_peft_adapter.py --base-dir MODEL_DIR --adapter ADAPTER_DIR --inputs batch.npz \
        [--expected logits.json] [--tol 1e-4] [--out logits.json] [--pooling cls|mean] [--num-labels N] \
        [--weights FILE]

MODEL_DIR      config.json + model.safetensors (or --weights FILE) with HF DNABERT-2 names (bert.*; cls.* MLM-head tensors are ignored).
               bert.pooler.* / classifier.* may be absent: they must then come from the adapter's modules_to_save.
ADAPTER_DIR    adapter_config.json + adapter_model.safetensors (peft format, see Fixtures/lora/README.md).
--inputs       .npz with arrays `ids` (or `input_ids`) and `attention_mask`, or a .json object with the same keys
               (lists of lists of ints); [B, L], right-padded.
--expected     .json {"logits": [[...]]} / .npz / .safetensors with a `logits` array [B, C] (another name with
               --expected-key, e.g. peft_adapter/logits in Fixtures/lora/expected.safetensors); exit code 1 when
               max |logits - expected| > --tol.
--out          write {"logits": [[...]], "max_abs_diff": ..., "peft": ..., "torch": ...} as JSON (else printed).

Fails loudly (exit code 2, message on stderr) when: the adapter config lacks one of the fields we always write
(peft_type, task_type, r, lora_alpha, target_modules, modules_to_save) or is not LORA; a tensor is not F32; the
adapter has a key peft would not save for this model (unexpected: peft itself silently ignores those), or lacks one
(missing: peft only warns); a loaded tensor differs from the file; peft emits any warning while loading; the base
checkpoint has unexpected keys or misses keys that the adapter does not provide. The forward runs in float64.
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnabert2_classification import DNABert2ForSequenceClassification, config_from_hf  # noqa: E402

import peft  # noqa: E402
from peft import PeftModel  # noqa: E402
from peft.utils import get_peft_model_state_dict  # noqa: E402

REQUIRED_CONFIG_FIELDS = ("peft_type", "task_type", "r", "lora_alpha", "target_modules", "modules_to_save")
PREFIX = "base_model.model."


class CheckError(Exception):
    pass


def load_inputs(path):
    if path.endswith(".npz"):
        z = np.load(path)
        d = {k: z[k] for k in z.files}
    elif path.endswith(".json"):
        with open(path) as f:
            d = {k: np.asarray(v) for k, v in json.load(f).items()}
    else:
        raise CheckError(f"--inputs {path}: expected .npz or .json")
    ids = d.get("ids", d.get("input_ids"))
    if ids is None or "attention_mask" not in d:
        raise CheckError(f"--inputs {path}: needs `ids` (or `input_ids`) and `attention_mask`")
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    mask = torch.as_tensor(np.asarray(d["attention_mask"], dtype=np.int64))
    if ids.ndim != 2 or ids.shape != mask.shape:
        raise CheckError(f"--inputs {path}: ids {tuple(ids.shape)} and attention_mask {tuple(mask.shape)} must be "
                         "equal 2-D shapes")
    return ids, mask


def load_expected(path, key="logits"):
    try:
        if path.endswith(".json"):
            with open(path) as f:
                return np.asarray(json.load(f)[key], dtype=np.float64)
        if path.endswith(".npz"):
            return np.load(path)[key].astype(np.float64)
        if path.endswith(".safetensors"):
            with safe_open(path, "np") as f:
                return f.get_tensor(key).astype(np.float64)
    except Exception as e:      # missing key, unreadable file: a format error, not a mismatch
        raise CheckError(f"--expected {path}: cannot read {key!r}: {e}")
    raise CheckError(f"--expected {path}: expected .json, .npz or .safetensors")


def read_adapter(adapter_dir):
    cpath = os.path.join(adapter_dir, "adapter_config.json")
    wpath = os.path.join(adapter_dir, "adapter_model.safetensors")
    for p in (cpath, wpath):
        if not os.path.isfile(p):
            raise CheckError(f"{p}: missing")
    with open(cpath) as f:
        cfg = json.load(f)
    missing = [k for k in REQUIRED_CONFIG_FIELDS if k not in cfg]
    if missing:
        raise CheckError(f"{cpath}: missing fields {missing}")
    if cfg["peft_type"] != "LORA":
        raise CheckError(f"{cpath}: peft_type {cfg['peft_type']!r}, expected 'LORA'")
    tensors = load_file(wpath)
    bad = {k: str(v.dtype) for k, v in tensors.items() if v.dtype != torch.float32}
    if bad:
        raise CheckError(f"{wpath}: tensors not F32: {bad}")
    return cfg, tensors


def build_base(base_dir, adapter_tensors, pooling="cls", num_labels=None, allow_missing_head=False,
               default_labels=None, weights=None):
    """The reference classifier with the base checkpoint loaded. Head tensors missing from the checkpoint must be
    provided by the adapter (checked here), or allow_missing_head (make_peft_adapter: seeded random head)."""
    with open(os.path.join(base_dir, "config.json")) as f:
        hf = json.load(f)
    weights = weights or os.path.join(base_dir, "model.safetensors")
    sd = load_file(weights)
    ignored = sorted(k for k in sd if k.startswith("cls."))
    sd = {k: v for k, v in sd.items() if not k.startswith("cls.")}
    if num_labels is None:
        w = adapter_tensors.get(PREFIX + "classifier.weight")
        if w is not None:
            num_labels = int(w.shape[0])
        elif "classifier.weight" in sd:
            num_labels = int(sd["classifier.weight"].shape[0])
        elif "num_labels" in hf:
            num_labels = int(hf["num_labels"])
        elif "id2label" in hf:
            num_labels = len(hf["id2label"])
        elif default_labels is not None:
            num_labels = default_labels
        else:
            raise CheckError("cannot tell the number of labels: give --num-labels")
    model = DNABert2ForSequenceClassification(config_from_hf(hf), num_labels, pooling=pooling)
    own = model.state_dict()
    unexpected = sorted(k for k in sd if k not in own)
    if unexpected:
        raise CheckError(f"{weights}: unexpected keys {unexpected}")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            if (PREFIX + k) in adapter_tensors:       # replaced by the adapter's modules_to_save copy anyway
                continue
            raise CheckError(f"{weights}: {k} has shape {tuple(v.shape)}, "
                             f"model needs {tuple(own[k].shape)}")
    missing = sorted(k for k in own if k not in sd or tuple(sd[k].shape) != tuple(own[k].shape))
    not_provided = [k for k in missing if (PREFIX + k) not in adapter_tensors]
    if not_provided and not allow_missing_head:
        raise CheckError(f"{weights} lacks {not_provided} and the adapter does not provide them")
    load = {k: v for k, v in sd.items() if k not in missing}
    model.load_state_dict(load, strict=False)
    return model, {"ignored_base_keys": ignored, "head_from_adapter": missing}


def load_with_peft(model, adapter_dir, tensors):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pm = PeftModel.from_pretrained(model, adapter_dir)
    msgs = [str(w.message) for w in caught if not issubclass(w.category, (DeprecationWarning, FutureWarning))]
    if msgs:
        raise CheckError("peft warned while loading the adapter: " + " | ".join(msgs))
    expected = get_peft_model_state_dict(pm)       # exactly the keys peft itself would save for this model
    unexpected = sorted(set(tensors) - set(expected))
    missing = sorted(set(expected) - set(tensors))
    if unexpected or missing:
        raise CheckError(f"adapter keys do not match what peft saves for this model: unexpected {unexpected}, "
                         f"missing {missing}")
    for k, v in tensors.items():
        got = expected[k].detach().to(torch.float32).cpu()
        if tuple(got.shape) != tuple(v.shape) or not torch.equal(got, v):
            raise CheckError(f"adapter tensor {k} was not loaded as written")
    return pm


def peft_logits(base_dir, adapter_dir, ids, mask, pooling="cls", num_labels=None, weights=None):
    cfg, tensors = read_adapter(adapter_dir)
    model, info = build_base(base_dir, tensors, pooling, num_labels, weights=weights)
    pm = load_with_peft(model, adapter_dir, tensors)
    pm = pm.double().eval()
    with torch.no_grad():
        logits = pm(input_ids=ids, attention_mask=mask).logits
    return logits, cfg, info, pm


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-dir", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--expected")
    ap.add_argument("--expected-key", default="logits", help="name of the logits in --expected (default logits)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--out")
    ap.add_argument("--pooling", choices=["cls", "mean"], default="cls")
    ap.add_argument("--num-labels", type=int)
    ap.add_argument("--weights", help="base weights file (default BASE_DIR/model.safetensors)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    try:
        ids, mask = load_inputs(a.inputs)
        logits, cfg, info, _ = peft_logits(a.base_dir, a.adapter, ids, mask, a.pooling, a.num_labels, a.weights)
        result = {"logits": logits.tolist(), "peft": peft.__version__, "torch": torch.__version__,
                  "task_type": cfg["task_type"], "r": cfg["r"], "lora_alpha": cfg["lora_alpha"], **info}
        status = 0
        if a.expected:
            exp = load_expected(a.expected, a.expected_key)
            if exp.shape != tuple(logits.shape):
                raise CheckError(f"--expected {a.expected}: logits shape {exp.shape}, got {tuple(logits.shape)}")
            diff = float(np.abs(exp - logits.numpy()).max())
            result["max_abs_diff"] = diff
            if not diff <= a.tol:
                print(f"MISMATCH: max |logits - expected| = {diff:.3g} > {a.tol}", file=sys.stderr)
                status = 1
    except CheckError as e:
        print(f"check_peft_adapter: ERROR: {e}", file=sys.stderr)
        sys.exit(2)
    text = json.dumps(result, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        print(text)
    sys.exit(status)


if __name__ == "__main__":
    main()
