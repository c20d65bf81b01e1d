"""Id-for-id identity with Hugging Face `tokenizers` (the peer), on real genomes and edge cases."""
import os
import random

import numpy as np
import pytest

import dnabert

from conftest import DATA, DNABERT2_TOKENIZER, genome_path


def windows(genomes, size=1000):
    for recs in genomes.values():
        for _, seq in recs:
            for i in range(0, len(seq) - size + 1, size):
                yield seq[i:i + size]


def compare_windows(ours, hf, seqs):
    got = ours.encode_batch(seqs)
    want = hf.encode_batch(seqs)
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a.tolist() != b.ids]
    assert not bad, f"{len(bad)} of {len(seqs)} windows differ, first: {seqs[bad[0]][:60]}..."
    return len(seqs)


def test_every_1kbp_window_of_every_genome(tok, hf_tok, genomes):
    seqs = list(windows(genomes))
    assert len(seqs) > (20000 if DATA else 4000)   # 5 genomes (24 Mbp), or the repository's 2 (4.5 Mbp)
    assert compare_windows(tok, hf_tok, seqs) == len(seqs)


def test_whole_chromosomes(tok, hf_tok, genomes):
    for name, recs in genomes.items():
        for rec_name, seq in recs[:2]:
            got = tok.encode(seq)
            want = hf_tok.encode(seq).ids
            assert got.tolist() == want, f"{name}:{rec_name} ({len(seq)} bp) differs"


def test_offsets_match_hf(tok, hf_tok, genomes):
    seq = genomes["hpylori_sjm180.fasta.gz"][0][1][:20000]
    ids, offsets = tok.encode(seq, return_offsets=True)
    enc = hf_tok.encode(seq)
    assert ids.tolist() == enc.ids
    assert [tuple(o) for o in offsets.tolist()] == enc.offsets


EDGE_CASES = [
    "", "A", "C", "N", "NNNNNNNNNNNNNNNNNNNN", "acgtacgt", "ACGTacgtACGT", "ACGTRYKMSWBDHVNacgtn",
    "ACGT ACGT", "ACGT\nACGT", "ACGT\r\nGGCC\tTTAA", "  ACGT  ", "\n", "ACG-TTA.GGC*AT", "ACGT[MASK]ACGT",
    "[CLS][SEP]", "[MASK]", "ACGT [PAD] AC", "ÄCGTÖ", "ACGT🧬ACGT", "ACGU", "12345ACGT_ACGT", "é\u0301ACGT",
    "A" * 5000, "AT" * 3000, "ACGT" * 2500, "N" * 1000 + "ACGT" * 10,
]


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases(tok, hf_tok, text):
    enc = hf_tok.encode(text)
    ids, offsets = tok.encode(text, return_offsets=True)
    assert ids.tolist() == enc.ids
    assert [tuple(o) for o in offsets.tolist()] == enc.offsets
    assert tok.encode(text, add_special_tokens=False).tolist() == hf_tok.encode(text, add_special_tokens=False).ids


def test_one_megabase_string(tok, hf_tok):
    rng = random.Random(11)
    seq = "".join(rng.choice("ACGT") for _ in range(1_000_000))
    assert tok.encode(seq).tolist() == hf_tok.encode(seq).ids


def test_one_megabase_with_noise(tok, hf_tok, genomes):
    seq = list(genomes["saureus_n315.fasta.gz"][0][1][:1_000_000])
    rng = random.Random(5)
    for _ in range(2000):
        i = rng.randrange(len(seq))
        seq[i] = rng.choice("NacgtRY \n-")
    seq = "".join(seq)
    assert tok.encode(seq).tolist() == hf_tok.encode(seq).ids


def test_truncation_matches_hf(hf_tok, tok, genomes):
    from tokenizers import Tokenizer as HFTokenizer
    seqs = list(windows({"x": genomes["hpylori_sjm180.fasta.gz"]}, 600))[:200]
    with pytest.raises(dnabert.DNABertError, match="special tokens"):
        tok.encode(seqs[0], max_length=1)  # HF returns the whole sequence here; we refuse
    assert tok.encode(seqs[0], max_length=1, add_special_tokens=False).tolist() == \
        hf_tok.encode(seqs[0], add_special_tokens=False).ids[:1]
    for max_length in (2, 3, 10, 128):
        hf = HFTokenizer.from_file(DNABERT2_TOKENIZER)
        hf.enable_truncation(max_length)
        want = [e.ids for e in hf.encode_batch(seqs)]
        got = [r.tolist() for r in tok.encode_batch(seqs, max_length=max_length)]
        assert got == want, f"max_length={max_length}"


