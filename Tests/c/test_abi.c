/* The 0.2 ABI rules (include/dnabert.h, "ABI promise"), from a caller compiled against the current header:
 *  - struct_size must end on a field boundary of a released layout; anything else (a size ending inside a pointer,
 *    0, garbage) is DNABERT_ERR_INVALID_ARGUMENT with a message, and nothing is read or written (issue 12 item 8);
 *  - a result struct is written only up to its struct_size (a shorter, older layout keeps its tail; issue 12 item 7);
 *  - an older parameter layout is accepted, the fields it lacks take their defaults;
 *  - dnabert_decide_labels against a naive argmax / threshold; a dataset from arrays with a classifier's mapping.
 * Usage: test_abi MODEL_DIR */
#define _POSIX_C_SOURCE 200809L
#include <dnabert.h>

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define CHECK_INVALID(expr, ...)                                                                       \
    do {                                                                                               \
        dnabert_clear_error();                                                                         \
        int rc_ = (expr);                                                                              \
        CHECK(rc_ == DNABERT_ERR_INVALID_ARGUMENT && strstr(dnabert_last_error(), "struct_size") != NULL, \
              __VA_ARGS__);                                                                            \
    } while (0)

#define END(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))

static int called = 0;
static int on_progress(void *user, const dnabert_progress *p) {
    (void)user;
    (void)p;
    called++;
    return 0;
}

static int all_bytes(const void *p, size_t n, unsigned char v) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != v) return 0;
    return 1;
}

