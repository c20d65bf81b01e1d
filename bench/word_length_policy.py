#!/usr/bin/env python3
"""Word-length policy and peer comparison for the DNA BPE trainer.

Corpus: the 5 genomes of ../shared/data/genomes; the first 90% of every record trains, the last 10% is held
out. Compression = held-out bases / tokens when the held-out DNA is encoded (100 kbp pieces) by a Hugging Face
`tokenizers` BPE model built from the merges (our trainer's or HF's own), or by SentencePiece's own encoder.

Our trainer runs through the env-gated Swift probe `BPETrainerBench.trainOnGenomes` (release build); its time
is in-memory training only, best of --repeat. HF's BpeTrainer and SentencePiece's BPE trainer are timed in
this process on the same training bases, with the same thread count (RAYON_NUM_THREADS / num_threads).

  python3 bench/word_length_policy.py --word-lengths 100,500,1000,2000,10000,100000 --threads 2 --peers
"""
import argparse, gzip, json, os, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--word-lengths", default="100,500,1000,2000,10000,100000")
ap.add_argument("--vocab", type=int, default=4096)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--peers", action="store_true", help="also time HF BpeTrainer and SentencePiece")
ap.add_argument("--hf-lines", default="1000", help="line lengths for HF BpeTrainer (comma list)")
ap.add_argument("--spm-lines", default="1000", help="sentence lengths for SentencePiece (comma list)")
ap.add_argument("--genomes", default=None)
ap.add_argument("--xctest", default=None, help="run this prebuilt test bundle instead of `swift test -c release`")
args = ap.parse_args()
os.environ["RAYON_NUM_THREADS"] = str(args.threads)   # before importing tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402

root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
genomes = args.genomes or next(p for p in [os.path.join(root, "..", "shared", "data", "genomes"),
                                          "/work/shared/data/genomes"] if os.path.isdir(p))
FILES = ["ecoli_k12_mg1655", "saureus_n315", "hpylori_sjm180", "vcholerae_o395", "umaydis_chr01-08"]
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def records(path):
    name, seq = None, []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if name is not None:
                    yield "".join(seq)
                name, seq = line, []
            else:
                seq.append(line.strip())
    if name is not None:
        yield "".join(seq)


train, held = [], []
for f in FILES:
    for s in records(os.path.join(genomes, f + ".fasta.gz")):
        cut = int(len(s) * 0.9)
        train.append(s[:cut])
        held.append(s[cut:])
train_bases = sum(map(len, train))


def pieces(seqs, n):
    """Splits at non-ACGT (dropped) and every n bases."""
    out = []
    for s in seqs:
        for part in "".join(c if c in "ACGT" else " " for c in s).split():
            out.extend(part[i:i + n] for i in range(0, len(part), n))
    return out


held_pieces = pieces(held, 100_000)
held_bases = sum(map(len, held_pieces))


def hf_from_merges(alphabet, merges):
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for a in alphabet:
        vocab[a] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in merges], unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def hf_bp_per_token(tok):
    n = sum(len(e.ids) for e in tok.encode_batch(held_pieces))
    return held_bases / n


print(f"corpus: {train_bases} training bases, {held_bases} held-out bases, threads {args.threads}, vocab {args.vocab}")
rows = []
ours = {}
for wl in [int(x) for x in args.word_lengths.split(",") if x]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = tmp.name
    env = dict(os.environ, DNABERT_TRAIN_BENCH=out, DNABERT_WORDLEN=str(wl), DNABERT_VOCAB=str(args.vocab),
               DNABERT_THREADS=str(args.threads), DNABERT_REPEAT=str(args.repeat))
    cmd = ([args.xctest, "--testing-library", "swift-testing", "--filter", "BPETrainerBench"] if args.xctest
           else ["swift", "test", "-c", "release", "--filter", "BPETrainerBench"])
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stdout[-3000:] + r.stderr[-3000:])
    res = json.load(open(out))
    os.unlink(out)
    bpt = hf_bp_per_token(hf_from_merges(res["alphabet"], res["merges"]))
    ours[wl] = [tuple(m) for m in res["merges"]]
    rows.append(("dnabert (Swift)", wl, res["seconds"], bpt, len(res["merges"])))
    print(f"dnabert   word {wl:>6}: {res['seconds']:7.2f} s  {bpt:.4f} bp/token  ({len(res['merges'])} merges)", flush=True)

if args.peers:
    for ll in [int(x) for x in args.hf_lines.split(",") if x]:
        lines = pieces(train, ll)
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tr = trainers.BpeTrainer(vocab_size=args.vocab, min_frequency=2, special_tokens=SPECIALS, show_progress=False)
        t0 = time.perf_counter()
        tok.train_from_iterator(lines, tr)
        dt = time.perf_counter() - t0
        bpt = hf_bp_per_token(tok)
        rows.append(("HF tokenizers BpeTrainer", ll, dt, bpt, None))
        print(f"HF        line {ll:>6}: {dt:7.2f} s  {bpt:.4f} bp/token", flush=True)
        if ll in ours:
            hf = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in json.loads(tok.to_str())["model"]["merges"]]
            same = next((i for i, (x, y) in enumerate(zip(ours[ll], hf)) if x != y), min(len(hf), len(ours[ll])))
            print(f"          merges identical to ours for the first {same} of {len(hf)} (ours {len(ours[ll])})", flush=True)
    import sentencepiece as spm
    for ll in [int(x) for x in args.spm_lines.split(",") if x]:
        lines = pieces(train, ll)
        with tempfile.TemporaryDirectory() as d:
            txt = os.path.join(d, "corpus.txt")
            with open(txt, "w") as f:
                f.write("\n".join(lines) + "\n")
            t0 = time.perf_counter()
            spm.SentencePieceTrainer.train(
                input=txt, model_prefix=os.path.join(d, "m"), model_type="bpe", vocab_size=args.vocab,
                character_coverage=1.0, num_threads=args.threads, max_sentence_length=max(4192, ll + 1),
                input_sentence_size=0, add_dummy_prefix=False, split_digits=False, byte_fallback=False,
                max_sentencepiece_length=64, minloglevel=2, bos_id=-1, eos_id=-1)
            dt = time.perf_counter() - t0
            sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "m.model"))
            n = sum(len(x) for x in sp.encode(held_pieces))
            bpt = held_bases / n
        rows.append(("SentencePiece BPE", ll, dt, bpt, None))
        print(f"SPM       line {ll:>6}: {dt:7.2f} s  {bpt:.4f} bp/token (max piece 64)", flush=True)

print("\n| trainer | word/line length (bp) | train time (s) | held-out bp/token |")
print("|---|---|---|---|")
for name, wl, sec, bpt, _ in rows:
    print(f"| {name} | {wl} | {sec:.2f} | {bpt:.4f} |")
