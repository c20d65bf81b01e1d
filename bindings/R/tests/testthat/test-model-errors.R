# Misuse of the model API must end in an R error (stop()) carrying a clear message, never a crash.

fixture <- model_fixture_dir()
ids <- model_reference("input_ids")
mask <- model_reference("attention_mask")

test_that("a missing model folder is an error naming it", {
  missing <- file.path(tempdir(), "no-such-model-folder")
  msg <- tryCatch(dnabert_model(missing), error = conditionMessage)
  expect_type(msg, "character")
  expect_match(msg, "no-such-model-folder", fixed = TRUE)
})

test_that("a corrupt config.json or truncated weights are errors", {
  dir <- withr::local_tempdir()
  file.copy(file.path(fixture, "model.safetensors"), dir)
  writeLines('{"hidden_size": 48, "num_hidden_layers": ', file.path(dir, "config.json"))
  expect_error(dnabert_model(dir), class = "error")
  writeLines("not json at all", file.path(dir, "config.json"))
  expect_error(dnabert_model(dir), class = "error")
  # a valid config that does not match the weights
  cfg <- readLines(file.path(fixture, "config.json"))
  writeLines(sub('"hidden_size": 48', '"hidden_size": 96', cfg), file.path(dir, "config.json"))
  expect_error(dnabert_model(dir), class = "error")
  # truncated safetensors
  file.copy(file.path(fixture, "config.json"), dir, overwrite = TRUE)
  st <- file.path(dir, "model.safetensors")
  bytes <- readBin(file.path(fixture, "model.safetensors"), "raw", file.size(file.path(fixture, "model.safetensors")))
  writeBin(bytes[seq_len(length(bytes) %/% 2L)], st)
  expect_error(dnabert_model(dir), class = "error")
  expect_error(dnabert_random_model("{\"hidden_size\": 48"), class = "error")
  expect_error(dnabert_random_model(file.path(dir, "nope.json")), "config")
  expect_error(dnabert_convert(file.path(dir, "missing.bin"), file.path(dir, "out.safetensors")), class = "error")
})

test_that("ids out of range, NA or fractional are rejected", {
  m <- dnabert_model(fixture)
  bad <- ids
  bad[2, 3] <- 4096L
  expect_error(dnabert_forward(m, bad, mask), "0\\.\\.4095.*4096 at row 2, column 3")
  bad[2, 3] <- -1L
  expect_error(dnabert_mlm_logits(m, bad, mask), "-1 at row 2")
  expect_error(dnabert_forward(m, c(1, 2.5, 3)), "token ids")
  expect_error(dnabert_forward(m, c(1L, NA, 3L)), "NA")
  expect_error(dnabert_forward(m, "ACGT"), "integer matrix")
  expect_error(dnabert_forward(m, NULL), "NULL")
  expect_error(dnabert_forward(m, matrix(integer(), 0, 5)), "at least one row")
  expect_error(dnabert_forward(m, array(1L, c(2, 2, 2))), "integer matrix")
  # the library's own check, reached through the shim directly (bypassing the R checks), is an R error too
  big <- matrix(99999L, 1, 3)
  expect_error(.Call(dnabert:::dnabert_r_model_run, m$ptr, 0L, big, NULL, 0L, 0L), class = "error")
})

test_that("a mask of the wrong shape or with other values than 0/1 is rejected", {
  m <- dnabert_model(fixture)
  expect_error(dnabert_forward(m, ids, mask[, -1]), "3 x 34 but 'ids' is 3 x 35")
  expect_error(dnabert_forward(m, ids, t(mask)), "35 x 3")
  two <- mask
  two[1, 1] <- 2L
  expect_error(dnabert_forward(m, ids, two), "only 0 and 1")
  expect_error(dnabert_attention(m, ids, "yes"), "attention_mask")
  expect_error(.Call(dnabert:::dnabert_r_model_run, m$ptr, 0L, ids, mask[, -1], 0L, 0L), "attention_mask")
})

