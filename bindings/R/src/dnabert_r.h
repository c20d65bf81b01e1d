/* Internal declarations shared by the R package's C files. */
#ifndef DNABERT_R_H
#define DNABERT_R_H

#include <stddef.h>
#include <Rinternals.h>
#include "dnabert.h"

void dnabert_r_save_error(int status, char *msg, size_t cap);
void dnabert_r_fail(int status);
SEXP dnabert_r_new_tokenizer_ptr(void);
const dnabert_tokenizer *dnabert_r_tokenizer(SEXP ptr);

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

#endif
