#!/usr/bin/env python3
"""Reference fixtures for the Swift tokenizer tests, produced by Hugging Face `tokenizers`.

Writes Tests/DNABertTests/Fixtures/tokenizer/:
  dnabert2_cases.json  - inputs encoded with the real DNABERT-2 tokenizer.json (ids + BYTE offsets), with and
                         without special tokens, with truncation; edge cases, random strings, genome windows.
  custom_cases.json    - small hand-made tokenizers (prefix/suffix, fuse_unk, added tokens with lstrip/rstrip/
                         single_word, WhitespaceSplit, BertProcessing, merges as arrays, a non-monotone merge
                         list with two merges making the same token) as HF serialises them, plus encodings.
  unicode_classes.json - the code point ranges that HF's Whitespace pre-tokenizer treats as word (\\w) and
                         as space (\\s), probed one code point at a time.

Usage: python3 tools/reference/make_tokenizer_fixtures.py [--check-saved FILE... | --check-saved-dir DIR]
  --check-saved: load tokenizer.json files written by our Swift code with HF and compare encodings with
                 the original DNABERT-2 tokenizer on the fixture inputs (prints OK or raises).
  --check-saved-dir DIR: after `DNABERT_TOKENIZER_SAVE_DIR=DIR swift test --filter Tokenizer`, check every
                 file the tests saved there (DNABERT-2 re-saved and factory-built, the custom tokenizers).
"""
import gzip
import json
import os
import random
import sys

from tokenizers import Tokenizer
from tokenizers.pre_tokenizers import Whitespace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared"
TOKJSON = os.path.join(SHARED, "data", "dnabert2", "tokenizer.json")
GENOMES = os.path.join(SHARED, "data", "genomes")
OUT = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "tokenizer")


def byte_offsets(text, char_offsets):
    """HF's Python API returns char offsets; convert to UTF-8 byte offsets."""
    pos = [0]
    for ch in text:
        pos.append(pos[-1] + len(ch.encode("utf-8")))
    out = []
    for s, e in char_offsets:
        out += [pos[s], pos[e]]
    return out


def encode_case(tok, name, text, add_special=True, max_length=0):
    if max_length > 0:
        tok.enable_truncation(max_length)
    else:
        tok.no_truncation()
    e = tok.encode(text, add_special_tokens=add_special)
    tok.no_truncation()
    return {"name": name, "text": text, "add_special": add_special, "max_length": max_length,
            "ids": e.ids, "offsets": byte_offsets(text, e.offsets)}


def read_genome(path, limit=None):
    seq = []
    n = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if seq and limit is None:
                    break
                continue
            s = line.strip()
            seq.append(s)
            n += len(s)
            if limit is not None and n >= limit:
                break
    return "".join(seq)


def edge_inputs():
    return [
        ("empty", ""),
        ("one_base", "A"),
        ("one_base_t", "T"),
        ("short", "ACGT"),
        ("n_run", "NNNNNNNNNN"),
        ("n_inside", "ACGTNNNNACGTTTGA"),
        ("lower", "acgtacgtaaat"),
        ("mixed_case", "ACGTacgtACGT"),
        ("iupac", "ACGTRYKMSWBDHVN"),
        ("spaces", "ACGT ACGT  TTGA"),
        ("newlines_tabs", "ACGT\nACGG\tTTAC\r\nGA"),
        ("leading_trailing_ws", "  ACGTAC  "),
        ("only_ws", " \t\n "),
        ("punct", "ACG-TTA*CG.ATG--GC**"),
        ("punct_only", "-*.,;"),
        ("mask_inside", "ACG[MASK]TT"),
        ("specials_inside", "[CLS]ACGT[SEP]GG[PAD][UNK]"),
        ("mask_start_end", "[MASK]ACGTACGT[MASK]"),
        ("mask_adjacent", "[MASK][MASK]"),
        ("mask_partial", "[MAS ACGT [MASK"),
        ("mask_lower", "acg[mask]tt"),
        ("non_ascii", "ACGTé ÄCGT ñ日本語ACGT"),
        ("non_ascii_marks", "ACGTe\u0301GG\u200dTT\u00a0AC\u2003GT"),
        ("digits_underscore", "ACGT123_ACGT_9"),
        ("emoji", "AC\U0001F600GT"),
        ("control_chars", "AC\x00GT\x01\x7fAA"),
        ("long_homopolymer", "A" * 257),
        ("long_dinuc", "AT" * 150),
        ("fasta_like", ">chr1 test\nACGTACGTAGCTAGCTAGCATCGATCGACTAGCTAGCTACGAT\nGGCTAGCTAGCTAGCTTTTTAAAAACCCGGG\n"),
    ]


def random_inputs(rng, n):
    out = []
    alphabets = ["ACGT", "ACGT", "ACGTN", "ACGTacgt", "ACGT \n", "ACGT-*.", "ACGTé[]MASK"]
    for i in range(n):
        alpha = rng.choice(alphabets)
        length = rng.choice([1, 2, 3, 5, 8, 13, 31, 64, 100, 257, 600])
        out.append((f"random_{i}", "".join(rng.choice(alpha) for _ in range(length))))
    return out


