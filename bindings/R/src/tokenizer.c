/*
 * .Call shims between R and libdnabert's tokenizer API (include/dnabert.h).
 *
 * Thin on purpose: marshal R vectors to C buffers, call the library, check the status, marshal back.
 * Argument checking for users happens in R (the R/ folder); the checks here only keep R from crashing if a shim is
 * called directly with the wrong types.
 *
 * Memory: temporary buffers come from R_alloc, which R releases when the .Call returns or an error
 * unwinds it, so an Rf_error() never leaks them. Library handles are wrapped in an external pointer
 * before the library creates them, so no R allocation can fail between creation and ownership.
 * Errors: the library's message is copied out of dnabert_last_error() right after the failing call,
 * before anything else can overwrite it, and then raised with Rf_error.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <R.h>
#include <Rinternals.h>

#include "dnabert.h"
#include "dnabert_r.h"

/* ---- errors ------------------------------------------------------------------------------------ */

static const char *status_name(int status) {
    switch (status) {
    case DNABERT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case DNABERT_ERR_IO: return "I/O error";
    case DNABERT_ERR_FORMAT: return "format error";
    case DNABERT_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case DNABERT_ERR_OUT_OF_MEMORY: return "out of memory";
    case DNABERT_ERR_CANCELLED: return "cancelled";
    case DNABERT_ERR_UNSUPPORTED: return "unsupported";
    case DNABERT_ERR_NOT_FOUND: return "not found";
    case DNABERT_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

/* Copy the library's message for `status` into `msg` (call right after the failing call). */
void dnabert_r_save_error(int status, char *msg, size_t cap) {
    const char *last = dnabert_last_error();
    if (last != NULL && last[0] != '\0')
        snprintf(msg, cap, "%s", last);
    else
        snprintf(msg, cap, "libdnabert: %s (status %d)", status_name(status), status);
}

/* Raise an R error carrying the library's message. Never returns. */
void dnabert_r_fail(int status) {
    char msg[2048];
    dnabert_r_save_error(status, msg, sizeof msg);
    Rf_error("%s", msg);
}

#define CHECK(call)                                                                                          \
    do {                                                                                                     \
        int status_ = (call);                                                                                \
        if (status_ != DNABERT_OK) dnabert_r_fail(status_);                                                  \
    } while (0)

/* ---- tokenizer handles --------------------------------------------------------------------------- */

static SEXP tokenizer_tag(void) { return Rf_install("dnabert_tokenizer"); }

static void tokenizer_finalizer(SEXP ptr) {
    dnabert_tokenizer *tok = (dnabert_tokenizer *)R_ExternalPtrAddr(ptr);
    if (tok != NULL) {
        dnabert_tokenizer_free(tok);
        R_ClearExternalPtr(ptr);
    }
}

/* A new, empty handle (address NULL) with its finalizer; PROTECTed by the caller. */
SEXP dnabert_r_new_tokenizer_ptr(void) {
    SEXP ptr = PROTECT(R_MakeExternalPtr(NULL, tokenizer_tag(), R_NilValue));
    R_RegisterCFinalizerEx(ptr, tokenizer_finalizer, TRUE);
    UNPROTECT(1);
    return ptr;
}

const dnabert_tokenizer *dnabert_r_tokenizer(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != tokenizer_tag())
        Rf_error("not a dnabert tokenizer handle");
    const dnabert_tokenizer *tok = (const dnabert_tokenizer *)R_ExternalPtrAddr(ptr);
    if (tok == NULL)
        Rf_error("this dnabert tokenizer is no longer valid: it was freed, or restored from a saved R session "
                 "(external pointers do not survive saveRDS/load); create it again with dnabert_tokenizer()");
    return tok;
}

static const char *scalar_string(SEXP x, const char *what) {
    if (TYPEOF(x) != STRSXP || XLENGTH(x) != 1 || STRING_ELT(x, 0) == NA_STRING)
        Rf_error("'%s' must be a single non-NA string", what);
    return CHAR(STRING_ELT(x, 0));
}

static int scalar_int(SEXP x, const char *what) {
    if (TYPEOF(x) != INTSXP || XLENGTH(x) != 1 || INTEGER(x)[0] == NA_INTEGER)
        Rf_error("'%s' must be a single non-NA integer", what);
    return INTEGER(x)[0];
}

static int scalar_flag(SEXP x, const char *what) {
    if (TYPEOF(x) != LGLSXP || XLENGTH(x) != 1 || LOGICAL(x)[0] == NA_LOGICAL)
        Rf_error("'%s' must be TRUE or FALSE", what);
    return LOGICAL(x)[0];
}

SEXP dnabert_r_version(void) { return Rf_mkString(dnabert_version()); }

SEXP dnabert_r_tokenizer_load(SEXP path) {
    const char *p = scalar_string(path, "path");
    SEXP ptr = PROTECT(dnabert_r_new_tokenizer_ptr());
    dnabert_tokenizer *tok = NULL;
    CHECK(dnabert_tokenizer_load(R_ExpandFileName(p), &tok));
    R_SetExternalPtrAddr(ptr, tok);
    UNPROTECT(1);
    return ptr;
}

SEXP dnabert_r_tokenizer_load_json(SEXP json) {
    if (TYPEOF(json) != STRSXP || XLENGTH(json) != 1 || STRING_ELT(json, 0) == NA_STRING)
        Rf_error("'json' must be a single non-NA string");
    SEXP s = STRING_ELT(json, 0);
    SEXP ptr = PROTECT(dnabert_r_new_tokenizer_ptr());
    dnabert_tokenizer *tok = NULL;
    CHECK(dnabert_tokenizer_load_json(CHAR(s), (size_t)LENGTH(s), &tok));
    R_SetExternalPtrAddr(ptr, tok);
    UNPROTECT(1);
    return ptr;
}

SEXP dnabert_r_tokenizer_save(SEXP ptr, SEXP path) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    const char *p = scalar_string(path, "path");
    CHECK(dnabert_tokenizer_save(tok, R_ExpandFileName(p)));
    return R_NilValue;
}

