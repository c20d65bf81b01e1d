/* C API tests of the tokenizer: results against Hugging Face `tokenizers` (tokenizer_fixture.tsv, made by
 * tools/reference/make_c_fixture.py) and every error path a C caller can hit. Usage: test_tokenizer SHARED_DIR */
#define _POSIX_C_SOURCE 200809L
#include <dnabert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
    buf[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

static void write_text(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}

static void test_against_hf(dnabert_tokenizer *tok) {
    size_t n = 0;
    char *text = read_text("Tests/c/tokenizer_fixture.tsv", &n);
    CHECK(text != NULL, "fixture readable");
    if (!text) return;
    int cases = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        const char *seq = line;
        int32_t expected[8192];
        size_t ne = 0;
        for (char *p = tab + 1; *p && ne < 8192;) {
            expected[ne++] = (int32_t)strtol(p, &p, 10);
            while (*p == ' ') p++;
        }
        size_t len = strlen(seq), cap = 0, nt = 0;
        CHECK(dnabert_tokenizer_max_tokens(tok, len, NULL, &cap) == DNABERT_OK, "max_tokens");
        int32_t *ids = malloc(cap * sizeof *ids);
        int64_t *offsets = malloc(2 * cap * sizeof *offsets);
        int rc = dnabert_encode(tok, seq, len, NULL, ids, offsets, cap, &nt);
        CHECK(rc == DNABERT_OK, "encode '%.20s' rc=%d", seq, rc);
        int same = nt == ne;
        for (size_t i = 0; same && i < nt; i++) same = ids[i] == expected[i];
        CHECK(same, "ids of '%.30s' (len %zu) equal HF's (%zu vs %zu tokens)", seq, len, nt, ne);
        /* offsets cover the sequence contiguously for clean DNA */
        if (strspn(seq, "ACGT") == len && nt >= 2) {
            int64_t pos = 0;
            int ok = 1;
            for (size_t i = 1; i + 1 < nt; i++) {
                ok &= offsets[2 * i] == pos;
                pos = offsets[2 * i + 1];
            }
            CHECK(ok && pos == (int64_t)len, "offsets tile '%.20s'", seq);
            /* decode gives the input back */
            char *back = malloc(len + 1);
            size_t blen = 0;
            CHECK(dnabert_decode(tok, ids, nt, 1, back, len + 1, &blen) == DNABERT_OK && blen == len &&
                      memcmp(back, seq, len) == 0, "decode(encode(x)) == x for '%.20s'", seq);
            free(back);
        }
        free(ids);
        free(offsets);
        cases++;
    }
    CHECK(cases >= 10, "fixture has cases (%d)", cases);
    free(text);
}

static void test_batch(dnabert_tokenizer *tok) {
    const char *seqs[3] = {"ACGTACGTTTGACCA", "", "GGGGCCCCAAAATTTTGCGCGCATAT"};
    size_t lens[3] = {15, 0, 26};
    int64_t starts[4];
    int32_t ids[128];
    dnabert_encode_params p = dnabert_encode_default_params();
    CHECK(dnabert_encode_batch(tok, seqs, lens, 3, &p, ids, NULL, 128, starts) == DNABERT_OK, "batch");
    CHECK(starts[0] == 0 && starts[3] > starts[2], "row starts");
    /* each row equals the single encoding */
    for (int i = 0; i < 3; i++) {
        int32_t one[64];
        size_t n = 0;
        dnabert_encode(tok, seqs[i], lens[i], &p, one, NULL, 64, &n);
        int same = (int64_t)n == starts[i + 1] - starts[i];
        for (size_t j = 0; same && j < n; j++) same = one[j] == ids[starts[i] + (int64_t)j];
        CHECK(same, "batch row %d equals single encode", i);
    }
    /* too small: reports the total */
    CHECK(dnabert_encode_batch(tok, seqs, lens, 3, &p, ids, NULL, 2, starts) == DNABERT_ERR_BUFFER_TOO_SMALL &&
              starts[3] > 2, "batch buffer too small reports the size");
    /* padded */
    int32_t pid[3 * 6], mask[3 * 6], lengths[3];
    dnabert_special_ids sp = { .struct_size = sizeof sp };
    dnabert_tokenizer_special_ids(tok, &sp);
    CHECK(dnabert_encode_batch_padded(tok, seqs, lens, 3, &p, 6, pid, mask, lengths) == DNABERT_OK, "padded");
    CHECK(lengths[1] == 2 && pid[6] == sp.cls && pid[7] == sp.sep && pid[8] == sp.pad && mask[8] == 0 && mask[7] == 1,
          "padded row of the empty sequence is [CLS] [SEP] [PAD]...");
    CHECK(lengths[0] == 6 && pid[5] == sp.sep, "truncated rows end with [SEP] as HF truncation does");
    /* no special tokens + truncation */
    p.add_special_tokens = 0;
    p.max_length = 2;
    size_t n = 0;
    CHECK(dnabert_encode(tok, seqs[2], lens[2], &p, ids, NULL, 128, &n) == DNABERT_OK && n == 2, "truncate to 2");
}

