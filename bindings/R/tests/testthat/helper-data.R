# Test data. The package's own fixtures (tests/testthat/fixtures) hold everything most tests need, so that
# `R CMD check` passes anywhere: DNABERT-2's published tokenizer.json (Apache-2.0, see fixtures/dnabert2/LICENSE),
# prefixes of two genomes (fixtures/genomes: the first bases of the repository's examples/data genomes) and the
# tiny PyTorch model fixture (fixtures/model, a copy of Tests/DNABertTests/Fixtures/model).
# The fine-tuning tests need the repository's larger files (examples/models, examples/data/tasks): they are
# found through DNABERT_REPO (the repository checkout; `make test` sets it) or, when the tests run inside the
# checkout, above the working folder. Without them those tests are skipped, with the reason.

fixture_file <- function(...) {
  p <- test_path("fixtures", ...)
  if (!file.exists(p)) stop("package fixture '", file.path(...), "' is missing", call. = FALSE)
  normalizePath(p)
}

dnabert2_tokenizer_path <- function() fixture_file("dnabert2", "tokenizer.json")

# The genome prefixes shipped as fixtures (first `n` bases of the first record).
genome_prefix_file <- function(name) {
  switch(name,
         hpylori = fixture_file("genomes", "hpylori_sjm180_200k.fa.gz"),
         saureus = fixture_file("genomes", "saureus_n315_6k.fa.gz"),
         stop("no genome fixture '", name, "'", call. = FALSE))
}

# The repository checkout: DNABERT_REPO, else a folder above the working directory that holds `probe`.
repo_root <- function(probe = file.path("examples", "models")) {
  env <- Sys.getenv("DNABERT_REPO", "")
  if (nzchar(env)) {
    if (!file.exists(file.path(env, probe))) {
      stop("DNABERT_REPO=", env, " has no ", probe, call. = FALSE)   # misconfigured: an error, not a skip
    }
    return(normalizePath(env))
  }
  dir <- normalizePath(getwd(), mustWork = FALSE)
  for (k in 0:8) {
    if (file.exists(file.path(dir, probe))) return(dir)
    parent <- dirname(dir)
    if (identical(parent, dir)) break
    dir <- parent
  }
  NULL
}

# A file of the repository checkout; skips the calling test (with the reason) when there is none.
repo_file <- function(...) {
  rel <- file.path(...)
  root <- repo_root(rel)
  if (is.null(root)) {
    testthat::skip(paste0("needs the dnabert repository's ", rel, " (set DNABERT_REPO to the checkout)"))
  }
  normalizePath(file.path(root, rel))
}

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
  stopifnot(got >= n)
  substr(paste(out, collapse = ""), 1L, n)
}
