/* C API tests of fine-tuning: datasets (file, arrays, label names, multi-label, regression), a few LoRA steps on
 * the bundled coding_200 task, the classifier (predict = softmax of logits computed here, evaluate = accuracy
 * recomputed here from its scores and the file's labels, save/load round trip, merged model = unmerged logits),
 * and hostile calls (NULL pointers, wrong struct sizes, bad enum values, freed handles, missing or corrupt files)
 * that must return an error code with a message, never crash.
 * Usage: test_finetune MODEL_DIR TASK_DIR   (e.g. examples/models/dnabert2-small-5genomes
 *                                                 examples/data/tasks/coding_200) */
#define _POSIX_C_SOURCE 200809L
#include <dnabert.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stddef.h>
#include <unistd.h>

#include "check.h"

/* an error code and a non-empty message */
#define CHECK_ERR(call, ...)                                                                   \
    do {                                                                                       \
        dnabert_clear_error();                                                                 \
        int st_ = (call);                                                                      \
        CHECK(st_ < 0 && dnabert_last_error()[0] != 0, __VA_ARGS__);                           \
    } while (0)
#define CHECK_CODE(call, code, ...)                                                            \
    do {                                                                                       \
        dnabert_clear_error();                                                                 \
        int st_ = (call);                                                                      \
        CHECK(st_ == (code) && dnabert_last_error()[0] != 0, __VA_ARGS__);                     \
    } while (0)

#define MAX_ROWS 2500

/* Independent reader of `sequence,label` rows (no quoting in the bundled files). */
static size_t read_task(const char *path, char **seqs, int *labels, size_t max) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    size_t n = 0;
    if (!fgets(line, sizeof line, f)) { fclose(f); return 0; }   /* header */
    while (n < max && fgets(line, sizeof line, f)) {
        char *comma = strrchr(line, ',');
        if (!comma) continue;
        *comma = 0;
        seqs[n] = malloc(strlen(line) + 1);
        strcpy(seqs[n], line);
        labels[n] = atoi(comma + 1);
        n++;
    }
    fclose(f);
    return n;
}

typedef struct {
    int calls, stop_at;
    int64_t last_step;
} cb_state;