def dnabert_cases():
    tok = Tokenizer.from_file(TOKJSON)
    rng = random.Random(1234)
    cases = []
    for name, text in edge_inputs() + random_inputs(rng, 120):
        cases.append(encode_case(tok, name, text))
        cases.append(encode_case(tok, name + "_nospecial", text, add_special=False))
    # Genome windows.
    genomes = sorted(f for f in os.listdir(GENOMES) if f.endswith(".fasta.gz"))
    for g in genomes:
        seq = read_genome(os.path.join(GENOMES, g), limit=400_000)
        for k in range(3):
            start = rng.randrange(0, len(seq) - 1000)
            cases.append(encode_case(tok, f"{g}_{start}_1kbp", seq[start:start + 1000]))
    seq = read_genome(os.path.join(GENOMES, genomes[0]), limit=300_000)
    cases.append(encode_case(tok, "window_100kbp", seq[100_000:200_000]))
    # Truncation.
    text = seq[5000:5400]
    for ml in [2, 3, 4, 10, 50, 512]:
        cases.append(encode_case(tok, f"trunc_{ml}", text, max_length=ml))
        cases.append(encode_case(tok, f"trunc_{ml}_nospecial", text, add_special=False, max_length=ml))
    cases.append(encode_case(tok, "trunc_mask", "ACGTAC[MASK]GGTACCA ACGT", max_length=5))
    return {"tokenizer": "../shared/data/dnabert2/tokenizer.json", "vocab_size": tok.get_vocab_size(True),
            "decode_examples": [{"ids": [1, 5, 6, 7, 8, 2], "skip": True, "hf_tokens": [tok.id_to_token(i) for i in [5, 6, 7, 8]]}],
            "cases": cases}


