/*
 * .Call shims for fine-tuning sequence classifiers (include/dnabert.h, section "fine-tuning for sequence
 * classification").
 *
 * Datasets and the fine-tuner never reach R: one call builds the datasets (from CSV/TSV paths or from
 * sequence + label character vectors), runs the fine-tuner to its end, evaluates the test set, frees
 * everything but the classifier and returns it in an external pointer with a finalizer. The per-step callback
 * is bridged to R as in pretrain.c: the R work runs under R_UnwindProtect, an R jump (error in the user's
 * function, Ctrl-C, an outer handler) makes the callback return non-zero, the library stops, the handles are
 * freed, and only then is R's unwind resumed. Nothing longjmps across the library's frames, and no R error is
 * raised while a library handle would leak.
 *
 * Data arguments (train/dev/test/data) are either a single string (a path) or a list(sequences, labels) of two
 * character vectors of the same length. Label strings are passed as a CSV label field would be.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <R.h>
#include <Rinternals.h>
#include <R_ext/Utils.h>

#include "dnabert.h"
#include "dnabert_r.h"

#define CHECK(call)                                                                                          \
    do {                                                                                                     \
        int status_ = (call);                                                                                \
        if (status_ != DNABERT_OK) dnabert_r_fail(status_);                                                  \
    } while (0)

/* ---- classifier handles -------------------------------------------------------------------------- */

static SEXP classifier_tag(void) { return Rf_install("dnabert_classifier"); }

static void classifier_finalizer(SEXP ptr) {
    dnabert_classifier *c = (dnabert_classifier *)R_ExternalPtrAddr(ptr);
    if (c != NULL) {
        dnabert_classifier_free(c);
        R_ClearExternalPtr(ptr);
    }
}

static SEXP new_classifier_ptr(void) {
    SEXP ptr = PROTECT(R_MakeExternalPtr(NULL, classifier_tag(), R_NilValue));
    R_RegisterCFinalizerEx(ptr, classifier_finalizer, TRUE);
    UNPROTECT(1);
    return ptr;
}

static const dnabert_classifier *classifier_of(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != classifier_tag())
        Rf_error("not a dnabert classifier handle");
    const dnabert_classifier *c = (const dnabert_classifier *)R_ExternalPtrAddr(ptr);
    if (c == NULL)
        Rf_error("this dnabert classifier is no longer valid: it was freed, or restored from a saved R session "
                 "(external pointers do not survive saveRDS/load); load it again with dnabert_classifier_load()");
    return c;
}

static const dnabert_model *base_model_of(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != Rf_install("dnabert_model"))
        Rf_error("not a dnabert model handle");
    const dnabert_model *m = (const dnabert_model *)R_ExternalPtrAddr(ptr);
    if (m == NULL)
        Rf_error("this dnabert model is no longer valid: it was freed, or restored from a saved R session; "
                 "load it again with dnabert_model()");
    return m;
}

static const char *path_arg(SEXP x, const char *what) {
    if (TYPEOF(x) != STRSXP || XLENGTH(x) != 1 || STRING_ELT(x, 0) == NA_STRING)
        Rf_error("'%s' must be a single non-NA string", what);
    const char *e = R_ExpandFileName(CHAR(STRING_ELT(x, 0)));
    size_t l = strlen(e);
    char *copy = R_alloc(l + 1, 1);
    memcpy(copy, e, l + 1);
    return copy;
}

static int threads_arg(SEXP x) {
    if (TYPEOF(x) != INTSXP || XLENGTH(x) != 1 || INTEGER(x)[0] == NA_INTEGER || INTEGER(x)[0] < 0)
        Rf_error("'threads' must be a single non-negative integer");
    return INTEGER(x)[0];
}

SEXP dnabert_r_classifier_free(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != classifier_tag())
        Rf_error("not a dnabert classifier handle");
    classifier_finalizer(ptr);
    return R_NilValue;
}

SEXP dnabert_r_classifier_is_valid(SEXP ptr) {
    return Rf_ScalarLogical(TYPEOF(ptr) == EXTPTRSXP && R_ExternalPtrTag(ptr) == classifier_tag() &&
                            R_ExternalPtrAddr(ptr) != NULL);
}

/* ---- data arguments ------------------------------------------------------------------------------ */

