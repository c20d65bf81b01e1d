/*
 * The progress callback bridge between libdnabert and R, shared by tokenizer training and model embedding.
 *
 * The library calls the progress callback on the thread that started the operation (R's main thread), from
 * inside Swift code. An R error, a user interrupt or any other R jump (e.g. an outer tryCatch handler)
 * must never longjmp across those Swift frames. So the R work in the callback (the user's progress
 * function, the Ctrl-C check) runs under R_UnwindProtect: if R starts to unwind, the cleanup jumps back
 * into the callback, which returns non-zero; the library cancels cleanly and returns; only then is R's
 * unwind resumed with R_ContinueUnwind (by the caller, see train.c / model.c). The user sees their own
 * error (or the interrupt) as usual, and calling handlers such as suppressMessages() keep working for
 * progress messages.
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


static void protected_cleanup(void *data, Rboolean jump) {
    if (jump) longjmp(*(jmp_buf *)data, 1); /* back into the bridge, stopping R's unwind for now */
}

/* Calls body(data); returns 0 if R started to unwind (the jump is parked in token). */
static int run_protected(SEXP (*body)(void *), void *data, SEXP token) {
    jmp_buf env;
    if (setjmp(env)) return 0;
    R_UnwindProtect(body, data, protected_cleanup, &env, token);
    return 1;
}

/* Only an explicit FALSE stops; NULL/invisible results (e.g. from setTxtProgressBar) continue. */
static int result_keeps_going(SEXP res) {
    return !(TYPEOF(res) == LGLSXP && XLENGTH(res) == 1 && LOGICAL(res)[0] == FALSE);
}

/* Runs under R_UnwindProtect: any R error/interrupt/jump in here is intercepted. */
static SEXP progress_body(void *data) {
    dnabert_r_progress_ctx *c = (dnabert_r_progress_ctx *)data;
    R_CheckUserInterrupt();
    if (!c->call_fn) return R_NilValue;
    const dnabert_progress *p = c->p;
    SEXP stage = PROTECT(Rf_mkString(p->stage != NULL ? p->stage : ""));
    SEXP cur = PROTECT(Rf_ScalarReal((double)p->current));
    SEXP tot = PROTECT(Rf_ScalarReal(p->total < 0 ? NA_REAL : (double)p->total));
    SEXP ela = PROTECT(Rf_ScalarReal(p->elapsed_seconds));
    SEXP eta = PROTECT(Rf_ScalarReal(p->eta_seconds < 0 ? NA_REAL : p->eta_seconds));
    SEXP call = PROTECT(Rf_lang6(c->fn, stage, cur, tot, ela, eta));
    SEXP res = PROTECT(Rf_eval(call, R_GlobalEnv));
    c->keep_going = result_keeps_going(res);
    UNPROTECT(7);
    return R_NilValue;
}


int dnabert_r_progress_bridge(void *user_data, const dnabert_progress *p) {
    dnabert_r_progress_ctx *c = (dnabert_r_progress_ctx *)user_data;
    if (c->reason != DNABERT_R_PROGRESS_OK) return 1;
    /* The header promises the starting thread; if a report ever came from another one, calling R there
     * would corrupt it, so such reports are ignored. */
    if (p == NULL || !pthread_equal(pthread_self(), c->r_thread)) return 0;
    /* Throttle calls into R: on a new stage, at the end of a stage, or every 0.1 s. */
    const char *stage = p->stage != NULL ? p->stage : "";
    int new_stage = !c->called_once || strncmp(stage, c->last_stage, sizeof c->last_stage - 1) != 0;
    int done = p->total >= 0 && p->current >= p->total;
    c->call_fn = c->fn != R_NilValue && (new_stage || done || p->elapsed_seconds - c->last_call >= 0.1);
    if (c->call_fn) {
        snprintf(c->last_stage, sizeof c->last_stage, "%s", stage);
        c->last_call = p->elapsed_seconds;
        c->called_once = 1;
    }
    c->p = p;
    c->keep_going = 1;
    if (!run_protected(progress_body, c, c->unwind_token)) {
        c->reason = DNABERT_R_PROGRESS_R_UNWIND;
        return 1;
    }
    if (!c->keep_going) {
        c->reason = DNABERT_R_PROGRESS_USER_CANCEL;
        return 1;
    }
    return 0;
}

double dnabert_r_na_if_nan(double x) { return isnan(x) ? NA_REAL : x; }

void dnabert_r_step_init(dnabert_r_step_ctx *c, SEXP fn, const char *const *names, int n,
                         void (*fill)(const void *, double *)) {
    memset(c, 0, sizeof *c);
    c->fn = fn;
    c->n = n;
    c->fill = fill;
    c->names = PROTECT(Rf_allocVector(STRSXP, n));
    for (int i = 0; i < n; i++) SET_STRING_ELT(c->names, i, Rf_mkChar(names[i]));
    c->r_thread = pthread_self();
    c->unwind_token = PROTECT(R_MakeUnwindCont());
}

/* Runs under R_UnwindProtect. */
static SEXP step_body(void *data) {
    dnabert_r_step_ctx *c = (dnabert_r_step_ctx *)data;
    R_CheckUserInterrupt();
    if (c->fn == R_NilValue) return R_NilValue;
    SEXP v = PROTECT(Rf_allocVector(REALSXP, c->n));
    c->fill(c->m, REAL(v));
    Rf_setAttrib(v, R_NamesSymbol, c->names);
    SEXP call = PROTECT(Rf_lang2(c->fn, v));
    SEXP res = PROTECT(Rf_eval(call, R_GlobalEnv));
    c->keep_going = result_keeps_going(res);
    UNPROTECT(3);
    return R_NilValue;
}

int dnabert_r_step_bridge(dnabert_r_step_ctx *c, const void *metrics) {
    if (c->reason != DNABERT_R_PROGRESS_OK) return 1;
    /* R may only be touched from its own thread (the header promises the calling thread). */
    if (metrics == NULL || !pthread_equal(pthread_self(), c->r_thread)) return 0;
    c->m = metrics;
    c->keep_going = 1;
    if (!run_protected(step_body, c, c->unwind_token)) {
        c->reason = DNABERT_R_PROGRESS_R_UNWIND;
        return 1;
    }
    if (!c->keep_going) {
        c->reason = DNABERT_R_PROGRESS_USER_CANCEL;
        return 1;
    }
    return 0;
}
