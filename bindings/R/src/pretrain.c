/*
 * .Call shim for masked-language-model pretraining (include/dnabert.h, section "pretraining").
 *
 * One call creates the trainer, runs it to the last step and frees it, so no trainer handle ever reaches R.
 * The per-step callback is bridged to R like the progress callbacks (progress.c): the R work (the
 * package's closure that records the history and drives the progress bar / the user's function, plus the
 * Ctrl-C check) runs under R_UnwindProtect. If R starts to unwind (an error in the user's function, an
 * interrupt, a jump to an outer handler), the cleanup jumps back into the callback, which returns non-zero;
 * the library writes a checkpoint and returns DNABERT_ERR_CANCELLED; the trainer is freed; only then is
 * R's unwind resumed with R_ContinueUnwind. Nothing ever longjmps across the library's frames.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <R.h>
#include <Rinternals.h>
#include <R_ext/Utils.h>

#include "dnabert.h"
#include "dnabert_r.h"

enum { N_METRICS = 11 };
static const char *metric_names[N_METRICS] = {
    "step", "total_steps", "tokens", "loss", "learning_rate", "grad_norm",
    "tokens_per_second", "elapsed_seconds", "eta_seconds", "validation_loss", "validation_accuracy"};



/* The metrics struct as the named vector's values. */
static void fill_metrics(const void *metrics, double *p) {
    const dnabert_pretrain_metrics *m = (const dnabert_pretrain_metrics *)metrics;
    p[0] = (double)m->step;
    p[1] = (double)m->total_steps;
    p[2] = (double)m->tokens;
    p[3] = dnabert_r_na_if_nan(m->loss);
    p[4] = dnabert_r_na_if_nan(m->learning_rate);
    p[5] = dnabert_r_na_if_nan(m->grad_norm);
    p[6] = dnabert_r_na_if_nan(m->tokens_per_second);
    p[7] = dnabert_r_na_if_nan(m->elapsed_seconds);
    p[8] = m->eta_seconds < 0 ? NA_REAL : dnabert_r_na_if_nan(m->eta_seconds);
    p[9] = dnabert_r_na_if_nan(m->validation_loss);
    p[10] = dnabert_r_na_if_nan(m->validation_accuracy);
}

static int step_bridge(void *user_data, const dnabert_pretrain_metrics *m) {
    return dnabert_r_step_bridge((dnabert_r_step_ctx *)user_data, m);
}

static dnabert_model *mutable_model(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != Rf_install("dnabert_model"))
        Rf_error("not a dnabert model handle");
    dnabert_model *m = (dnabert_model *)R_ExternalPtrAddr(ptr);
    if (m == NULL)
        Rf_error("this dnabert model is no longer valid: it was freed, or restored from a saved R session; "
                 "load it again with dnabert_model()");
    return m;
}

static const char *copy_path(SEXP s) {
    const char *e = R_ExpandFileName(CHAR(s));
    size_t l = strlen(e);
    char *copy = R_alloc(l + 1, 1);
    memcpy(copy, e, l + 1);
    return copy;
}

/*
 * ints: steps, batch_size, grad_accum, seq_len, warmup_steps, eval_every, checkpoint_every, keep_checkpoints,
 *       validation_windows, drop_windows_with_n, reverse_complement, resume, n_threads (13 integers);
 * dbls: learning_rate, dropout, max_grad_norm (3 doubles); seed: a whole double in [0, 2^53];
 * callback: function(named double vector of the step's metrics) or NULL.
 * Returns list(cancelled = TRUE/FALSE, message = the library's message when cancelled).
 */