/* A data argument, checked and converted to C arrays (R_alloc) before any library handle exists. */
typedef struct {
    const char *path;          /* non-NULL: read this file */
    const char **seqs;         /* else n sequences and labels */
    size_t *lens;
    const char **labels;
    size_t n;
} data_arg;

static void check_data(SEXP x, const char *what, data_arg *out) {
    memset(out, 0, sizeof *out);
    if (TYPEOF(x) == STRSXP) {
        out->path = path_arg(x, what);
        return;
    }
    if (TYPEOF(x) != VECSXP || XLENGTH(x) != 2)
        Rf_error("'%s' must be a path or list(sequences, labels)", what);
    SEXP s = VECTOR_ELT(x, 0), l = VECTOR_ELT(x, 1);
    if (TYPEOF(s) != STRSXP || TYPEOF(l) != STRSXP) Rf_error("'%s': sequences and labels must be character vectors", what);
    R_xlen_t n = XLENGTH(s);
    if (n < 1) Rf_error("'%s' has no sequences", what);
    if (XLENGTH(l) != n) Rf_error("'%s': %.0f sequences but %.0f labels", what, (double)n, (double)XLENGTH(l));
    out->n = (size_t)n;
    out->seqs = (const char **)R_alloc((size_t)n, sizeof(char *));
    out->lens = (size_t *)R_alloc((size_t)n, sizeof(size_t));
    out->labels = (const char **)R_alloc((size_t)n, sizeof(char *));
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP si = STRING_ELT(s, i), li = STRING_ELT(l, i);
        if (si == NA_STRING) Rf_error("'%s': sequence %.0f is NA", what, (double)(i + 1));
        if (li == NA_STRING) Rf_error("'%s': label %.0f is NA", what, (double)(i + 1));
        out->seqs[i] = CHAR(si);
        out->lens[i] = (size_t)LENGTH(si);
        out->labels[i] = CHAR(li);
    }
}

static int make_dataset(const data_arg *d, const dnabert_dataset *like, int32_t problem, dnabert_dataset **out) {
    *out = NULL;
    if (d->path != NULL) return dnabert_dataset_read(d->path, like, problem, out);
    return dnabert_dataset_from_arrays(d->seqs, d->lens, d->labels, d->n, like, problem, out);
}

/* ---- the classifier's label schema as a dataset ------------------------------------------------ */

typedef struct {
    dnabert_classifier_info info;
    char **names;              /* num_labels label names (malloc'ed), NULL for regression */
} classifier_labels;

static void free_labels(classifier_labels *l) {
    if (l->names != NULL) {
        for (int32_t i = 0; i < l->info.num_labels; i++) free(l->names[i]);
        free(l->names);
        l->names = NULL;
    }
}

/* Info and label names; returns a status (no R error: the caller frees what it holds first). */
static int get_labels(const dnabert_classifier *c, classifier_labels *out) {
    memset(out, 0, sizeof *out);
    out->info.struct_size = sizeof out->info;
    int st = dnabert_classifier_get_info(c, &out->info);
    if (st != DNABERT_OK) return st;
    int32_t k = out->info.num_labels;
    if (k < 1 || k > 100000) return DNABERT_ERR_INVALID_ARGUMENT;
    out->names = (char **)calloc((size_t)k, sizeof(char *));
    if (out->names == NULL) return DNABERT_ERR_OUT_OF_MEMORY;
    for (int32_t i = 0; i < k; i++) {
        size_t len = 0;
        char small[256];
        st = dnabert_classifier_label_name(c, i, small, sizeof small, &len);
        if (st != DNABERT_OK && st != DNABERT_ERR_BUFFER_TOO_SMALL) goto fail;
        out->names[i] = (char *)malloc(len + 1);
        if (out->names[i] == NULL) { st = DNABERT_ERR_OUT_OF_MEMORY; goto fail; }
        if (len < sizeof small) {
            memcpy(out->names[i], small, len + 1);
        } else {
            st = dnabert_classifier_label_name(c, i, out->names[i], len + 1, &len);
            if (st != DNABERT_OK) goto fail;
        }
    }
    return DNABERT_OK;
fail:
    free_labels(out);
    return st;
}