SEXP dnabert_r_tokenizer_to_json(SEXP ptr) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    size_t len = 0;
    int status = dnabert_tokenizer_to_json(tok, NULL, 0, &len);
    if (status != DNABERT_OK && status != DNABERT_ERR_BUFFER_TOO_SMALL) dnabert_r_fail(status);
    if (len >= (size_t)INT_MAX) Rf_error("tokenizer JSON is too large for an R string (%.0f bytes)", (double)len);
    char *buf = R_alloc(len + 1, 1);
    size_t len2 = 0;
    CHECK(dnabert_tokenizer_to_json(tok, buf, len + 1, &len2));
    if (len2 > len) Rf_error("libdnabert: tokenizer JSON changed size between calls");
    return Rf_ScalarString(Rf_mkCharLenCE(buf, (int)len2, CE_UTF8));
}

SEXP dnabert_r_tokenizer_free(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != tokenizer_tag())
        Rf_error("not a dnabert tokenizer handle");
    tokenizer_finalizer(ptr);
    return R_NilValue;
}

SEXP dnabert_r_tokenizer_is_valid(SEXP ptr) {
    return Rf_ScalarLogical(TYPEOF(ptr) == EXTPTRSXP && R_ExternalPtrTag(ptr) == tokenizer_tag() &&
                            R_ExternalPtrAddr(ptr) != NULL);
}

SEXP dnabert_r_vocab_size(SEXP ptr) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    int32_t n = 0;
    CHECK(dnabert_tokenizer_vocab_size(tok, &n));
    return Rf_ScalarInteger(n);
}

SEXP dnabert_r_special_ids(SEXP ptr) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    dnabert_special_ids ids = { .struct_size = sizeof ids };
    CHECK(dnabert_tokenizer_special_ids(tok, &ids));
    int32_t v[5] = {ids.unk, ids.cls, ids.sep, ids.pad, ids.mask};
    const char *names[5] = {"unk", "cls", "sep", "pad", "mask"};
    SEXP out = PROTECT(Rf_allocVector(INTSXP, 5));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 5));
    for (int i = 0; i < 5; i++) {
        INTEGER(out)[i] = v[i] < 0 ? NA_INTEGER : v[i];
        SET_STRING_ELT(nm, i, Rf_mkChar(names[i]));
    }
    Rf_setAttrib(out, R_NamesSymbol, nm);
    UNPROTECT(2);
    return out;
}

