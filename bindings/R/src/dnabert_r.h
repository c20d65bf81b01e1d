/* Internal declarations shared by the R package's C files. */
#ifndef DNABERT_R_H
#define DNABERT_R_H

#include <stddef.h>
#include <Rinternals.h>
#include "dnabert.h"

void dnabert_r_save_error(int status, char *msg, size_t cap);
void dnabert_r_fail(int status);
SEXP dnabert_r_new_tokenizer_ptr(void);
SEXP dnabert_r_new_model_ptr(void);
const dnabert_tokenizer *dnabert_r_tokenizer(SEXP ptr);

/* Progress bridge (progress.c). */
#include <pthread.h>
enum { DNABERT_R_PROGRESS_OK = 0, DNABERT_R_PROGRESS_R_UNWIND = 1, DNABERT_R_PROGRESS_USER_CANCEL = 2 };
typedef struct {
    SEXP fn;                       /* R function(stage, current, total, elapsed, eta) or R_NilValue */
    const dnabert_progress *p;     /* the report being delivered */
    int reason;                    /* PROGRESS_* once cancelled */
    int keep_going;                /* result of the R function for this report */
    char last_stage[128];
    double last_call;              /* elapsed_seconds when fn was last called */
    int called_once;
    pthread_t r_thread;            /* R's thread: the only one allowed to touch R */
    SEXP unwind_token;             /* from R_MakeUnwindCont, to resume an intercepted R jump */
    int call_fn;                   /* this report goes to fn (else only the interrupt check) */
} dnabert_r_progress_ctx;
int dnabert_r_progress_bridge(void *user_data, const dnabert_progress *p);

/* Per-step bridge of long runs (pretraining, fine-tuning; progress.c): each step's metrics as a named double
 * vector to an R function, under the same unwind protection as the progress bridge. */
typedef struct {
    SEXP fn;                       /* R function(named double vector) -> FALSE to stop; R_NilValue for none */
    SEXP names;                    /* names of the vector, length n (protected by the caller) */
    int n;
    void (*fill)(const void *metrics, double *out);   /* a metrics struct -> n doubles (NA for NaN) */
    const void *m;                 /* the step being delivered */
    int reason;                    /* DNABERT_R_PROGRESS_* once stopped */
    int keep_going;
    pthread_t r_thread;
    SEXP unwind_token;
} dnabert_r_step_ctx;
/* Fills *c for fn and the n metric names (allocating the names vector and the unwind token: 2 PROTECTs that
 * the caller UNPROTECTs). */
void dnabert_r_step_init(dnabert_r_step_ctx *c, SEXP fn, const char *const *names, int n,
                         void (*fill)(const void *, double *));
/* Returns non-zero to stop the run (user cancel or an R unwind parked in unwind_token). */
int dnabert_r_step_bridge(dnabert_r_step_ctx *c, const void *metrics);
double dnabert_r_na_if_nan(double x);

SEXP dnabert_r_version(void);
SEXP dnabert_r_tokenizer_load(SEXP path);
SEXP dnabert_r_tokenizer_load_json(SEXP json);
SEXP dnabert_r_tokenizer_save(SEXP ptr, SEXP path);
SEXP dnabert_r_tokenizer_to_json(SEXP ptr);
SEXP dnabert_r_tokenizer_free(SEXP ptr);
SEXP dnabert_r_tokenizer_is_valid(SEXP ptr);
SEXP dnabert_r_vocab_size(SEXP ptr);
SEXP dnabert_r_special_ids(SEXP ptr);
SEXP dnabert_r_token_to_id(SEXP ptr, SEXP tokens);
SEXP dnabert_r_id_to_token(SEXP ptr, SEXP ids);
SEXP dnabert_r_encode(SEXP ptr, SEXP x, SEXP add_special, SEXP max_length, SEXP uppercase, SEXP offsets,
                      SEXP threads);
SEXP dnabert_r_encode_padded(SEXP ptr, SEXP x, SEXP add_special, SEXP row_len, SEXP uppercase, SEXP threads);
SEXP dnabert_r_pad_rows(SEXP rows, SEXP row_len, SEXP fill);
SEXP dnabert_r_decode(SEXP ptr, SEXP rows, SEXP skip_special);
SEXP dnabert_r_train(SEXP files, SEXP seqs, SEXP vocab_size, SEXP min_frequency, SEXP max_token_length,
                     SEXP word_length, SEXP case_policy, SEXP non_acgt_policy, SEXP threads, SEXP max_bases,
                     SEXP progress);

/* model.c */
SEXP dnabert_r_blas_info(void);
SEXP dnabert_r_int8_kernel(void);
SEXP dnabert_r_int8_attention(void);
SEXP dnabert_r_convert(SEXP bin, SEXP st);
SEXP dnabert_r_model_load(SEXP dir);
SEXP dnabert_r_model_create(SEXP json, SEXP tok, SEXP seed);
SEXP dnabert_r_model_save(SEXP ptr, SEXP dir);
SEXP dnabert_r_model_free(SEXP ptr);
SEXP dnabert_r_model_is_valid(SEXP ptr);
SEXP dnabert_r_model_info(SEXP ptr);
SEXP dnabert_r_model_config_json(SEXP ptr);
SEXP dnabert_r_model_tokenizer(SEXP ptr);
SEXP dnabert_r_model_run(SEXP ptr, SEXP what, SEXP ids, SEXP mask, SEXP layer, SEXP threads);
SEXP dnabert_r_model_quantize(SEXP ptr, SEXP code);
SEXP dnabert_r_embed(SEXP ptr, SEXP x, SEXP pooling, SEXP max_length, SEXP overlap, SEXP batch_size,
                     SEXP uppercase, SEXP threads, SEXP progress, SEXP distributed);

/* pretrain.c */
SEXP dnabert_r_pretrain(SEXP model, SEXP files, SEXP out, SEXP ints, SEXP dbls, SEXP seed, SEXP callback);

/* finetune.c */
SEXP dnabert_r_finetune(SEXP model, SEXP train, SEXP dev, SEXP test, SEXP ints, SEXP dbls, SEXP strs, SEXP seed,
                        SEXP callback);
SEXP dnabert_r_classifier_load(SEXP model, SEXP dir);
SEXP dnabert_r_classifier_save(SEXP ptr, SEXP dir);
SEXP dnabert_r_classifier_free(SEXP ptr);
SEXP dnabert_r_classifier_is_valid(SEXP ptr);
SEXP dnabert_r_classifier_info(SEXP ptr);
SEXP dnabert_r_decide_labels(SEXP problem, SEXP scores);
SEXP dnabert_r_classifier_predict(SEXP ptr, SEXP x, SEXP threads, SEXP long_inputs, SEXP overlap, SEXP pooling);
SEXP dnabert_r_classifier_evaluate(SEXP ptr, SEXP data, SEXP threads);

SEXP dnabert_r_classifier_merged_model(SEXP ptr);

#endif
