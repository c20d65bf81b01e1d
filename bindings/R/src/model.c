/*
 * .Call shims between R and libdnabert's model API (include/dnabert.h, sections "BLAS" and "model").
 *
 * Same conventions as tokenizer.c: user-facing argument checks live in R (R/model.R); the checks here only
 * keep R from crashing when a shim is called directly. Temporary buffers come from R_alloc (released when
 * the .Call returns or unwinds). The model handle is wrapped in an external pointer with a finalizer before
 * the library creates it.
 *
 * Layout: the library reads and writes row-major (C order) tensors; R arrays are column-major. Inputs are
 * transposed into row-major int32 buffers, outputs are copied into R double arrays with the SAME dims
 * (element [i, j, k] of the R array is element [i][j][k] of the C tensor).
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <R.h>
#include <Rinternals.h>

#include "dnabert.h"
#include "dnabert_r.h"

#define CHECK(call)                                                                                          \
    do {                                                                                                     \
        int status_ = (call);                                                                                \
        if (status_ != DNABERT_OK) dnabert_r_fail(status_);                                                  \
    } while (0)

/* ---- handles ------------------------------------------------------------------------------------- */

static SEXP model_tag(void) { return Rf_install("dnabert_model"); }

static void model_finalizer(SEXP ptr) {
    dnabert_model *m = (dnabert_model *)R_ExternalPtrAddr(ptr);
    if (m != NULL) {
        dnabert_model_free(m);
        R_ClearExternalPtr(ptr);
    }
}

static SEXP new_model_ptr(void) {
    SEXP ptr = PROTECT(R_MakeExternalPtr(NULL, model_tag(), R_NilValue));
    R_RegisterCFinalizerEx(ptr, model_finalizer, TRUE);
    UNPROTECT(1);
    return ptr;
}

SEXP dnabert_r_new_model_ptr(void) { return new_model_ptr(); }

static const dnabert_model *model_of(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != model_tag()) Rf_error("not a dnabert model handle");
    const dnabert_model *m = (const dnabert_model *)R_ExternalPtrAddr(ptr);
    if (m == NULL)
        Rf_error("this dnabert model is no longer valid: it was freed, or restored from a saved R session "
                 "(external pointers do not survive saveRDS/load); load it again with dnabert_model()");
    return m;
}

static const char *str_arg(SEXP x, const char *what) {
    if (TYPEOF(x) != STRSXP || XLENGTH(x) != 1 || STRING_ELT(x, 0) == NA_STRING)
        Rf_error("'%s' must be a single non-NA string", what);
    return CHAR(STRING_ELT(x, 0));
}

static int int_arg(SEXP x, const char *what) {
    if (TYPEOF(x) != INTSXP || XLENGTH(x) != 1 || INTEGER(x)[0] == NA_INTEGER)
        Rf_error("'%s' must be a single non-NA integer", what);
    return INTEGER(x)[0];
}

static int flag_arg(SEXP x, const char *what) {
    if (TYPEOF(x) != LGLSXP || XLENGTH(x) != 1 || LOGICAL(x)[0] == NA_LOGICAL)
        Rf_error("'%s' must be TRUE or FALSE", what);
    return LOGICAL(x)[0];
}

/* Copy a path (R_ExpandFileName returns a static buffer that the next call overwrites). */
static const char *expanded_path(SEXP x, const char *what) {
    const char *e = R_ExpandFileName(str_arg(x, what));
    size_t l = strlen(e);
    char *copy = R_alloc(l + 1, 1);
    memcpy(copy, e, l + 1);
    return copy;
}

/* ---- library-level ------------------------------------------------------------------------------- */

SEXP dnabert_r_blas_info(void) {
    size_t len = 0;
    char small[1024];
    int status = dnabert_blas_info(small, sizeof small, &len);
    if (status == DNABERT_OK && len < sizeof small) return Rf_mkString(small);
    if (status != DNABERT_ERR_BUFFER_TOO_SMALL) dnabert_r_fail(status);
    if (len >= (size_t)INT_MAX) Rf_error("libdnabert: BLAS description too long");
    char *buf = R_alloc(len + 1, 1);
    CHECK(dnabert_blas_info(buf, len + 1, &len));
    return Rf_mkString(buf);
}

