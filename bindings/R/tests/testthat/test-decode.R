# Decoding: ids back to DNA. For clean DNA (A/C/G/T only) decode(encode(x)) must give x back exactly;
# the expected value is the input itself.

ref <- hf_reference()
tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
clean <- ref$sequence[grepl("^[ACGT]*$", ref$sequence)]

test_that("decode inverts encode on clean DNA (from Hugging Face's ids too)", {
  expect_gte(length(clean), 8L)
  expect_identical(dnabert_decode(tok, dnabert_encode(tok, clean)), clean)
  expect_identical(dnabert_decode(tok, ref$ids[names(clean)]), clean)
  one <- unname(clean[[length(clean)]])
  expect_identical(dnabert_decode(tok, dnabert_encode(tok, one)[[1L]]), one)
})

test_that("special tokens are skipped by default and kept on request", {
  expect_identical(dnabert_decode(tok, c(1L, 5L, 6L, 2L)), "AC")
  expect_identical(dnabert_decode(tok, c(1L, 5L, 6L, 2L), skip_special_tokens = FALSE), "[CLS]AC[SEP]")
  expect_identical(dnabert_decode(tok, c(1, 5, 6, 2)), "AC") # doubles holding whole numbers are fine
  expect_identical(dnabert_decode(tok, integer()), "")
})

test_that("padded matrices and the padded result decode row by row", {
  padded <- dnabert_encode(tok, clean, padding = TRUE)
  expect_identical(dnabert_decode(tok, padded$ids), clean)
  expect_identical(dnabert_decode(tok, padded), clean)
  # with special tokens kept, the mask removes the padding but not [CLS]/[SEP]
  expect_identical(dnabert_decode(tok, padded, skip_special_tokens = FALSE),
                   stats::setNames(paste0("[CLS]", clean, "[SEP]"), names(clean)))
})

test_that("decode rejects ids outside the vocabulary and NA with an error", {
  expect_error(dnabert_decode(tok, c(5L, 4096L)), class = "error")
  expect_error(dnabert_decode(tok, c(5L, -1L)), class = "error")
  expect_error(dnabert_decode(tok, list(a = 5L, b = 99999L)), class = "error")
  expect_error(dnabert_decode(tok, c(5L, NA)), "NA")
  expect_error(dnabert_decode(tok, c(5.5)), "whole numbers")
  expect_error(dnabert_decode(tok, "ACGT"), "integer token ids")
  expect_error(dnabert_decode(tok, NULL), "NULL")
  expect_error(dnabert_id_to_token(tok, 4096L), class = "error")
  # the library's message is passed through (it is not empty)
  msg <- tryCatch(dnabert_decode(tok, 4096L), error = conditionMessage)
  expect_true(nzchar(msg))
})