static SEXP eval_vector(const dnabert_eval_result *e) {
    static const char *names[] = {"accuracy", "f1", "mcc", "precision", "recall", "loss", "n",
                                  "pearson", "spearman", "mse", "r2"};
    double v[] = {e->accuracy, e->f1, e->mcc, e->precision, e->recall, e->loss, (double)e->n,
                  e->pearson, e->spearman, e->mse, e->r2};
    SEXP r = PROTECT(Rf_allocVector(REALSXP, 11));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 11));
    for (int i = 0; i < 11; i++) {
        REAL(r)[i] = isnan(v[i]) ? NA_REAL : v[i];
        SET_STRING_ELT(nm, i, Rf_mkChar(names[i]));
    }
    Rf_setAttrib(r, R_NamesSymbol, nm);
    UNPROTECT(2);
    return r;
}

/* ---- fine-tuning ------------------------------------------------------------------------------- */

enum { N_METRICS = 17 };
static const char *metric_names[N_METRICS] = {
    "step", "total_steps", "epoch", "loss", "learning_rate", "grad_norm", "tokens_per_second",
    "elapsed_seconds", "eta_seconds", "dev_loss", "dev_accuracy", "dev_f1", "dev_mcc", "dev_precision",
    "dev_recall", "dev_pearson", "dev_spearman"};



/* The metrics struct as the named vector's values. */
static void fill_metrics(const void *metrics, double *p) {
    const dnabert_finetune_metrics *m = (const dnabert_finetune_metrics *)metrics;
    p[0] = (double)m->step;
    p[1] = (double)m->total_steps;
    p[2] = dnabert_r_na_if_nan(m->epoch);
    p[3] = dnabert_r_na_if_nan(m->loss);
    p[4] = dnabert_r_na_if_nan(m->learning_rate);
    p[5] = dnabert_r_na_if_nan(m->grad_norm);
    p[6] = dnabert_r_na_if_nan(m->tokens_per_second);
    p[7] = dnabert_r_na_if_nan(m->elapsed_seconds);
    p[8] = m->eta_seconds < 0 ? NA_REAL : dnabert_r_na_if_nan(m->eta_seconds);
    p[9] = dnabert_r_na_if_nan(m->dev_loss);
    p[10] = dnabert_r_na_if_nan(m->dev_accuracy);
    p[11] = dnabert_r_na_if_nan(m->dev_f1);
    p[12] = dnabert_r_na_if_nan(m->dev_mcc);
    p[13] = dnabert_r_na_if_nan(m->dev_precision);
    p[14] = dnabert_r_na_if_nan(m->dev_recall);
    p[15] = dnabert_r_na_if_nan(m->dev_pearson);
    p[16] = dnabert_r_na_if_nan(m->dev_spearman);
}

static int step_bridge(void *user_data, const dnabert_finetune_metrics *m) {
    return dnabert_r_step_bridge((dnabert_r_step_ctx *)user_data, m);
}

/*
 * model: base model handle; train: data (see the top); dev, test: data or NULL;
 * ints: lora_r, pooling (DNABERT_POOL_*), max_steps, batch_size, grad_accum, warmup_steps, eval_every,
 *       max_length, n_threads, use_class_weights, problem_type, reverse_complement, distributed (13 integers);
 * dbls: lora_alpha, lora_dropout, epochs, learning_rate, dropout, max_grad_norm, weight_decay (7 doubles);
 * strs: lora_targets, select_by, out_dir ("" = none) (3 strings); seed: whole double in [0, 2^53]; callback: function or NULL.
 * Returns list(classifier, cancelled, message, test (named metrics or NULL), trainable_parameters,
 *              best_step, best_value, max_length, steps_per_epoch, learning_rate).
 */