SEXP dnabert_r_int8_kernel(void) {
    const char *k = dnabert_int8_kernel();
    return Rf_mkString(k ? k : "");
}

SEXP dnabert_r_int8_attention(void) {
    const char *k = dnabert_int8_attention();
    return Rf_mkString(k ? k : "");
}

SEXP dnabert_r_convert(SEXP bin, SEXP st) {
    const char *b = expanded_path(bin, "bin");
    const char *s = expanded_path(st, "safetensors");
    CHECK(dnabert_convert_pytorch(b, s));
    return R_NilValue;
}

/* ---- model lifecycle ----------------------------------------------------------------------------- */

SEXP dnabert_r_model_load(SEXP dir) {
    const char *d = expanded_path(dir, "dir");
    SEXP ptr = PROTECT(new_model_ptr());
    dnabert_model *m = NULL;
    CHECK(dnabert_model_load(d, &m));
    R_SetExternalPtrAddr(ptr, m);
    UNPROTECT(1);
    return ptr;
}

/* tok: a tokenizer handle or NULL; seed: a double holding a whole number in [0, 2^53]. */
SEXP dnabert_r_model_create(SEXP json, SEXP tok, SEXP seed) {
    const char *text = str_arg(json, "config");
    size_t len = (size_t)LENGTH(STRING_ELT(json, 0));
    const dnabert_tokenizer *t = tok == R_NilValue ? NULL : dnabert_r_tokenizer(tok);
    if (TYPEOF(seed) != REALSXP || XLENGTH(seed) != 1 || !R_FINITE(REAL(seed)[0]) || REAL(seed)[0] < 0 ||
        REAL(seed)[0] > 9007199254740992.0 || REAL(seed)[0] != floor(REAL(seed)[0]))
        Rf_error("'seed' must be a whole number in [0, 2^53]");
    SEXP ptr = PROTECT(new_model_ptr());
    dnabert_model *m = NULL;
    CHECK(dnabert_model_create(text, len, t, (uint64_t)REAL(seed)[0], &m));
    R_SetExternalPtrAddr(ptr, m);
    UNPROTECT(1);
    return ptr;
}

SEXP dnabert_r_model_save(SEXP ptr, SEXP dir) {
    const dnabert_model *m = model_of(ptr);
    CHECK(dnabert_model_save(m, expanded_path(dir, "dir")));
    return R_NilValue;
}

SEXP dnabert_r_model_free(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != model_tag()) Rf_error("not a dnabert model handle");
    model_finalizer(ptr);
    return R_NilValue;
}

SEXP dnabert_r_model_is_valid(SEXP ptr) {
    return Rf_ScalarLogical(TYPEOF(ptr) == EXTPTRSXP && R_ExternalPtrTag(ptr) == model_tag() &&
                            R_ExternalPtrAddr(ptr) != NULL);
}

static dnabert_model_info info_of(const dnabert_model *m) {
    dnabert_model_info info = { .struct_size = sizeof info };
    CHECK(dnabert_model_get_info(m, &info));
    return info;
}

SEXP dnabert_r_model_info(SEXP ptr) {
    dnabert_model_info i = info_of(model_of(ptr));
    const char *names[] = {"vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                           "num_labels", "has_mlm_head", "has_pooler", "has_tokenizer", "num_parameters", "precision"};
    const int n = 11;
    SEXP out = PROTECT(Rf_allocVector(VECSXP, n));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, n));
    int ints[6] = {i.vocab_size, i.hidden_size, i.num_layers, i.num_heads, i.intermediate_size, i.num_labels};
    for (int k = 0; k < 6; k++) SET_VECTOR_ELT(out, k, Rf_ScalarInteger(ints[k]));
    SET_VECTOR_ELT(out, 6, Rf_ScalarLogical(i.has_mlm_head != 0));
    SET_VECTOR_ELT(out, 7, Rf_ScalarLogical(i.has_pooler != 0));
    SET_VECTOR_ELT(out, 8, Rf_ScalarLogical(i.has_tokenizer != 0));
    SET_VECTOR_ELT(out, 9, Rf_ScalarReal((double)i.num_parameters));
    SET_VECTOR_ELT(out, 10, Rf_mkString(i.precision == DNABERT_PRECISION_INT8 ? "int8" : "fp32"));
    for (int k = 0; k < n; k++) SET_STRING_ELT(nm, k, Rf_mkChar(names[k]));
    Rf_setAttrib(out, R_NamesSymbol, nm);
    UNPROTECT(2);
    return out;
}

