"""Builds the model fixtures in Tests/DNABertTests/Fixtures/model/ with PyTorch (run by hand):

    python3 tools/reference/make_model_fixture.py

* config.json               HF-style config of a tiny DNABERT-2 (hidden 48, 6 heads: NOT a power of two,
                            2 layers, intermediate 64, vocab 4096, MLM head + pooler + 3-label classifier)
* model.safetensors         its seeded random weights, written by the `safetensors` package (no tied decoder,
                            like transformers' save_pretrained)
* pytorch_model.bin         the same state dict via torch.save (OrderedDict with _metadata; the decoder
                            weight shares the word-embedding storage, as in the published checkpoint)
* expected.safetensors      input_ids, attention_mask (I64), embedding_output, hidden_states.N, last_hidden_state,
                            mlm_logits, pooled_output, classifier_logits, alibi_slopes (F32) from
                            dnabert2_reference.py on a padded batch of 3 real genome sequences tokenized by
                            HF `tokenizers` with DNABERT-2's tokenizer.json (the sequences are in __metadata__)
* encoder12h/               config.json, model.safetensors, expected.safetensors of a bare encoder saved the
                            way transformers' BertModel does (names without "bert.", no heads): hidden 24,
                            12 heads of dimension 2 (the published head count: non-power-of-two ALiBi rule), 1 layer
* variety.bin / variety_zip64.bin / variety_deflate.bin / variety_native.safetensors / variety_f32.safetensors
                            reader stress cases (f16, bf16, f64, int, bool, scalar, empty, transposed, sliced with
                            a storage offset, expanded with stride 0, shared storage): torch.save, the same archive
                            with every field in ZIP64 form (hand-packed) and deflate-compressed (zipfile; both
                            checked by torch.load), the same tensors
                            in their own dtypes via safetensors.torch, and torch's own conversion to float32.
"""
import gzip
import json
import os
import random
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import torch
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import save_file as torch_save_file
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnabert2_reference import Config, DNABert2, alibi_slopes  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "model")
DATA = os.environ.get("DNABERT_DATA", "/work/shared/data")

CFG = dict(vocab_size=4096, hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
           intermediate_size=64, type_vocab_size=2, layer_norm_eps=1e-12, num_labels=3)


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
    picks = [("ecoli_k12_mg1655", 150), ("saureus_n315", 97), ("hpylori_sjm180", 41)]
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
    """Weights large enough that attention patterns, GELU and LayerNorm all matter."""
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
                fan_in = p.shape[1]
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def hf_config(c, architecture="BertForSequenceClassification"):
    repo = "zhihan1996/DNABERT-2-117M"
    cfg = {
        "_name_or_path": "dnabert-fixture-tiny",
        "alibi_starting_size": 512,
        "architectures": [architecture],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {
            "AutoConfig": f"{repo}--configuration_bert.BertConfig",
            "AutoModel": f"{repo}--bert_layers.BertModel",
            "AutoModelForMaskedLM": f"{repo}--bert_layers.BertForMaskedLM",
            "AutoModelForSequenceClassification": f"{repo}--bert_layers.BertForSequenceClassification",
        },
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": c["hidden_size"],
        "id2label": {str(i): f"LABEL_{i}" for i in range(c["num_labels"])},
        "initializer_range": 0.02,
        "intermediate_size": c["intermediate_size"],
        "label2id": {f"LABEL_{i}": i for i in range(c["num_labels"])},
        "layer_norm_eps": c["layer_norm_eps"],
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": c["num_attention_heads"],
        "num_hidden_layers": c["num_hidden_layers"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.28.0",
        "type_vocab_size": c["type_vocab_size"],
        "vocab_size": c["vocab_size"],
    }
    if not c.get("num_labels"):
        del cfg["id2label"], cfg["label2id"]
    return cfg


def rewrite_deflated(src, dst):
    """The same entries, deflate-compressed, by Python's zipfile."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, zin.read(info.filename))


def rewrite_full_zip64(src, dst):
    """The same entries, stored, with EVERY size and offset in ZIP64 form (32-bit fields saturated at
    0xFFFFFFFF, 64-bit values in the 0x0001 extra fields, ZIP64 end record + locator), as a writer does
    for a > 4 GB checkpoint. Hand-packed with struct; Python's zipfile verifies it afterwards."""
    import struct
    import zlib
    with zipfile.ZipFile(src) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    out, central = bytearray(), bytearray()
    for name, data in items:
        nb, crc, off = name.encode(), zlib.crc32(data), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), 20)
        out += nb + struct.pack("<HHQQ", 1, 16, len(data), len(data)) + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(nb), 28, 0, 0, 0, 0, 0xFFFFFFFF)
        central += nb + struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
    cd_off = len(out)
    out += central
    z64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(items), len(items), len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(out)
    with zipfile.ZipFile(dst) as z:
        assert z.testzip() is None
        assert [(i.filename, z.read(i.filename)) for i in z.infolist()] == items


