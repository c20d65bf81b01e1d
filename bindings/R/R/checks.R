# Argument checks shared by the package's functions. They run before any call into the library so that
# a wrong type or an NA gives an R error naming the argument.

stop_arg <- function(...) stop(paste0(...), call. = FALSE)

check_flag <- function(x, name) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    stop_arg("'", name, "' must be TRUE or FALSE")
  }
  x
}

# A single whole number in [min, .Machine$integer.max], returned as integer.
check_int <- function(x, name, min = 0L) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x != round(x)) {
    stop_arg("'", name, "' must be a single whole number")
  }
  if (x < min || x > .Machine$integer.max) {
    stop_arg("'", name, "' must be between ", min, " and ", .Machine$integer.max, ", not ", format(x))
  }
  as.integer(x)
}

check_string <- function(x, name) {
  if (!is.character(x) || length(x) != 1L || is.na(x)) {
    stop_arg("'", name, "' must be a single non-NA string")
  }
  x
}

# Character vector of sequences from a character vector, a factor, or a Biostrings XStringSet /
# XString (names kept).
as_sequences <- function(x, name = "x") {
  if (is.null(x)) {
    stop_arg("'", name, "' must be a character vector or a Biostrings DNAStringSet, not NULL")
  }
  # A single string naming a file (or shaped like a path) is read as FASTA/CSV/TSV, never tokenized as DNA.
  if (is.character(x) && length(x) == 1L && !is.na(x) && nchar(x) < 4096L &&
      (grepl("[./\\\\]", x) || file.exists(path.expand(x)))) {
    return(prediction_input(x))
  }
  if (methods::is(x, "XStringSet") || methods::is(x, "XString")) {
    x <- as.character(x)
  } else if (is.factor(x)) {
    x <- set_names(as.character(x), names(x))
  }
  if (!is.character(x)) {
    stop_arg("'", name, "' must be a character vector or a Biostrings DNAStringSet, not ",
             paste(class(x), collapse = "/"))
  }
  if (anyNA(x)) {
    stop_arg("'", name, "' contains NA (first at position ", which(is.na(x))[1L], ")")
  }
  x
}

set_names <- function(x, nm) {
  names(x) <- nm
  x
}

# Token ids as a list of integer vectors, from an integer/numeric vector, a list of them, or a matrix
# (one row per sequence).
as_id_rows <- function(ids, name = "ids") {
  to_int <- function(v, where) {
    if (is.data.frame(v) && "id" %in% names(v)) v <- v$id
    if (!is.numeric(v)) stop_arg("'", name, "'", where, " must be integer token ids, not ", class(v)[1L])
    if (anyNA(v)) stop_arg("'", name, "'", where, " contains NA")
    if (is.double(v)) {
      if (any(!is.finite(v)) || any(v != round(v)) || any(abs(v) > .Machine$integer.max)) {
        stop_arg("'", name, "'", where, " must hold whole numbers in the integer range")
      }
    }
    v <- as.vector(v)
    storage.mode(v) <- "integer"
    v
  }
  if (is.null(ids)) stop_arg("'", name, "' must not be NULL")
  if (is.matrix(ids)) {
    rows <- lapply(seq_len(nrow(ids)), function(i) to_int(ids[i, ], sprintf(" (row %d)", i)))
    names(rows) <- rownames(ids)
    return(rows)
  }
  if (is.list(ids) && !is.data.frame(ids)) {
    rows <- lapply(seq_along(ids), function(i) to_int(ids[[i]], sprintf(" (element %d)", i)))
    names(rows) <- names(ids)
    return(rows)
  }
  list(to_int(ids, ""))
}
