/* Registration of the package's .Call routines (no dynamic symbol lookup). */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>

#include "dnabert_r.h"

#define ENTRY(name, n) {#name, (DL_FUNC)&name, n}

static const R_CallMethodDef call_methods[] = {
    ENTRY(dnabert_r_version, 0),
    ENTRY(dnabert_r_tokenizer_load, 1),
    ENTRY(dnabert_r_tokenizer_load_json, 1),
    ENTRY(dnabert_r_tokenizer_save, 2),
    ENTRY(dnabert_r_tokenizer_to_json, 1),
    ENTRY(dnabert_r_tokenizer_free, 1),
    ENTRY(dnabert_r_tokenizer_is_valid, 1),
    ENTRY(dnabert_r_vocab_size, 1),
    ENTRY(dnabert_r_special_ids, 1),
    ENTRY(dnabert_r_token_to_id, 2),
    ENTRY(dnabert_r_id_to_token, 2),
    ENTRY(dnabert_r_encode, 7),
    ENTRY(dnabert_r_encode_padded, 6),
    ENTRY(dnabert_r_pad_rows, 3),
    ENTRY(dnabert_r_decode, 3),
    ENTRY(dnabert_r_train, 11),
    ENTRY(dnabert_r_blas_info, 0),
    ENTRY(dnabert_r_int8_kernel, 0),
    ENTRY(dnabert_r_int8_attention, 0),
    ENTRY(dnabert_r_convert, 2),
    ENTRY(dnabert_r_model_load, 1),
    ENTRY(dnabert_r_model_create, 3),
    ENTRY(dnabert_r_model_save, 2),
    ENTRY(dnabert_r_model_free, 1),
    ENTRY(dnabert_r_model_is_valid, 1),
    ENTRY(dnabert_r_model_info, 1),
    ENTRY(dnabert_r_model_config_json, 1),
    ENTRY(dnabert_r_model_tokenizer, 1),
    ENTRY(dnabert_r_model_run, 6),
    ENTRY(dnabert_r_model_quantize, 2),
    ENTRY(dnabert_r_embed, 10),
    ENTRY(dnabert_r_pretrain, 7),
    ENTRY(dnabert_r_finetune, 9),
    ENTRY(dnabert_r_classifier_load, 2),
    ENTRY(dnabert_r_classifier_save, 2),
    ENTRY(dnabert_r_classifier_free, 1),
    ENTRY(dnabert_r_classifier_is_valid, 1),
    ENTRY(dnabert_r_classifier_info, 1),
    ENTRY(dnabert_r_decide_labels, 2),
    ENTRY(dnabert_r_classifier_predict, 6),
    ENTRY(dnabert_r_classifier_merged_model, 1),
    ENTRY(dnabert_r_classifier_evaluate, 3),
    {NULL, NULL, 0}};

void R_init_dnabert(DllInfo *dll) {
    R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
}