def variety_tensors(gen):
    big = torch.randn(10, 5, generator=gen)
    shared = torch.randn(4, 6, generator=gen)
    return {
        "f32_contiguous": torch.randn(3, 4, generator=gen),
        "f32_transposed": torch.randn(4, 3, generator=gen).t(),
        "f32_slice_with_offset": big[3:7, 1:4],
        "f32_row_of_shared": shared[2],
        "f32_shared_whole": shared,
        "f32_expanded_stride0": torch.randn(3, generator=gen).expand(4, 3),
        "f32_scalar": torch.tensor(3.25),
        "f32_empty": torch.zeros(0, 4),
        "f16": (torch.randn(5, 3, generator=gen) * 100).half(),
        "f16_subnormal_inf": torch.tensor([6e-8, -3e-6, 65504.0, float("inf"), -0.0, 1.0], dtype=torch.float16),
        "bf16": (torch.randn(2, 7, generator=gen) * 1e3).bfloat16(),
        "f64": torch.randn(6, generator=gen, dtype=torch.float64),
        "i64": torch.arange(-5, 7).view(3, 4),
        "i32": torch.tensor([[-2147483648, 7], [123456, -1]], dtype=torch.int32),
        "i16": torch.tensor([-32768, 5, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20240611)
    rng = random.Random(7)

    c = Config(**CFG, mlm_head=True, pooler=True)
    model = DNABert2(c).eval()
    randomize(model, gen)

    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(hf_config(CFG), f, indent=2)
        f.write("\n")

    sd = model.state_dict()
    assert sd["cls.predictions.decoder.weight"].data_ptr() == sd["bert.embeddings.word_embeddings.weight"].data_ptr()
    torch.save(sd, os.path.join(OUT, "pytorch_model.bin"))
    np_sd = {k: v.detach().numpy().copy() for k, v in sd.items() if k != "cls.predictions.decoder.weight"}
    np_save_file(np_sd, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})

    tok = Tokenizer.from_file(os.path.join(DATA, "dnabert2", "tokenizer.json"))
    tok.enable_padding(pad_id=3, pad_token="[PAD]")
    seqs = pick_sequences(rng)
    enc = tok.encode_batch([s for _, _, s in seqs])
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    assert ids[:, 0].eq(1).all() and (ids == 3).eq(mask == 0).all()

    out = model(ids, mask)
    # Padding must not leak into real tokens: each sequence alone gives the same rows.
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        alone = model(ids[b:b + 1, :n], mask[b:b + 1, :n])
        assert torch.allclose(alone["last_hidden_state"][0], out["last_hidden_state"][b, :n], atol=1e-5)
        assert torch.allclose(alone["mlm_logits"][0], out["mlm_logits"][b, :n], atol=1e-4)
        assert torch.allclose(alone["pooled_output"][0], out["pooled_output"][b], atol=1e-5)
    exp = {
        "input_ids": ids,
        "attention_mask": mask,
        "embedding_output": out["embedding_output"],
        "last_hidden_state": out["last_hidden_state"],
        "mlm_logits": out["mlm_logits"],
        "pooled_output": out["pooled_output"],
        "classifier_logits": out["classifier_logits"],
        "alibi_slopes": alibi_slopes(c.num_attention_heads).to(torch.float32),
    }
    for i, h in enumerate(out["hidden_states"]):
        exp[f"hidden_states.{i}"] = h
    meta = {
        "sequences": json.dumps([{"genome": g, "start": st, "sequence": s} for g, st, s in seqs]),
        "note": "hidden_states.N is the output of encoder layer N (0-based); every hidden state is zero at "
                "padded positions; mlm_logits at padded positions are the head applied to the zero vector",
        "torch_version": torch.__version__,
    }
    torch_save_file({k: v.contiguous() for k, v in exp.items()}, os.path.join(OUT, "expected.safetensors"), metadata=meta)

    # A bare encoder (what transformers' BertModel.save_pretrained writes: no "bert." prefix, no heads)
    # with 12 heads of dimension 2: the published head count, whose ALiBi slopes use the non-power-of-two rule.
    enc_dir = os.path.join(OUT, "encoder12h")
    os.makedirs(enc_dir, exist_ok=True)
    ecfg = dict(vocab_size=4096, hidden_size=24, num_hidden_layers=1, num_attention_heads=12,
                intermediate_size=32, type_vocab_size=2, layer_norm_eps=1e-12, num_labels=0)
    enc = DNABert2(Config(**ecfg, mlm_head=False, pooler=False)).eval()
    randomize(enc, gen)
    with open(os.path.join(enc_dir, "config.json"), "w") as f:
        json.dump(hf_config(ecfg, "BertModel"), f, indent=2)
        f.write("\n")
    esd = {k[len("bert."):]: v.detach().numpy().copy() for k, v in enc.state_dict().items()}
    np_save_file(esd, os.path.join(enc_dir, "model.safetensors"), metadata={"format": "pt"})
    eout = enc(ids, mask)
    eexp = {"input_ids": ids, "attention_mask": mask, "embedding_output": eout["embedding_output"],
            "last_hidden_state": eout["last_hidden_state"],
            "alibi_slopes": alibi_slopes(12).to(torch.float32)}
    for i, h in enumerate(eout["hidden_states"]):
        eexp[f"hidden_states.{i}"] = h
    torch_save_file({k: v.contiguous() for k, v in eexp.items()}, os.path.join(enc_dir, "expected.safetensors"),
                    metadata={"sequences": meta["sequences"], "note": meta["note"]})

    vt = variety_tensors(gen)
    torch.save(vt, os.path.join(OUT, "variety.bin"))
    rewrite_full_zip64(os.path.join(OUT, "variety.bin"), os.path.join(OUT, "variety_zip64.bin"))
    rewrite_deflated(os.path.join(OUT, "variety.bin"), os.path.join(OUT, "variety_deflate.bin"))
    for v in ("variety_zip64.bin", "variety_deflate.bin"):
        back = torch.load(os.path.join(OUT, v), weights_only=True)
        assert all(torch.equal(back[k], vt[k]) for k in vt)
    torch_save_file({k: v.contiguous().clone() for k, v in vt.items()}, os.path.join(OUT, "variety_native.safetensors"))
    torch_save_file({k: v.float().contiguous().clone() for k, v in vt.items()}, os.path.join(OUT, "variety_f32.safetensors"))

    total = 0
    for root, _, files in sorted(os.walk(OUT)):
        for f in sorted(files):
            n = os.path.getsize(os.path.join(root, f))
            total += n
            print(f"{os.path.relpath(os.path.join(root, f), OUT):32s} {n:9d}")
    print(f"{'total':32s} {total:9d}  ids shape {tuple(ids.shape)}")


if __name__ == "__main__":
    main()
