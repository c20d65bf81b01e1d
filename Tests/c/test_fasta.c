/* The C FASTA/FASTQ reader (dnabert_fasta_open / _next / _close).
 *   test_fasta dump FILE    prints every record as name, description, sequence, quality (tab-separated, tabs in
 *                           fields as spaces); `make test-c` diffs this against Tests/c/fasta_reference.py, an
 *                           independent Python parser, for plain and gzip files
 *   test_fasta checks DIR   error handling and the record struct conventions on the fixtures in DIR */
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "check.h"

#define CHECK_CODE(call, code, ...)                                                            \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        CHECK(rc_ == (code), __VA_ARGS__);                                                     \
        CHECK(rc_ == DNABERT_OK || strlen(dnabert_last_error()) > 0, "message set for code"); \
    } while (0)

static void put(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) putchar(s[i] == '\t' ? ' ' : s[i]);
}

static int dump(const char *path) {
    dnabert_fasta_reader *r = NULL;
    if (dnabert_fasta_open(path, &r) != DNABERT_OK) {
        fprintf(stderr, "open %s: %s\n", path, dnabert_last_error());
        return 1;
    }
    dnabert_fasta_record rec = { .struct_size = sizeof rec };
    int32_t got = 0;
    int rc;
    while ((rc = dnabert_fasta_next(r, &rec, &got)) == DNABERT_OK && got) {
        put(rec.name, rec.name_len); putchar('\t');
        put(rec.description, rec.description_len); putchar('\t');
        put(rec.sequence, rec.sequence_len); putchar('\t');
        put(rec.quality, rec.quality_len); putchar('\n');
    }
    dnabert_fasta_close(r);
    if (rc != DNABERT_OK) {
        fprintf(stderr, "next %s: %s\n", path, dnabert_last_error());
        return 1;
    }
    return 0;
}

static int checks(const char *dir) {
    char path[4096];
    dnabert_fasta_reader *r = NULL;
    dnabert_fasta_record rec = { .struct_size = sizeof rec };
    int32_t got = -1;

    CHECK_CODE(dnabert_fasta_open(NULL, &r), DNABERT_ERR_INVALID_ARGUMENT, "NULL path");
    CHECK_CODE(dnabert_fasta_open("/nonexistent/x.fa", &r), DNABERT_ERR_IO, "missing file");
    CHECK(r == NULL, "no handle on failure");
    snprintf(path, sizeof path, "%s/tricky.fa", dir);
    CHECK_CODE(dnabert_fasta_open(path, NULL), DNABERT_ERR_INVALID_ARGUMENT, "NULL out");
    CHECK_CODE(dnabert_fasta_next(NULL, &rec, &got), DNABERT_ERR_INVALID_ARGUMENT, "NULL reader");

    CHECK(dnabert_fasta_open(path, &r) == DNABERT_OK && r, "open %s", path);
    CHECK_CODE(dnabert_fasta_next(r, NULL, &got), DNABERT_ERR_INVALID_ARGUMENT, "NULL record");
    CHECK_CODE(dnabert_fasta_next(r, &rec, NULL), DNABERT_ERR_INVALID_ARGUMENT, "NULL got");
    dnabert_fasta_record bad = { .struct_size = 6 };
    CHECK_CODE(dnabert_fasta_next(r, &bad, &got), DNABERT_ERR_INVALID_ARGUMENT, "struct_size inside a field");
    /* the failed calls above did not consume a record: the first one is chr1 */
    CHECK(dnabert_fasta_next(r, &rec, &got) == DNABERT_OK && got == 1, "first record");
    CHECK(rec.struct_size == sizeof rec && rec.name_len == 4 && strcmp(rec.name, "chr1") == 0 &&
              strcmp(rec.description, "first record") == 0 && rec.sequence_len == 12 &&
              strcmp(rec.sequence, "ACGTacgtNNNN") == 0 && rec.quality_len == 0 && rec.quality && rec.quality[0] == 0,
          "chr1 fields (NUL-terminated, lengths)");
    /* a caller compiled with a shorter layout (up to sequence_len) gets that prefix only */
    struct {
        dnabert_fasta_record rec;
        char canary[16];
    } shortrec;
    memset(&shortrec, 0x5A, sizeof shortrec);
    shortrec.rec.struct_size = (uint32_t)offsetof(dnabert_fasta_record, quality);
    CHECK(dnabert_fasta_next(r, &shortrec.rec, &got) == DNABERT_OK && got == 1 && shortrec.rec.sequence_len == 12 &&
              memcmp(shortrec.rec.sequence, "GGGGCCCCTTTT", 12) == 0, "short struct_size");
    unsigned char *tail = (unsigned char *)&shortrec.rec + offsetof(dnabert_fasta_record, quality);
    int untouched = 1;
    for (size_t i = 0; i < sizeof shortrec - offsetof(dnabert_fasta_record, quality); i++) untouched &= tail[i] == 0x5A;
    CHECK(untouched, "nothing written beyond struct_size");
    int n = 2;
    while (dnabert_fasta_next(r, &rec, &got) == DNABERT_OK && got) n++;
    CHECK(n == 4 && got == 0, "4 records, then the end (%d)", n);
    CHECK(dnabert_fasta_next(r, &rec, &got) == DNABERT_OK && got == 0, "still the end");
    dnabert_fasta_close(r);
    dnabert_fasta_close(r); /* a second close of the same handle is ignored */
    dnabert_fasta_close(NULL);
    CHECK_CODE(dnabert_fasta_next(r, &rec, &got), DNABERT_ERR_INVALID_ARGUMENT, "closed reader");

    /* malformed: a FASTQ record whose next header does not start with '@' */
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/dnabert_test_fasta_%d.fq", tmp, rand());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "temp file");
    if (f) {
        fputs("@r1\nACGT\n+\nIIII\nr2\nAC\n", f);
        fclose(f);
        CHECK(dnabert_fasta_open(path, &r) == DNABERT_OK, "open malformed");
        CHECK(dnabert_fasta_next(r, &rec, &got) == DNABERT_OK && got == 1, "first record of malformed");
        CHECK_CODE(dnabert_fasta_next(r, &rec, &got), DNABERT_ERR_FORMAT, "malformed FASTQ");
        dnabert_fasta_close(r);
        /* a truncated gzip stream */
        f = fopen(path, "wb");
        const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0xb3, 0x4b};
        fwrite(gz, 1, sizeof gz, f);
        fclose(f);
        r = NULL;
        int rc = dnabert_fasta_open(path, &r);
        if (rc == DNABERT_OK) {
            rc = dnabert_fasta_next(r, &rec, &got);
            dnabert_fasta_close(r);
        }
        CHECK(rc == DNABERT_ERR_FORMAT || rc == DNABERT_ERR_IO, "truncated gzip: %d", rc);
        remove(path);
    }
    return REPORT();
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "dump") == 0) return dump(argv[2]);
    if (argc == 3 && strcmp(argv[1], "checks") == 0) return checks(argv[2]);
    fprintf(stderr, "usage: test_fasta dump FILE | checks DIR\n");
    return 2;
}
