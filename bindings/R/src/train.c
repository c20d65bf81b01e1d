/*
 * .Call shim for tokenizer training, with the progress callback bridged to R (progress.c).
 *
 * The library calls the progress callback on the thread that started training (R's main thread), from
 * inside Swift code. An R error, a user interrupt or any other R jump (e.g. an outer tryCatch handler)
 * must never longjmp across those Swift frames. So the R work in the callback (the user's progress
 * function, the Ctrl-C check) runs under R_UnwindProtect: if R starts to unwind, the cleanup jumps back
 * into the callback, which returns non-zero; the library cancels cleanly and returns; only then is R's
 * unwind resumed with R_ContinueUnwind. The user sees their own error (or the interrupt) as usual, and
 * calling handlers such as suppressMessages() keep working for progress messages.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <R.h>
#include <Rinternals.h>

#include "dnabert.h"
#include "dnabert_r.h"

static int int_arg(SEXP x, const char *what) {
    if (TYPEOF(x) != INTSXP || XLENGTH(x) != 1 || INTEGER(x)[0] == NA_INTEGER)
        Rf_error("'%s' must be a single non-NA integer", what);
    return INTEGER(x)[0];
}

/*
 * files: character vector of FASTA paths, or NULL; seqs: character vector of sequences, or NULL
 * (exactly one is given). word_length NA = library default. max_bases is a double (int64 range).
 */
SEXP dnabert_r_train(SEXP files, SEXP seqs, SEXP vocab_size, SEXP min_frequency, SEXP max_token_length,
                     SEXP word_length, SEXP case_policy, SEXP non_acgt_policy, SEXP threads, SEXP max_bases,
                     SEXP progress) {
    if ((files == R_NilValue) == (seqs == R_NilValue)) Rf_error("give either 'files' or 'sequences'");
    dnabert_bpe_train_params params = dnabert_bpe_train_default_params();
    params.vocab_size = int_arg(vocab_size, "vocab_size");
    params.min_frequency = int_arg(min_frequency, "min_frequency");
    params.max_token_length = int_arg(max_token_length, "max_token_length");
    if (TYPEOF(word_length) != INTSXP || XLENGTH(word_length) != 1) Rf_error("'word_length' must be one integer");
    if (INTEGER(word_length)[0] != NA_INTEGER) params.word_length = INTEGER(word_length)[0];
    params.case_policy = int_arg(case_policy, "case");
    params.non_acgt_policy = int_arg(non_acgt_policy, "non_acgt");
    params.n_threads = int_arg(threads, "threads");
    if (TYPEOF(max_bases) != REALSXP || XLENGTH(max_bases) != 1 || !R_FINITE(REAL(max_bases)[0]) ||
        REAL(max_bases)[0] < 0 || REAL(max_bases)[0] > 9.0e18)
        Rf_error("'max_bases' must be a single non-negative number");
    params.max_bases = (int64_t)REAL(max_bases)[0];
    if (progress != R_NilValue && !Rf_isFunction(progress)) Rf_error("'progress' must be a function or NULL");

    dnabert_r_progress_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.fn = progress;
    ctx.r_thread = pthread_self();
    ctx.unwind_token = PROTECT(R_MakeUnwindCont());
    params.progress = dnabert_r_progress_bridge;
    params.progress_user_data = &ctx;

    SEXP src = files != R_NilValue ? files : seqs;
    if (TYPEOF(src) != STRSXP) Rf_error("'%s' must be a character vector", files != R_NilValue ? "files" : "sequences");
    R_xlen_t n = XLENGTH(src);
    const char **ptrs = (const char **)R_alloc(n > 0 ? (size_t)n : 1, sizeof(char *));
    size_t *lens = (size_t *)R_alloc(n > 0 ? (size_t)n : 1, sizeof(size_t));
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP s = STRING_ELT(src, i);
        if (s == NA_STRING) Rf_error("NA at position %.0f", (double)(i + 1));
        if (files != R_NilValue) {
            /* R_ExpandFileName returns a static buffer: copy each path. */
            const char *e = R_ExpandFileName(CHAR(s));
            size_t l = strlen(e);
            char *copy = R_alloc(l + 1, 1);
            memcpy(copy, e, l + 1);
            ptrs[i] = copy;
            lens[i] = l;
        } else {
            ptrs[i] = CHAR(s);
            lens[i] = (size_t)LENGTH(s);
        }
    }

    SEXP ptr = PROTECT(dnabert_r_new_tokenizer_ptr());
    dnabert_tokenizer *tok = NULL;
    int status = files != R_NilValue ? dnabert_tokenizer_train(ptrs, (size_t)n, &params, &tok)
                                     : dnabert_tokenizer_train_from_sequences(ptrs, lens, (size_t)n, &params, &tok);
    char msg[2048];
    if (status != DNABERT_OK) dnabert_r_save_error(status, msg, sizeof msg);
    if (ctx.reason == DNABERT_R_PROGRESS_R_UNWIND) {
        /* The library has returned: now let R finish the error/interrupt/jump it started. */
        if (tok != NULL) dnabert_tokenizer_free(tok);
        R_ContinueUnwind(ctx.unwind_token);
    }
    if (status != DNABERT_OK) {
        if (tok != NULL) dnabert_tokenizer_free(tok); /* the header says nothing is created; be safe */
        if (status == DNABERT_ERR_CANCELLED && ctx.reason == DNABERT_R_PROGRESS_USER_CANCEL)
            Rf_error("tokenizer training cancelled: the progress function returned FALSE (%s)", msg);
        Rf_error("%s", msg);
    }
    R_SetExternalPtrAddr(ptr, tok);
    UNPROTECT(2);
    return ptr;
}
