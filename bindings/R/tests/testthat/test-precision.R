# Int8 precision from R: the shipped model (examples/models/dnabert2-small-5genomes) quantized, embeddings of
# real genome windows against float32, save/load of the int8 layout, and bad input.

shipped_model_dir <- function() {
  d <- Sys.getenv("DNABERT_SHIPPED_MODEL", "")
  if (!nzchar(d)) d <- file.path(test_path(), "..", "..", "..", "..", "examples", "models", "dnabert2-small-5genomes")
  d
}

genome_windows <- function(n, width) {
  f <- file.path(dirname(dirname(shipped_model_dir())), "data", "saureus_n315.fasta.gz")
  if (!file.exists(f)) return(NULL)
  con <- gzfile(f)
  on.exit(close(con))
  lines <- readLines(con)
  s <- paste(lines[!startsWith(lines, ">")], collapse = "")
  starts <- seq(1, nchar(s) - width, length.out = n)
  substring(s, starts, starts + width - 1)
}

# n genome windows for a test on the shipped model in `dir`, or the test is skipped with the reason.
windows_or_skip <- function(dir, n, width) {
  if (!file.exists(file.path(dir, "model.safetensors"))) skip("the shipped model is not reachable from here (run from the repository)")
  seqs <- genome_windows(n, width)
  if (is.null(seqs)) skip("examples/data/saureus_n315.fasta.gz not reachable")
  seqs
}

test_that("int8 models embed real DNA like float32, save and load again", {
  dir <- shipped_model_dir()
  seqs <- windows_or_skip(dir, 40, 400)
  f <- dnabert_model(dir)
  q <- dnabert_model(dir, precision = "int8")
  expect_identical(dnabert_model_info(f)$precision, "fp32")
  expect_identical(dnabert_model_info(q)$precision, "int8")
  a <- dnabert_embed(f, seqs)
  b <- dnabert_embed(q, seqs)
  cosv <- rowSums(a * b) / sqrt(rowSums(a * a) * rowSums(b * b))
  expect_gt(median(cosv), 0.999)
  expect_gt(min(cosv), 0.995)
  expect_false(isTRUE(all.equal(a, b, tolerance = 0)))   # it really ran int8
  out <- file.path(tempdir(), "int8-model")
  dnabert_save_model(q, out)
  back <- dnabert_model(out)
  expect_identical(dnabert_model_info(back)$precision, "int8")
  expect_identical(dnabert_embed(back, seqs), b)
  q2 <- dnabert_quantize(f, "int8")
  expect_identical(dnabert_embed(q2, seqs), b)
  expect_error(dnabert_quantize(q, "int8"), "already int8")
  expect_error(dnabert_model(out, precision = "fp32"), "already int8")
  expect_error(dnabert_model(dir, precision = "int4"), "unknown precision")
  expect_error(dnabert_quantize(f, "bf8"), "unknown precision")
  expect_error(dnabert_quantize(f, 8), "unknown precision")
})

test_that("the int8 kernel is named, and forcing the portable one gives the same embeddings", {
  k <- dnabert_int8_kernel()
  expect_true(k %in% c("avx512vnni", "avx2", "generic"))
  expect_true(dnabert_int8_attention() %in% c("bf16", "float32"))
  dir <- shipped_model_dir()
  if (!file.exists(file.path(dir, "model.safetensors"))) skip("the shipped model is not reachable from here (run from the repository)")
  seqs <- genome_windows(6, 300)
  if (is.null(seqs)) skip("examples/data/saureus_n315.fasta.gz not reachable")
  if (k == "generic") skip("this CPU has neither AVX2 nor AVX-512 VNNI: there is no faster kernel to compare with")
  # a fresh R process, since the kernel is chosen once when the library loads
  out <- tempfile(fileext = ".rds")
  script <- tempfile(fileext = ".R")
  writeLines(c("library(dnabert)",
               "stopifnot(dnabert_int8_kernel() == 'generic')",
               sprintf("m <- dnabert_model(%s, precision = 'int8')", deparse(dir)),
               sprintf("saveRDS(dnabert_embed(m, %s), %s)", paste(deparse(seqs), collapse = ""), deparse(out))), script)
  status <- system2(file.path(R.home("bin"), "Rscript"), script, env = "DNABERT_INT8_KERNEL=generic")
  expect_identical(status, 0L)
  q <- dnabert_model(dir, precision = "int8")
  expect_identical(readRDS(out), dnabert_embed(q, seqs))
})

test_that("every inference entry point runs at int8 close to float32, and QLoRA fine-tunes on it", {
  dir <- shipped_model_dir()
  seqs <- windows_or_skip(dir, 16, 300)
  f <- dnabert_model(dir)
  q <- dnabert_model(dir, precision = "int8")
  cosine <- function(a, b) sum(a * b) / sqrt(sum(a * a) * sum(b * b))
  T <- 40L
  ids <- matrix(5L + (seq_len(2L * T) * 7919L) %% 4000L, nrow = 2L, byrow = TRUE)
  ids[, 1L] <- 1L
  ids[, T] <- 2L
  mask <- matrix(1L, 2L, T)
  mask[2L, 31:T] <- 0L
  ha <- dnabert_forward(f, ids, mask)
  hb <- dnabert_forward(q, ids, mask)
  expect_gt(cosine(ha, hb), 0.999)
  expect_false(identical(ha, hb))                          # it really ran int8
  aa <- dnabert_forward(f, ids, mask, all_hidden = TRUE)
  ab <- dnabert_forward(q, ids, mask, all_hidden = TRUE)
  expect_identical(dim(aa), dim(ab))
  for (l in seq_len(dim(aa)[1L])) expect_gt(cosine(aa[l, , , ], ab[l, , , ]), 0.999)
  expect_identical(aa[1L, , , ], ab[1L, , , ])             # the embedding output stays float32
  la <- dnabert_mlm_logits(f, ids, mask)
  lb <- dnabert_mlm_logits(q, ids, mask)
  expect_gt(cosine(la, lb), 0.999)
  top <- function(x) apply(x, c(1L, 2L), which.max)
  real <- mask == 1L
  expect_gte(mean(top(la)[real] == top(lb)[real]), 0.9)
  # a classifier fine-tuned (briefly) on the float32 base, saved, and loaded on the int8 base
  train <- data.frame(sequence = seqs, label = rep(c(0L, 1L), 8L))
  clf <- dnabert_finetune(f, train, max_steps = 6, batch_size = 8, seed = 3, progress = FALSE)
  out <- file.path(tempdir(), "int8-lora")
  on.exit(unlink(out, recursive = TRUE), add = TRUE)
  dnabert_classifier_save(clf, out)
  on8 <- dnabert_classifier_load(q, out)
  pa <- dnabert_predict(clf, seqs, type = "prob")
  pb <- dnabert_predict(on8, seqs, type = "prob")
  expect_lt(max(abs(pa$prob_1 - pb$prob_1)), 0.02)
  expect_false(identical(pa$prob_1, pb$prob_1))
  # QLoRA: LoRA on the frozen int8 base
  qc <- dnabert_finetune(q, train, max_steps = 2, batch_size = 8, seed = 3, progress = FALSE)
  pq <- dnabert_predict(qc, seqs, type = "prob")
  expect_equal(pq$prob_0 + pq$prob_1, rep(1, 16), tolerance = 1e-5)
  expect_identical(dnabert_model_info(q)$precision, "int8")  # the base was not modified
})