SEXP dnabert_r_finetune(SEXP model, SEXP train, SEXP dev, SEXP test, SEXP ints, SEXP dbls, SEXP strs, SEXP seed,
                        SEXP callback) {
    const dnabert_model *base = base_model_of(model);
    if (TYPEOF(ints) != INTSXP || XLENGTH(ints) != 13) Rf_error("internal: 13 integer parameters expected");
    if (TYPEOF(dbls) != REALSXP || XLENGTH(dbls) != 7) Rf_error("internal: 7 double parameters expected");
    if (TYPEOF(strs) != STRSXP || XLENGTH(strs) != 3) Rf_error("internal: 3 string parameters expected");
    for (int i = 0; i < 13; i++)
        if (INTEGER(ints)[i] == NA_INTEGER) Rf_error("internal: NA integer parameter %d", i + 1);
    for (int i = 0; i < 3; i++)
        if (STRING_ELT(strs, i) == NA_STRING) Rf_error("internal: NA string parameter %d", i + 1);
    if (TYPEOF(seed) != REALSXP || XLENGTH(seed) != 1 || !R_FINITE(REAL(seed)[0]) || REAL(seed)[0] < 0 ||
        REAL(seed)[0] > 9007199254740992.0 || REAL(seed)[0] != floor(REAL(seed)[0]))
        Rf_error("'seed' must be a whole number in [0, 2^53]");
    if (callback != R_NilValue && !Rf_isFunction(callback)) Rf_error("'callback' must be a function or NULL");
    data_arg dtrain, ddev, dtest;
    check_data(train, "train", &dtrain);
    int has_dev = dev != R_NilValue, has_test = test != R_NilValue;
    if (has_dev) check_data(dev, "dev", &ddev);
    if (has_test) check_data(test, "test", &dtest);

    const int *iv = INTEGER(ints);
    const double *dv = REAL(dbls);
    dnabert_finetune_params p = dnabert_finetune_default_params();
    p.lora_r = iv[0];
    p.pooling = iv[1];
    p.max_steps = iv[2];
    p.batch_size = iv[3];
    p.grad_accum = iv[4];
    p.warmup_steps = iv[5];
    p.eval_every = iv[6];
    p.max_length = iv[7];
    p.n_threads = iv[8];
    p.use_class_weights = iv[9] ? 1 : 0;
    int32_t problem = iv[10];
    p.reverse_complement = iv[11] < 0 ? -1 : (iv[11] ? 1 : 0); /* -1: auto */
    p.distributed = iv[12] ? 1 : 0;
    p.lora_alpha = dv[0];
    p.lora_dropout = dv[1];
    p.epochs = dv[2];
    p.learning_rate = dv[3];
    p.dropout = dv[4];
    p.max_grad_norm = dv[5];
    p.weight_decay = dv[6];
    p.lora_targets = CHAR(STRING_ELT(strs, 0));
    p.select_by = CHAR(STRING_ELT(strs, 1));
    p.out_dir = CHAR(STRING_ELT(strs, 2))[0] ? CHAR(STRING_ELT(strs, 2)) : NULL;
    p.seed = (uint64_t)REAL(seed)[0];

    dnabert_r_step_ctx ctx;
    dnabert_r_step_init(&ctx, callback, metric_names, N_METRICS, fill_metrics);   /* 2 PROTECTs */
    SEXP ptr = PROTECT(new_classifier_ptr());

    /* From here until the handles are freed, no R error may be raised. */
    char msg[2048] = "";
    dnabert_dataset *tr = NULL, *dv_ds = NULL, *te = NULL;
    dnabert_finetuner *ft = NULL;
    dnabert_classifier *clf = NULL;
    dnabert_finetuner_info fi = { .struct_size = sizeof fi };
    dnabert_eval_result ev = { .struct_size = sizeof ev };
    int run_status = DNABERT_OK, evaluated = 0;
    int status = make_dataset(&dtrain, NULL, problem, &tr);
    if (status != DNABERT_OK) goto fail;
    if (has_dev && (status = make_dataset(&ddev, tr, DNABERT_PROBLEM_AUTO, &dv_ds)) != DNABERT_OK) goto fail;
    if (has_test && (status = make_dataset(&dtest, tr, DNABERT_PROBLEM_AUTO, &te)) != DNABERT_OK) goto fail;
    if ((status = dnabert_finetuner_create(base, tr, dv_ds, &p, &ft)) != DNABERT_OK) goto fail;
    run_status = dnabert_finetuner_run(ft, step_bridge, &ctx);
    if (run_status != DNABERT_OK) dnabert_r_save_error(run_status, msg, sizeof msg);
    if (ctx.reason == DNABERT_R_PROGRESS_R_UNWIND) {
        dnabert_finetuner_free(ft);
        dnabert_dataset_free(tr);
        dnabert_dataset_free(dv_ds);
        dnabert_dataset_free(te);
        R_ContinueUnwind(ctx.unwind_token);
    }
    int cancelled = run_status == DNABERT_ERR_CANCELLED && ctx.reason == DNABERT_R_PROGRESS_USER_CANCEL;
    if (run_status != DNABERT_OK && !cancelled) { status = run_status; goto fail_saved; }
    if ((status = dnabert_finetuner_get_info(ft, &fi)) != DNABERT_OK) goto fail;
    if ((status = dnabert_finetuner_classifier(ft, &clf)) != DNABERT_OK) goto fail;
    R_SetExternalPtrAddr(ptr, clf); /* the finalizer owns it from here */
    if (has_test) {
        if ((status = dnabert_finetuner_test(ft, te, &ev)) != DNABERT_OK) goto fail;
        evaluated = 1;
    }
    dnabert_finetuner_free(ft);
    dnabert_dataset_free(tr);
    dnabert_dataset_free(dv_ds);
    dnabert_dataset_free(te);

    const char *rn[] = {"classifier", "cancelled", "message", "test", "trainable_parameters", "best_step",
                        "best_value", "max_length", "steps_per_epoch", "learning_rate"};
    SEXP res = PROTECT(Rf_allocVector(VECSXP, 10));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 10));
    for (int i = 0; i < 10; i++) SET_STRING_ELT(nm, i, Rf_mkChar(rn[i]));
    SET_VECTOR_ELT(res, 0, ptr);
    SET_VECTOR_ELT(res, 1, Rf_ScalarLogical(cancelled));
    SET_VECTOR_ELT(res, 2, Rf_mkString(cancelled ? msg : ""));
    SET_VECTOR_ELT(res, 3, evaluated ? eval_vector(&ev) : R_NilValue);
    SET_VECTOR_ELT(res, 4, Rf_ScalarReal((double)fi.trainable_parameters));
    SET_VECTOR_ELT(res, 5, Rf_ScalarReal(fi.best_step < 0 ? NA_REAL : (double)fi.best_step));
    SET_VECTOR_ELT(res, 6, Rf_ScalarReal(dnabert_r_na_if_nan(fi.best_value)));
    SET_VECTOR_ELT(res, 7, Rf_ScalarInteger(fi.max_length));
    SET_VECTOR_ELT(res, 8, Rf_ScalarReal((double)fi.steps_per_epoch));
    SET_VECTOR_ELT(res, 9, Rf_ScalarReal(dnabert_r_na_if_nan(fi.learning_rate)));
    Rf_setAttrib(res, R_NamesSymbol, nm);
    UNPROTECT(5);
    return res;