SEXP dnabert_r_pretrain(SEXP model, SEXP files, SEXP out, SEXP ints, SEXP dbls, SEXP seed, SEXP callback) {
    dnabert_model *mdl = mutable_model(model);
    if (TYPEOF(files) != STRSXP || XLENGTH(files) < 1) Rf_error("'files' must be a non-empty character vector");
    if (TYPEOF(out) != STRSXP || XLENGTH(out) != 1 || STRING_ELT(out, 0) == NA_STRING)
        Rf_error("'out' must be a single non-NA string");
    if (TYPEOF(ints) != INTSXP || XLENGTH(ints) != 14) Rf_error("internal: 14 integer parameters expected");
    if (TYPEOF(dbls) != REALSXP || XLENGTH(dbls) != 3) Rf_error("internal: 3 double parameters expected");
    for (int i = 0; i < 14; i++)
        if (INTEGER(ints)[i] == NA_INTEGER) Rf_error("internal: NA integer parameter %d", i + 1);
    if (TYPEOF(seed) != REALSXP || XLENGTH(seed) != 1 || !R_FINITE(REAL(seed)[0]) || REAL(seed)[0] < 0 ||
        REAL(seed)[0] > 9007199254740992.0 || REAL(seed)[0] != floor(REAL(seed)[0]))
        Rf_error("'seed' must be a whole number in [0, 2^53]");
    if (callback != R_NilValue && !Rf_isFunction(callback)) Rf_error("'callback' must be a function or NULL");

    dnabert_pretrain_params p = dnabert_pretrain_default_params();
    const int *iv = INTEGER(ints);
    p.steps = iv[0];
    p.batch_size = iv[1];
    p.grad_accum = iv[2];
    p.seq_len = iv[3];
    p.warmup_steps = iv[4];
    p.eval_every = iv[5];
    p.checkpoint_every = iv[6];
    p.keep_checkpoints = iv[7];
    p.validation_windows = iv[8];
    p.drop_windows_with_n = iv[9] ? 1 : 0;
    p.reverse_complement = iv[10] ? 1 : 0;
    p.resume = iv[11] ? 1 : 0;
    p.n_threads = iv[12];
    p.distributed = iv[13] ? 1 : 0;
    p.learning_rate = REAL(dbls)[0];
    p.dropout = REAL(dbls)[1];
    p.max_grad_norm = REAL(dbls)[2];
    p.seed = (uint64_t)REAL(seed)[0];

    R_xlen_t n = XLENGTH(files);
    const char **paths = (const char **)R_alloc((size_t)n, sizeof(char *));
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP s = STRING_ELT(files, i);
        if (s == NA_STRING) Rf_error("'files' contains NA at position %.0f", (double)(i + 1));
        paths[i] = copy_path(s);
    }
    const char *out_dir = copy_path(STRING_ELT(out, 0));

    dnabert_r_step_ctx ctx;
    dnabert_r_step_init(&ctx, callback, metric_names, N_METRICS, fill_metrics);   /* 2 PROTECTs */

    /* From here until dnabert_trainer_free, no R error may be raised (it would leak the trainer). */
    char msg[2048];
    dnabert_trainer *trainer = NULL;
    int status = dnabert_trainer_create(mdl, paths, (size_t)n, out_dir, &p, &trainer);
    if (status != DNABERT_OK) {
        dnabert_r_save_error(status, msg, sizeof msg);
        if (trainer != NULL) dnabert_trainer_free(trainer);
        Rf_error("%s", msg);
    }
    status = dnabert_trainer_run(trainer, step_bridge, &ctx);
    if (status != DNABERT_OK) dnabert_r_save_error(status, msg, sizeof msg);
    dnabert_trainer_free(trainer);

    if (ctx.reason == DNABERT_R_PROGRESS_R_UNWIND) R_ContinueUnwind(ctx.unwind_token);
    int cancelled = status == DNABERT_ERR_CANCELLED && ctx.reason == DNABERT_R_PROGRESS_USER_CANCEL;
    if (status != DNABERT_OK && !cancelled) Rf_error("%s", msg);

    SEXP res = PROTECT(Rf_allocVector(VECSXP, 2));
    SET_VECTOR_ELT(res, 0, Rf_ScalarLogical(cancelled));
    SET_VECTOR_ELT(res, 1, Rf_mkString(cancelled ? msg : ""));
    SEXP rn = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_STRING_ELT(rn, 0, Rf_mkChar("cancelled"));
    SET_STRING_ELT(rn, 1, Rf_mkChar("message"));
    Rf_setAttrib(res, R_NamesSymbol, rn);
    UNPROTECT(4);
    return res;
}
