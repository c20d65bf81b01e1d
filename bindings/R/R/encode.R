#' Encode DNA sequences into DNABERT-2 token ids.
#'
#' @param tok a tokenizer from [dnabert_tokenizer()] or [dnabert_train_tokenizer()].
#' @param x a character vector of sequences or a Biostrings `DNAStringSet` (any `XStringSet`); names are
#'   kept. Sequences are encoded as given (as Hugging Face does: a lower-case base or an `N` becomes
#'   `[UNK]`) unless `uppercase = TRUE`.
#' @param add_special_tokens add `[CLS]` ... `[SEP]` around each sequence (the tokenizer's post-processor).
#' @param max_length `NULL` (no limit) or the maximum number of tokens per sequence, special tokens
#'   included; longer encodings are truncated at the end (as Hugging Face truncation does).
#' @param padding `FALSE`: return a list of integer vectors. `TRUE`: return matrices, one row per sequence,
#'   padded with the `[PAD]` id to `max_length` columns when it is given, else to the longest encoding.
#' @param uppercase fold a-z to A-Z before encoding (the sequence itself is not changed).
#' @param offsets also return where each token lies in its sequence, as 1-based inclusive positions
#'   `start` and `end` (genome coordinates if the sequence starts at position 1: token k covers
#'   `substr(x, start[k], end[k])`, so `end - start + 1` is its length in bases). Tokens that cover no
#'   bases (`[CLS]`, `[SEP]`, padding) have `NA`.
#' @param threads worker threads for encoding many sequences, 0 = all cores.
#' @param genome where the DNA of a `GRanges` `x` is read (a BSgenome, an `Rsamtools::FaFile` or its path, a
#'   named DNAStringSet); minus-strand regions are reverse-complemented. `x` may also be a data.frame or S4
#'   `DataFrame` with a `sequence` column (keyed by its row names).
#' @return
#' * `padding = FALSE, offsets = FALSE`: a list of integer vectors, named like `x`.
#' * `padding = FALSE, offsets = TRUE`: a list (named like `x`) of data frames with integer columns
#'   `id`, `start`, `end`, one row per token.
#' * `padding = FALSE, offsets = "IRanges"`: an `IRangesList` (named like `x`), one range per token that
#'   covers bases, with the token `id` and its position `token` in the encoding in `mcols`.
#' * `padding = TRUE`: a list with integer matrices `ids` and `attention_mask` (1 for a real token, 0 for
#'   padding), rows named like `x`; with `offsets = TRUE` also integer matrices `start` and `end`.
dnabert_encode <- function(tok, x, add_special_tokens = TRUE, max_length = NULL, padding = FALSE,
                           uppercase = FALSE, offsets = FALSE, threads = 0L, genome = NULL) {
  ptr <- tokenizer_ptr(tok)
  x <- input_sequences(x, genome)
  check_flag(add_special_tokens, "add_special_tokens")
  check_flag(padding, "padding")
  check_flag(uppercase, "uppercase")
  as_ranges <- identical(offsets, "IRanges")
  if (as_ranges) {
    if (padding) stop_arg("offsets = \"IRanges\" needs padding = FALSE")
    offsets <- TRUE
  }
  if (!(isTRUE(offsets) || isFALSE(offsets))) stop_arg("'offsets' must be TRUE, FALSE or \"IRanges\"")
  max_length <- if (is.null(max_length)) 0L else check_int(max_length, "max_length", min = 1L)
  threads <- check_int(threads, "threads", min = 0L)
  seq_names <- names(x)
  x <- unname(x)

  if (!padding) {
    res <- .Call(dnabert_r_encode, ptr, x, add_special_tokens, max_length, uppercase, offsets, threads)
    if (offsets) {
      res <- lapply(seq_along(x), function(i) {
        # a plain data.frame built directly: data.frame() costs ~0.3 ms per call on many windows
        structure(list(id = res$ids[[i]], start = res$start[[i]], end = res$end[[i]]),
                  class = "data.frame", row.names = c(NA_integer_, -length(res$ids[[i]])))
      })
    }
    names(res) <- seq_names
    if (as_ranges) return(offsets_as_iranges(res))
    return(res)
  }

  if (max_length > 0L && !offsets) {
    # Fixed width: the library truncates and pads in one parallel pass.
    res <- .Call(dnabert_r_encode_padded, ptr, x, add_special_tokens, max_length, uppercase, threads)
    out <- list(ids = res$ids, attention_mask = res$attention_mask)
  } else {
    # Pad to the longest encoding (or carry offsets along): encode ragged, then lay rows out.
    res <- .Call(dnabert_r_encode, ptr, x, add_special_tokens, max_length, uppercase, offsets, threads)
    rows <- if (offsets) res$ids else res
    n_tokens <- lengths(rows)
    width <- if (max_length > 0L) max_length else max(0L, n_tokens)
    pad <- dnabert_special_ids(tok)[["pad"]]
    if (is.na(pad)) stop_arg("this tokenizer has no [PAD] token, so it cannot pad; use padding = FALSE")
    ids <- .Call(dnabert_r_pad_rows, rows, width, pad)
    mask <- col(ids) <= n_tokens
    storage.mode(mask) <- "integer"
    out <- list(ids = ids, attention_mask = mask)
    if (offsets) {
      out$start <- .Call(dnabert_r_pad_rows, res$start, width, NA_integer_)
      out$end <- .Call(dnabert_r_pad_rows, res$end, width, NA_integer_)
    }
  }
  for (k in seq_along(out)) rownames(out[[k]]) <- seq_names
  out
}

#' Decode token ids back to DNA.
#'
#' @param ids an integer vector (one sequence), a list of integer vectors, a matrix with one sequence per
#'   row (e.g. `dnabert_encode(..., padding = TRUE)$ids`), or the whole padded result of
#'   `dnabert_encode()` (its attention mask then selects the tokens).
#' @param skip_special_tokens leave out special tokens such as `[CLS]`, `[SEP]` and `[PAD]`.
#' @return a character vector: one string for an integer vector, else one per element/row (names kept).
#'   An id outside the vocabulary is an error.
dnabert_decode <- function(tok, ids, skip_special_tokens = TRUE) {
  ptr <- tokenizer_ptr(tok)
  check_flag(skip_special_tokens, "skip_special_tokens")
  if (is.list(ids) && !is.data.frame(ids) && is.matrix(ids$ids) && is.matrix(ids$attention_mask)) {
    m <- ids$ids
    keep <- ids$attention_mask != 0
    if (!identical(dim(keep), dim(m))) stop_arg("'ids$ids' and 'ids$attention_mask' differ in shape")
    ids <- lapply(seq_len(nrow(m)), function(i) m[i, keep[i, ]])
    names(ids) <- rownames(m)
  }
  rows <- as_id_rows(ids)
  out <- .Call(dnabert_r_decode, ptr, rows, skip_special_tokens)
  names(out) <- names(rows)
  out
}