fail:
    dnabert_r_save_error(status, msg, sizeof msg);
fail_saved:
    if (ft != NULL) dnabert_finetuner_free(ft);
    dnabert_dataset_free(tr);
    dnabert_dataset_free(dv_ds);
    dnabert_dataset_free(te);
    Rf_error("%s", msg);
    return R_NilValue; /* not reached */
}

/* ---- classifier operations --------------------------------------------------------------------- */

SEXP dnabert_r_classifier_load(SEXP model, SEXP dir) {
    const dnabert_model *base = model == R_NilValue ? NULL : base_model_of(model);
    const char *d = path_arg(dir, "dir");
    SEXP ptr = PROTECT(new_classifier_ptr());
    dnabert_classifier *c = NULL;
    CHECK(dnabert_classifier_load(base, d, &c));
    R_SetExternalPtrAddr(ptr, c);
    UNPROTECT(1);
    return ptr;
}

SEXP dnabert_r_classifier_save(SEXP ptr, SEXP dir) {
    const dnabert_classifier *c = classifier_of(ptr);
    CHECK(dnabert_classifier_save(c, path_arg(dir, "dir")));
    return R_NilValue;
}

SEXP dnabert_r_classifier_info(SEXP ptr) {
    const dnabert_classifier *c = classifier_of(ptr);
    classifier_labels l;
    int st = get_labels(c, &l);
    if (st != DNABERT_OK) dnabert_r_fail(st);
    SEXP labels = PROTECT(Rf_allocVector(STRSXP, l.info.num_labels));
    for (int32_t i = 0; i < l.info.num_labels; i++) SET_STRING_ELT(labels, i, Rf_mkCharCE(l.names[i], CE_UTF8));
    free_labels(&l);
    const char *problems[] = {"auto", "single_label_classification", "multi_label_classification", "regression"};
    int pt = l.info.problem_type >= 0 && l.info.problem_type <= 3 ? l.info.problem_type : 0;
    const char *rn[] = {"num_labels", "problem_type", "pooling", "lora_r", "lora_alpha", "trainable_parameters",
                        "max_length", "has_label_names", "reverse_complement", "labels"};
    SEXP res = PROTECT(Rf_allocVector(VECSXP, 10));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 10));
    for (int i = 0; i < 10; i++) SET_STRING_ELT(nm, i, Rf_mkChar(rn[i]));
    SET_VECTOR_ELT(res, 0, Rf_ScalarInteger(l.info.num_labels));
    SET_VECTOR_ELT(res, 1, Rf_mkString(problems[pt]));
    SET_VECTOR_ELT(res, 2, Rf_mkString(l.info.pooling == DNABERT_POOL_CLS ? "cls" : "mean"));
    SET_VECTOR_ELT(res, 3, Rf_ScalarInteger(l.info.lora_r));
    SET_VECTOR_ELT(res, 4, Rf_ScalarReal(dnabert_r_na_if_nan(l.info.lora_alpha)));
    SET_VECTOR_ELT(res, 5, Rf_ScalarReal((double)l.info.trainable_parameters));
    SET_VECTOR_ELT(res, 6, Rf_ScalarInteger(l.info.max_length));
    SET_VECTOR_ELT(res, 7, Rf_ScalarLogical(l.info.has_label_names != 0));
    SET_VECTOR_ELT(res, 8, Rf_ScalarLogical(l.info.reverse_complement != 0));
    SET_VECTOR_ELT(res, 9, labels);
    Rf_setAttrib(res, R_NamesSymbol, nm);
    UNPROTECT(3);
    return res;
}

