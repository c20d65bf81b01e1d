# Every misuse must end in an R error (stop()), never a crash: missing and malformed files (the library's
# message is passed through), NULL/NA arguments, freed handles, handles restored from a saved session.

path <- dnabert2_tokenizer_path()

test_that("a missing tokenizer file is an error carrying the library's message", {
  missing <- file.path(tempdir(), "does-not-exist", "tokenizer.json")
  msg <- tryCatch(dnabert_tokenizer(missing), error = conditionMessage)
  expect_type(msg, "character")
  expect_match(msg, "does-not-exist", fixed = TRUE)
})

test_that("malformed tokenizer files are errors", {
  bad <- withr::local_tempfile(fileext = ".json")
  writeLines('{"model": {"type": "BPE", "vocab": {"A": 0,', bad)
  expect_error(dnabert_tokenizer(bad), class = "error")
  writeLines("this is not JSON", bad)
  expect_error(dnabert_tokenizer(bad), class = "error")
  writeLines("{}", bad)
  expect_error(dnabert_tokenizer(bad), class = "error")
  writeLines('{"model": {"type": "WordPiece", "vocab": {}}}', bad)
  expect_error(dnabert_tokenizer(bad), class = "error")
  # truncated copy of the real file
  text <- readChar(path, file.size(path), useBytes = TRUE)
  writeChar(substr(text, 1L, nchar(text) %/% 2L), bad, eos = NULL, useBytes = TRUE)
  expect_error(dnabert_tokenizer(bad), class = "error")
  expect_error(dnabert_tokenizer(json = "{"), class = "error")
  expect_error(dnabert_tokenizer(json = ""), class = "error")
  msg <- tryCatch(dnabert_tokenizer(bad), error = conditionMessage)
  expect_true(nzchar(msg))
})

test_that("NULL and NA arguments are rejected in R with clear messages", {
  tok <- dnabert_tokenizer(path)
  expect_error(dnabert_tokenizer(), "exactly one")
  expect_error(dnabert_tokenizer(NA_character_), "non-NA string")
  expect_error(dnabert_tokenizer(c("a", "b")), "single")
  expect_error(dnabert_tokenizer(42), "single non-NA string")
  expect_error(dnabert_encode(tok, NULL), "not NULL")
  expect_error(dnabert_encode(tok, c("ACGT", NA)), "NA \\(first at position 2\\)")
  expect_error(dnabert_encode(tok, 1:3), "character vector")
  expect_error(dnabert_encode(tok, "ACGT", max_length = NA), "max_length")
  expect_error(dnabert_encode(tok, "ACGT", max_length = 0), "max_length")
  expect_error(dnabert_encode(tok, "ACGT", padding = NA), "padding")
  expect_error(dnabert_encode(tok, "ACGT", add_special_tokens = "yes"), "add_special_tokens")
  expect_error(dnabert_encode(tok, "ACGT", threads = -1), "threads")
  expect_error(dnabert_encode(NULL, "ACGT"), "dnabert tokenizer")
  expect_error(dnabert_encode("tokenizer.json", "ACGT"), "dnabert tokenizer")
  expect_error(dnabert_token_to_id(tok, 5L), "character")
  expect_error(dnabert_save_tokenizer(tok, NA_character_), "non-NA string")
})

test_that("saving to an unwritable place is an error", {
  tok <- dnabert_tokenizer(path)
  expect_error(dnabert_save_tokenizer(tok, file.path(tempdir(), "no", "such", "dir", "tok.json")), class = "error")
})

test_that("a freed tokenizer cannot be used, and freeing twice is harmless", {
  tok <- dnabert_tokenizer(path)
  dnabert_free_tokenizer(tok)
  expect_false(is_dnabert_tokenizer(tok))
  expect_error(dnabert_encode(tok, "ACGT"), "no longer valid")
  expect_error(dnabert_vocab_size(tok), "no longer valid")
  expect_error(dnabert_decode(tok, 5L), "no longer valid")
  expect_error(dnabert_save_tokenizer(tok, tempfile()), "no longer valid")
  expect_silent(dnabert_free_tokenizer(tok))
  expect_output(print(tok), "not usable")
})

test_that("a tokenizer restored from saveRDS is invalid, not a crash", {
  tok <- dnabert_tokenizer(path)
  rds <- withr::local_tempfile(fileext = ".rds")
  saveRDS(tok, rds)
  restored <- readRDS(rds)
  expect_false(is_dnabert_tokenizer(restored))
  expect_error(dnabert_encode(restored, "ACGT"), "saved R session")
  # the original is unaffected
  expect_identical(dnabert_encode(tok, "A")[[1L]], c(1L, 5L, 2L))
})

test_that("forged objects are rejected", {
  fake <- structure(list(ptr = NULL, source = "x"), class = "dnabert_tokenizer")
  expect_error(dnabert_vocab_size(fake), "not a dnabert tokenizer handle")
  env_ptr <- structure(list(ptr = new.env(), source = "x"), class = "dnabert_tokenizer")
  expect_error(dnabert_encode(env_ptr, "A"), "not a dnabert tokenizer handle")
})

test_that("finalizers free handles at garbage collection without trouble", {
  for (i in 1:5) dnabert_tokenizer(path)
  expect_silent(invisible(gc()))
  tok <- dnabert_tokenizer(path)
  expect_identical(dnabert_vocab_size(tok), 4096L)
})