static void test_errors(dnabert_tokenizer *tok, const char *tmpdir) {
    dnabert_tokenizer *t = NULL;
    int32_t ids[16];
    size_t n;
    char path[512];

    CHECK(dnabert_tokenizer_load(NULL, &t) == DNABERT_ERR_INVALID_ARGUMENT, "NULL path");
    CHECK(strlen(dnabert_last_error()) > 0, "message set");
    CHECK(dnabert_tokenizer_load("/nonexistent/tokenizer.json", &t) == DNABERT_ERR_IO && t == NULL, "missing file");
    CHECK(strstr(dnabert_last_error(), "/nonexistent/tokenizer.json") != NULL, "message names the file");
    CHECK(dnabert_tokenizer_load("Tests/c", &t) == DNABERT_ERR_IO, "a directory");
    snprintf(path, sizeof path, "%s/empty.json", tmpdir);
    write_text(path, "", 0);
    CHECK(dnabert_tokenizer_load(path, &t) == DNABERT_ERR_FORMAT, "empty file");
    const char *bad[] = {"{", "[]", "{\"model\": 3}", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"A\": -5}, \"merges\": []}}",
                         "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"A\": 0}, \"merges\": [\"A Q\"]}}",
                         "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "\xff\xfe{}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = dnabert_tokenizer_load_json(bad[i], strlen(bad[i]), &t);
        CHECK(rc < 0 && t == NULL, "hostile json %zu rejected (rc=%d)", i, rc);
    }
    /* truncated real tokenizer */
    size_t len = 0;
    char *json = NULL;
    CHECK(dnabert_tokenizer_to_json(tok, NULL, 0, &len) == DNABERT_ERR_BUFFER_TOO_SMALL && len > 1000, "to_json size");
    json = malloc(len + 1);
    CHECK(dnabert_tokenizer_to_json(tok, json, len + 1, &len) == DNABERT_OK && json[len] == 0, "to_json");
    for (size_t cut = 1; cut < len; cut += len / 7 + 1) {
        CHECK(dnabert_tokenizer_load_json(json, cut, &t) == DNABERT_ERR_FORMAT, "truncated at %zu", cut);
    }
    CHECK(dnabert_tokenizer_load_json(json, len, &t) == DNABERT_OK, "reload to_json");
    dnabert_tokenizer_free(t);
    free(json);

    CHECK(dnabert_encode(NULL, "ACGT", 4, NULL, ids, NULL, 16, &n) == DNABERT_ERR_INVALID_ARGUMENT, "NULL tok");
    CHECK(dnabert_encode(tok, NULL, 4, NULL, ids, NULL, 16, &n) == DNABERT_ERR_INVALID_ARGUMENT, "NULL seq");
    CHECK(dnabert_encode(tok, NULL, 0, NULL, ids, NULL, 16, &n) == DNABERT_OK && n == 2, "NULL empty seq is ok");
    CHECK(dnabert_encode(tok, "ACGT", 4, NULL, NULL, NULL, 16, &n) == DNABERT_ERR_INVALID_ARGUMENT, "NULL ids");
    CHECK(dnabert_encode(tok, "ACGT", 4, NULL, ids, NULL, 16, NULL) == DNABERT_ERR_INVALID_ARGUMENT, "NULL n");
    CHECK(dnabert_encode(tok, "ACGTACGTAC", 10, NULL, ids, NULL, 1, &n) == DNABERT_ERR_BUFFER_TOO_SMALL && n > 1,
          "small buffer reports the size");
    dnabert_encode_params p = dnabert_encode_default_params();
    p.struct_size = 0;
    CHECK(dnabert_encode(tok, "ACGT", 4, &p, ids, NULL, 16, &n) == DNABERT_ERR_INVALID_ARGUMENT, "unset struct_size");
    p = dnabert_encode_default_params();
    p.max_length = -3;
    CHECK(dnabert_encode(tok, "ACGT", 4, &p, ids, NULL, 16, &n) == DNABERT_ERR_INVALID_ARGUMENT, "negative max_length");
    /* binary junk never crashes */
    char junk[256];
    for (int i = 0; i < 256; i++) junk[i] = (char)i;
    CHECK(dnabert_encode(tok, junk, 256, NULL, NULL, NULL, 0, &n) == DNABERT_ERR_BUFFER_TOO_SMALL, "junk bytes sized");
    int32_t *big = malloc(n * sizeof *big);
    CHECK(dnabert_encode(tok, junk, 256, NULL, big, NULL, n, &n) == DNABERT_OK, "junk bytes encode");
    free(big);

    int32_t bad_ids[3] = {5, 99999, 6};
    char out[64];
    CHECK(dnabert_decode(tok, bad_ids, 3, 1, out, 64, &n) == DNABERT_ERR_INVALID_ARGUMENT, "decode id out of range");
    int32_t neg[1] = {-1};
    CHECK(dnabert_decode(tok, neg, 1, 1, out, 64, &n) == DNABERT_ERR_INVALID_ARGUMENT, "decode negative id");
    int32_t good[2] = {5, 6};
    CHECK(dnabert_decode(tok, good, 2, 1, out, 2, &n) == DNABERT_ERR_BUFFER_TOO_SMALL && n == 2, "decode small buffer");
    CHECK(dnabert_decode(tok, good, 2, 1, out, 3, &n) == DNABERT_OK && strcmp(out, "AC") == 0, "decode AC");

    int32_t id = -1;
    CHECK(dnabert_tokenizer_token_to_id(tok, "[MASK]", &id) == DNABERT_OK && id == 4, "[MASK] is 4");
    CHECK(dnabert_tokenizer_token_to_id(tok, "XYZ", &id) == DNABERT_ERR_NOT_FOUND, "unknown token");
    CHECK(dnabert_tokenizer_id_to_token(tok, 5, out, sizeof out, &n) == DNABERT_OK && strcmp(out, "A") == 0, "id 5 is A");
    CHECK(dnabert_tokenizer_id_to_token(tok, 4096, out, sizeof out, &n) == DNABERT_ERR_NOT_FOUND, "id 4096 absent");

    /* a freed handle is reported, not dereferenced */
    dnabert_tokenizer *t2 = NULL;
    const char *minimal = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"A\": 0}, \"merges\": []}}";
    CHECK(dnabert_tokenizer_load_json(minimal, strlen(minimal), &t2) == DNABERT_OK, "minimal tokenizer");
    dnabert_tokenizer_free(t2);
    CHECK(dnabert_encode(t2, "A", 1, NULL, ids, NULL, 16, &n) == DNABERT_ERR_INVALID_ARGUMENT, "freed handle");
    dnabert_tokenizer_free(t2); /* double free is harmless */
    dnabert_tokenizer_free(NULL);

    /* training: bad inputs */
    dnabert_bpe_train_params tp = dnabert_bpe_train_default_params();
    const char *missing[1] = {"/nonexistent.fa"};
    CHECK(dnabert_tokenizer_train(missing, 1, &tp, &t) == DNABERT_ERR_IO, "train on a missing file");
    CHECK(dnabert_tokenizer_train(NULL, 1, &tp, &t) == DNABERT_ERR_INVALID_ARGUMENT, "train NULL paths");
    snprintf(path, sizeof path, "%s/bad.fa.gz", tmpdir);
    write_text(path, "\x1f\x8b\x08\x00garbage", 12);
    const char *corrupt[1] = {path};
    CHECK(dnabert_tokenizer_train(corrupt, 1, &tp, &t) == DNABERT_ERR_FORMAT, "train on corrupt gzip");
}

