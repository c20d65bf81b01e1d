/* Hostile callers and files (issue 12): each case once crashed, hung, aborted, corrupted memory or lost data.
 * Cases that could take the process down run in a forked child with a timeout (and, where the point is an
 * allocation that must fail cleanly, an address-space limit), so a regression is reported, not fatal.
 * usage: test_hostile <fixture model dir> <tokenizer.json> */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"

static const char *model_dir, *tokenizer_path;
static char tmp[256];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- running a case in a child ---------------------------------------------------------------------- */

#define HUNG (-1)
#define SIGNALLED(s) (1000 + (s))

/* Runs fn(arg) in a forked child (optionally under an address-space limit) and returns its exit status, HUNG
 * when it did not finish in `seconds`, or SIGNALLED(sig) when it crashed. The child's peak RSS (KiB) goes to
 * *maxrss_kib when non-NULL. */
static int in_child(int (*fn)(void *), void *arg, int seconds, size_t as_limit, long *maxrss_kib) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (as_limit) {
            struct rlimit rl = {as_limit, as_limit};
            setrlimit(RLIMIT_AS, &rl);
        }
        _exit(fn(arg) & 0xff);
    }
    double t0 = now();
    int st = 0;
    for (;;) {
        struct rusage ru;
        pid_t r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid) {
            if (maxrss_kib) *maxrss_kib = ru.ru_maxrss;
            return WIFEXITED(st) ? WEXITSTATUS(st) : SIGNALLED(WTERMSIG(st));
        }
        if (now() - t0 > seconds) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return HUNG;
        }
        usleep(20000);
    }
}

/* The process's address space now (VmSize, bytes; 0 if unknown): a forked child starts with the same. */
static size_t address_space_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    unsigned long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %lu kB", &kib) == 1) break;
    fclose(f);
    return (size_t)kib << 10;
}

/* Child exit code for "the call returned this DNABERT status": 100 + (-status), 0 for OK. */
static int status_code(int rc) { return rc == 0 ? 0 : 100 - rc; }
#define EXPECT_STATUS(got, rc, what) CHECK((got) == status_code(rc), "%s: child ended with %d, wanted status %d (exit %d)", what, got, rc, status_code(rc))

/* ---- small file helpers ----------------------------------------------------------------------------- */