static int on_step(void *user, const dnabert_finetune_metrics *m) {
    cb_state *s = user;
    s->calls++;
    s->last_step = m->step;
    return s->stop_at > 0 && m->step >= s->stop_at;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

int main(int argc, char **argv) {
    const char *model_dir = argc > 1 ? argv[1] : "examples/models/dnabert2-small-5genomes";
    const char *task = argc > 2 ? argv[2] : "examples/data/tasks/coding_200";
    char train_path[1200], dev_path[1200], test_path[1200], dir[] = "/tmp/dnabert-c-finetune-XXXXXX", path[1400];
    snprintf(train_path, sizeof train_path, "%s/train.csv", task);
    snprintf(dev_path, sizeof dev_path, "%s/dev.csv", task);
    snprintf(test_path, sizeof test_path, "%s/test.csv", task);
    if (!mkdtemp(dir)) return 2;

    static char *tseqs[MAX_ROWS];
    static int tlabels[MAX_ROWS];
    size_t n_test = read_task(test_path, tseqs, tlabels, MAX_ROWS);
    /* coding_200's test set (400 rows) or make test's first 100 of it (SMALL_TASK in the Makefile) */
    CHECK(n_test == 400 || n_test == 100, "read %s independently (%zu rows)", test_path, n_test);
    if (n_test != 400 && n_test != 100) return REPORT();

    dnabert_model *model = NULL;
    CHECK(dnabert_model_load(model_dir, &model) == DNABERT_OK && model, "load %s", model_dir);
    if (!model) return REPORT();

    /* ---- datasets ---- */
    dnabert_dataset *train = NULL, *dev = NULL, *test = NULL;
    CHECK(dnabert_dataset_read(train_path, NULL, DNABERT_PROBLEM_AUTO, &train) == DNABERT_OK, "read train");
    CHECK(dnabert_dataset_read(dev_path, train, DNABERT_PROBLEM_AUTO, &dev) == DNABERT_OK, "read dev like train");
    CHECK(dnabert_dataset_read(test_path, train, DNABERT_PROBLEM_SINGLE_LABEL, &test) == DNABERT_OK, "read test");
    dnabert_dataset_info di = { .struct_size = sizeof di };
    CHECK(dnabert_dataset_get_info(train, &di) == DNABERT_OK && di.n_sequences == 2000 &&
              di.problem_type == DNABERT_PROBLEM_SINGLE_LABEL && di.num_labels == 2 && di.has_label_names == 0,
          "train info: n %lld type %d labels %d names %d", (long long)di.n_sequences, di.problem_type, di.num_labels,
          di.has_label_names);
    float *lab = malloc(n_test * sizeof *lab);
    CHECK(dnabert_dataset_labels(test, lab, n_test) == DNABERT_OK, "test labels");
    int same = 1;
    for (size_t i = 0; i < n_test; i++) same &= lab[i] == (float)tlabels[i];
    CHECK(same, "test labels equal the file's");
    CHECK_CODE(dnabert_dataset_labels(test, lab, n_test - 1), DNABERT_ERR_BUFFER_TOO_SMALL, "labels buffer too small");
    char name[64];
    size_t name_len = 0;
    CHECK(dnabert_dataset_label_name(train, 1, name, sizeof name, &name_len) == DNABERT_OK && strcmp(name, "1") == 0 &&
              name_len == 1, "label name of index 1 is its number");
    CHECK_ERR(dnabert_dataset_label_name(train, 2, name, sizeof name, &name_len), "label index out of range");
    CHECK_ERR(dnabert_dataset_label_name(train, -1, name, sizeof name, &name_len), "negative label index");

    {   /* class names: sorted, mapped, kept */
        const char *s[3] = {"ACGTACGTAA", "GGCATTGACA", "TTTACGGATC"};
        size_t l[3] = {10, 10, 10};
        const char *y[3] = {"promoter", "background", "promoter"};
        dnabert_dataset *ds = NULL;
        CHECK(dnabert_dataset_from_arrays(s, l, y, 3, NULL, DNABERT_PROBLEM_AUTO, &ds) == DNABERT_OK, "from arrays");
        CHECK(dnabert_dataset_get_info(ds, &di) == DNABERT_OK && di.n_sequences == 3 && di.num_labels == 2 &&
                  di.has_label_names == 1 && di.problem_type == DNABERT_PROBLEM_SINGLE_LABEL, "named labels info");
        CHECK(dnabert_dataset_label_name(ds, 0, name, sizeof name, &name_len) == DNABERT_OK &&
                  strcmp(name, "background") == 0, "names sorted: 0 = background (%s)", name);
        CHECK_CODE(dnabert_dataset_label_name(ds, 0, name, 4, &name_len), DNABERT_ERR_BUFFER_TOO_SMALL,
                   "name buffer too small");
        CHECK(name_len == 10, "the needed length is reported (%zu)", name_len);
        float yl[3] = {-1, -1, -1};
        CHECK(dnabert_dataset_labels(ds, yl, 3) == DNABERT_OK && yl[0] == 1 && yl[1] == 0 && yl[2] == 1, "mapped");
        const char *y2[1] = {"enhancer"};
        dnabert_dataset *ds2 = NULL;
        CHECK_ERR(dnabert_dataset_from_arrays(s, l, y2, 1, ds, DNABERT_PROBLEM_AUTO, &ds2), "unknown name like train");
        CHECK(ds2 == NULL, "no handle on error");
        dnabert_dataset_free(ds);
        CHECK_ERR(dnabert_dataset_get_info(ds, &di), "freed dataset");

        const char *ym[3] = {"0;2", "1", ""};
        CHECK(dnabert_dataset_from_arrays(s, l, ym, 3, NULL, DNABERT_PROBLEM_MULTI_LABEL, &ds) == DNABERT_OK,
              "multi-label arrays");
        float ml[9];
        CHECK(dnabert_dataset_get_info(ds, &di) == DNABERT_OK && di.problem_type == DNABERT_PROBLEM_MULTI_LABEL &&
                  di.num_labels == 3, "multi-label info");
        CHECK(dnabert_dataset_labels(ds, ml, 9) == DNABERT_OK && ml[0] == 1 && ml[1] == 0 && ml[2] == 1 && ml[3] == 0 &&
                  ml[4] == 1 && ml[5] == 0 && ml[6] == 0 && ml[7] == 0 && ml[8] == 0, "multi-label indicators");
        dnabert_dataset_free(ds);
        const char *yr[3] = {"0.5", "-1.25", "3"};
        CHECK(dnabert_dataset_from_arrays(s, l, yr, 3, NULL, DNABERT_PROBLEM_AUTO, &ds) == DNABERT_OK, "regression");
        float rv[3];
        CHECK(dnabert_dataset_get_info(ds, &di) == DNABERT_OK && di.problem_type == DNABERT_PROBLEM_REGRESSION &&
                  di.num_labels == 1 && dnabert_dataset_labels(ds, rv, 3) == DNABERT_OK && rv[0] == 0.5f &&
                  rv[1] == -1.25f && rv[2] == 3.0f, "regression targets");
        dnabert_dataset_free(ds);
    }

    /* ---- a few LoRA steps ---- */
    dnabert_finetune_params p = dnabert_finetune_default_params();
    CHECK(p.struct_size == sizeof p && p.lora_r == 8 && p.lora_alpha == 32 && p.batch_size == 32 &&
              p.pooling == DNABERT_POOL_AUTO && p.reverse_complement == -1 && p.lora_targets == NULL &&
              p.learning_rate == 0, "default params");
    {
        /* the defaults on coding_200 (windows from a random strand): strand symmetry chosen automatically, LoRA on
           all four linears (4 layers, hidden 256, intermediate 1024: Wqkv 256->768, attention.output.dense
           256->256, gated_layers 256->2048, wo 1024->256), mean pooling (auto with both strands: no pooler), lr 1e-3 */
        dnabert_finetune_params d = dnabert_finetune_default_params();
        d.max_steps = 1;
        dnabert_finetuner *fd = NULL;
        CHECK(dnabert_finetuner_create(model, train, dev, &d, &fd) == DNABERT_OK && fd, "finetuner with the defaults");
        dnabert_finetuner_info di = { .struct_size = sizeof di };
        dnabert_classifier *cd = NULL;
        dnabert_classifier_info cdi = { .struct_size = sizeof cdi };
        int64_t all4 = 4 * (8 * 256 + 768 * 8 + 8 * 256 + 256 * 8 + 8 * 256 + 2048 * 8 + 8 * 1024 + 256 * 8) + 2 * 256 + 2;
        CHECK(dnabert_finetuner_get_info(fd, &di) == DNABERT_OK && di.learning_rate == 1e-3 &&
                  di.trainable_parameters == all4, "default lr %g, trainable %lld (expected %lld)", di.learning_rate,
              (long long)di.trainable_parameters, (long long)all4);
        CHECK(dnabert_finetuner_classifier(fd, &cd) == DNABERT_OK && dnabert_classifier_get_info(cd, &cdi) == DNABERT_OK &&
                  cdi.reverse_complement == 1 && cdi.pooling == DNABERT_POOL_MEAN, "auto strand symmetry on random-strand data");
        dnabert_classifier_free(cd);
        dnabert_finetuner_free(fd);
        /* auto pooling follows the strand decision: one strand -> [CLS] pooling (the pooler 256x256 + 256 trains);
           an explicit pooling is kept whatever the strands */
        static const struct { int32_t rc, pooling, expected; } pool_cases[] = {
            { 0, DNABERT_POOL_AUTO, DNABERT_POOL_CLS }, { 1, DNABERT_POOL_AUTO, DNABERT_POOL_MEAN },
            { 0, DNABERT_POOL_MEAN, DNABERT_POOL_MEAN }, { -1, DNABERT_POOL_CLS, DNABERT_POOL_CLS } };
        for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++) {
            d.reverse_complement = pool_cases[k].rc;
            d.pooling = pool_cases[k].pooling;
            fd = NULL;
            cd = NULL;
            int64_t want = all4 + (pool_cases[k].expected == DNABERT_POOL_CLS ? 256 * 256 + 256 : 0);
            CHECK(dnabert_finetuner_create(model, train, dev, &d, &fd) == DNABERT_OK &&
                      dnabert_finetuner_get_info(fd, &di) == DNABERT_OK && di.trainable_parameters == want &&
                      dnabert_finetuner_classifier(fd, &cd) == DNABERT_OK && dnabert_classifier_get_info(cd, &cdi) == DNABERT_OK &&
                      cdi.pooling == pool_cases[k].expected,
                  "reverse_complement %d, pooling %d: pooling %d (expected %d), trainable %lld (expected %lld)",
                  pool_cases[k].rc, pool_cases[k].pooling, cdi.pooling, pool_cases[k].expected,
                  (long long)di.trainable_parameters, (long long)want);
            dnabert_classifier_free(cd);
            dnabert_finetuner_free(fd);
        }
        d.pooling = 2;
        CHECK_CODE(dnabert_finetuner_create(model, train, dev, &d, &fd), DNABERT_ERR_INVALID_ARGUMENT, "pooling 2");
        d.pooling = DNABERT_POOL_AUTO;
        d.reverse_complement = 2;
        CHECK_CODE(dnabert_finetuner_create(model, train, dev, &d, &fd), DNABERT_ERR_INVALID_ARGUMENT, "reverse_complement 2");
    }
    /* the rest of this test: the pre-0.2 settings, explicitly */
    p.pooling = DNABERT_POOL_CLS;
    p.reverse_complement = 0;
    p.lora_targets = "Wqkv,attention.output.dense";
    p.max_steps = 6;
    p.eval_every = 3;
    p.seed = 2;
    dnabert_finetuner *ft = NULL;
    CHECK(dnabert_finetuner_create(model, train, dev, &p, &ft) == DNABERT_OK && ft, "finetuner");
    dnabert_finetuner_info fi = { .struct_size = sizeof fi };
    CHECK(dnabert_finetuner_get_info(ft, &fi) == DNABERT_OK && fi.step == 0 && fi.total_steps == 6 &&
              fi.steps_per_epoch == 63 && fi.best_step == -1 && fi.learning_rate == 1e-3 && fi.max_length > 3 &&
              fi.max_length <= 512, "finetuner info: steps/epoch %lld lr %g max_length %d", (long long)fi.steps_per_epoch,
          fi.learning_rate, fi.max_length);
    /* LoRA r=8 on Wqkv and attention.output.dense of 4 layers (hidden 256), the pooler and a 2-class head */
    int64_t expect_trainable = 4 * (8 * 256 + 768 * 8 + 8 * 256 + 256 * 8) + 256 * 256 + 256 + 2 * 256 + 2;
    CHECK(fi.trainable_parameters == expect_trainable, "trainable %lld, expected %lld", (long long)fi.trainable_parameters,
          (long long)expect_trainable);
    dnabert_finetune_metrics m = { .struct_size = sizeof m };
    int steps_ok = 1, dev_ok = 1;
    for (int i = 1; i <= 6; i++) {
        if (dnabert_finetuner_step(ft, &m) != DNABERT_OK) { steps_ok = 0; break; }
        steps_ok &= m.step == i && m.total_steps == 6 && isfinite(m.loss) && m.loss > 0 && m.learning_rate > 0;
        int evaluated = !isnan(m.dev_loss);
        dev_ok &= evaluated == (i % 3 == 0);
        if (evaluated) dev_ok &= m.dev_accuracy >= 0 && m.dev_accuracy <= 1 && m.dev_mcc >= -1 && m.dev_mcc <= 1 &&
                                 isnan(m.dev_pearson);
    }
    CHECK(steps_ok, "six steps");
    CHECK(dev_ok, "dev evaluated at steps 3 and 6 only");
    CHECK(dnabert_finetuner_get_info(ft, &fi) == DNABERT_OK && fi.step == 6 && (fi.best_step == 3 || fi.best_step == 6) &&
              isfinite(fi.best_value), "best step %lld", (long long)fi.best_step);
    CHECK_CODE(dnabert_finetuner_step(ft, &m), DNABERT_ERR_INVALID_ARGUMENT, "no step after the last");

    /* ---- the classifier ---- */
    dnabert_classifier *clf = NULL;
    CHECK(dnabert_finetuner_classifier(ft, &clf) == DNABERT_OK && clf, "classifier handle");
    dnabert_classifier_info ci = { .struct_size = sizeof ci };
    CHECK(dnabert_classifier_get_info(clf, &ci) == DNABERT_OK && ci.num_labels == 2 &&
              ci.problem_type == DNABERT_PROBLEM_SINGLE_LABEL && ci.pooling == DNABERT_POOL_CLS && ci.lora_r == 8 &&
              ci.lora_alpha == 32 && ci.trainable_parameters == expect_trainable && ci.has_label_names == 0 &&
              ci.reverse_complement == 0, "classifier info");
    enum { NP = 24 };
    size_t lens[NP];
    for (size_t i = 0; i < NP; i++) lens[i] = strlen(tseqs[i]);
    float prob[NP * 2], prob2[NP * 2], logits[NP * 2];
    CHECK(dnabert_classifier_predict(clf, (const char *const *)tseqs, lens, NP, NULL, prob) == DNABERT_OK, "predict");
    int sums = 1;
    for (size_t i = 0; i < NP; i++) sums &= fabs((double)prob[2 * i] + prob[2 * i + 1] - 1.0) < 1e-6;
    CHECK(sums, "probabilities sum to 1");

    /* logits of the same tokens (truncated to the training length) → softmax here = predict */
    dnabert_tokenizer *tok = NULL;
    CHECK(dnabert_model_tokenizer(model, &tok) == DNABERT_OK, "tokenizer");
    dnabert_encode_params ep = dnabert_encode_default_params();
    ep.uppercase = 1;
    ep.max_length = ci.max_length;
    size_t L = (size_t)ci.max_length;
    int32_t *ids = malloc(NP * L * sizeof *ids), *mask = malloc(NP * L * sizeof *mask);
    CHECK(dnabert_encode_batch_padded(tok, (const char *const *)tseqs, lens, NP, &ep, L, ids, mask, NULL) == DNABERT_OK,
          "encode");
    CHECK(dnabert_classifier_logits(clf, ids, mask, NP, L, NULL, logits) == DNABERT_OK, "logits");
    double worst = 0;
    for (size_t i = 0; i < NP; i++) {
        double a = logits[2 * i], b = logits[2 * i + 1], mx = a > b ? a : b;
        double ea = exp(a - mx), eb = exp(b - mx);
        double d0 = fabs(ea / (ea + eb) - prob[2 * i]), d1 = fabs(eb / (ea + eb) - prob[2 * i + 1]);
        if (d0 > worst) worst = d0;
        if (d1 > worst) worst = d1;
    }
    CHECK(worst < 2e-6, "predict = softmax(logits): max diff %g", worst);

    /* dnabert_classifier_predict_ex: the defaults equal dnabert_classifier_predict; a long input is counted
     * (truncation) or scored by windows (a different, still normalised score); bad parameters are errors. */
    {
        dnabert_predict_params pp = dnabert_predict_default_params();
        CHECK(pp.struct_size == sizeof pp && pp.batch_size == 32 && pp.max_length == 0 &&
                  pp.long_inputs == DNABERT_LONG_TRUNCATE && pp.window_overlap == -1 &&
                  pp.window_pooling == DNABERT_WINDOW_POOL_MEAN, "predict defaults");
        dnabert_predict_report rep = { .struct_size = sizeof rep };
        float px[NP * 2];
        CHECK(dnabert_classifier_predict_ex(clf, (const char *const *)tseqs, lens, NP, NULL, px, &rep) == DNABERT_OK &&
                  memcmp(px, prob, sizeof px) == 0, "predict_ex(NULL params) = predict");
        CHECK(rep.n_long == 0 && rep.n_windows == NP && rep.max_length == ci.max_length &&
                  rep.longest_tokens <= ci.max_length, "report of short inputs: long %lld windows %lld max %d",
              (long long)rep.n_long, (long long)rep.n_windows, rep.max_length);
        size_t total = 0;
        for (size_t i = 0; i < 6; i++) total += lens[i];
        char *longseq = malloc(total + 1);
        longseq[0] = 0;
        for (size_t i = 0; i < 6; i++) strcat(longseq, tseqs[i]);
        const char *two[2] = { tseqs[7], longseq };
        size_t two_lens[2] = { lens[7], total };
        float t[4], w[4];
        CHECK(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &pp, t, &rep) == DNABERT_OK && rep.n_long == 1 &&
                  rep.n_windows == 2 && rep.longest_tokens > ci.max_length, "a long input is counted when truncated");
        pp.long_inputs = DNABERT_LONG_WINDOWS;
        CHECK(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &pp, w, &rep) == DNABERT_OK && rep.n_long == 1 &&
                  rep.n_windows > 2, "windows: %lld windows", (long long)rep.n_windows);
        CHECK(fabs((double)w[0] - t[0]) < 1e-6 && fabs((double)w[2] + w[3] - 1.0) < 1e-5 && fabs((double)w[2] - t[2]) > 1e-7,
              "a short input scores alike; the long one is pooled over its windows (%g vs %g)", (double)w[2], (double)t[2]);
        dnabert_predict_params bad = pp;
        bad.long_inputs = 7;
        CHECK_CODE(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &bad, w, NULL), DNABERT_ERR_INVALID_ARGUMENT, "long_inputs 7");
        bad = pp;
        bad.window_pooling = -2;
        CHECK_CODE(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &bad, w, NULL), DNABERT_ERR_INVALID_ARGUMENT, "pooling -2");
        bad = pp;
        bad.window_overlap = 100000;
        CHECK_CODE(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &bad, w, NULL), DNABERT_ERR_INVALID_ARGUMENT, "overlap");
        bad = pp;
        bad.struct_size = 3;
        CHECK_CODE(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &bad, w, NULL), DNABERT_ERR_INVALID_ARGUMENT, "struct_size 3");
        dnabert_predict_report badrep = { .struct_size = 5 };
        CHECK_CODE(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &pp, w, &badrep), DNABERT_ERR_INVALID_ARGUMENT, "report size 5");
        CHECK_CODE(dnabert_classifier_predict_ex(clf, two, two_lens, 2, &pp, NULL, NULL), DNABERT_ERR_INVALID_ARGUMENT, "out NULL");
        CHECK_CODE(dnabert_classifier_predict_ex(NULL, two, two_lens, 2, &pp, w, NULL), DNABERT_ERR_INVALID_ARGUMENT, "clf NULL");
        free(longseq);
    }

    /* evaluate: n, accuracy recomputed from its scores and the independently read labels */
    dnabert_eval_result ev = { .struct_size = sizeof ev };
    float *scores = malloc(n_test * 2 * sizeof *scores);
    CHECK(dnabert_classifier_evaluate(clf, test, NULL, &ev, scores) == DNABERT_OK && ev.n == (int64_t)n_test, "evaluate");
    int correct = 0, tp = 0, tn = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < n_test; i++) {
        int pred = scores[2 * i + 1] > scores[2 * i];
        correct += pred == tlabels[i];
        tp += pred && tlabels[i];
        tn += !pred && !tlabels[i];
        fp += pred && !tlabels[i];
        fn += !pred && tlabels[i];
    }
    double den = sqrt((double)(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
    double mcc = den > 0 ? ((double)tp * tn - (double)fp * fn) / den : 0;
    CHECK(fabs(ev.accuracy - correct / (double)n_test) < 1e-12, "accuracy %g vs %g", ev.accuracy, correct / (double)n_test);
    CHECK(fabs(ev.mcc - mcc) < 1e-9, "mcc %g vs %g", ev.mcc, mcc);
    CHECK(isfinite(ev.loss) && ev.loss > 0 && isfinite(ev.f1) && isnan(ev.pearson) && isnan(ev.r2), "other figures");
    worst = 0;
    for (size_t i = 0; i < NP * 2; i++) {
        double d = fabs((double)scores[i] - prob[i]);
        if (d > worst) worst = d;
    }
    /* (evaluate and predict may pad the batches differently: equal up to float rounding) */
    CHECK(worst < 1e-5, "evaluate's scores = predict's for the same sequences: max diff %g", worst);

    /* save → load round trip: identical probabilities */
    snprintf(path, sizeof path, "%s/adapter", dir);
    CHECK(dnabert_classifier_save(clf, path) == DNABERT_OK, "save");
    char f2[1500];
    snprintf(f2, sizeof f2, "%s/adapter_config.json", path);
    CHECK(access(f2, R_OK) == 0, "adapter_config.json written");
    dnabert_classifier *clf2 = NULL;
    CHECK(dnabert_classifier_load(model, path, &clf2) == DNABERT_OK && clf2, "load");
    CHECK(dnabert_classifier_predict(clf2, (const char *const *)tseqs, lens, NP, NULL, prob2) == DNABERT_OK &&
              memcmp(prob, prob2, sizeof prob) == 0, "reloaded predictions identical");
    /* evaluation data read with the loaded classifier's own label mapping: the same metrics */
    dnabert_dataset *test2 = NULL;
    dnabert_eval_result ev2 = { .struct_size = sizeof ev2 };
    CHECK(dnabert_classifier_read_dataset(clf2, test_path, &test2) == DNABERT_OK && test2, "read dataset like a classifier");
    CHECK(test2 && dnabert_classifier_evaluate(clf2, test2, NULL, &ev2, NULL) == DNABERT_OK && ev2.n == (int64_t)n_test &&
              ev2.mcc == ev.mcc && ev2.accuracy == ev.accuracy, "evaluate through the classifier's mapping");
    CHECK_ERR(dnabert_classifier_read_dataset(clf2, "/nonexistent.csv", &test2), "missing file");
    CHECK_ERR(dnabert_classifier_read_dataset(NULL, test_path, &test2), "NULL classifier");
    dnabert_dataset_free(test2);
    dnabert_classifier *clf3 = NULL;
    CHECK_ERR(dnabert_classifier_load(NULL, path, &clf3), "an adapter needs its base model");

    /* merged model (adapters folded into the weights), saved and loaded as a full classifier: same logits */
    dnabert_model *merged = NULL;
    CHECK(dnabert_classifier_merged_model(clf, &merged) == DNABERT_OK && merged, "merged model");
    dnabert_model_info mi = { .struct_size = sizeof mi };
    CHECK(dnabert_model_get_info(merged, &mi) == DNABERT_OK && mi.num_labels == 2 && mi.has_pooler, "merged info");
    snprintf(path, sizeof path, "%s/merged", dir);
    CHECK(dnabert_model_save(merged, path) == DNABERT_OK, "save merged");
    dnabert_classifier *full = NULL;
    CHECK(dnabert_classifier_load(NULL, path, &full) == DNABERT_OK && full, "load merged as a classifier");
    float logits_full[NP * 2];
    CHECK(dnabert_classifier_logits(full, ids, mask, NP, L, NULL, logits_full) == DNABERT_OK, "merged logits");
    worst = 0;
    for (size_t i = 0; i < NP * 2; i++) {
        double d = fabs((double)logits_full[i] - logits[i]);
        if (d > worst) worst = d;
    }
    CHECK(worst < 5e-5, "merged logits = LoRA logits: max diff %g", worst);
    /* the merged folder keeps what the classifier was (issue 13): pooling, problem type, token length, strand
     * symmetry and label names as the LoRA classifier reports them, and the same probabilities from raw text */
    dnabert_classifier_info cm = { .struct_size = sizeof cm }, cf = { .struct_size = sizeof cf };
    CHECK(dnabert_classifier_get_info(clf, &cm) == DNABERT_OK && dnabert_classifier_get_info(full, &cf) == DNABERT_OK,
          "infos of the LoRA and the merged classifier");
    CHECK(cf.pooling == cm.pooling && cf.problem_type == cm.problem_type && cf.num_labels == cm.num_labels &&
              cf.max_length == cm.max_length && cf.reverse_complement == cm.reverse_complement &&
              cf.has_label_names == cm.has_label_names && cf.lora_r == 0,
          "merged metadata: pooling %d/%d problem %d/%d max_length %d/%d strand %d/%d names %d/%d lora_r %d",
          cf.pooling, cm.pooling, cf.problem_type, cm.problem_type, cf.max_length, cm.max_length,
          cf.reverse_complement, cm.reverse_complement, cf.has_label_names, cm.has_label_names, cf.lora_r);
    for (int32_t k = 0; cm.has_label_names && k < cm.num_labels; k++) {
        char a[64] = {0}, b[64] = {0};
        size_t la = 0, lb = 0;
        CHECK(dnabert_classifier_label_name(clf, k, a, sizeof a, &la) == DNABERT_OK &&
                  dnabert_classifier_label_name(full, k, b, sizeof b, &lb) == DNABERT_OK && la == lb && strcmp(a, b) == 0,
              "merged label name %d: '%s' vs '%s'", k, b, a);
    }
    float prob_full[NP * 2];
    CHECK(dnabert_classifier_predict(full, (const char *const *)tseqs, lens, NP, NULL, prob_full) == DNABERT_OK,
          "merged predict");
    worst = 0;
    for (size_t i = 0; i < NP * 2; i++) {
        double d = fabs((double)prob_full[i] - prob[i]);
        if (d > worst) worst = d;
    }
    CHECK(worst < 1e-5, "merged predictions = LoRA predictions from raw sequences: max diff %g", worst);
    dnabert_classifier_free(full);
    dnabert_model_free(merged);

    /* run() with a callback that stops at step 2: CANCELLED */
    dnabert_finetuner *ft2 = NULL;
    p.max_steps = 5;
    CHECK(dnabert_finetuner_create(model, train, NULL, &p, &ft2) == DNABERT_OK, "second finetuner (no dev)");
    cb_state s = {0, 2, 0};
    CHECK(dnabert_finetuner_run(ft2, on_step, &s) == DNABERT_ERR_CANCELLED && s.calls == 2 && s.last_step == 2,
          "stopped at 2 (calls %d)", s.calls);
    dnabert_finetuner_free(ft2);

    /* ---- hostile calls ---- */
    dnabert_dataset *bad_ds = NULL;
    dnabert_finetuner *bad_ft = NULL;
    dnabert_classifier *bad_clf = NULL;
    CHECK_ERR(dnabert_dataset_read(NULL, NULL, 0, &bad_ds), "NULL path");
    CHECK_ERR(dnabert_dataset_read(train_path, NULL, 0, NULL), "NULL out");
    CHECK_ERR(dnabert_dataset_read("/nonexistent/train.csv", NULL, 0, &bad_ds), "missing file");
    CHECK_ERR(dnabert_dataset_read(task, NULL, 0, &bad_ds), "a directory");
    CHECK_ERR(dnabert_dataset_read(train_path, NULL, 7, &bad_ds), "bad problem type");
    CHECK_ERR(dnabert_dataset_read(train_path, NULL, -1, &bad_ds), "negative problem type");
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    write_file(path, "sequence,label\nACGT,1\nACGA\n");
    CHECK_ERR(dnabert_dataset_read(path, NULL, 0, &bad_ds), "short row");
    write_file(path, "sequence,label\nACGTACGT,0\nACGTTTGA,2\n");
    CHECK_ERR(dnabert_dataset_read(path, train, 0, &bad_ds), "label outside the training schema");
    CHECK(bad_ds == NULL, "no dataset on error");
    {
        const char *s1[2] = {"ACGT", NULL};
        size_t l1[2] = {4, 4};
        const char *y1[2] = {"0", "1"};
        const char *y0[2] = {"0", NULL};
        CHECK_ERR(dnabert_dataset_from_arrays(s1, l1, y1, 2, NULL, 0, &bad_ds), "NULL sequence");
        CHECK_ERR(dnabert_dataset_from_arrays(NULL, l1, y1, 2, NULL, 0, &bad_ds), "NULL seqs");
        CHECK_ERR(dnabert_dataset_from_arrays(s1, NULL, y1, 1, NULL, 0, &bad_ds), "NULL lens");
        CHECK_ERR(dnabert_dataset_from_arrays(s1, l1, NULL, 1, NULL, 0, &bad_ds), "NULL labels");
        CHECK_ERR(dnabert_dataset_from_arrays(s1, l1, y0, 2, NULL, 0, &bad_ds), "a NULL label");
        CHECK_ERR(dnabert_dataset_from_arrays(s1, l1, y1, 0, NULL, 0, &bad_ds), "n = 0");
        CHECK_ERR(dnabert_dataset_from_arrays(s1, l1, y1, (size_t)-1, NULL, 0, &bad_ds), "huge n");
        CHECK_ERR(dnabert_dataset_from_arrays(s1, l1, y1, 1, NULL, 9, &bad_ds), "bad problem type");
        CHECK_ERR(dnabert_dataset_from_arrays(s1, l1, y1, 1, (dnabert_dataset *)model, 0, &bad_ds),
                  "a model handle as a dataset");
    }
    CHECK_ERR(dnabert_dataset_get_info(NULL, &di), "NULL dataset");
    CHECK_ERR(dnabert_dataset_get_info(train, NULL), "NULL info");
    CHECK_ERR(dnabert_dataset_labels(train, NULL, 2000), "NULL labels buffer");
    CHECK_ERR(dnabert_dataset_label_name(NULL, 0, name, sizeof name, &name_len), "NULL dataset name");
    dnabert_dataset_free(NULL);

    dnabert_finetune_params q = dnabert_finetune_default_params();
    CHECK_ERR(dnabert_finetuner_create(NULL, train, dev, &q, &bad_ft), "NULL model");
    CHECK_ERR(dnabert_finetuner_create(model, NULL, dev, &q, &bad_ft), "NULL train");
    CHECK_ERR(dnabert_finetuner_create(model, train, dev, &q, NULL), "NULL out");
    CHECK_ERR(dnabert_finetuner_create((dnabert_model *)train, train, dev, &q, &bad_ft), "dataset as a model");
    CHECK_ERR(dnabert_finetuner_create(model, (dnabert_dataset *)model, dev, &q, &bad_ft), "model as a dataset");
    q.struct_size = 3;
    CHECK_ERR(dnabert_finetuner_create(model, train, dev, &q, &bad_ft), "struct_size 3");
    q.struct_size = 1u << 20;
    CHECK_ERR(dnabert_finetuner_create(model, train, dev, &q, &bad_ft), "struct_size too large");
#define BAD_PARAM(field, value, what)                                            \
    do {                                                                         \
        q = dnabert_finetune_default_params();                                   \
        q.field = value;                                                         \
        CHECK_ERR(dnabert_finetuner_create(model, train, dev, &q, &bad_ft), what); \
        CHECK(bad_ft == NULL, "no finetuner after %s", what);                    \
    } while (0)
    BAD_PARAM(pooling, 7, "pooling 7");
    BAD_PARAM(lora_r, -2, "lora_r -2");
    BAD_PARAM(lora_targets, "query,value", "unknown LoRA targets");
    BAD_PARAM(lora_targets, "", "empty LoRA targets");
    BAD_PARAM(batch_size, 0, "batch 0");
    BAD_PARAM(batch_size, -5, "batch -5");
    BAD_PARAM(grad_accum, 0, "grad_accum 0");
    BAD_PARAM(epochs, 0, "epochs 0");
    BAD_PARAM(epochs, NAN, "epochs NaN");
    BAD_PARAM(max_steps, -1, "max_steps -1");
    BAD_PARAM(learning_rate, -1, "negative lr");
    BAD_PARAM(learning_rate, INFINITY, "infinite lr");
    BAD_PARAM(max_grad_norm, NAN, "NaN clipping");
    BAD_PARAM(max_length, 2, "max_length 2");
    BAD_PARAM(n_threads, -3, "negative threads");
    BAD_PARAM(select_by, "auc", "select_by auc");
    BAD_PARAM(select_by, "pearson", "select_by pearson on classification");
    BAD_PARAM(eval_every, -1, "eval_every -1");
    BAD_PARAM(lora_alpha, NAN, "lora_alpha NaN");
    BAD_PARAM(lora_dropout, 1.5, "lora_dropout 1.5");
    BAD_PARAM(dropout, 2.0, "dropout 2");
    BAD_PARAM(reverse_complement, 2, "reverse_complement 2");
    {   /* strand-symmetric: a sequence and its reverse complement (made here) get the same scores */
        q = dnabert_finetune_default_params();
        q.max_steps = 2;
        q.reverse_complement = 1;
        dnabert_finetuner *rft = NULL;
        dnabert_classifier *rclf = NULL;
        CHECK(dnabert_finetuner_create(model, train, dev, &q, &rft) == DNABERT_OK && rft, "strand-symmetric finetuner");
        CHECK(dnabert_finetuner_run(rft, NULL, NULL) == DNABERT_OK, "strand-symmetric run");
        CHECK(dnabert_finetuner_classifier(rft, &rclf) == DNABERT_OK, "strand-symmetric classifier");
        dnabert_classifier_info ri = { .struct_size = sizeof ri };
        CHECK(dnabert_classifier_get_info(rclf, &ri) == DNABERT_OK && ri.reverse_complement == 1, "info: reverse_complement");
        enum { NR = 8 };
        char *rc[NR];
        size_t rlens[NR];
        for (size_t i = 0; i < NR; i++) {
            size_t n = strlen(tseqs[i]);
            rc[i] = malloc(n + 1);
            for (size_t k = 0; k < n; k++) {
                char b = tseqs[i][n - 1 - k];
                rc[i][k] = b == 'A' ? 'T' : b == 'T' ? 'A' : b == 'C' ? 'G' : b == 'G' ? 'C' : b;
            }
            rc[i][n] = 0;
            rlens[i] = n;
        }
        float pf[NR * 2], pr[NR * 2];
        CHECK(dnabert_classifier_predict(rclf, (const char *const *)tseqs, rlens, NR, NULL, pf) == DNABERT_OK &&
                  dnabert_classifier_predict(rclf, (const char *const *)rc, rlens, NR, NULL, pr) == DNABERT_OK,
              "predict both strands");
        double d = 0;
        for (size_t i = 0; i < NR * 2; i++) d = fmax(d, fabs((double)pf[i] - pr[i]));
        CHECK(d < 1e-6, "a sequence and its reverse complement score alike: max diff %g", d);
        for (size_t i = 0; i < NR; i++) free(rc[i]);
        dnabert_classifier_free(rclf);
        dnabert_finetuner_free(rft);
        /* a caller built against the header before reverse_complement existed: the field is not read, it keeps
           its default (auto since 0.2.0), which turns strand symmetry on for coding_200 (a random strand) */
        q = dnabert_finetune_default_params();
        q.max_steps = 1;
        q.reverse_complement = 77;
        q.struct_size = (uint32_t)offsetof(dnabert_finetune_params, reverse_complement);
        rft = NULL;
        CHECK(dnabert_finetuner_create(model, train, NULL, &q, &rft) == DNABERT_OK, "older struct_size accepted");
        CHECK(dnabert_finetuner_classifier(rft, &rclf) == DNABERT_OK && dnabert_classifier_get_info(rclf, &ri) == DNABERT_OK &&
                  ri.reverse_complement == 1, "older struct: the default (auto) applies");
        dnabert_classifier_free(rclf);
        dnabert_finetuner_free(rft);
    }
    {   /* class weights apply to single-label only; dev of another schema */
        const char *s[3] = {"ACGTACGTAA", "GGCATTGACA", "TTTACGGATC"};
        size_t l[3] = {10, 10, 10};
        const char *yr[3] = {"0.5", "-1.25", "3"};
        dnabert_dataset *reg = NULL;
        CHECK(dnabert_dataset_from_arrays(s, l, yr, 3, NULL, 0, &reg) == DNABERT_OK, "regression set");
        q = dnabert_finetune_default_params();
        q.use_class_weights = 1;
        CHECK_ERR(dnabert_finetuner_create(model, reg, NULL, &q, &bad_ft), "class weights on regression");
        q = dnabert_finetune_default_params();
        CHECK_ERR(dnabert_finetuner_create(model, train, reg, &q, &bad_ft), "dev with another schema");
        dnabert_dataset_free(reg);
    }
    CHECK_ERR(dnabert_finetuner_step(NULL, &m), "NULL finetuner step");
    CHECK_ERR(dnabert_finetuner_run(NULL, NULL, NULL), "NULL finetuner run");
    CHECK_ERR(dnabert_finetuner_get_info(ft, NULL), "NULL finetuner info");
    CHECK_ERR(dnabert_finetuner_classifier(NULL, &bad_clf), "NULL finetuner classifier");
    CHECK_ERR(dnabert_finetuner_classifier(ft, NULL), "NULL out classifier");

    CHECK_ERR(dnabert_classifier_predict(NULL, (const char *const *)tseqs, lens, 2, NULL, prob), "NULL classifier");
    CHECK_ERR(dnabert_classifier_predict(clf, NULL, lens, 2, NULL, prob), "NULL seqs");
    CHECK_ERR(dnabert_classifier_predict(clf, (const char *const *)tseqs, NULL, 2, NULL, prob), "NULL lens");
    CHECK_ERR(dnabert_classifier_predict(clf, (const char *const *)tseqs, lens, 2, NULL, NULL), "NULL out");
    dnabert_forward_params neg_threads = dnabert_forward_default_params();
    neg_threads.n_threads = -1;
    CHECK_ERR(dnabert_classifier_predict(clf, (const char *const *)tseqs, lens, 2, &neg_threads, prob), "negative threads");
    CHECK_ERR(dnabert_classifier_predict(clf, (const char *const *)tseqs, lens, (size_t)-1, NULL, prob), "huge n");
    CHECK(dnabert_classifier_predict(clf, NULL, NULL, 0, NULL, NULL) == DNABERT_OK, "n = 0 is fine");
    CHECK_ERR(dnabert_classifier_logits(clf, NULL, mask, NP, L, NULL, logits), "NULL ids");
    CHECK_ERR(dnabert_classifier_logits(clf, ids, mask, 0, L, NULL, logits), "batch 0");
    CHECK_ERR(dnabert_classifier_logits(clf, ids, mask, NP, 0, NULL, logits), "length 0");
    CHECK_ERR(dnabert_classifier_logits(clf, ids, mask, NP, L, NULL, NULL), "NULL logits out");
    ids[3] = 1 << 30;
    CHECK_ERR(dnabert_classifier_logits(clf, ids, mask, NP, L, NULL, logits), "id outside the vocabulary");
    ids[3] = -7;
    CHECK_ERR(dnabert_classifier_logits(clf, ids, mask, NP, L, NULL, logits), "negative id");
    CHECK_ERR(dnabert_classifier_evaluate(clf, NULL, NULL, &ev, NULL), "NULL data");
    CHECK_ERR(dnabert_classifier_evaluate(clf, test, NULL, NULL, NULL), "NULL result");
    CHECK_ERR(dnabert_classifier_evaluate(NULL, test, NULL, &ev, NULL), "NULL classifier evaluate");
    CHECK_ERR(dnabert_classifier_get_info(NULL, &ci), "NULL classifier info");
    CHECK_ERR(dnabert_classifier_label_name(clf, 2, name, sizeof name, &name_len), "classifier label 2");
    CHECK_ERR(dnabert_classifier_save(clf, NULL), "NULL dir");
    CHECK_ERR(dnabert_classifier_save(NULL, dir), "NULL classifier save");
    CHECK_ERR(dnabert_classifier_save(clf, "/nonexistent/a/b"), "unwritable dir");
    CHECK_ERR(dnabert_classifier_merged_model(clf, NULL), "NULL merged out");
    CHECK_ERR(dnabert_classifier_load(model, NULL, &bad_clf), "NULL load dir");
    CHECK_ERR(dnabert_classifier_load(model, dir, NULL), "NULL load out");
    CHECK_ERR(dnabert_classifier_load(model, "/nonexistent/adapter", &bad_clf), "missing adapter");
    snprintf(path, sizeof path, "%s/empty", dir);
    mkdir(path, 0755);
    CHECK_CODE(dnabert_classifier_load(model, path, &bad_clf), DNABERT_ERR_NOT_FOUND, "an empty directory");
    /* corrupt adapters */
    snprintf(path, sizeof path, "%s/adapter/adapter_model.safetensors", dir);
    write_file(path, "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":");
    snprintf(path, sizeof path, "%s/adapter", dir);
    CHECK_ERR(dnabert_classifier_load(model, path, &bad_clf), "truncated safetensors");
    snprintf(path, sizeof path, "%s/adapter/adapter_config.json", dir);
    write_file(path, "{\"peft_type\": \"LORA\", \"r\": ");
    snprintf(path, sizeof path, "%s/adapter", dir);
    CHECK_ERR(dnabert_classifier_load(model, path, &bad_clf), "truncated adapter_config.json");
    snprintf(path, sizeof path, "%s/adapter/adapter_config.json", dir);
    write_file(path, "{\"peft_type\": \"LORA\", \"task_type\": \"SEQ_CLS\", \"r\": -4, \"lora_alpha\": 8}");
    snprintf(path, sizeof path, "%s/adapter", dir);
    CHECK_ERR(dnabert_classifier_load(model, path, &bad_clf), "negative r");
    snprintf(path, sizeof path, "%s/adapter/dnabert_classifier.json", dir);
    write_file(path, "[1, 2");
    snprintf(path, sizeof path, "%s/adapter", dir);
    CHECK_ERR(dnabert_classifier_load(model, path, &bad_clf), "corrupt dnabert_classifier.json");
    CHECK(bad_clf == NULL, "no classifier on error");

    /* freed handles */
    dnabert_classifier_free(clf2);
    CHECK_ERR(dnabert_classifier_predict(clf2, (const char *const *)tseqs, lens, 2, NULL, prob), "freed classifier");
    CHECK_ERR(dnabert_classifier_get_info(clf2, &ci), "freed classifier info");
    dnabert_finetuner_free(ft);
    CHECK_ERR(dnabert_finetuner_step(ft, &m), "freed finetuner");
    CHECK_ERR(dnabert_finetuner_get_info(ft, &fi), "freed finetuner info");
    /* the classifier handle outlives its finetuner */
    CHECK(dnabert_classifier_predict(clf, (const char *const *)tseqs, lens, NP, NULL, prob2) == DNABERT_OK &&
              memcmp(prob, prob2, sizeof prob) == 0, "classifier after its finetuner was freed");
    dnabert_dataset_free(test);
    CHECK_ERR(dnabert_classifier_evaluate(clf, test, NULL, &ev, NULL), "freed dataset");
    dnabert_classifier_free(clf);
    CHECK_ERR(dnabert_classifier_save(clf, dir), "freed classifier save");
    dnabert_classifier_free(clf);    /* double free of a handle is ignored */
    dnabert_finetuner_free(NULL);
    dnabert_classifier_free(NULL);

    dnabert_dataset_free(train);
    dnabert_dataset_free(dev);
    dnabert_tokenizer_free(tok);
    dnabert_model_free(model);
    free(ids);
    free(mask);
    free(lab);
    free(scores);
    for (size_t i = 0; i < n_test; i++) free(tseqs[i]);
    return REPORT();
}
