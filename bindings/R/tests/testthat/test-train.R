# Training a BPE tokenizer on a small FASTA written by the test (100 kbp of H. pylori), saving and loading
# it, and progress reporting. Checks are properties any correct BPE trainer must have: the requested
# vocabulary size, DNABERT-2's special ids, fewer tokens than bases on real DNA, lossless round trips.

genome <- read_fasta_prefix(genome_prefix_file("hpylori"), 100000L)

write_fasta <- function(path, records, width = 60L) {
  lines <- unlist(lapply(names(records), function(nm) {
    s <- records[[nm]]
    starts <- seq(1L, nchar(s), by = width)
    c(paste0(">", nm), substring(s, starts, pmin(starts + width - 1L, nchar(s))))
  }))
  writeLines(lines, path)
}

fasta <- withr::local_tempfile(fileext = ".fa", .local_envir = teardown_env())
write_fasta(fasta, list(part1 = substr(genome, 1L, 60000L), part2 = substr(genome, 60001L, 100000L)))
trained <- dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = FALSE)

test_that("a tokenizer trained on a FASTA file has the requested size and DNABERT-2's special ids", {
  expect_s3_class(trained, "dnabert_tokenizer")
  expect_identical(dnabert_vocab_size(trained), 300L)
  expect_identical(dnabert_special_ids(trained), c(unk = 0L, cls = 1L, sep = 2L, pad = 3L, mask = 4L))
  expect_false(any(is.na(dnabert_token_to_id(trained, c("A", "C", "G", "T")))))
})

test_that("the trained tokenizer compresses DNA: fewer tokens than bases, lossless", {
  held_out <- read_fasta_prefix(genome_prefix_file("hpylori"), 120000L)
  held_out <- substr(held_out, 100001L, 120000L)
  ids <- dnabert_encode(trained, held_out, add_special_tokens = FALSE)[[1L]]
  expect_lt(length(ids), nchar(held_out) / 2)
  expect_false(any(ids == 0L)) # no [UNK] on clean DNA
  expect_identical(dnabert_decode(trained, ids), held_out)
  with_special <- dnabert_encode(trained, "ACGT")[[1L]]
  expect_identical(with_special[c(1L, length(with_special))], c(1L, 2L)) # [CLS] ... [SEP]
})

test_that("save and load round trip gives the same tokenizer", {
  path <- withr::local_tempfile(fileext = ".json")
  expect_identical(dnabert_save_tokenizer(trained, path), path)
  expect_true(file.exists(path))
  again <- dnabert_tokenizer(path)
  expect_identical(dnabert_vocab_size(again), dnabert_vocab_size(trained))
  x <- c(a = substr(genome, 1L, 3000L), b = substr(genome, 50000L, 51000L), c = "ACGTNNACGT")
  expect_identical(dnabert_encode(again, x), dnabert_encode(trained, x))
  ids <- 0:(dnabert_vocab_size(trained) - 1L)
  expect_identical(dnabert_id_to_token(again, ids), dnabert_id_to_token(trained, ids))
  # and DNABERT-2's own tokenizer survives a save/load round trip
  dnabert2 <- dnabert_tokenizer(dnabert2_tokenizer_path())
  path2 <- withr::local_tempfile(fileext = ".json")
  dnabert_save_tokenizer(dnabert2, path2)
  ref <- hf_reference()
  expect_identical(dnabert_encode(dnabert_tokenizer(path2), ref$sequence), ref$ids)
})

test_that("a saved trained tokenizer encodes the same in Hugging Face tokenizers", {
  python <- Sys.which("python3")
  skip_if(!nzchar(python), "python3 not available")
  # R's LD_LIBRARY_PATH can make a non-system Python pick up the wrong libpython: run it without.
  withr::local_envvar(LD_LIBRARY_PATH = NA)
  has_hf <- system2(python, c("-c", shQuote("import tokenizers")), stdout = FALSE, stderr = FALSE) == 0L
  skip_if(!has_hf, "Python package tokenizers not installed")
  path <- withr::local_tempfile(fileext = ".json")
  dnabert_save_tokenizer(trained, path)
  x <- substr(genome, 20000L, 22000L)
  script <- withr::local_tempfile(fileext = ".py")
  writeLines(c("import sys", "from tokenizers import Tokenizer",
               "t = Tokenizer.from_file(sys.argv[1])",
               "print(' '.join(map(str, t.encode(sys.argv[2]).ids)))"), script)
  out <- suppressWarnings(system2(python, c(script, shQuote(path), x), stdout = TRUE))
  expect_null(attr(out, "status")) # Hugging Face could load the saved file
  hf_ids <- as.integer(strsplit(out, " ", fixed = TRUE)[[1L]])
  expect_identical(dnabert_encode(trained, x)[[1L]], hf_ids)
})