SEXP dnabert_r_model_config_json(SEXP ptr) {
    const dnabert_model *m = model_of(ptr);
    size_t len = 0;
    int status = dnabert_model_config_json(m, NULL, 0, &len);
    if (status != DNABERT_OK && status != DNABERT_ERR_BUFFER_TOO_SMALL) dnabert_r_fail(status);
    if (len >= (size_t)INT_MAX) Rf_error("config JSON is too large for an R string");
    char *buf = R_alloc(len + 1, 1);
    size_t len2 = 0;
    CHECK(dnabert_model_config_json(m, buf, len + 1, &len2));
    if (len2 > len) Rf_error("libdnabert: config JSON changed size between calls");
    return Rf_ScalarString(Rf_mkCharLenCE(buf, (int)len2, CE_UTF8));
}

/* A tokenizer handle, or NULL when the model has none. */
SEXP dnabert_r_model_tokenizer(SEXP ptr) {
    const dnabert_model *m = model_of(ptr);
    SEXP tp = PROTECT(dnabert_r_new_tokenizer_ptr());
    dnabert_tokenizer *t = NULL;
    int status = dnabert_model_tokenizer(m, &t);
    if (status == DNABERT_ERR_NOT_FOUND) {
        UNPROTECT(1);
        return R_NilValue;
    }
    if (status != DNABERT_OK) dnabert_r_fail(status);
    R_SetExternalPtrAddr(tp, t);
    UNPROTECT(1);
    return tp;
}

/* ---- inference on ids ---------------------------------------------------------------------------- */

/*
 * Copy a row-major float tensor with dims d[0..k-1] into a new R double array with the same dims.
 * Seen as a [rows, last] matrix (rows = all but the last index, in C order), source row r goes to the
 * column-major offsets off[r] + S * v (S = rows, off[r] = the column-major offset of r's leading indices).
 * The copy runs in tiles so that both the reads and the strided writes stay in cache.
 */
static SEXP row_major_to_array(const float *src, const R_xlen_t *d, int k) {
    R_xlen_t total = 1;
    for (int j = 0; j < k; j++) total *= d[j];
    SEXP dims = PROTECT(Rf_allocVector(INTSXP, k));
    for (int j = 0; j < k; j++) INTEGER(dims)[j] = (int)d[j];
    SEXP out = PROTECT(Rf_allocVector(REALSXP, total));
    double *dst = REAL(out);
    R_xlen_t last = d[k - 1], rows = last > 0 ? total / last : 0;
    if (total > 0) {
        /* off[r] by an odometer over the leading k-1 indices in C order */
        R_xlen_t *off = (R_xlen_t *)R_alloc((size_t)rows, sizeof(R_xlen_t));
        R_xlen_t stride[8], idx[8], o = 0;
        R_xlen_t s = 1;
        for (int j = 0; j < k - 1; j++) {
            stride[j] = s;
            s *= d[j];
            idx[j] = 0;
        }
        for (R_xlen_t r = 0; r < rows; r++) {
            off[r] = o;
            for (int j = k - 2; j >= 0; j--) {
                idx[j]++;
                o += stride[j];
                if (idx[j] < d[j]) break;
                o -= stride[j] * d[j];
                idx[j] = 0;
            }
        }
        const R_xlen_t T = 64;
        for (R_xlen_t r0 = 0; r0 < rows; r0 += T) {
            R_xlen_t r1 = r0 + T < rows ? r0 + T : rows;
            for (R_xlen_t v0 = 0; v0 < last; v0 += T) {
                R_xlen_t v1 = v0 + T < last ? v0 + T : last;
                for (R_xlen_t v = v0; v < v1; v++) {
                    double *col = dst + rows * v;
                    for (R_xlen_t r = r0; r < r1; r++) col[off[r]] = (double)src[r * last + v];
                }
            }
        }
    }
    Rf_setAttrib(out, R_DimSymbol, dims);
    UNPROTECT(2);
    return out;
}

