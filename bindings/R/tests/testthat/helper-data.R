# Locating the project's shared test data (../shared/data next to the repository). A missing file is an
# error, never a skip: the tests below must run against the real DNABERT-2 tokenizer.

shared_data_file <- function(...) {
  rel <- file.path(...)
  env <- Sys.getenv("DNABERT_SHARED", "")
  candidates <- character()
  if (nzchar(env)) {
    # DNABERT_SHARED may point at the shared folder or at its data/ folder.
    candidates <- c(file.path(env, "data", rel), file.path(env, rel))
  }
  dir <- normalizePath(getwd(), mustWork = FALSE)
  for (k in 0:8) {
    candidates <- c(candidates, file.path(dir, "shared", "data", rel), file.path(dir, "..", "shared", "data", rel))
    parent <- dirname(dir)
    if (identical(parent, dir)) break
    dir <- parent
  }
  hit <- candidates[file.exists(candidates)]
  if (length(hit) == 0L) {
    stop("test data file '", rel, "' not found; set DNABERT_SHARED to the shared data folder (tried: ",
         paste(unique(candidates), collapse = ", "), ")", call. = FALSE)
  }
  normalizePath(hit[[1L]])
}

dnabert2_tokenizer_path <- function() shared_data_file("dnabert2", "tokenizer.json")

# The Hugging Face reference encodings written by tools/reference/make_r_fixture.py.
hf_reference <- function() {
  path <- test_path("fixtures", "dnabert2_hf_reference.tsv")
  ref <- utils::read.delim(path, colClasses = "character", quote = "", na.strings = character(),
                           comment.char = "")
  parse_ids <- function(s) if (nzchar(s)) as.integer(strsplit(s, " ", fixed = TRUE)[[1L]]) else integer()
  parse_offsets <- function(s) {
    parts <- strsplit(strsplit(s, " ", fixed = TRUE)[[1L]], ":", fixed = TRUE)
    m <- matrix(as.integer(unlist(parts)), ncol = 2L, byrow = TRUE)
    list(start = m[, 1L], end = m[, 2L])
  }
  list(
    name = ref$name,
    sequence = stats::setNames(ref$sequence, ref$name),
    ids = stats::setNames(lapply(ref$ids, parse_ids), ref$name),
    offsets = stats::setNames(lapply(ref$offsets, parse_offsets), ref$name),
    ids_plain = stats::setNames(lapply(ref$ids_plain, parse_ids), ref$name),
    ids_upper = stats::setNames(lapply(ref$ids_upper, parse_ids), ref$name),
    ids_trunc16 = stats::setNames(lapply(ref$ids_trunc16, parse_ids), ref$name)
  )
}

# First `n` bases of the first record of a gzip FASTA file.
read_fasta_prefix <- function(path, n) {
  con <- gzfile(path, "r")
  on.exit(close(con))
  out <- character()
  got <- 0
  repeat {
    lines <- readLines(con, n = 2000L)
    if (length(lines) == 0L) break
    lines <- lines[!startsWith(lines, ">")]
    out <- c(out, lines)
    got <- got + sum(nchar(lines))
    if (got >= n) break
  }
  substr(paste(out, collapse = ""), 1L, n)
}