static void put_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fwrite(data, 1, n, f);
    fclose(f);
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)size + 1);
    *n = fread(b, 1, (size_t)size, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = read_file(a, &na), *y = read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* A growable byte buffer. */
typedef struct { unsigned char *p; size_t n, cap; } buf;
static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put8(buf *b, unsigned v) { unsigned char c = (unsigned char)v; put(b, &c, 1); }
static void put16(buf *b, unsigned v) { put8(b, v & 0xff); put8(b, (v >> 8) & 0xff); }
static void put32(buf *b, uint32_t v) { put16(b, v & 0xffff); put16(b, v >> 16); }
static void put64(buf *b, uint64_t v) { put32(b, (uint32_t)v); put32(b, (uint32_t)(v >> 32)); }
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* Pickle pieces. */
static void pk_str(buf *b, const char *s) { put8(b, 'X'); put32(b, (uint32_t)strlen(s)); puts_(b, s); }
static void pk_long(buf *b, uint64_t v) { put8(b, 0x8a); put8(b, 8); put64(b, v); }

/* A state dict {"w": tensor of `numel` floats in storage "0"} as a pickle. */
static buf tensor_pickle(uint64_t numel) {
    buf b = {0};
    put8(&b, 0x80); put8(&b, 2);                      /* PROTO 2 */
    put8(&b, '}');                                    /* EMPTY_DICT */
    pk_str(&b, "w");
    puts_(&b, "ctorch._utils\n_rebuild_tensor_v2\n");  /* GLOBAL */
    put8(&b, '(');                                    /* MARK: the arguments */
    put8(&b, '(');                                    /* MARK: the persistent id */
    pk_str(&b, "storage");
    puts_(&b, "ctorch\nFloatStorage\n");
    pk_str(&b, "0");
    pk_str(&b, "cpu");
    pk_long(&b, numel);
    put8(&b, 't'); put8(&b, 'Q');                     /* TUPLE, BINPERSID */
    put8(&b, 'K'); put8(&b, 0);                       /* offset 0 */
    pk_long(&b, numel); put8(&b, 0x85);               /* size (numel,) */
    put8(&b, 'K'); put8(&b, 1); put8(&b, 0x85);       /* stride (1,) */
    put8(&b, 0x89); put8(&b, 'N');                    /* requires_grad False, hooks None */
    put8(&b, 't'); put8(&b, 'R');                     /* TUPLE, REDUCE */
    put8(&b, 's'); put8(&b, '.');                     /* SETITEM, STOP */
    return b;
}

/* One zip entry: `data` is what the file holds; `method` 0 or 8; `usize` the size the headers claim
 * (written through a ZIP64 extra field when >= 4 GiB); crc of the real data when stored. */
typedef struct { const char *name; const unsigned char *data; size_t n; int method; uint64_t usize; } zip_entry;

static void write_zip(const char *path, const zip_entry *e, int count) {
    buf b = {0};
    uint64_t offsets[8];
    for (int i = 0; i < count; i++) {
        offsets[i] = b.n;
        uint32_t crc = (uint32_t)crc32(0, e[i].data, (uInt)e[i].n);
        put32(&b, 0x04034b50); put16(&b, 20); put16(&b, 0); put16(&b, (unsigned)e[i].method); put16(&b, 0); put16(&b, 0);
        put32(&b, crc); put32(&b, (uint32_t)e[i].n);
        put32(&b, e[i].usize >= 0xffffffffu ? 0xffffffffu : (uint32_t)e[i].usize);
        put16(&b, (unsigned)strlen(e[i].name)); put16(&b, 0);
        puts_(&b, e[i].name);
        put(&b, e[i].data, e[i].n);
    }
    uint64_t cd = b.n;
    for (int i = 0; i < count; i++) {
        int z64 = e[i].usize >= 0xffffffffu;
        uint32_t crc = (uint32_t)crc32(0, e[i].data, (uInt)e[i].n);
        put32(&b, 0x02014b50); put16(&b, 45); put16(&b, 45); put16(&b, 0); put16(&b, (unsigned)e[i].method);
        put16(&b, 0); put16(&b, 0); put32(&b, crc); put32(&b, (uint32_t)e[i].n);
        put32(&b, z64 ? 0xffffffffu : (uint32_t)e[i].usize);
        put16(&b, (unsigned)strlen(e[i].name)); put16(&b, z64 ? 12 : 0); put16(&b, 0); put16(&b, 0); put16(&b, 0);
        put32(&b, 0); put32(&b, (uint32_t)offsets[i]);
        puts_(&b, e[i].name);
        if (z64) { put16(&b, 1); put16(&b, 8); put64(&b, e[i].usize); }
    }
    uint64_t cdsize = b.n - cd;
    put32(&b, 0x06054b50); put16(&b, 0); put16(&b, 0); put16(&b, (unsigned)count); put16(&b, (unsigned)count);
    put32(&b, (uint32_t)cdsize); put32(&b, (uint32_t)cd); put16(&b, 0);
    put_file(path, b.p, b.n);
    free(b.p);
}

/* ---- 1: BPE trainer corpus layout --------------------------------------------------------------------- */

static void test_bpe_train_lone_bases(void) {
    const char *cases[] = {"ACGTNA", "ACGT A", "ACGTNNNNA", "A", "NA", "ACGTACGTAC\nA", "AANAANA"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *seqs[1] = {cases[i]};
        size_t lens[1] = {strlen(cases[i])};
        dnabert_bpe_train_params p = dnabert_bpe_train_default_params();
        p.vocab_size = 16;
        p.min_frequency = 1;
        dnabert_tokenizer *t = NULL;
        int rc = dnabert_tokenizer_train_from_sequences(seqs, lens, 1, &p, &t);
        CHECK(rc == DNABERT_OK, "train on '%s' returned %d", cases[i], rc);
        if (t) {
            int32_t id = -1;
            CHECK(dnabert_tokenizer_token_to_id(t, "A", &id) == DNABERT_OK && id >= 5, "trained tokenizer has A");
            dnabert_tokenizer_free(t);
        }
    }
}

/* ---- 2: fork safety ------------------------------------------------------------------------------------ */

enum { FB = 4, FL = 96 };
static dnabert_model *fork_model;
static float *fork_reference;
static int fork_hidden;

static int forward_matches_reference(void *unused) {
    (void)unused;
    int32_t ids[FB * FL], mask[FB * FL];
    for (int i = 0; i < FB * FL; i++) { ids[i] = 5 + (i * 7) % 40; mask[i] = (i % FL) < FL - 3 * (i / FL) ? 1 : 0; }
    float *out = malloc(sizeof(float) * FB * FL * (size_t)fork_hidden);
    dnabert_forward_params p = dnabert_forward_default_params();
    p.n_threads = 4;   /* several threads, even on a small machine: the hang needed two */
    int rc = dnabert_forward(fork_model, ids, mask, FB, FL, &p, out);
    if (rc != DNABERT_OK) return status_code(rc);
    if (fork_reference && memcmp(out, fork_reference, sizeof(float) * FB * FL * (size_t)fork_hidden) != 0) return 3;
    if (!fork_reference) { fork_reference = out; return 0; }
    free(out);
    return 0;
}

static void test_fork(void) {
    CHECK(dnabert_model_load(model_dir, &fork_model) == DNABERT_OK, "load fixture model");
    if (!fork_model) return;
    dnabert_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK(dnabert_model_get_info(fork_model, &info) == DNABERT_OK, "model info: %s", dnabert_last_error());
    fork_hidden = info.hidden_size;
    /* The library is loaded and a model too, but no forward (no BLAS) has run yet: children must not hang. */
    for (int k = 0; k < 3; k++) {
        int got = in_child(forward_matches_reference, NULL, 60, 0, NULL);
        CHECK(got == 0, "fork before any forward: child %d ended with %d (-1 = hung)", k, got);
    }
    /* Then in the parent (reference output), and children again after BLAS and the thread pools were used. */
    CHECK(forward_matches_reference(NULL) == 0 && fork_reference, "parent forward");
    for (int k = 0; k < 3; k++) {
        int got = in_child(forward_matches_reference, NULL, 60, 0, NULL);
        CHECK(got == 0, "fork after a forward: child %d ended with %d (3 = different output, -1 = hung)", k, got);
    }
}

/* A grandchild: a fork from a forked child's forking thread. */
static int fork_grandchild(void *unused) {
    (void)unused;
    int got = in_child(forward_matches_reference, NULL, 60, 0, NULL);
    return got == 0 ? 0 : 4;
}

/* ---- 3, 4, 5: pickle depth, ZIP64 claims, deflate ratio ---------------------------------------------- */

static char deep_bin[300], zip64_bin[300], ratio_bin[300], conv_out[300];

static void make_deep_pickle(void) {
    /* D = {} at the bottom of the stack; L0 kept in memo 1; each level fetches the current list from memo 0,
     * appends a new empty list to it and makes the new list current — a 10^6-deep chain built top down, whose
     * recorded depths never exceed 2. TUPLE1 + BUILD drop the current list from the stack. */
    buf b = {0};
    put8(&b, 0x80); put8(&b, 2);
    put8(&b, '}');
    put8(&b, ']'); put8(&b, 'q'); put8(&b, 1); put8(&b, 'q'); put8(&b, 0); put8(&b, 0x85); put8(&b, 'b');
    for (int i = 0; i < 1000000; i++) {
        static const unsigned char level[] = {'h', 0, ']', 'q', 0, 'a', 0x85, 'b'};
        put(&b, level, sizeof level);
    }
    put8(&b, '.');
    zip_entry e[1] = {{"archive/data.pkl", b.p, b.n, 0, b.n}};
    write_zip(deep_bin, e, 1);
    free(b.p);
}

static int convert_deep(void *unused) { (void)unused; return status_code(dnabert_convert_pytorch(deep_bin, conv_out)); }
static int convert_zip64(void *unused) { (void)unused; return status_code(dnabert_convert_pytorch(zip64_bin, conv_out)); }
static int convert_ratio(void *unused) { (void)unused; return status_code(dnabert_convert_pytorch(ratio_bin, conv_out)); }

static void test_hostile_checkpoints(void) {
    make_deep_pickle();
    int got = in_child(convert_deep, NULL, 120, 0, NULL);
    CHECK(got < 1000 && got != HUNG, "10^6-deep pickle chain: child ended with %d (>= 1000: killed by signal %d)", got, got - 1000);

    /* A storage whose ZIP64 size claims 4 TiB from 16 compressed bytes. */
    unsigned char junk[16] = {0};
    buf pk = tensor_pickle((uint64_t)1 << 40);
    zip_entry z[2] = {{"archive/data.pkl", pk.p, pk.n, 0, pk.n}, {"archive/data/0", junk, sizeof junk, 8, (uint64_t)1 << 42}};
    write_zip(zip64_bin, z, 2);
    free(pk.p);
    got = in_child(convert_zip64, NULL, 60, 0, NULL);
    EXPECT_STATUS(got, DNABERT_ERR_FORMAT, "ZIP64 storage claiming 4 TiB");

    /* A storage claiming 1000x its 1 MB of (corrupt) deflate data: an error, and the claim costs no memory. */
    size_t cn = 1 << 20;
    unsigned char *noise = malloc(cn);
    srand(7);
    for (size_t i = 0; i < cn; i++) noise[i] = (unsigned char)(rand() >> 7);
    noise[0] = 0x04; /* a dynamic-Huffman block header: zlib reads on until the table or data goes wrong */
    uint64_t claim = (uint64_t)cn * 1000;
    pk = tensor_pickle(claim / 4);
    zip_entry r[2] = {{"archive/data.pkl", pk.p, pk.n, 0, pk.n}, {"archive/data/0", noise, cn, 8, claim}};
    write_zip(ratio_bin, r, 2);
    free(pk.p);
    free(noise);
    long rss = 0;
    got = in_child(convert_ratio, NULL, 60, 0, &rss);
    EXPECT_STATUS(got, DNABERT_ERR_FORMAT, "deflate storage claiming 1000x");
    CHECK(rss < 200 * 1024, "deflate storage claiming 1000x: peak RSS %ld KiB (the claim is %llu bytes)", rss, (unsigned long long)claim);
    /* Under an address-space limit below the claim: OUT_OF_MEMORY, not an abort. The limit leaves 256 MiB above
     * what the process already has (it had reached about 768 MiB by here, so that a fixed 768 MiB limit sometimes
     * failed the file's own 1 MB mapping instead of the claim): the mapping fits, the 1,000 MB claim does not. */
    size_t have = address_space_bytes();
    CHECK(have > 0, "VmSize from /proc/self/status");
    got = in_child(convert_ratio, NULL, 60, have + ((size_t)256 << 20), NULL);
    EXPECT_STATUS(got, DNABERT_ERR_OUT_OF_MEMORY, "deflate storage claiming 1000x under an address-space limit 256 MiB above the process's");
    /* No address space even to map the 1 MB file: OUT_OF_MEMORY too (the mapping's ENOMEM), not an I/O error. */
    got = in_child(convert_ratio, NULL, 60, have + ((size_t)256 << 10), NULL);
    EXPECT_STATUS(got, DNABERT_ERR_OUT_OF_MEMORY, "a 1 MB checkpoint under an address-space limit 256 KiB above the process's");
}

/* ---- 6: forward at the largest accepted batch x length, all padding ------------------------------------ */

static int forward_all_padding(void *unused) {
    (void)unused;
    size_t B = 8192, L = 8192; /* batch x length = 2^26, the accepted maximum */
    int32_t *ids = calloc(B * L, sizeof(int32_t)), *mask = calloc(B * L, sizeof(int32_t));
    float out[16];
    if (!ids || !mask) return 5;
    return status_code(dnabert_forward(fork_model, ids, mask, B, L, NULL, out));
}

static void test_forward_oom(void) {
    if (!fork_model) return;
    int got = in_child(forward_all_padding, NULL, 120, (size_t)3 << 30, NULL);
    EXPECT_STATUS(got, DNABERT_ERR_OUT_OF_MEMORY, "forward 8192 x 8192 all padding under a 3 GiB address-space limit");
}

/* ---- 9: non-regular files ---------------------------------------------------------------------------- */

static const char *nonregular_path;
static int load_tokenizer(void *unused) {
    (void)unused;
    dnabert_tokenizer *t = NULL;
    int rc = dnabert_tokenizer_load(nonregular_path, &t);
    dnabert_tokenizer_free(t);
    return status_code(rc);
}
static int train_on(void *unused) {
    (void)unused;
    const char *paths[1] = {nonregular_path};
    dnabert_tokenizer *t = NULL;
    int rc = dnabert_tokenizer_train(paths, 1, NULL, &t);
    dnabert_tokenizer_free(t);
    return status_code(rc);
}
static int read_dataset(void *unused) {
    (void)unused;
    dnabert_dataset *d = NULL;
    int rc = dnabert_dataset_read(nonregular_path, NULL, 0, &d);
    dnabert_dataset_free(d);
    return status_code(rc);
}
static int load_model_dir(void *unused) {
    (void)unused;
    dnabert_model *m = NULL;
    int rc = dnabert_model_load(nonregular_path, &m);
    dnabert_model_free(m);
    return status_code(rc);
}

static void test_nonregular_files(void) {
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/fifo.json", tmp);
    mkfifo(fifo, 0600);
    const char *paths[2] = {"/dev/zero", fifo};
    for (int i = 0; i < 2; i++) {
        nonregular_path = paths[i];
        int got = in_child(load_tokenizer, NULL, 20, (size_t)2 << 30, NULL);
        EXPECT_STATUS(got, DNABERT_ERR_IO, paths[i]);
        got = in_child(train_on, NULL, 20, (size_t)2 << 30, NULL);
        CHECK(got >= 100 && got < 1000, "%s as training FASTA: child ended with %d (-1 = hung)", paths[i], got);
        got = in_child(read_dataset, NULL, 20, (size_t)2 << 30, NULL);
        CHECK(got >= 100 && got < 1000, "%s as dataset: child ended with %d (-1 = hung)", paths[i], got);
    }
    /* A model folder whose config.json is a FIFO. */
    char dir[300], cfg[320];
    snprintf(dir, sizeof dir, "%s/fifo-model", tmp);
    mkdir(dir, 0700);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    mkfifo(cfg, 0600);
    nonregular_path = dir;
    int got = in_child(load_model_dir, NULL, 20, 0, NULL);
    EXPECT_STATUS(got, DNABERT_ERR_IO, "model folder with a FIFO config.json");
}

/* ---- 10, 11, 12: saves ------------------------------------------------------------------------------- */

static int is_type(const char *path, mode_t type) {
    struct stat st;
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

static int leftover_temporaries(const char *dir, const char *name) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '^\\.%s\\.tmp-' >/dev/null", dir, name);
    return system(cmd) == 0;
}

typedef struct { dnabert_model *m; const char *dir; int failures; } saver;
static void *save_loop(void *arg) {
    saver *s = arg;
    for (int i = 0; i < 20; i++)
        if (dnabert_model_save(s->m, s->dir) != DNABERT_OK) s->failures++;
    return NULL;
}

static void test_saves(void) {
    if (!fork_model) return;
    dnabert_tokenizer *tok = NULL;
    CHECK(dnabert_tokenizer_load(tokenizer_path, &tok) == DNABERT_OK, "load tokenizer");
    if (!tok) return;
    /* Two models with a tokenizer (three files per folder). */
    const char *cfg = "{\"model_type\":\"bert\",\"vocab_size\":4096,\"hidden_size\":16,\"num_hidden_layers\":1,"
                      "\"num_attention_heads\":2,\"intermediate_size\":32,\"max_position_embeddings\":512}";
    dnabert_model *a = NULL, *b = NULL;
    CHECK(dnabert_model_create(cfg, strlen(cfg), tok, 1, &a) == DNABERT_OK, "create A");
    CHECK(dnabert_model_create(cfg, strlen(cfg), tok, 2, &b) == DNABERT_OK, "create B");
    if (!a || !b) return;
    char dir[300], refa[300], refb[300], p1[400], p2[400];
    snprintf(dir, sizeof dir, "%s/saved", tmp);
    snprintf(refa, sizeof refa, "%s/ref-a", tmp);
    snprintf(refb, sizeof refb, "%s/ref-b", tmp);
    CHECK(dnabert_model_save(a, refa) == DNABERT_OK && dnabert_model_save(b, refb) == DNABERT_OK, "reference saves");
    CHECK(dnabert_model_save(a, dir) == DNABERT_OK, "save A");
    /* 10: a save that cannot complete (the old per-file writer's temporary name for tokenizer.json is taken by a
     * folder) must leave the folder all-old; one that completes must leave it all-new. Never a mix. */
    snprintf(p1, sizeof p1, "%s/tokenizer.json.tmp-%d", dir, (int)getpid());
    mkdir(p1, 0700);
    int rc = dnabert_model_save(b, dir);
    const char *want = rc == DNABERT_OK ? refb : refa;
    const char *files[3] = {"model.safetensors", "config.json", "tokenizer.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(p1, sizeof p1, "%s/%s", dir, files[i]);
        snprintf(p2, sizeof p2, "%s/%s", want, files[i]);
        CHECK(same_file(p1, p2), "after a save that returned %d, %s is not the %s one", rc, files[i], rc == DNABERT_OK ? "new" : "old");
    }
    CHECK(!leftover_temporaries(tmp, "saved"), "no staging folder left beside '%s'", dir);
    snprintf(p1, sizeof p1, "%s/tokenizer.json.tmp-%d", dir, (int)getpid());
    rmdir(p1); /* the obstacle (carried into the new folder by a complete save) */

    /* 11: a device node (a private one, made here) and a FIFO are never replaced by a save. */
    char node[300], fifo[300];
    snprintf(node, sizeof node, "%s/node", tmp);
    snprintf(fifo, sizeof fifo, "%s/fifo-target", tmp);
    int have_node = mknod(node, S_IFCHR | 0600, makedev(1, 3)) == 0;
    mkfifo(fifo, 0600);
    if (!have_node) printf("skipped: mknod needs root (the FIFO case still runs)\n");
    const char *targets[2] = {fifo, node};
    for (int i = 0; i < (have_node ? 2 : 1); i++) {
        CHECK(dnabert_model_save(a, targets[i]) == DNABERT_ERR_IO, "model save onto %s refused", targets[i]);
        CHECK(dnabert_tokenizer_save(tok, targets[i]) == DNABERT_ERR_IO, "tokenizer save onto %s refused", targets[i]);
        CHECK(is_type(targets[i], i == 0 ? S_IFIFO : S_IFCHR), "%s is still what it was", targets[i]);
    }
    /* Through a symbolic link: the folder (file) it points to is replaced, the link stays a link. */
    char link_dir[300], link_file[300], real_file[300];
    snprintf(link_dir, sizeof link_dir, "%s/link-to-saved", tmp);
    snprintf(link_file, sizeof link_file, "%s/link-to-tok.json", tmp);
    snprintf(real_file, sizeof real_file, "%s/tok.json", tmp);
    CHECK(symlink("saved", link_dir) == 0 && symlink("tok.json", link_file) == 0, "symlinks");
    CHECK(dnabert_model_save(a, link_dir) == DNABERT_OK, "save through a folder link");
    CHECK(is_type(link_dir, S_IFLNK), "the folder link is still a link");
    snprintf(p1, sizeof p1, "%s/model.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/model.safetensors", refa);
    CHECK(same_file(p1, p2), "the linked folder holds the saved model");
    CHECK(dnabert_tokenizer_save(tok, link_file) == DNABERT_OK, "save through a file link");
    CHECK(is_type(link_file, S_IFLNK) && is_type(real_file, S_IFREG), "the file link is still a link to a regular file");

    /* 12: two threads saving the same folder: every save succeeds, the folder loads, nothing is left over. */
    saver s1 = {a, dir, 0}, s2 = {b, dir, 0};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, save_loop, &s1);
    pthread_create(&t2, NULL, save_loop, &s2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(s1.failures == 0 && s2.failures == 0, "concurrent saves: %d + %d of 40 failed", s1.failures, s2.failures);
    dnabert_model *back = NULL;
    CHECK(dnabert_model_load(dir, &back) == DNABERT_OK, "the concurrently saved folder loads");
    dnabert_model_free(back);
    CHECK(!leftover_temporaries(tmp, "saved"), "no staging folders left after concurrent saves");
    dnabert_model_free(a);
    dnabert_model_free(b);
    dnabert_tokenizer_free(tok);
}

/* ---- 13: many added tokens sharing a first byte ------------------------------------------------------ */

static void test_added_tokens_linear(void) {
    enum { N = 50000 };
    buf j = {0};
    puts_(&j, "{\"version\":\"1.0\",\"added_tokens\":[");
    char item[128];
    for (int i = 0; i < N; i++) {
        snprintf(item, sizeof item, "%s{\"id\":%d,\"content\":\"<t%05d>\",\"special\":false}", i ? "," : "", 5 + i, i);
        puts_(&j, item);
    }
    puts_(&j, "],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,\"decoder\":null,"
              "\"model\":{\"type\":\"BPE\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"A\":1,\"C\":2,\"G\":3,\"T\":4},\"merges\":[]}}");
    dnabert_tokenizer *t = NULL;
    double t0 = now();
    int rc = dnabert_tokenizer_load_json((const char *)j.p, j.n, &t);
    double dt = now() - t0;
    free(j.p);
    CHECK(rc == DNABERT_OK, "tokenizer with %d added tokens loads", N);
    CHECK(dt < 3.0, "%d added tokens sharing a first byte load in %.2f s (the quadratic loader: ~25 s)", N, dt);
    if (!t) return;
    const char *seq = "A<t12345>C<t00000><t1999>";
    int32_t ids[16];
    size_t n = 0;
    dnabert_encode_params p = dnabert_encode_default_params();
    p.add_special_tokens = 0;
    CHECK(dnabert_encode(t, seq, strlen(seq), &p, ids, NULL, 16, &n) == DNABERT_OK, "encode");
    /* "<t1999>" is no token: its characters are unknown ([UNK] = 0, fused per character run as the model says). */
    CHECK(n >= 4 && ids[0] == 1 && ids[1] == 5 + 12345 && ids[2] == 2 && ids[3] == 5, "added tokens matched (n=%zu, %d %d %d %d)",
          n, ids[0], ids[1], ids[2], ids[3]);
    double t1 = now();
    buf text = {0};
    for (int i = 0; i < 200000; i++) puts_(&text, "<t0");   /* a prefix of every token, never a token */
    rc = dnabert_encode(t, (const char *)text.p, text.n, &p, NULL, NULL, 0, &n);
    CHECK(rc == DNABERT_ERR_BUFFER_TOO_SMALL || rc == DNABERT_OK, "encode near-miss text");
    CHECK(now() - t1 < 3.0, "600 kB of near-miss text encodes in %.2f s", now() - t1);
    free(text.p);
    dnabert_tokenizer_free(t);
}

/* ---- 14: checkpoint shapes before allocation --------------------------------------------------------- */

static char huge_vocab_dir[300];
static int load_huge_vocab(void *unused) {
    (void)unused;
    dnabert_model *m = NULL;
    int rc = dnabert_model_load(huge_vocab_dir, &m);
    dnabert_model_free(m);
    return status_code(rc);
}

static void test_shapes_before_allocation(void) {
    char src[400], dst[400];
    snprintf(huge_vocab_dir, sizeof huge_vocab_dir, "%s/huge-vocab", tmp);
    mkdir(huge_vocab_dir, 0700);
    snprintf(src, sizeof src, "%s/config.json", model_dir);
    size_t n = 0;
    char *cfg = read_file(src, &n);
    char *v = cfg ? strstr(cfg, "\"vocab_size\"") : NULL;
    CHECK(v != NULL, "fixture config has vocab_size");
    if (!v) return;
    char *colon = strchr(v, ':'), *end = colon + 1;
    while (*end == ' ' || (*end >= '0' && *end <= '9')) end++;
    buf c = {0};
    put(&c, cfg, (size_t)(colon + 1 - cfg));
    puts_(&c, " 3000000");
    put(&c, end, strlen(end));
    snprintf(dst, sizeof dst, "%s/config.json", huge_vocab_dir);
    put_file(dst, c.p, c.n);
    free(c.p);
    free(cfg);
    snprintf(src, sizeof src, "%s/model.safetensors", model_dir);
    snprintf(dst, sizeof dst, "%s/model.safetensors", huge_vocab_dir);
    char *w = read_file(src, &n);
    put_file(dst, w, n);
    free(w);
    long rss = 0;
    double t0 = now();
    int got = in_child(load_huge_vocab, NULL, 60, 0, &rss);
    EXPECT_STATUS(got, DNABERT_ERR_FORMAT, "config with vocab_size 3,000,000 beside a small checkpoint");
    CHECK(rss < 300 * 1024 && now() - t0 < 5, "the shape error costs %ld KiB and %.1f s (allocating first: ~3 GB)", rss, now() - t0);
}

/* ---- 15: batch calls with n far beyond the caller's arrays -------------------------------------------- */

static dnabert_tokenizer *batch_tok;
static int encode_huge_n(void *unused) {
    (void)unused;
    const char *seqs[1] = {"ACGT"};
    size_t lens[1] = {4};
    int32_t ids[8];
    int64_t rows[2];
    return status_code(dnabert_encode_batch(batch_tok, seqs, lens, (size_t)1 << 39, NULL, ids, NULL, 8, rows));
}

static void test_huge_n(void) {
    CHECK(dnabert_tokenizer_load(tokenizer_path, &batch_tok) == DNABERT_OK, "load tokenizer");
    if (!batch_tok) return;
    int got = in_child(encode_huge_n, NULL, 60, 0, NULL);
    EXPECT_STATUS(got, DNABERT_ERR_OUT_OF_MEMORY, "encode_batch with n = 2^39");
    dnabert_tokenizer_free(batch_tok);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fixture model dir> <tokenizer.json>\n", argv[0]);
        return 2;
    }
    model_dir = argv[1];
    tokenizer_path = argv[2];
    snprintf(tmp, sizeof tmp, "/tmp/dnabert-hostile-XXXXXX");
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 2; }
    snprintf(deep_bin, sizeof deep_bin, "%s/deep.bin", tmp);
    snprintf(zip64_bin, sizeof zip64_bin, "%s/zip64.bin", tmp);
    snprintf(ratio_bin, sizeof ratio_bin, "%s/ratio.bin", tmp);
    snprintf(conv_out, sizeof conv_out, "%s/converted.safetensors", tmp);

    test_bpe_train_lone_bases();
    test_fork();
    {
        int got = in_child(fork_grandchild, NULL, 120, 0, NULL);
        CHECK(got == 0, "fork from a forked child: ended with %d", got);
    }
    test_hostile_checkpoints();
    test_forward_oom();
    test_nonregular_files();
    test_saves();
    test_added_tokens_linear();
    test_shapes_before_allocation();
    test_huge_n();
    dnabert_model_free(fork_model);
    free(fork_reference);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return REPORT();
}