/* R integer matrix (B x L, column-major) -> row-major int32 buffer. */
static int32_t *matrix_to_row_major(SEXP m, const char *what, R_xlen_t *B, R_xlen_t *L) {
    if (TYPEOF(m) != INTSXP) Rf_error("'%s' must be an integer matrix", what);
    SEXP dim = Rf_getAttrib(m, R_DimSymbol);
    if (TYPEOF(dim) != INTSXP || XLENGTH(dim) != 2) Rf_error("'%s' must be an integer matrix", what);
    R_xlen_t b = INTEGER(dim)[0], l = INTEGER(dim)[1];
    if (b <= 0 || l <= 0) Rf_error("'%s' must have at least one row and one column", what);
    int32_t *out = (int32_t *)R_alloc((size_t)(b * l), sizeof(int32_t));
    const int *src = INTEGER(m);
    for (R_xlen_t i = 0; i < b; i++)
        for (R_xlen_t j = 0; j < l; j++) out[i * l + j] = src[i + j * b];
    *B = b;
    *L = l;
    return out;
}

enum { RUN_FORWARD = 0, RUN_ALL_HIDDEN = 1, RUN_ATTENTION = 2, RUN_MLM_LOGITS = 3 };

/*
 * One inference call. what: RUN_*; ids: integer matrix B x L; mask: integer matrix B x L or NULL;
 * layer: 0-based (attention only). Returns a double array:
 *   forward [B, L, hidden]; all hidden [layers + 1, B, L, hidden]; attention [B, heads, L, L];
 *   MLM logits [B, L, vocab].
 */
SEXP dnabert_r_model_run(SEXP ptr, SEXP what, SEXP ids, SEXP mask, SEXP layer, SEXP threads) {
    const dnabert_model *m = model_of(ptr);
    int w = int_arg(what, "what");
    int lay = int_arg(layer, "layer");
    dnabert_forward_params p = dnabert_forward_default_params();
    p.n_threads = int_arg(threads, "threads");
    R_xlen_t B = 0, L = 0, MB = 0, ML = 0;
    int32_t *id = matrix_to_row_major(ids, "ids", &B, &L);
    int32_t *mk = NULL;
    if (mask != R_NilValue) {
        mk = matrix_to_row_major(mask, "attention_mask", &MB, &ML);
        if (MB != B || ML != L)
            Rf_error("'attention_mask' is %.0f x %.0f but 'ids' is %.0f x %.0f", (double)MB, (double)ML, (double)B,
                     (double)L);
    }
    dnabert_model_info info = info_of(m);
    R_xlen_t d[4];
    int k;
    switch (w) {
    case RUN_FORWARD: k = 3; d[0] = B; d[1] = L; d[2] = info.hidden_size; break;
    case RUN_ALL_HIDDEN: k = 4; d[0] = (R_xlen_t)info.num_layers + 1; d[1] = B; d[2] = L; d[3] = info.hidden_size; break;
    case RUN_ATTENTION: k = 4; d[0] = B; d[1] = info.num_heads; d[2] = L; d[3] = L; break;
    case RUN_MLM_LOGITS: k = 3; d[0] = B; d[1] = L; d[2] = info.vocab_size; break;
    default: Rf_error("unknown inference kind %d", w);
    }
    double cells = 1;
    for (int j = 0; j < k; j++) {
        if (d[j] <= 0 || d[j] > INT_MAX) Rf_error("libdnabert: bad output dimension");
        cells *= (double)d[j];
    }
    if (cells > (double)R_XLEN_T_MAX / 2 || cells * sizeof(float) > (double)SIZE_MAX / 2)
        Rf_error("the result would have %.0f elements: too large; use fewer or shorter sequences", cells);
    float *out = (float *)R_alloc((size_t)cells, sizeof(float));
    switch (w) {
    case RUN_FORWARD: CHECK(dnabert_forward(m, id, mk, (size_t)B, (size_t)L, &p, out)); break;
    case RUN_ALL_HIDDEN: CHECK(dnabert_forward_all_hidden(m, id, mk, (size_t)B, (size_t)L, &p, out)); break;
    case RUN_ATTENTION: CHECK(dnabert_attention_map(m, id, mk, (size_t)B, (size_t)L, lay, &p, out)); break;
    default: CHECK(dnabert_mlm_logits(m, id, mk, (size_t)B, (size_t)L, &p, out)); break;
    }
    return row_major_to_array(out, d, k);
}