/* Vectorised; a token that is not in the vocabulary gives NA. */
SEXP dnabert_r_token_to_id(SEXP ptr, SEXP tokens) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    if (TYPEOF(tokens) != STRSXP) Rf_error("'token' must be a character vector");
    R_xlen_t n = XLENGTH(tokens);
    SEXP out = PROTECT(Rf_allocVector(INTSXP, n));
    int *o = INTEGER(out);
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP s = STRING_ELT(tokens, i);
        if (s == NA_STRING) { o[i] = NA_INTEGER; continue; }
        int32_t id = -1;
        int status = dnabert_tokenizer_token_to_id(tok, CHAR(s), &id);
        if (status == DNABERT_ERR_NOT_FOUND) { o[i] = NA_INTEGER; continue; }
        if (status != DNABERT_OK) dnabert_r_fail(status);
        o[i] = id;
    }
    UNPROTECT(1);
    return out;
}

/* Vectorised; NA ids give NA (range checking is the library's, so an id outside the vocabulary errors). */
SEXP dnabert_r_id_to_token(SEXP ptr, SEXP ids) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    if (TYPEOF(ids) != INTSXP) Rf_error("'id' must be an integer vector");
    R_xlen_t n = XLENGTH(ids);
    SEXP out = PROTECT(Rf_allocVector(STRSXP, n));
    size_t cap = 256;
    char *buf = R_alloc(cap, 1);
    for (R_xlen_t i = 0; i < n; i++) {
        int id = INTEGER(ids)[i];
        if (id == NA_INTEGER) { SET_STRING_ELT(out, i, NA_STRING); continue; }
        size_t len = 0;
        int status = dnabert_tokenizer_id_to_token(tok, id, buf, cap, &len);
        if (status == DNABERT_ERR_BUFFER_TOO_SMALL) {
            if (len >= (size_t)INT_MAX) Rf_error("token %d is too long", id);
            cap = len + 1;
            buf = R_alloc(cap, 1);
            status = dnabert_tokenizer_id_to_token(tok, id, buf, cap, &len);
        }
        if (status != DNABERT_OK) dnabert_r_fail(status);
        if (len >= cap) Rf_error("libdnabert: token length inconsistent");
        SET_STRING_ELT(out, i, Rf_mkCharLenCE(buf, (int)len, CE_UTF8));
    }
    UNPROTECT(1);
    return out;
}

/* ---- encoding ------------------------------------------------------------------------------------ */

typedef struct {
    R_xlen_t n;
    const char **seqs;
    size_t *lens;
} seq_view;

/* Borrow the bytes of a character vector (no copy; valid while x is protected). */
static seq_view view_sequences(SEXP x) {
    if (TYPEOF(x) != STRSXP) Rf_error("'x' must be a character vector");
    seq_view v;
    v.n = XLENGTH(x);
    v.seqs = (const char **)R_alloc(v.n > 0 ? (size_t)v.n : 1, sizeof(char *));
    v.lens = (size_t *)R_alloc(v.n > 0 ? (size_t)v.n : 1, sizeof(size_t));
    for (R_xlen_t i = 0; i < v.n; i++) {
        SEXP s = STRING_ELT(x, i);
        if (s == NA_STRING) Rf_error("'x' contains NA at position %.0f", (double)(i + 1));
        v.seqs[i] = CHAR(s);
        v.lens[i] = (size_t)LENGTH(s);
    }
    return v;
}