/* Scores of the sequences as an R matrix [n, num_labels], with attributes n_long (inputs longer than the
 * classifier's max_length), max_length and longest_tokens. long_inputs: 0 truncate, 1 windows; overlap: tokens
 * shared by windows (-1 = a quarter of the window); pooling: 0 mean, 1 max of the windows' scores. */
SEXP dnabert_r_classifier_predict(SEXP ptr, SEXP x, SEXP threads, SEXP long_inputs, SEXP overlap, SEXP pooling) {
    const dnabert_classifier *c = classifier_of(ptr);
    if (TYPEOF(x) != STRSXP) Rf_error("'sequences' must be a character vector");
    dnabert_predict_params pp = dnabert_predict_default_params();
    pp.n_threads = threads_arg(threads);
    if (TYPEOF(long_inputs) != INTSXP || XLENGTH(long_inputs) != 1 || TYPEOF(overlap) != INTSXP || XLENGTH(overlap) != 1 ||
        TYPEOF(pooling) != INTSXP || XLENGTH(pooling) != 1)
        Rf_error("long_inputs, overlap and pooling must be single integers");
    pp.long_inputs = INTEGER(long_inputs)[0];
    pp.window_overlap = INTEGER(overlap)[0];
    pp.window_pooling = INTEGER(pooling)[0];
    dnabert_classifier_info info = { .struct_size = sizeof info };
    CHECK(dnabert_classifier_get_info(c, &info));
    R_xlen_t n = XLENGTH(x);
    int32_t k = info.num_labels;
    if (k < 1) Rf_error("libdnabert: the classifier has no labels");
    if ((double)n * (double)k > 2147483647.0) Rf_error("too many sequences for one R matrix");
    const char **seqs = (const char **)R_alloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    size_t *lens = (size_t *)R_alloc((size_t)(n > 0 ? n : 1), sizeof(size_t));
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP s = STRING_ELT(x, i);
        if (s == NA_STRING) Rf_error("'sequences' contains NA at position %.0f", (double)(i + 1));
        seqs[i] = CHAR(s);
        lens[i] = (size_t)LENGTH(s);
    }
    float *out = (float *)R_alloc((size_t)(n > 0 ? n : 1) * (size_t)k, sizeof(float));
    dnabert_predict_report rep = { .struct_size = sizeof rep };
    if (n > 0) CHECK(dnabert_classifier_predict_ex(c, seqs, lens, (size_t)n, &pp, out, &rep));
    SEXP m = PROTECT(Rf_allocMatrix(REALSXP, (int)n, k));
    double *r = REAL(m);
    for (R_xlen_t i = 0; i < n; i++)
        for (int32_t j = 0; j < k; j++) r[(R_xlen_t)j * n + i] = (double)out[(size_t)i * (size_t)k + (size_t)j];
    Rf_setAttrib(m, Rf_install("n_long"), Rf_ScalarReal((double)rep.n_long));
    Rf_setAttrib(m, Rf_install("max_length"), Rf_ScalarInteger(rep.max_length));
    Rf_setAttrib(m, Rf_install("longest_tokens"), Rf_ScalarInteger(rep.longest_tokens));
    UNPROTECT(1);
    return m;
}