/* ---- embeddings ---------------------------------------------------------------------------------- */

/* x: character vector; returns an n x hidden double matrix. progress: R function or NULL. distributed: TRUE/FALSE
 * (one rank of `mpirun -np N Rscript ...`: every rank passes the same x and receives all n rows). */
SEXP dnabert_r_embed(SEXP ptr, SEXP x, SEXP pooling, SEXP max_length, SEXP overlap, SEXP batch_size,
                     SEXP uppercase, SEXP threads, SEXP progress, SEXP distributed) {
    const dnabert_model *m = model_of(ptr);
    if (TYPEOF(x) != STRSXP) Rf_error("'x' must be a character vector");
    dnabert_embed_params p = dnabert_embed_default_params();
    p.pooling = int_arg(pooling, "pooling");
    p.max_length = int_arg(max_length, "max_length");
    p.overlap = int_arg(overlap, "overlap");
    p.batch_size = int_arg(batch_size, "batch_size");
    p.uppercase = flag_arg(uppercase, "uppercase") ? 1 : 0;
    p.n_threads = int_arg(threads, "threads");
    p.distributed = flag_arg(distributed, "distributed") ? 1 : 0;
    if (progress != R_NilValue && !Rf_isFunction(progress)) Rf_error("'progress' must be a function or NULL");
    dnabert_model_info info = info_of(m);
    R_xlen_t n = XLENGTH(x), H = info.hidden_size;
    if (n > INT_MAX) Rf_error("too many sequences");
    const char **seqs = (const char **)R_alloc(n > 0 ? (size_t)n : 1, sizeof(char *));
    size_t *lens = (size_t *)R_alloc(n > 0 ? (size_t)n : 1, sizeof(size_t));
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP s = STRING_ELT(x, i);
        if (s == NA_STRING) Rf_error("'x' contains NA at position %.0f", (double)(i + 1));
        seqs[i] = CHAR(s);
        lens[i] = (size_t)LENGTH(s);
    }
    float *out = (float *)R_alloc(n > 0 ? (size_t)(n * H) : 1, sizeof(float));

    dnabert_r_progress_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.fn = progress;
    ctx.r_thread = pthread_self();
    ctx.unwind_token = PROTECT(R_MakeUnwindCont());
    p.progress = dnabert_r_progress_bridge;
    p.progress_user_data = &ctx;

    int status = dnabert_embed(m, seqs, lens, (size_t)n, &p, out);
    char msg[2048];
    if (status != DNABERT_OK) dnabert_r_save_error(status, msg, sizeof msg);
    if (ctx.reason == DNABERT_R_PROGRESS_R_UNWIND) R_ContinueUnwind(ctx.unwind_token);
    if (status != DNABERT_OK) {
        if (status == DNABERT_ERR_CANCELLED && ctx.reason == DNABERT_R_PROGRESS_USER_CANCEL)
            Rf_error("embedding cancelled: the progress function returned FALSE (%s)", msg);
        Rf_error("%s", msg);
    }
    R_xlen_t d[2] = {n, H};
    SEXP res = n > 0 ? row_major_to_array(out, d, 2) : Rf_allocMatrix(REALSXP, 0, (int)H);
    UNPROTECT(1);
    return res;
}

/* A new model handle at precision `code` (DNABERT_PRECISION_*). */
SEXP dnabert_r_model_quantize(SEXP ptr, SEXP code) {
    const dnabert_model *m = model_of(ptr);
    if (TYPEOF(code) != INTSXP || XLENGTH(code) != 1 || INTEGER(code)[0] == NA_INTEGER) Rf_error("'precision' must be a precision code");
    SEXP out = PROTECT(new_model_ptr());
    dnabert_model *q = NULL;
    CHECK(dnabert_model_quantize(m, INTEGER(code)[0], &q));
    R_SetExternalPtrAddr(out, q);
    UNPROTECT(1);
    return out;
}