static dnabert_encode_params encode_params(SEXP add_special, SEXP max_length, SEXP uppercase, SEXP threads) {
    dnabert_encode_params p = dnabert_encode_default_params();
    p.add_special_tokens = scalar_flag(add_special, "add_special_tokens") ? 1 : 0;
    p.max_length = scalar_int(max_length, "max_length");
    p.uppercase = scalar_flag(uppercase, "uppercase") ? 1 : 0;
    p.n_threads = scalar_int(threads, "threads");
    return p;
}

/* Above this many tokens the exact upper bound is not allocated up front: a first pass guesses (DNA
 * averages 4-5 bases per token) and retries with the exact size the library reports. */
#define DNABERT_R_BOUND_LIMIT ((size_t)64 << 20)

/*
 * Encode a character vector. Returns a list of integer vectors (one per sequence), or with offsets
 * list(ids = <that list>, start = <list of integer>, end = <list of integer>), where start/end are
 * 1-based inclusive positions in the sequence and NA for tokens that cover no bases (special tokens).
 */
SEXP dnabert_r_encode(SEXP ptr, SEXP x, SEXP add_special, SEXP max_length, SEXP uppercase, SEXP offsets,
                      SEXP threads) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    dnabert_encode_params p = encode_params(add_special, max_length, uppercase, threads);
    int want_offsets = scalar_flag(offsets, "offsets");
    seq_view v = view_sequences(x);
    R_xlen_t n = v.n;

    if (n == 0) { /* nothing to encode: no library call needed */
        if (!want_offsets) return Rf_allocVector(VECSXP, 0);
        SEXP out = PROTECT(Rf_allocVector(VECSXP, 3));
        for (int k = 0; k < 3; k++) SET_VECTOR_ELT(out, k, Rf_allocVector(VECSXP, 0));
        SEXP nm = PROTECT(Rf_allocVector(STRSXP, 3));
        SET_STRING_ELT(nm, 0, Rf_mkChar("ids"));
        SET_STRING_ELT(nm, 1, Rf_mkChar("start"));
        SET_STRING_ELT(nm, 2, Rf_mkChar("end"));
        Rf_setAttrib(out, R_NamesSymbol, nm);
        UNPROTECT(2);
        return out;
    }

    size_t bound = 0, total_len = 0;
    for (R_xlen_t i = 0; i < n; i++) {
        size_t b = 0;
        CHECK(dnabert_tokenizer_max_tokens(tok, v.lens[i], &p, &b));
        bound += b;
        total_len += v.lens[i];
    }
    size_t capacity = bound;
    if (bound > DNABERT_R_BOUND_LIMIT) {
        size_t guess = total_len / 3 + 4 * (size_t)n + 1024;
        if (guess < capacity) capacity = guess;
    }
    if (capacity == 0) capacity = 1;

    int64_t *row_starts = (int64_t *)R_alloc((size_t)n + 1, sizeof(int64_t));
    int32_t *ids = NULL;
    int64_t *offs = NULL;
    for (int attempt = 0;; attempt++) {
        ids = (int32_t *)R_alloc(capacity, sizeof(int32_t));
        offs = want_offsets ? (int64_t *)R_alloc(capacity, 2 * sizeof(int64_t)) : NULL;
        int status = dnabert_encode_batch(tok, v.seqs, v.lens, (size_t)n, &p, ids, offs, capacity, row_starts);
        if (status == DNABERT_OK) break;
        if (status == DNABERT_ERR_BUFFER_TOO_SMALL && attempt == 0 && row_starts[n] > (int64_t)capacity) {
            capacity = (size_t)row_starts[n];
            continue;
        }
        dnabert_r_fail(status);
    }
    if (row_starts[0] != 0 || row_starts[n] > (int64_t)capacity)
        Rf_error("libdnabert: inconsistent row_starts from dnabert_encode_batch");

    SEXP id_list = PROTECT(Rf_allocVector(VECSXP, n));
    SEXP start_list = PROTECT(want_offsets ? Rf_allocVector(VECSXP, n) : R_NilValue);
    SEXP end_list = PROTECT(want_offsets ? Rf_allocVector(VECSXP, n) : R_NilValue);
    for (R_xlen_t i = 0; i < n; i++) {
        int64_t a = row_starts[i], b = row_starts[i + 1];
        if (b < a || b > row_starts[n]) Rf_error("libdnabert: inconsistent row_starts from dnabert_encode_batch");
        R_xlen_t m = (R_xlen_t)(b - a);
        SEXP r = Rf_allocVector(INTSXP, m);
        SET_VECTOR_ELT(id_list, i, r);
        memcpy(INTEGER(r), ids + a, (size_t)m * sizeof(int32_t));
        if (want_offsets) {
            SEXP s = Rf_allocVector(INTSXP, m);
            SET_VECTOR_ELT(start_list, i, s);
            SEXP e = Rf_allocVector(INTSXP, m);
            SET_VECTOR_ELT(end_list, i, e);
            int *sp = INTEGER(s), *ep = INTEGER(e);
            for (R_xlen_t k = 0; k < m; k++) {
                int64_t s0 = offs[2 * (a + k)], e0 = offs[2 * (a + k) + 1];
                if (e0 <= s0 || s0 < 0 || e0 > (int64_t)v.lens[i]) {
                    sp[k] = NA_INTEGER; /* special token: covers no bases */
                    ep[k] = NA_INTEGER;
                } else {
                    sp[k] = (int)(s0 + 1); /* 0-based [start, end) -> 1-based [start, end] */
                    ep[k] = (int)e0;
                }
            }
        }
    }
    SEXP out;
    if (want_offsets) {
        out = PROTECT(Rf_allocVector(VECSXP, 3));
        SET_VECTOR_ELT(out, 0, id_list);
        SET_VECTOR_ELT(out, 1, start_list);
        SET_VECTOR_ELT(out, 2, end_list);
        SEXP nm = PROTECT(Rf_allocVector(STRSXP, 3));
        SET_STRING_ELT(nm, 0, Rf_mkChar("ids"));
        SET_STRING_ELT(nm, 1, Rf_mkChar("start"));
        SET_STRING_ELT(nm, 2, Rf_mkChar("end"));
        Rf_setAttrib(out, R_NamesSymbol, nm);
        UNPROTECT(5);
    } else {
        out = id_list;
        UNPROTECT(3);
    }
    return out;
}