static int cancel_after_first(void *user, const dnabert_progress *p) {
    int *calls = user;
    (*calls)++;
    return p->current >= 0 && *calls > 1;
}

static void test_training(const char *tmpdir) {
    /* CRLF line endings, lower case, N runs, two records */
    char path[512];
    snprintf(path, sizeof path, "%s/small.fa", tmpdir);
    FILE *f = fopen(path, "wb");
    srand(3);
    const char *b = "ACGT";
    fprintf(f, ">rec1 first\r\n");
    for (int line = 0; line < 400; line++) {
        for (int i = 0; i < 60; i++) fputc(b[(rand() % 7 == 0) ? 0 : rand() % 4], f);
        fprintf(f, "\r\n");
    }
    fprintf(f, ">rec2\nacgtnnnnACGTACGT\n\n");
    fclose(f);
    const char *paths[1] = {path};
    dnabert_bpe_train_params tp = dnabert_bpe_train_default_params();
    tp.vocab_size = 64;
    dnabert_tokenizer *t = NULL;
    CHECK(dnabert_tokenizer_train(paths, 1, &tp, &t) == DNABERT_OK && t != NULL, "train on a small FASTA");
    int32_t vs = 0;
    dnabert_tokenizer_vocab_size(t, &vs);
    CHECK(vs == 64, "vocab size 64 (%d)", vs);
    dnabert_special_ids sp = { .struct_size = sizeof sp };
    dnabert_tokenizer_special_ids(t, &sp);
    CHECK(sp.unk == 0 && sp.cls == 1 && sp.sep == 2 && sp.pad == 3 && sp.mask == 4, "special ids 0-4");
    int32_t ids[512];
    size_t n = 0;
    const char *s = "ACGTAAACGTTTAGCAAAGT";
    CHECK(dnabert_encode(t, s, strlen(s), NULL, ids, NULL, 512, &n) == DNABERT_OK && n < strlen(s) + 2, "merges shorten");
    snprintf(path, sizeof path, "%s/trained.json", tmpdir);
    CHECK(dnabert_tokenizer_save(t, path) == DNABERT_OK, "save");
    dnabert_tokenizer *t2 = NULL;
    CHECK(dnabert_tokenizer_load(path, &t2) == DNABERT_OK, "load saved");
    int32_t ids2[512];
    size_t n2 = 0;
    dnabert_encode(t2, s, strlen(s), NULL, ids2, NULL, 512, &n2);
    CHECK(n == n2 && memcmp(ids, ids2, n * sizeof *ids) == 0, "saved tokenizer encodes the same");
    dnabert_tokenizer_free(t2);
    dnabert_tokenizer_free(t);

    tp.vocab_size = 3;
    CHECK(dnabert_tokenizer_train(paths, 1, &tp, &t) == DNABERT_ERR_INVALID_ARGUMENT && t == NULL, "vocab_size 3 rejected");
    tp.vocab_size = 64;
    /* cancellation through the progress callback */
    int calls = 0;
    tp.progress = cancel_after_first;
    tp.progress_user_data = &calls;
    t = NULL;
    CHECK(dnabert_tokenizer_train(paths, 1, &tp, &t) == DNABERT_ERR_CANCELLED && t == NULL, "cancel (calls=%d)", calls);

    /* in-memory */
    const char *seqs[2] = {"ACGTACGTACGTACGTAAAA", "TTTTACGTACGTGGGG"};
    size_t lens[2] = {20, 16};
    tp = dnabert_bpe_train_default_params();
    tp.vocab_size = 12;
    CHECK(dnabert_tokenizer_train_from_sequences(seqs, lens, 2, &tp, &t) == DNABERT_OK, "train from sequences");
    dnabert_tokenizer_free(t);
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : "../shared";
    char path[1024], tmpdir[] = "/tmp/dnabert-c-test-XXXXXX";
    if (!mkdtemp(tmpdir)) return 2;
    snprintf(path, sizeof path, "%s/data/dnabert2/tokenizer.json", shared);
    CHECK(strcmp(dnabert_version(), DNABERT_VERSION_STRING) == 0, "version %s", dnabert_version());
    dnabert_tokenizer *tok = NULL;
    int rc = dnabert_tokenizer_load(path, &tok);
    CHECK(rc == DNABERT_OK && tok != NULL, "load %s", path);
    if (!tok) {
        return REPORT();
    }
    int32_t vs = 0;
    CHECK(dnabert_tokenizer_vocab_size(tok, &vs) == DNABERT_OK && vs == 4096, "vocab 4096");
    test_against_hf(tok);
    test_batch(tok);
    test_errors(tok, tmpdir);
    test_training(tmpdir);
    dnabert_tokenizer_free(tok);
    return REPORT();
}
