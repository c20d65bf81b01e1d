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

test_that("int8 models embed real DNA like float32, save and load again", {
  dir <- shipped_model_dir()
  if (!file.exists(file.path(dir, "model.safetensors"))) skip("the shipped model is not reachable from here (run from the repository)")
  seqs <- genome_windows(40, 400)
  if (is.null(seqs)) skip("examples/data/saureus_n315.fasta.gz not reachable")
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