def test_padding_matches_hf(tok, genomes):
    from tokenizers import Tokenizer as HFTokenizer
    rng = random.Random(2)
    g = genomes["saureus_n315.fasta.gz"][0][1]
    seqs = [g[i:i + rng.randrange(0, 700)] for i in range(0, 50000, 1000)]
    hf = HFTokenizer.from_file(DNABERT2_TOKENIZER)
    hf.enable_truncation(100)
    hf.enable_padding(pad_id=3, pad_token="[PAD]", length=100)
    want = hf.encode_batch(seqs)
    got = tok.encode_batch(seqs, max_length=100, padding="max_length")
    assert got["input_ids"].tolist() == [e.ids for e in want]
    assert got["attention_mask"].tolist() == [e.attention_mask for e in want]
    hf.enable_padding(pad_id=3, pad_token="[PAD]")  # longest
    want = hf.encode_batch(seqs)
    got = tok.encode_batch(seqs, max_length=100, padding=True)
    assert got.input_ids.tolist() == [e.ids for e in want]
    assert got.attention_mask.tolist() == [e.attention_mask for e in want]


def test_decode_round_trip(tok, genomes):
    seqs = list(windows({"x": genomes["saureus_n315.fasta.gz"]}, 997))[:300]
    for s in seqs:
        assert tok.decode(tok.encode(s)) == s
    whole = genomes["saureus_n315.fasta.gz"][0][1]
    assert set(whole) == set("ACGT")
    assert tok.decode(tok.encode(whole)) == whole


def test_vocab_matches_hf(tok, hf_tok):
    assert tok.vocab_size == hf_tok.get_vocab_size() == 4096
    vocab = hf_tok.get_vocab()
    for token, i in list(vocab.items())[:500]:
        assert tok.token_to_id(token) == i
        assert tok.id_to_token(i) == token
    assert tok.special_ids == {"unk": 0, "cls": 1, "sep": 2, "pad": 3, "mask": 4}


def test_saved_tokenizer_loads_in_hf(tok, tmp_path, genomes):
    from tokenizers import Tokenizer as HFTokenizer
    path = tmp_path / "saved.json"
    tok.save(str(path))
    hf = HFTokenizer.from_file(str(path))
    seqs = list(windows({"x": genomes["saureus_n315.fasta.gz"]}))[:500]
    assert [e.ids for e in hf.encode_batch(seqs)] == [r.tolist() for r in tok.encode_batch(seqs)]


def test_merges_as_pairs_form(tmp_path, hf_tok, genomes):
    import json
    data = json.load(open(DNABERT2_TOKENIZER))
    data["model"]["merges"] = [m.split(" ") for m in data["model"]["merges"]]
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(data))
    t = dnabert.Tokenizer.from_file(str(path))
    seqs = list(windows({"x": genomes["hpylori_sjm180.fasta.gz"]}))[:300]
    assert [r.tolist() for r in t.encode_batch(seqs)] == [e.ids for e in hf_tok.encode_batch(seqs)]


def test_trained_tokenizer_is_identical_in_hf(tmp_path, genomes):
    """A tokenizer trained here loads in HF and encodes identically there."""
    from tokenizers import Tokenizer as HFTokenizer
    trained = dnabert.Tokenizer.train([genome_path("hpylori_sjm180.fasta.gz")], vocab_size=1024,
                                      progress=False)
    assert trained.vocab_size == 1024
    path = tmp_path / "trained.json"
    trained.save(str(path))
    hf = HFTokenizer.from_file(str(path))
    assert hf.get_vocab_size() == 1024
    seqs = list(windows({"x": genomes["saureus_n315.fasta.gz"]}))
    got = trained.encode_batch(seqs)
    want = hf.encode_batch(seqs)
    assert all(a.tolist() == b.ids for a, b in zip(got, want))
    whole = genomes["saureus_n315.fasta.gz"][0][1]   # a whole chromosome
    assert trained.encode(whole).tolist() == hf.encode(whole).ids
    # and it compresses: well above 1 bp per token
    total_tokens = sum(len(r) - 2 for r in got)
    assert sum(len(s) for s in seqs) / total_tokens > 3.0