/* Transpose an n x row_len row-major int32 buffer into a new R integer matrix (column-major). */
static SEXP row_major_to_matrix(const int32_t *src, R_xlen_t n, R_xlen_t row_len) {
    SEXP m = PROTECT(Rf_allocMatrix(INTSXP, (int)n, (int)row_len));
    int *d = INTEGER(m);
    for (R_xlen_t i = 0; i < n; i++)
        for (R_xlen_t j = 0; j < row_len; j++) d[i + j * n] = src[i * row_len + j];
    UNPROTECT(1);
    return m;
}

/* Encode into n x row_len matrices with dnabert_encode_batch_padded: list(ids, attention_mask, lengths). */
SEXP dnabert_r_encode_padded(SEXP ptr, SEXP x, SEXP add_special, SEXP row_len, SEXP uppercase, SEXP threads) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    SEXP zero = PROTECT(Rf_ScalarInteger(0));
    dnabert_encode_params p = encode_params(add_special, zero, uppercase, threads);
    int L = scalar_int(row_len, "row_len");
    if (L < 0) Rf_error("'row_len' must be >= 0");
    seq_view v = view_sequences(x);
    R_xlen_t n = v.n;
    if (n > INT_MAX) Rf_error("too many sequences for an R matrix");
    if (n > 0 && (double)n * (double)L > (double)R_XLEN_T_MAX / 2)
        Rf_error("padded matrix of %.0f x %d is too large", (double)n, L);
    size_t cells = (size_t)n * (size_t)L;
    int32_t *ids = (int32_t *)R_alloc(cells > 0 ? cells : 1, sizeof(int32_t));
    int32_t *mask = (int32_t *)R_alloc(cells > 0 ? cells : 1, sizeof(int32_t));
    int32_t *lengths = (int32_t *)R_alloc(n > 0 ? (size_t)n : 1, sizeof(int32_t));
    if (n > 0) CHECK(dnabert_encode_batch_padded(tok, v.seqs, v.lens, (size_t)n, &p, (size_t)L, ids, mask, lengths));
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 3));
    SET_VECTOR_ELT(out, 0, row_major_to_matrix(ids, n, L));
    SET_VECTOR_ELT(out, 1, row_major_to_matrix(mask, n, L));
    SEXP len = Rf_allocVector(INTSXP, n);
    SET_VECTOR_ELT(out, 2, len);
    if (n > 0) memcpy(INTEGER(len), lengths, (size_t)n * sizeof(int32_t));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 3));
    SET_STRING_ELT(nm, 0, Rf_mkChar("ids"));
    SET_STRING_ELT(nm, 1, Rf_mkChar("attention_mask"));
    SET_STRING_ELT(nm, 2, Rf_mkChar("lengths"));
    Rf_setAttrib(out, R_NamesSymbol, nm);
    UNPROTECT(3);
    return out;
}

