/* A 0.1.0 caller against the 0.2 library: compiled against a verbatim copy of the 0.1.0 header (dnabert_v0_1.h)
 * and linked as a 0.1.0 program was (against an unversioned libdnabert.so, see the Makefile's test-c), then run
 * with the real library. Every result struct is followed by a canary; nothing past the 0.1.0 size may be written.
 * Old-layout parameter structs (0.1.0 sizes) must still be accepted, 0.1.0 callbacks must see 0.1.0 layouts, and
 * the 0.1.0 int32 n_threads arguments must still work.
 * Usage: test_abi_v0_1 MODEL_DIR TOKENIZER_JSON */
#define _POSIX_C_SOURCE 200809L
#include "dnabert_v0_1.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed = 0, failed = 0;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (cond) {                                                                       \
            passed++;                                                                     \
        } else {                                                                          \
            failed++;                                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, " [last error: %s]\n", dnabert_last_error());                 \
        }                                                                                 \
    } while (0)

#define CANARY 0xA5u
/* A result struct of the 0.1.0 layout followed by 64 canary bytes, all filled with CANARY first. */
#define GUARDED(T) struct { T s; unsigned char canary[64]; }
static int intact(const unsigned char *c) {
    for (int i = 0; i < 64; i++)
        if (c[i] != CANARY) return 0;
    return 1;
}

typedef struct {
    int calls;
    int64_t last_step, total;
    int sane;
} cb_state;

static int on_finetune(void *user, const dnabert_finetune_metrics *m) {
    cb_state *s = user;
    s->calls++;
    /* a 0.1.0 layout: step first, then total_steps, epoch, loss */
    s->sane &= m->step == s->last_step + 1 && m->total_steps == s->total && m->epoch > 0 && isfinite(m->loss);
    s->last_step = m->step;
    return 0;
}

static int on_pretrain(void *user, const dnabert_train_metrics *m) {
    cb_state *s = user;
    s->calls++;
    s->sane &= m->step == s->last_step + 1 && m->total_steps == s->total && m->tokens > 0 && isfinite(m->loss);
    s->last_step = m->step;
    return 0;
}

