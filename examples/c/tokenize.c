/* Tokenize every record of a FASTA file (plain or .gz) in 1 kbp windows with a tokenizer.json and report
 * compression and speed. Build: gcc tokenize.c $(pkg-config --cflags --libs dnabert) -lz
 * Usage: tokenize tokenizer.json genome.fa[.gz] */
#define _POSIX_C_SOURCE 200809L
#include <dnabert.h>
#include <zlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s tokenizer.json genome.fa[.gz]\n", argv[0]);
        return 2;
    }
    dnabert_tokenizer *tok = NULL;
    if (dnabert_tokenizer_load(argv[1], &tok) != DNABERT_OK) {
        fprintf(stderr, "error: %s\n", dnabert_last_error());
        return 1;
    }
    /* read all sequence letters of the file (zlib reads plain files too) */
    gzFile in = gzopen(argv[2], "rb");
    if (!in) {
        fprintf(stderr, "error: cannot open %s\n", argv[2]);
        return 1;
    }
    size_t cap = 1 << 20, len = 0;
    char *seq = malloc(cap), line[65536];
    while (gzgets(in, line, sizeof line)) {
        if (line[0] == '>') continue;
        for (char *p = line; *p; p++) {
            if (*p == '\n' || *p == '\r') continue;
            if (len == cap) seq = realloc(seq, cap *= 2);
            seq[len++] = *p;
        }
    }
    gzclose(in);

    /* 1 kbp windows, encoded in one parallel batch call */
    size_t n = len / 1000;
    const char **windows = malloc(n * sizeof *windows);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        windows[i] = seq + 1000 * i;
        lens[i] = 1000;
    }
    dnabert_encode_params params = dnabert_encode_default_params();
    params.add_special_tokens = 0;
    size_t per = 0;
    dnabert_tokenizer_max_tokens(tok, 1000, &params, &per);
    int32_t *ids = malloc(n * per * sizeof *ids);
    int64_t *starts = malloc((n + 1) * sizeof *starts);
    double t0 = seconds();
    if (dnabert_encode_batch(tok, windows, lens, n, &params, ids, NULL, n * per, starts) != DNABERT_OK) {
        fprintf(stderr, "error: %s\n", dnabert_last_error());
        return 1;
    }
    double dt = seconds() - t0;
    printf("%zu windows of 1 kbp -> %lld tokens: %.2f bp/token, %.1f Mbp/s\n", n, (long long)starts[n],
           (double)(n * 1000) / (double)starts[n], (double)(n * 1000) / dt / 1e6);

    /* the first tokens of the first window with their genome coordinates */
    int64_t offsets[2 * 64];
    size_t nt = 0;
    if (len < 60 || dnabert_encode(tok, seq, 60, &params, ids, offsets, 64, &nt) != DNABERT_OK) nt = 0;
    for (size_t i = 0; i < nt && i < 8; i++) {
        char token[64];
        size_t tl = 0;
        dnabert_tokenizer_id_to_token(tok, ids[i], token, sizeof token, &tl);
        printf("  token %-5d %-12s bases %lld-%lld\n", ids[i], token, (long long)offsets[2 * i],
               (long long)offsets[2 * i + 1]);
    }
    free(ids);
    free(starts);
    free(windows);
    free(lens);
    free(seq);
    dnabert_tokenizer_free(tok);
    return 0;
}