int main(int argc, char **argv) {
    const char *model_dir = argc > 1 ? argv[1] : "examples/models/dnabert2-small-5genomes";
    CHECK(strcmp(dnabert_version(), DNABERT_VERSION_STRING) == 0 && strcmp(DNABERT_VERSION_STRING, "0.2.0") == 0,
          "version %s", dnabert_version());
    dnabert_model *model = NULL;
    CHECK(dnabert_model_load(model_dir, &model) == DNABERT_OK && model, "load %s", model_dir);
    if (!model) return REPORT();
    dnabert_tokenizer *tok = NULL;
    CHECK(dnabert_model_tokenizer(model, &tok) == DNABERT_OK, "tokenizer");

    /* ---- parameter structs: sizes inside a pointer, odd sizes, garbage ---- */
    const char *seq[1] = {"ACGTACGTTTGACCAGTACGATCGATCGGGCTAGCTAACGTACGGA"};
    size_t len[1] = {46};
    dnabert_bpe_train_params tp = dnabert_bpe_train_default_params();
    CHECK(tp.struct_size == sizeof tp, "bpe params size");
    tp.vocab_size = 30;
    tp.progress = on_progress;
    dnabert_tokenizer *t = NULL;
    uint32_t bad[] = {0, 1, 3, 5, (uint32_t)offsetof(dnabert_bpe_train_params, progress) + 4,
                      (uint32_t)offsetof(dnabert_bpe_train_params, progress_user_data) + 4, (uint32_t)sizeof tp + 8, 4096,
                      65536, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tp.struct_size = bad[i];
        called = 0;
        CHECK_INVALID(dnabert_tokenizer_train_from_sequences(seq, len, 1, &tp, &t), "bpe params struct_size %u rejected", bad[i]);
        CHECK(t == NULL && called == 0, "struct_size %u: nothing created, callback never called", bad[i]);
    }
    /* a size that stops right before the callback: an older layout without it; accepted, callback unused */
    tp.struct_size = (uint32_t)offsetof(dnabert_bpe_train_params, progress);
    called = 0;
    CHECK(dnabert_tokenizer_train_from_sequences(seq, len, 1, &tp, &t) == DNABERT_OK && called == 0,
          "bpe params without the progress fields: accepted, defaults (no callback)");
    dnabert_tokenizer_free(t);
    t = NULL;
    tp.struct_size = sizeof tp;
    CHECK(dnabert_tokenizer_train_from_sequences(seq, len, 1, &tp, &t) == DNABERT_OK && called > 0, "full size: callback used");
    dnabert_tokenizer_free(t);

    dnabert_finetune_params fp = dnabert_finetune_default_params();
    CHECK(fp.struct_size == sizeof fp && fp.out_dir == NULL, "finetune params: size %u, out_dir NULL", fp.struct_size);
    const char *s2[4] = {"ACGTACGTAC", "GGGGCCCCAA", "ACGTACGTAA", "GGGGCCCCTT"};
    size_t l2[4] = {10, 10, 10, 10};
    const char *y2[4] = {"a", "b", "a", "b"};
    dnabert_dataset *ds = NULL;
    CHECK(dnabert_dataset_from_arrays(s2, l2, y2, 4, NULL, DNABERT_PROBLEM_AUTO, &ds) == DNABERT_OK, "dataset");
    dnabert_finetuner *ft = NULL;
    uint32_t badf[] = {(uint32_t)offsetof(dnabert_finetune_params, lora_targets) + 4,
                       (uint32_t)offsetof(dnabert_finetune_params, select_by) + 4,
                       (uint32_t)offsetof(dnabert_finetune_params, out_dir) + 4, 7, 100000};
    for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
        fp.struct_size = badf[i];
        CHECK_INVALID(dnabert_finetuner_create(model, ds, NULL, &fp, &ft), "finetune params struct_size %u rejected", badf[i]);
        CHECK(ft == NULL, "nothing created");
    }
    /* released sizes: 0.1.0 (up to reverse_complement, padded), before reverse_complement, and 0.2 */
    uint32_t good[] = {(uint32_t)offsetof(dnabert_finetune_params, out_dir),
                       (uint32_t)offsetof(dnabert_finetune_params, reverse_complement), (uint32_t)sizeof fp};
    for (size_t i = 0; i < 3; i++) {
        fp.struct_size = good[i];
        fp.max_steps = 1;
        CHECK(dnabert_finetuner_create(model, ds, NULL, &fp, &ft) == DNABERT_OK && ft, "finetune params size %u accepted", good[i]);
        dnabert_finetuner_free(ft);
        ft = NULL;
    }

    dnabert_forward_params fw = dnabert_forward_default_params();
    int32_t ids[4] = {1, 5, 6, 2};
    float hidden[4 * 1024];
    fw.struct_size = 6;
    CHECK_INVALID(dnabert_forward(model, ids, NULL, 1, 4, &fw, hidden), "forward params size 6 rejected");
    fw.struct_size = sizeof fw;
    CHECK(dnabert_forward(model, ids, NULL, 1, 4, &fw, hidden) == DNABERT_OK, "forward params ok");

    /* ---- result structs: shorter layouts are filled only up to their size ---- */
    dnabert_model_info full = { .struct_size = sizeof full };
    CHECK(dnabert_model_get_info(model, &full) == DNABERT_OK && full.hidden_size > 0 && full.num_parameters > 0, "model info");
    dnabert_model_info part;
    memset(&part, 0xA5, sizeof part);
    part.struct_size = (uint32_t)offsetof(dnabert_model_info, num_parameters);
    CHECK(dnabert_model_get_info(model, &part) == DNABERT_OK && part.hidden_size == full.hidden_size &&
              part.has_tokenizer == full.has_tokenizer &&
              part.struct_size == (uint32_t)offsetof(dnabert_model_info, num_parameters), "model info: shorter layout filled");
    CHECK(all_bytes((const char *)&part + offsetof(dnabert_model_info, num_parameters), sizeof part.num_parameters, 0xA5),
          "model info: nothing written past the caller's struct_size");
    memset(&part, 0xA5, sizeof part);
    part.struct_size = (uint32_t)END(dnabert_model_info, vocab_size) + 2;
    CHECK_INVALID(dnabert_model_get_info(model, &part), "model info: struct_size inside a field rejected");
    CHECK(all_bytes((const char *)&part + 4, sizeof part - 4, 0xA5), "model info: a rejected struct is not written");
    part.struct_size = 0;
    CHECK_INVALID(dnabert_model_get_info(model, &part), "model info: struct_size 0 (a 0.2 caller forgot it) rejected");

    dnabert_special_ids sp;
    memset(&sp, 0xA5, sizeof sp);
    sp.struct_size = (uint32_t)END(dnabert_special_ids, sep);
    CHECK(dnabert_tokenizer_special_ids(tok, &sp) == DNABERT_OK && sp.unk == 0 && sp.cls == 1 && sp.sep == 2 &&
              all_bytes(&sp.pad, 2 * sizeof(int32_t), 0xA5), "special ids: partial layout");

    /* ---- fine-tuning with an output folder; partial metrics; decide_labels; dataset like a classifier ---- */
    char dir[] = "/tmp/dnabert-abi-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char out[300];
    snprintf(out, sizeof out, "%s/run", dir);
    fp = dnabert_finetune_default_params();
    fp.max_steps = 2;
    fp.eval_every = 1;
    fp.batch_size = 4;
    fp.out_dir = out;
    CHECK(dnabert_finetuner_create(model, ds, ds, &fp, &ft) == DNABERT_OK && ft, "finetuner with out_dir");
    dnabert_finetune_metrics fm;
    memset(&fm, 0xA5, sizeof fm);
    fm.struct_size = (uint32_t)offsetof(dnabert_finetune_metrics, dev_accuracy);
    CHECK(dnabert_finetuner_step(ft, &fm) == DNABERT_OK && fm.step == 1 && isfinite(fm.dev_loss) &&
              all_bytes(&fm.dev_accuracy, sizeof fm - offsetof(dnabert_finetune_metrics, dev_accuracy), 0xA5),
          "finetune metrics filled up to dev_loss only");
    CHECK(dnabert_finetuner_run(ft, NULL, NULL) == DNABERT_OK, "run");
    char path[400];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    FILE *f = fopen(path, "r");
    int lines = 0, with_dev = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        with_dev += strstr(line, "\"dev\":") != NULL && strstr(line, "\"val_loss\":") != NULL && strstr(line, "\"step\":") != NULL;
    }
    if (f) fclose(f);
    CHECK(lines == 2 && with_dev == 2, "metrics.jsonl: %d lines, %d with dev figures", lines, with_dev);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", out);
    f = fopen(path, "r");
    CHECK(f != NULL, "the run saved its classifier in out_dir");
    if (f) fclose(f);
    dnabert_eval_result tr = { .struct_size = sizeof tr };
    CHECK(dnabert_finetuner_test(ft, ds, &tr) == DNABERT_OK && tr.n == 4 && isfinite(tr.loss), "finetuner test");
    snprintf(path, sizeof path, "%s/test_predictions.csv", out);
    f = fopen(path, "r");
    int rows = 0;
    while (f && fgets(line, sizeof line, f)) rows++;
    if (f) fclose(f);
    CHECK(rows == 5, "test_predictions.csv: header + 4 rows (%d)", rows);

    dnabert_classifier *clf = NULL;
    CHECK(dnabert_finetuner_classifier(ft, &clf) == DNABERT_OK, "classifier");
    float scores[8];
    CHECK(dnabert_classifier_predict(clf, s2, l2, 4, NULL, scores) == DNABERT_OK, "predict");
    int32_t dec[8];
    CHECK(dnabert_decide_labels(DNABERT_PROBLEM_SINGLE_LABEL, scores, 4, 2, dec) == DNABERT_OK, "decide");
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= dec[i] == (scores[2 * i + 1] > scores[2 * i] ? 1 : 0);
    CHECK(ok, "decide = naive argmax");
    const float ms[6] = {0.5f, 0.49f, 0.9f, 0.0f, 1.0f, 0.5001f};
    CHECK(dnabert_decide_labels(DNABERT_PROBLEM_MULTI_LABEL, ms, 2, 3, dec) == DNABERT_OK && dec[0] == 1 && dec[1] == 0 &&
              dec[2] == 1 && dec[3] == 0 && dec[4] == 1 && dec[5] == 1, "multi-label: >= 0.5");
    const float ties[4] = {0.5f, 0.5f, 0.2f, 0.8f};
    CHECK(dnabert_decide_labels(DNABERT_PROBLEM_SINGLE_LABEL, ties, 2, 2, dec) == DNABERT_OK && dec[0] == 0 && dec[1] == 1,
          "ties: the first class");
    CHECK(dnabert_decide_labels(DNABERT_PROBLEM_REGRESSION, ms, 6, 1, dec) == DNABERT_ERR_INVALID_ARGUMENT, "regression: no decision");
    float nanv[2] = {NAN, 0.1f};
    CHECK(dnabert_decide_labels(DNABERT_PROBLEM_SINGLE_LABEL, nanv, 1, 2, dec) == DNABERT_ERR_INVALID_ARGUMENT, "NaN score rejected");
    CHECK(dnabert_decide_labels(DNABERT_PROBLEM_SINGLE_LABEL, ms, 3, 0, dec) == DNABERT_ERR_INVALID_ARGUMENT, "0 labels");

    /* a dataset with the classifier's mapping: label names "a"/"b" from arrays, and unlabelled */
    dnabert_dataset *like = NULL, *unl = NULL;
    const char *y3[2] = {"b", "b"};
    CHECK(dnabert_classifier_dataset_from_arrays(clf, s2, l2, y3, 2, &like) == DNABERT_OK, "dataset like the classifier");
    float lab[2] = {-1, -1};
    CHECK(like && dnabert_dataset_labels(like, lab, 2) == DNABERT_OK && lab[0] == 1 && lab[1] == 1,
          "'b' is class 1 as in training, although only 'b' occurs (%g %g)", lab[0], lab[1]);
    const char *y4[1] = {"c"};
    dnabert_dataset *badds = NULL;
    CHECK(dnabert_classifier_dataset_from_arrays(clf, s2, l2, y4, 1, &badds) != DNABERT_OK && badds == NULL,
          "a label the classifier does not know is an error");
    CHECK(dnabert_classifier_dataset_from_arrays(clf, s2, l2, NULL, 3, &unl) == DNABERT_OK, "unlabelled dataset");
    dnabert_dataset_info di = { .struct_size = sizeof di };
    CHECK(unl && dnabert_dataset_get_info(unl, &di) == DNABERT_OK && di.n_sequences == 3 && di.num_labels == 2 &&
              di.has_label_names == 1, "unlabelled dataset carries the mapping");
    dnabert_eval_result ev = { .struct_size = sizeof ev };
    CHECK(dnabert_classifier_evaluate(clf, like, NULL, &ev, NULL) == DNABERT_OK && ev.n == 2, "evaluate a dataset like the classifier");

    dnabert_dataset_free(like);
    dnabert_dataset_free(unl);
    dnabert_classifier_free(clf);
    dnabert_finetuner_free(ft);
    dnabert_dataset_free(ds);
    dnabert_tokenizer_free(tok);
    dnabert_model_free(model);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
    return REPORT();
}