def custom_tokenizers():
    """Small tokenizers exercising the options DNABERT-2 does not use."""
    specials = [
        {"id": 0, "content": "[UNK]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
        {"id": 1, "content": "[CLS]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
        {"id": 2, "content": "[SEP]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
    ]
    base_vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "A": 3, "C": 4, "G": 5, "T": 6}
    tpl = {"type": "TemplateProcessing",
           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
           "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
           "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1, 2], "tokens": ["[CLS]", "[SEP]"]},
                              "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}}

    def build(vocab_tokens, merges, **model):
        vocab = dict(base_vocab)
        for t in vocab_tokens:
            if t not in vocab:
                vocab[t] = len(vocab)
        m = {"type": "BPE", "dropout": None, "unk_token": "[UNK]", "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
             "vocab": vocab, "merges": merges}
        m.update(model)
        return m

    def merged(pairs, prefix=""):
        toks = []
        for a, b in pairs:
            bb = b[len(prefix):] if prefix and b.startswith(prefix) else b
            toks.append(a + bb)
        return toks

    out = []
    # 1. Non-monotone merges, two merges making the same token, arrays form, fuse_unk, added tokens with options.
    pairs = [["A", "A"], ["AA", "C"], ["C", "G"], ["A", "AC"], ["AAC", "T"], ["T", "T"], ["G", "AAC"],
             ["TT", "TT"], ["C", "C"], ["CC", "G"], ["A", "CG"], ["TTTT", "A"], ["G", "G"], ["GG", "GG"]]
    pairs = [["GG", "GG"]] + pairs  # uses GG before the merge making it
    vocab_tokens = ["AA", "AC", "AAC", "CG", "AACT", "TT", "GAAC", "TTTT", "CC", "CCG", "ACG", "TTTTA", "GG", "GGGG"]
    added = specials + [
        {"id": 99, "content": "<x>", "single_word": False, "lstrip": True, "rstrip": True, "normalized": False, "special": False},
        {"id": 98, "content": "word", "single_word": True, "lstrip": False, "rstrip": False, "normalized": True, "special": False},
        {"id": 97, "content": "GAT", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True},
        {"id": 96, "content": "GATT", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": False},
    ]
    out.append(("quirky", {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
                           "normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": tpl,
                           "decoder": None, "model": build(vocab_tokens, pairs, fuse_unk=True)}))
    # 2. continuing_subword_prefix + end_of_word_suffix, WhitespaceSplit, BertProcessing.
    pre = "##"
    vt = ["A", "##A", "##C", "##G", "##T", "C", "G", "T", "A</w>", "##A</w>", "##C</w>", "##G</w>", "##T</w>", "C</w>", "G</w>", "T</w>"]
    pairs2 = [["A", "##C"], ["##G", "##T"], ["##G", "##T</w>"], ["AC", "##GT"], ["C", "##A"], ["##T", "##T"], ["G", "##A</w>"]]
    vt += merged(pairs2, pre)
    out.append(("affixes", {"version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
                            "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"},
                            "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
                            "decoder": None,
                            "model": build(vt, [" ".join(p) for p in pairs2], continuing_subword_prefix=pre, end_of_word_suffix="</w>")}))
    # 3. No unk token (unknown chars dropped), ignore_merges, Sequence pre-tokenizer, no post-processor.
    pairs3 = [["A", "C"], ["G", "T"], ["AC", "GT"]]
    m3 = build(["AC", "GT", "ACGT", "ACGTACGT"], [" ".join(p) for p in pairs3], unk_token=None, ignore_merges=True)
    out.append(("nounk_ignore", {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
                                 "normalizer": None,
                                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Whitespace"}]},
                                 "post_processor": None, "decoder": None, "model": m3}))
    # 4. RobertaProcessing without offset trimming, pre-tokenizer null (the whole piece is one word).
    out.append(("roberta", {"version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
                            "normalizer": None, "pre_tokenizer": None,
                            "post_processor": {"type": "RobertaProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1],
                                               "trim_offsets": False, "add_prefix_space": False},
                            "decoder": None, "model": build(["AC", "GT", "ACGT"], ["A C", "G T", "AC GT"])}))
    return out


def custom_cases():
    rng = random.Random(99)
    texts = ["", "A", "AACT", "GGGGAACTTTTTA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACCCCCCGGGG",
             "x <x> y", "AC  <x>  GT", "<x><x>", "a word here", "aword b", "word", "GATTACA", "GATACA GAT",
             "ACNNNGT", "NN A NN", "ACGT ACGTACGT GTAC", "CA GA CAGT\tAC", "ACGTACGT", "ACGTACGTA",
             "é AC", "AC-GT", "[CLS]AC", "A C G T"]
    for i in range(150):
        alpha = rng.choice(["ACGT", "ACGT", "AACCGGT", "ACGTN ", "ACGT<x> "])
        texts.append("".join(rng.choice(alpha) for _ in range(rng.choice([5, 20, 40, 100, 300]))))
    result = []
    for name, spec in custom_tokenizers():
        tok = Tokenizer.from_str(json.dumps(spec))
        cases = []
        for j, text in enumerate(texts):
            cases.append(encode_case(tok, f"{name}_{j}", text))
            cases.append(encode_case(tok, f"{name}_{j}_nospecial", text, add_special=False))
        cases.append(encode_case(tok, f"{name}_trunc", "ACGTACGTACGTAACTGG", max_length=4))
        vocab = tok.get_vocab(with_added_tokens=True)
        result.append({"name": name, "hf_json": tok.to_str(), "source_json": json.dumps(spec),
                       "vocab_size": tok.get_vocab_size(True), "token_ids": sorted(vocab.items(), key=lambda kv: kv[1]),
                       "cases": cases})
    return result


def unicode_classes():
    w = Whitespace()
    word, space = [], []

    def add(ranges, c):
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        r = w.pre_tokenize_str("a" + chr(c) + "a")
        if len(r) == 1:
            add(word, c)
        elif len(r) == 2:
            add(space, c)
    return {"word": word, "space": space}


def check_saved(paths):
    ref = Tokenizer.from_file(TOKJSON)
    data = dnabert_cases()
    for p in paths:
        t = Tokenizer.from_file(p)
        assert t.get_vocab_size(True) == ref.get_vocab_size(True), p
        for c in data["cases"]:
            for tk in (t, ref):
                if c["max_length"]:
                    tk.enable_truncation(c["max_length"])
                else:
                    tk.no_truncation()
            a = t.encode(c["text"], add_special_tokens=c["add_special"])
            b = ref.encode(c["text"], add_special_tokens=c["add_special"])
            assert a.ids == b.ids and a.offsets == b.offsets, (p, c["name"])
        print("OK", p, len(data["cases"]), "cases")


def check_saved_dir(d):
    """Files written by the Swift tests with DNABERT_TOKENIZER_SAVE_DIR=d: HF must load each and encode
    exactly like the tokenizer it was made from."""
    check_saved([os.path.join(d, f) for f in sorted(os.listdir(d)) if f.startswith("dnabert_")])
    fx = json.load(open(os.path.join(OUT, "custom_cases.json")))
    n = 0
    for entry in fx:
        ref = Tokenizer.from_str(entry["source_json"])
        for f in sorted(os.listdir(d)):
            if not f.startswith("custom_" + entry["name"] + "_"):
                continue
            t = Tokenizer.from_file(os.path.join(d, f))
            assert t.get_vocab(True) == ref.get_vocab(True), f
            for c in entry["cases"]:
                for tk in (t, ref):
                    if c["max_length"]:
                        tk.enable_truncation(c["max_length"])
                    else:
                        tk.no_truncation()
                a = t.encode(c["text"], add_special_tokens=c["add_special"])
                b = ref.encode(c["text"], add_special_tokens=c["add_special"])
                assert a.ids == b.ids and a.offsets == b.offsets, (f, c["name"])
            n += 1
            print("OK", f, len(entry["cases"]), "cases")
    assert n >= 6, "expected the custom tokenizers saved by the Swift tests"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check-saved":
        check_saved(sys.argv[2:])
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--check-saved-dir":
        check_saved_dir(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    for fname, obj in [("dnabert2_cases.json", dnabert_cases()), ("custom_cases.json", custom_cases()),
                       ("unicode_classes.json", unicode_classes())]:
        path = os.path.join(OUT, fname)
        with open(path, "w") as f:
            json.dump(obj, f, separators=(",", ":"))
        print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