/* A standalone model with the adapters merged (keeps pooling, strand symmetry, labels, problem type, max length). */
SEXP dnabert_r_classifier_merged_model(SEXP ptr) {
    const dnabert_classifier *c = classifier_of(ptr);
    SEXP out = PROTECT(dnabert_r_new_model_ptr());
    dnabert_model *m = NULL;
    CHECK(dnabert_classifier_merged_model(c, &m));
    R_SetExternalPtrAddr(out, m);
    UNPROTECT(1);
    return out;
}

/* Metrics on labelled data (a path or list(sequences, labels)), read with the classifier's label mapping. */
SEXP dnabert_r_classifier_evaluate(SEXP ptr, SEXP data, SEXP threads) {
    const dnabert_classifier *c = classifier_of(ptr);
    dnabert_forward_params fp = dnabert_forward_default_params();
    fp.n_threads = threads_arg(threads);
    data_arg d;
    check_data(data, "data", &d);
    char msg[2048] = "";
    dnabert_dataset *ds = NULL;
    dnabert_eval_result ev = { .struct_size = sizeof ev };
    int st = d.path != NULL ? dnabert_classifier_read_dataset(c, d.path, &ds)
                            : dnabert_classifier_dataset_from_arrays(c, d.seqs, d.lens, d.labels, d.n, &ds);
    if (st == DNABERT_OK) st = dnabert_classifier_evaluate(c, ds, &fp, &ev, NULL);
    if (st != DNABERT_OK) dnabert_r_save_error(st, msg, sizeof msg);
    dnabert_dataset_free(ds);
    if (st != DNABERT_OK) Rf_error("%s", msg);
    return eval_vector(&ev);
}

/* The library's label decision on a scores matrix [n, k] (as predict returns): single-label → integer vector of
 * 0-based classes; multi-label → integer matrix [n, k] of 0/1. */
SEXP dnabert_r_decide_labels(SEXP problem, SEXP scores) {
    if (TYPEOF(scores) != REALSXP || !Rf_isMatrix(scores)) Rf_error("'scores' must be a numeric matrix");
    int pt = Rf_asInteger(problem);
    int n = Rf_nrows(scores), k = Rf_ncols(scores);
    float *s = (float *)R_alloc((size_t)(n > 0 ? n : 1) * (size_t)(k > 0 ? k : 1), sizeof(float));
    const double *r = REAL(scores);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) s[(size_t)i * (size_t)k + (size_t)j] = (float)r[(R_xlen_t)j * n + i];
    size_t rows = pt == DNABERT_PROBLEM_MULTI_LABEL ? (size_t)k : 1;
    int32_t *out = (int32_t *)R_alloc((size_t)(n > 0 ? n : 1) * rows, sizeof(int32_t));
    CHECK(dnabert_decide_labels((int32_t)pt, s, (size_t)n, (int32_t)k, out));
    SEXP res;
    if (pt == DNABERT_PROBLEM_MULTI_LABEL) {
        res = PROTECT(Rf_allocMatrix(INTSXP, n, k));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) INTEGER(res)[(R_xlen_t)j * n + i] = out[(size_t)i * (size_t)k + (size_t)j];
    } else {
        res = PROTECT(Rf_allocVector(INTSXP, n));
        for (int i = 0; i < n; i++) INTEGER(res)[i] = out[i];
    }
    UNPROTECT(1);
    return res;
}