test_that("layer must be within 1..num_layers", {
  m <- dnabert_model(fixture)
  expect_error(dnabert_attention(m, ids, mask, layer = 0), "layer")
  expect_error(dnabert_attention(m, ids, mask, layer = 3), "between 1 and 2")
  expect_error(dnabert_attention(m, ids, mask, layer = 1.5), "layer")
  expect_error(dnabert_attention(m, ids, mask, layer = NA), "layer")
  # the library's own range check (0-based layer 2 does not exist)
  expect_error(.Call(dnabert:::dnabert_r_model_run, m$ptr, 2L, ids, mask, 2L, 0L), class = "error")
})

test_that("embedding arguments are validated", {
  m <- dnabert_model(fixture)
  expect_error(dnabert_embed(m, "ACGT", progress = FALSE), "tokenizer")
  mt <- dnabert_model(model_with_tokenizer_dir())
  expect_error(dnabert_embed(mt, c("ACGT", NA), progress = FALSE), "NA")
  expect_error(dnabert_embed(mt, 1:3, progress = FALSE), "character vector")
  expect_error(dnabert_embed(mt, "ACGT", pooling = "max", progress = FALSE), "should be one of")
  expect_error(dnabert_embed(mt, "ACGT", max_length = 2, progress = FALSE), "max_length")
  expect_error(dnabert_embed(mt, "ACGT", max_length = 16, overlap = 14, progress = FALSE), "overlap")
  expect_error(dnabert_embed(mt, "ACGT", batch_size = 0, progress = FALSE), "batch_size")
  expect_error(dnabert_embed(mt, "ACGT", progress = "yes"), "progress")
  expect_error(dnabert_embed(mt, "ACGT", threads = -1, progress = FALSE), "threads")
})

test_that("a freed model cannot be used, and freeing twice is harmless", {
  m <- dnabert_model(fixture)
  dnabert_free_model(m)
  expect_false(is_dnabert_model(m))
  expect_error(dnabert_forward(m, ids, mask), "no longer valid")
  expect_error(dnabert_model_info(m), "no longer valid")
  expect_error(dnabert_embed(m, "ACGT", progress = FALSE), "no longer valid")
  expect_error(dnabert_save_model(m, tempfile()), "no longer valid")
  expect_error(dnabert_attention(m, ids, mask), "no longer valid")
  expect_silent(dnabert_free_model(m))
  expect_output(print(m), "not usable")
})

test_that("a model restored from saveRDS is invalid, not a crash; forged objects are rejected", {
  m <- dnabert_model(fixture)
  rds <- withr::local_tempfile(fileext = ".rds")
  saveRDS(m, rds)
  restored <- readRDS(rds)
  expect_false(is_dnabert_model(restored))
  expect_error(dnabert_forward(restored, ids, mask), "saved R session")
  expect_identical(dim(dnabert_forward(m, ids, mask)), c(3L, 35L, 48L))
  expect_error(dnabert_forward(NULL, ids), "dnabert model")
  expect_error(dnabert_forward(dnabert_tokenizer(dnabert2_tokenizer_path()), ids), "dnabert model")
  fake <- structure(list(ptr = dnabert_tokenizer(dnabert2_tokenizer_path())$ptr), class = "dnabert_model")
  expect_error(dnabert_model_info(fake), "not a dnabert model handle")
})

test_that("the model outlives the tokenizer it was created with, and finalizers run cleanly", {
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  m <- dnabert_random_model(file.path(fixture, "config.json"), tokenizer = tok)
  dnabert_free_tokenizer(tok)
  invisible(gc())
  expect_identical(dim(dnabert_embed(m, "ACGTACGT", progress = FALSE)), c(1L, 48L))
  for (i in 1:3) dnabert_model(fixture)
  expect_silent(invisible(gc()))
})

test_that("saving where it cannot be written is an error", {
  m <- dnabert_model(fixture)
  blocker <- withr::local_tempfile()
  writeLines("a file, not a folder", blocker)
  expect_error(dnabert_save_model(m, file.path(blocker, "sub")), class = "error")
})
