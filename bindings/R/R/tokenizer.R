# Tokenizer objects: an external pointer to the library's handle (freed by a finalizer when R collects
# it) wrapped in a small S3 list.

new_tokenizer <- function(ptr, source) {
  structure(list(ptr = ptr, source = source), class = "dnabert_tokenizer")
}

tokenizer_ptr <- function(tok, name = "tok") {
  if (!inherits(tok, "dnabert_tokenizer")) {
    stop_arg("'", name, "' must be a dnabert tokenizer (from dnabert_tokenizer() or dnabert_train_tokenizer()), not ",
             paste(class(tok), collapse = "/"))
  }
  tok$ptr
}

#' Version of the loaded libdnabert library, e.g. "0.2.0".
dnabert_version <- function() {
  .Call(dnabert_r_version)
}

#' Load a tokenizer.
#'
#' @param path a Hugging Face `tokenizer.json` with a BPE model, such as DNABERT-2's.
#' @param json alternatively, the JSON text itself (a single string).
#' @return a `dnabert_tokenizer`. It holds a handle to library memory: it is freed when R garbage
#'   collects the object (or by [dnabert_free_tokenizer()]) and does not survive `saveRDS()`/`load()`;
#'   save it with [dnabert_save_tokenizer()] instead.
dnabert_tokenizer <- function(path = NULL, json = NULL) {
  if (is.null(path) == is.null(json)) {
    stop_arg("give exactly one of 'path' (a tokenizer.json file) or 'json' (its text)")
  }
  if (!is.null(path)) {
    check_string(path, "path")
    new_tokenizer(.Call(dnabert_r_tokenizer_load, path), normalizePath(path, mustWork = FALSE))
  } else {
    check_string(json, "json")
    new_tokenizer(.Call(dnabert_r_tokenizer_load_json, json), "<json>")
  }
}

#' Write a tokenizer as a tokenizer.json that Hugging Face `tokenizers` (and dnabert_tokenizer()) load.
dnabert_save_tokenizer <- function(tok, path) {
  ptr <- tokenizer_ptr(tok)
  check_string(path, "path")
  .Call(dnabert_r_tokenizer_save, ptr, path)
  invisible(path)
}

#' The tokenizer serialised as tokenizer.json text (a single string).
dnabert_tokenizer_json <- function(tok) {
  .Call(dnabert_r_tokenizer_to_json, tokenizer_ptr(tok))
}

#' Release the tokenizer's memory now instead of at garbage collection. Using it afterwards is an error.
dnabert_free_tokenizer <- function(tok) {
  .Call(dnabert_r_tokenizer_free, tokenizer_ptr(tok))
  invisible(NULL)
}

#' TRUE for a tokenizer whose handle is usable (not freed, not restored from a saved session).
is_dnabert_tokenizer <- function(x) {
  inherits(x, "dnabert_tokenizer") && .Call(dnabert_r_tokenizer_is_valid, x$ptr)
}

#' Number of tokens in the vocabulary, added (special) tokens included.
dnabert_vocab_size <- function(tok) {
  .Call(dnabert_r_vocab_size, tokenizer_ptr(tok))
}

#' Ids of the special tokens: a named integer vector c(unk, cls, sep, pad, mask), NA for any the
#' tokenizer does not define.
dnabert_special_ids <- function(tok) {
  .Call(dnabert_r_special_ids, tokenizer_ptr(tok))
}

#' Ids of token strings (vectorised); NA for a token that is not in the vocabulary.
dnabert_token_to_id <- function(tok, token) {
  ptr <- tokenizer_ptr(tok)
  if (!is.character(token)) stop_arg("'token' must be a character vector")
  .Call(dnabert_r_token_to_id, ptr, token)
}

#' Token strings of ids (vectorised); an id outside the vocabulary is an error.
dnabert_id_to_token <- function(tok, id) {
  ptr <- tokenizer_ptr(tok)
  id <- as_id_rows(id, "id")[[1L]]
  .Call(dnabert_r_id_to_token, ptr, id)
}

print.dnabert_tokenizer <- function(x, ...) {
  if (!.Call(dnabert_r_tokenizer_is_valid, x$ptr)) {
    cat("<dnabert tokenizer: not usable (freed, or restored from a saved R session); load it again>\n")
    return(invisible(x))
  }
  special <- dnabert_special_ids(x)
  defined <- !is.na(special)
  cat("<dnabert tokenizer> vocabulary of", dnabert_vocab_size(x), "tokens\n")
  cat("  special ids:",
      if (any(defined)) {
        paste0(dnabert_id_to_token(x, special[defined]), "=", special[defined], collapse = " ")
      } else {
        "none"
      }, "\n")
  if (!is.null(x$source)) cat("  source:", x$source, "\n")
  invisible(x)
}
