#!/bin/sh
# Independent reference numbers and tiny gzip fixtures for Tests/DNABertTests/FASTATests.swift (fixtures in Tests/Fixtures).
# Lengths come from zcat/awk (not from our reader); gzip files from the system gzip.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
out="$here/Tests/Fixtures"
genomes="${1:-$here/../shared/data/genomes}"
[ -d "$genomes" ] || genomes=/work/shared/data/genomes
mkdir -p "$out"
# file <TAB> record name <TAB> sequence length (all bytes of the sequence lines, newline-free)
: > "$out/genome_lengths.tsv"
for f in "$genomes"/*.fasta.gz; do
  zcat "$f" | awk -v F="$(basename "$f")" '
    /^>/ { if (n != "") print F "\t" n "\t" len; n = substr($1, 2); len = 0; next }
    { gsub(/[ \t\r]/, ""); len += length($0) }
    END { if (n != "") print F "\t" n "\t" len }' >> "$out/genome_lengths.tsv"
done
# Multi-member gzip: two members concatenated (what `cat a.gz b.gz` and bgzip produce).
tmp=$(mktemp -d)
printf '>one first record\nACGT\nAC\n' > "$tmp/a.fa"
printf '>two\r\nGGGG\r\n\r\n>three\rTT\r' > "$tmp/b.fa"
gzip -9 -n -c "$tmp/a.fa" > "$out/multi_member.fa.gz"
gzip -1 -n -c "$tmp/b.fa" >> "$out/multi_member.fa.gz"
# A gzip with a corrupted deflate body and one truncated in the middle of its only member.
seq 1 2000 | awk '{ print ">r" $1; print "ACGTACGTTTGACCA" }' > "$tmp/c.fa"
gzip -9 -n -c "$tmp/c.fa" > "$tmp/c.fa.gz"
size=$(wc -c < "$tmp/c.fa.gz")
head -c $((size / 2)) "$tmp/c.fa.gz" > "$out/truncated.fa.gz"
python3 - "$tmp/c.fa.gz" "$out/corrupt.fa.gz" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
for i in range(40, 60): b[i] ^= 0x5A
open(sys.argv[2], 'wb').write(bytes(b))
PY
rm -rf "$tmp"
