#' Train a DNABERT-2-style BPE tokenizer.
#'
#' The result has `[UNK] [CLS] [SEP] [PAD] [MASK]` as ids 0-4, then the alphabet, then the merges, and
#' encodes like DNABERT-2's tokenizer (`[CLS] x [SEP]`). Save it with [dnabert_save_tokenizer()].
#'
#' @param files FASTA files (plain or gzip; multi-record). Alternatively give `sequences`.
#' @param vocab_size final vocabulary size, the 5 special tokens included.
#' @param min_frequency a pair of tokens must occur at least this often to be merged.
#' @param max_token_length longest token in bases, 0 = unlimited.
#' @param word_length records are cut into words of at most this many bases; `NULL` = library default.
#' @param case `"upper"`: fold a-z to A-Z; `"keep"`: lower case stays distinct (and is then cut out as
#'   `non_acgt` says).
#' @param non_acgt `"split"`: any letter other than A, C, G, T ends the current word and is dropped;
#'   `"keep"`: IUPAC codes (N, R, Y, ...) stay in words and join the alphabet.
#' @param threads worker threads, 0 = all cores.
#' @param max_bases read at most this many bases, 0 = all.
#' @param progress `TRUE` for a text progress bar per stage, `FALSE` for none, or a function
#'   `function(stage, current, total, elapsed, eta)` (`total`/`eta` are `NA` when unknown) that returns
#'   `FALSE` to cancel. Training can be interrupted with Ctrl-C/Esc in any case.
#' @param sequences instead of `files`: a character vector or `DNAStringSet` of sequences.
#' @return a `dnabert_tokenizer`.
dnabert_train_tokenizer <- function(files = NULL, vocab_size = 4096L, min_frequency = 2L, max_token_length = 0L,
                                    word_length = NULL, case = c("upper", "keep"), non_acgt = c("split", "keep"),
                                    threads = 0L, max_bases = 0, progress = interactive(), sequences = NULL) {
  if (is.null(files) == is.null(sequences)) {
    stop_arg("give exactly one of 'files' (FASTA paths) or 'sequences'")
  }
  if (!is.null(files)) {
    if (!is.character(files) || length(files) == 0L || anyNA(files)) {
      stop_arg("'files' must be a character vector of FASTA file paths without NA")
    }
  } else {
    sequences <- unname(as_sequences(sequences, "sequences"))
  }
  vocab_size <- check_int(vocab_size, "vocab_size", min = 1L)
  min_frequency <- check_int(min_frequency, "min_frequency", min = 0L)
  max_token_length <- check_int(max_token_length, "max_token_length", min = 0L)
  word_length <- if (is.null(word_length)) NA_integer_ else check_int(word_length, "word_length", min = 1L)
  case <- match.arg(case)
  non_acgt <- match.arg(non_acgt)
  threads <- check_int(threads, "threads", min = 0L)
  if (!is.numeric(max_bases) || length(max_bases) != 1L || is.na(max_bases) || !is.finite(max_bases) ||
      max_bases < 0 || max_bases != round(max_bases)) {
    stop_arg("'max_bases' must be a single non-negative whole number")
  }
  reporter <- NULL
  if (is.function(progress)) {
    fn <- progress
  } else if (isTRUE(progress)) {
    reporter <- progress_bar_reporter()
    fn <- reporter$report
    on.exit(reporter$finish(), add = TRUE)
  } else if (isFALSE(progress) || is.null(progress)) {
    fn <- NULL
  } else {
    stop_arg("'progress' must be TRUE, FALSE or a function(stage, current, total, elapsed, eta)")
  }

  ptr <- .Call(dnabert_r_train, if (is.null(files)) NULL else path.expand(files), sequences, vocab_size,
               min_frequency, max_token_length, word_length,
               if (case == "upper") 0L else 1L, if (non_acgt == "split") 0L else 1L,
               threads, as.double(max_bases), fn)
  origin <- if (is.null(files)) "<trained on sequences>" else paste0("<trained on ", paste(basename(files), collapse = ", "), ">")
  new_tokenizer(ptr, origin)
}

# A text progress bar per stage (stages with an unknown total get a message only).
progress_bar_reporter <- function() {
  state <- new.env(parent = emptyenv())
  state$stage <- NULL
  state$bar <- NULL
  finish <- function() {
    if (!is.null(state$bar)) close(state$bar)
    state$bar <- NULL
  }
  report <- function(stage, current, total, elapsed, eta) {
    if (!identical(stage, state$stage)) {
      finish()
      state$stage <- stage
      message("dnabert: ", stage)
      if (!is.na(total) && total > 0) state$bar <- txtProgressBar(min = 0, max = total, style = 3)
    }
    if (!is.null(state$bar)) setTxtProgressBar(state$bar, min(current, total))
    TRUE
  }
  list(report = report, finish = finish)
}