/* Lay a list of integer vectors out as the rows of an n x row_len integer matrix, filling with `fill`
 * (rows longer than row_len are an error: truncation is the library's job). */
SEXP dnabert_r_pad_rows(SEXP rows, SEXP row_len, SEXP fill) {
    if (TYPEOF(rows) != VECSXP) Rf_error("'rows' must be a list");
    int L = scalar_int(row_len, "row_len");
    if (TYPEOF(fill) != INTSXP || XLENGTH(fill) != 1) Rf_error("'fill' must be one integer");
    int f = INTEGER(fill)[0];
    R_xlen_t n = XLENGTH(rows);
    if (n > INT_MAX || L < 0) Rf_error("bad matrix size");
    SEXP m = PROTECT(Rf_allocMatrix(INTSXP, (int)n, L));
    int *d = INTEGER(m);
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP r = VECTOR_ELT(rows, i);
        if (TYPEOF(r) != INTSXP) Rf_error("row %.0f is not an integer vector", (double)(i + 1));
        R_xlen_t k = XLENGTH(r);
        if (k > L) Rf_error("row %.0f has %.0f tokens, more than %d", (double)(i + 1), (double)k, L);
        const int *src = INTEGER(r);
        for (R_xlen_t j = 0; j < L; j++) d[i + j * n] = j < k ? src[j] : f;
    }
    UNPROTECT(1);
    return m;
}

/* Decode each integer vector of a list into one string. */
SEXP dnabert_r_decode(SEXP ptr, SEXP rows, SEXP skip_special) {
    const dnabert_tokenizer *tok = dnabert_r_tokenizer(ptr);
    int skip = scalar_flag(skip_special, "skip_special_tokens");
    if (TYPEOF(rows) != VECSXP) Rf_error("'ids' must be a list of integer vectors");
    R_xlen_t n = XLENGTH(rows);
    SEXP out = PROTECT(Rf_allocVector(STRSXP, n));
    size_t cap = 4096;
    char *buf = R_alloc(cap, 1);
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP r = VECTOR_ELT(rows, i);
        if (TYPEOF(r) != INTSXP) Rf_error("element %.0f of 'ids' is not an integer vector", (double)(i + 1));
        const int32_t *ids = (const int32_t *)INTEGER(r);
        size_t m = (size_t)XLENGTH(r);
        size_t len = 0;
        int status = dnabert_decode(tok, ids, m, skip, buf, cap, &len);
        if (status == DNABERT_ERR_BUFFER_TOO_SMALL) {
            if (len >= (size_t)INT_MAX) Rf_error("decoded sequence %.0f is too long for an R string", (double)(i + 1));
            cap = len + 1;
            buf = R_alloc(cap, 1);
            status = dnabert_decode(tok, ids, m, skip, buf, cap, &len);
        }
        if (status != DNABERT_OK) dnabert_r_fail(status);
        if (len >= cap) Rf_error("libdnabert: decoded length inconsistent");
        SET_STRING_ELT(out, i, Rf_mkCharLenCE(buf, (int)len, CE_UTF8));
    }
    UNPROTECT(1);
    return out;
}