test_that("training from in-memory sequences (character or DNAStringSet) works", {
  seqs <- substring(genome, seq(1L, 90001L, by = 10000L), seq(10000L, 100000L, by = 10000L))
  t1 <- dnabert_train_tokenizer(sequences = seqs, vocab_size = 200L, progress = FALSE)
  expect_identical(dnabert_vocab_size(t1), 200L)
  ids <- dnabert_encode(t1, seqs[1L], add_special_tokens = FALSE)[[1L]]
  expect_lt(length(ids), nchar(seqs[1L]))
  skip_if_not_installed("Biostrings")
  t2 <- dnabert_train_tokenizer(sequences = Biostrings::DNAStringSet(seqs), vocab_size = 200L, progress = FALSE)
  expect_identical(dnabert_encode(t2, seqs), dnabert_encode(t1, seqs))
})

test_that("progress functions are called, and returning FALSE or failing cancels cleanly", {
  calls <- new.env()
  calls$n <- 0L
  calls$stages <- character()
  fn <- function(stage, current, total, elapsed, eta) {
    calls$n <- calls$n + 1L
    calls$stages <- union(calls$stages, stage)
    stopifnot(is.character(stage), is.numeric(current), is.numeric(total), is.numeric(elapsed))
    TRUE
  }
  t1 <- dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = fn)
  expect_gt(calls$n, 0L)
  expect_true(all(nzchar(calls$stages)))
  expect_identical(dnabert_vocab_size(t1), 300L)

  expect_error(dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = function(...) FALSE), "cancel")
  # an error in the progress function cancels training, then surfaces as itself
  expect_error(dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = function(...) stop("boom")), "boom")
  # R conditions pass through: calling handlers see messages, exiting handlers end training early
  seen <- character()
  withCallingHandlers(
    dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = function(stage, ...) message("at ", stage)),
    message = function(m) {
      seen <<- c(seen, conditionMessage(m))
      invokeRestart("muffleMessage")
    })
  expect_gt(length(seen), 0L)
  expect_true(all(startsWith(seen, "at ")))
  got <- tryCatch(dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = function(...) message("stop here")),
                  message = function(m) "handled")
  expect_identical(got, "handled")
  # a user interrupt (Ctrl-C) during training cancels it and arrives as an R interrupt
  calls <- 0L
  got <- tryCatch(
    dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = function(...) {
      calls <<- calls + 1L
      tools::pskill(Sys.getpid(), tools::SIGINT)
      Sys.sleep(1)
      TRUE
    }),
    interrupt = function(e) "interrupted")
  expect_identical(got, "interrupted")
  expect_identical(calls, 1L)
  # and the library is fine afterwards
  expect_identical(dnabert_vocab_size(dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = FALSE)), 300L)
  # the default text progress bar runs without error
  out <- capture.output(t2 <- suppressMessages(dnabert_train_tokenizer(fasta, vocab_size = 300L, progress = TRUE)))
  expect_identical(dnabert_vocab_size(t2), 300L)
})

test_that("training options are validated in R and by the library", {
  expect_error(dnabert_train_tokenizer(), "exactly one")
  expect_error(dnabert_train_tokenizer(fasta, sequences = "ACGT"), "exactly one")
  expect_error(dnabert_train_tokenizer(NA_character_), "without NA")
  expect_error(dnabert_train_tokenizer(fasta, vocab_size = NA), "vocab_size")
  expect_error(dnabert_train_tokenizer(fasta, vocab_size = 10.5), "vocab_size")
  expect_error(dnabert_train_tokenizer(fasta, case = "lower"), "should be one of")
  expect_error(dnabert_train_tokenizer(fasta, max_bases = -1), "max_bases")
  expect_error(dnabert_train_tokenizer(fasta, progress = "yes"), "progress")
  missing <- file.path(tempdir(), "no-such-genome.fa")
  expect_error(dnabert_train_tokenizer(missing, progress = FALSE), "no-such-genome")
})