int main(int argc, char **argv) {
    const char *model_dir = argc > 1 ? argv[1] : "examples/models/dnabert2-small-5genomes";
    const char *tok_path = argc > 2 ? argv[2] : "examples/data/dnabert2/tokenizer.json";
    char dir[] = "/tmp/dnabert-abi-v01-XXXXXX";
    if (!mkdtemp(dir)) return 2;

    CHECK(strncmp(dnabert_version(), "0.", 2) == 0, "version %s", dnabert_version());

    /* ---- tokenizer: special ids (20 bytes in 0.1.0) and 0.1.0 parameter structs ---- */
    dnabert_tokenizer *tok = NULL;
    CHECK(dnabert_tokenizer_load(tok_path, &tok) == DNABERT_OK, "tokenizer");
    GUARDED(dnabert_special_ids) sp;
    memset(&sp, CANARY, sizeof sp);
    CHECK(dnabert_tokenizer_special_ids(tok, &sp.s) == DNABERT_OK && sp.s.unk == 0 && sp.s.cls == 1 && sp.s.sep == 2 &&
              sp.s.pad == 3 && sp.s.mask == 4, "special ids %d %d %d %d %d", sp.s.unk, sp.s.cls, sp.s.sep, sp.s.pad,
          sp.s.mask);
    CHECK(intact(sp.canary), "special ids: nothing written past the 0.1.0 struct");
    dnabert_encode_params ep = dnabert_encode_default_params();
    CHECK(ep.struct_size == sizeof ep, "encode params struct_size is the library's = 0.1.0 size");
    int32_t ids[16];
    size_t nt = 0;
    CHECK(dnabert_encode(tok, "ACGTACGT", 8, &ep, ids, NULL, 16, &nt) == DNABERT_OK && nt >= 3 && ids[0] == 1,
          "encode with 0.1.0 params");
    dnabert_train_params tp = dnabert_train_default_params();
    CHECK(tp.struct_size == sizeof tp && tp.vocab_size > 0, "0.1.0 dnabert_train_default_params");
    tp.vocab_size = 40;
    const char *tseq[1] = {"ACGTACGTTTGACCAGTACGATCGATCGGGCTAGCTAACGT"};
    size_t tlen[1] = {41};
    dnabert_tokenizer *trained = NULL;
    CHECK(dnabert_tokenizer_train_from_sequences(tseq, tlen, 1, &tp, &trained) == DNABERT_OK, "BPE training with 0.1.0 params");
    dnabert_tokenizer_free(trained);

    /* ---- model info (48 bytes in 0.1.0) ---- */
    dnabert_model *model = NULL;
    CHECK(dnabert_model_load(model_dir, &model) == DNABERT_OK && model, "load %s", model_dir);
    if (!model) return printf("%d passed, %d failed\n", passed, failed + 1), 1;
    GUARDED(dnabert_model_info) mi;
    memset(&mi, CANARY, sizeof mi);
    CHECK(dnabert_model_get_info(model, &mi.s) == DNABERT_OK && mi.s.hidden_size > 0 && mi.s.num_layers > 0 &&
              mi.s.vocab_size == 4096 && mi.s.has_tokenizer == 1 && mi.s.num_parameters > 0,
          "model info: vocab %d hidden %d layers %d params %lld", mi.s.vocab_size, mi.s.hidden_size, mi.s.num_layers,
          (long long)mi.s.num_parameters);
    CHECK(intact(mi.canary), "model info: nothing written past the 0.1.0 struct");

    /* ---- fine-tuning: dataset info, 0.1.0 params, step metrics, callback, finetuner/classifier info ---- */
    enum { N = 24 };
    const char *seqs[N];
    const char *labels[N];
    size_t lens[N];
    static char buf[N][64];
    srand(11);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 60; j++) buf[i][j] = "ACGT"[(i % 2 ? (j % 3 ? 0 : 2) : rand() % 4)];
        buf[i][60] = 0;
        seqs[i] = buf[i];
        lens[i] = 60;
        labels[i] = i % 2 ? "1" : "0";
    }
    dnabert_dataset *train = NULL;
    CHECK(dnabert_dataset_from_arrays(seqs, lens, labels, N, NULL, DNABERT_PROBLEM_AUTO, &train) == DNABERT_OK, "dataset");
    GUARDED(dnabert_dataset_info) di;
    memset(&di, CANARY, sizeof di);
    CHECK(dnabert_dataset_get_info(train, &di.s) == DNABERT_OK && di.s.n_sequences == N && di.s.num_labels == 2 &&
              di.s.problem_type == DNABERT_PROBLEM_SINGLE_LABEL, "dataset info");
    CHECK(intact(di.canary), "dataset info: nothing written past the 0.1.0 struct");

    dnabert_finetune_params fp = dnabert_finetune_default_params();
    CHECK(fp.struct_size == sizeof fp, "finetune params: the library reports the 0.1.0 size to a 0.1.0 caller (%u)",
          fp.struct_size);
    fp.max_steps = 4;
    fp.batch_size = 8;
    fp.eval_every = 2;
    fp.n_threads = 2;
    dnabert_finetuner *ft = NULL;
    CHECK(dnabert_finetuner_create(model, train, train, &fp, &ft) == DNABERT_OK && ft, "finetuner with 0.1.0 params");
    /* the size of the layout before reverse_complement was appended (also released) */
    dnabert_finetune_params older = dnabert_finetune_default_params();
    older.struct_size = (uint32_t)offsetof(dnabert_finetune_params, reverse_complement);
    older.max_steps = 1;
    dnabert_finetuner *ft2 = NULL;
    CHECK(dnabert_finetuner_create(model, train, NULL, &older, &ft2) == DNABERT_OK, "finetuner with the pre-0.1.0 size");
    dnabert_finetuner_free(ft2);

    GUARDED(dnabert_finetune_metrics) fm;
    memset(&fm, CANARY, sizeof fm);
    CHECK(dnabert_finetuner_step(ft, &fm.s) == DNABERT_OK && fm.s.step == 1 && fm.s.total_steps == 4 && isnan(fm.s.dev_loss),
          "finetuner step metrics: step %lld of %lld", (long long)fm.s.step, (long long)fm.s.total_steps);
    CHECK(intact(fm.canary), "finetune metrics: nothing written past the 0.1.0 struct");
    cb_state st = {0, 1, 4, 1};
    CHECK(dnabert_finetuner_run(ft, on_finetune, &st) == DNABERT_OK && st.calls == 3 && st.sane,
          "0.1.0 finetune callback sees the 0.1.0 layout (%d calls, sane %d)", st.calls, st.sane);
    GUARDED(dnabert_finetuner_info) fi;
    memset(&fi, CANARY, sizeof fi);
    CHECK(dnabert_finetuner_get_info(ft, &fi.s) == DNABERT_OK && fi.s.step == 4 && fi.s.total_steps == 4 &&
              fi.s.best_step >= 2 && fi.s.trainable_parameters > 0, "finetuner info: step %lld best %lld", (long long)fi.s.step,
          (long long)fi.s.best_step);
    CHECK(intact(fi.canary), "finetuner info: nothing written past the 0.1.0 struct");

    dnabert_classifier *clf = NULL;
    CHECK(dnabert_finetuner_classifier(ft, &clf) == DNABERT_OK && clf, "classifier");
    GUARDED(dnabert_classifier_info) ci;
    memset(&ci, CANARY, sizeof ci);
    CHECK(dnabert_classifier_get_info(clf, &ci.s) == DNABERT_OK && ci.s.num_labels == 2 && ci.s.lora_r == 8 &&
              ci.s.reverse_complement == 0 && ci.s.max_length > 0, "classifier info");
    CHECK(intact(ci.canary), "classifier info: nothing written past the 0.1.0 struct (the bug of issue 12 item 7)");

    /* 0.1.0 int32 n_threads arguments */
    float p1[2 * N], p2[2 * N];
    CHECK(dnabert_classifier_predict(clf, seqs, lens, N, 1, p1) == DNABERT_OK &&
              dnabert_classifier_predict(clf, seqs, lens, N, 0, p2) == DNABERT_OK, "predict with int32 n_threads");
    int same = 1;
    for (int i = 0; i < 2 * N; i++) same &= fabsf(p1[i] - p2[i]) < 1e-5f && p1[i] >= 0 && p1[i] <= 1;
    CHECK(same, "predict: one thread and all threads agree");
    CHECK(dnabert_classifier_predict(clf, seqs, lens, N, -1, p1) == DNABERT_ERR_INVALID_ARGUMENT, "negative n_threads");
    int32_t tids[2 * 8], mask[2 * 8];
    for (int i = 0; i < 16; i++) { tids[i] = i % 8 == 0 ? 1 : (i % 8 == 7 ? 2 : 5 + i); mask[i] = 1; }
    float lg[4];
    CHECK(dnabert_classifier_logits(clf, tids, mask, 2, 8, 1, lg) == DNABERT_OK && isfinite(lg[0]) && isfinite(lg[3]),
          "logits with int32 n_threads");
    GUARDED(dnabert_eval_result) ev;
    memset(&ev, CANARY, sizeof ev);
    CHECK(dnabert_classifier_evaluate(clf, train, 1, &ev.s, NULL) == DNABERT_OK && ev.s.n == N && ev.s.accuracy >= 0 &&
              ev.s.accuracy <= 1 && isnan(ev.s.pearson), "evaluate: n %lld accuracy %g", (long long)ev.s.n, ev.s.accuracy);
    CHECK(intact(ev.canary), "eval result: nothing written past the 0.1.0 struct");
    dnabert_classifier_free(clf);
    dnabert_finetuner_free(ft);
    dnabert_dataset_free(train);
    dnabert_model_free(model);

    /* ---- pretraining: 0.1.0 train metrics and callback ---- */
    char fasta[200], out[200];
    snprintf(fasta, sizeof fasta, "%s/g.fa", dir);
    FILE *f = fopen(fasta, "w");
    fprintf(f, ">g\n");
    for (int k = 0; k < 400; k++) fprintf(f, "%s\n", k % 3 ? "ACGTTGCAACGGTACCATGCAAGTTCAGGA" : "TTGACAGGCTAGCATCGATGGCCATTAGCA");
    fclose(f);
    const char *cfg = "{\"vocab_size\": 4096, \"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                      "\"intermediate_size\": 64}";
    dnabert_model *tiny = NULL;
    CHECK(dnabert_model_create(cfg, strlen(cfg), tok, 1, &tiny) == DNABERT_OK, "tiny model");
    dnabert_pretrain_params pp = dnabert_pretrain_default_params();
    CHECK(pp.struct_size == sizeof pp, "pretrain params size");
    pp.steps = 3;
    pp.batch_size = 4;
    pp.seq_len = 32;
    pp.eval_every = 0;
    pp.checkpoint_every = 0;
    pp.validation_windows = 4;
    snprintf(out, sizeof out, "%s/run", dir);
    const char *files[1] = {fasta};
    dnabert_trainer *t = NULL;
    CHECK(dnabert_trainer_create(tiny, files, 1, out, &pp, &t) == DNABERT_OK && t, "trainer");
    GUARDED(dnabert_train_metrics) tm;
    memset(&tm, CANARY, sizeof tm);
    CHECK(t && dnabert_trainer_step(t, &tm.s) == DNABERT_OK && tm.s.step == 1 && tm.s.total_steps == 3 && tm.s.tokens > 0,
          "trainer step metrics: step %lld of %lld", (long long)tm.s.step, (long long)tm.s.total_steps);
    CHECK(intact(tm.canary), "train metrics: nothing written past the 0.1.0 struct");
    cb_state ps = {0, 1, 3, 1};
    CHECK(t && dnabert_trainer_run(t, on_pretrain, &ps) == DNABERT_OK && ps.calls == 2 && ps.sane,
          "0.1.0 pretraining callback sees the 0.1.0 layout (%d calls, sane %d)", ps.calls, ps.sane);
    dnabert_trainer_free(t);
    dnabert_model_free(tiny);
    dnabert_tokenizer_free(tok);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
