# dnabert_embed() checked against an independent path computed here in R: the tokenizer's ids, the
# windowing rule written out below, dnabert_forward() on each window alone (no padding), and the pooling
# done in R. The fixture model is combined with DNABERT-2's real tokenizer.json (see helper-model.R).

m <- dnabert_model(model_with_tokenizer_dir())
tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
special <- dnabert_special_ids(tok)
genome <- read_fasta_prefix(genome_prefix_file("saureus"), 6000L)

# Embedding of one sequence the slow way. Windows hold (max_length - 2) tokens, each wrapped in [CLS]/[SEP];
# they start every (max_length - 2 - overlap) tokens, the last one aligned to the end; each token's state is
# averaged over the windows that contain it, then the tokens are averaged (mean pooling).
manual_embedding <- function(seq, max_length, overlap) {
  t <- dnabert_encode(tok, seq, add_special_tokens = FALSE, uppercase = TRUE)[[1L]]
  n <- length(t)
  w <- max_length - 2L
  starts <- 0L
  if (n > w) {
    starts <- integer()
    s <- 0L
    while (s + w < n) {
      starts <- c(starts, s)
      s <- s + (w - overlap)
    }
    starts <- c(starts, n - w)
  }
  sums <- matrix(0, n, 48L)
  count <- integer(n)
  for (s in starts) {
    k <- min(w, n - s)
    pos <- s + seq_len(k)
    h <- dnabert_forward(m, c(special[["cls"]], t[pos], special[["sep"]]))[1L, , ]
    sums[pos, ] <- sums[pos, ] + h[1L + seq_len(k), ]
    count[pos] <- count[pos] + 1L
  }
  stopifnot(all(count >= 1L))
  list(embedding = colMeans(sums / count), windows = length(starts), tokens = n, starts = starts)
}

test_that("the model folder with a tokenizer loads with it", {
  expect_true(dnabert_model_info(m)$has_tokenizer)
  expect_identical(dnabert_vocab_size(dnabert_model_tokenizer(m)), 4096L)
})

test_that("mean pooling of short sequences = mean of forward() over the real tokens", {
  x <- c(a = substr(genome, 1, 60), b = substr(genome, 101, 300), c = "ACGT", d = substr(genome, 501, 620))
  e <- dnabert_embed(m, x, progress = FALSE)
  expect_true(is.matrix(e))
  expect_type(e, "double")
  expect_identical(dim(e), c(4L, 48L))
  expect_identical(rownames(e), names(x))
  for (nm in names(x)) {
    ids <- dnabert_encode(tok, x[[nm]])[[1L]] # [CLS] ... [SEP]
    h <- dnabert_forward(m, ids)[1L, , ]
    want <- colMeans(h[2:(length(ids) - 1L), , drop = FALSE])
    expect_lt(max(abs(e[nm, ] - want)), 1e-4, label = paste("embedding of", nm))
  }
  # batching windows of different lengths together (padding inside the library) changes nothing
  e1 <- dnabert_embed(m, x, batch_size = 1L, progress = FALSE)
  expect_lt(max(abs(e1 - e)), 1e-4)
})

test_that("cls pooling = forward()'s [CLS] state (position 1)", {
  x <- c(substr(genome, 1, 80), substr(genome, 1001, 1200))
  e <- dnabert_embed(m, x, pooling = "cls", progress = FALSE)
  expect_null(rownames(e))
  for (i in seq_along(x)) {
    h <- dnabert_forward(m, dnabert_encode(tok, x[[i]])[[1L]])
    expect_lt(max(abs(e[i, ] - h[1L, 1L, ])), 1e-4)
  }
  expect_gt(max(abs(e - dnabert_embed(m, x, pooling = "mean", progress = FALSE))), 1e-3)
})

test_that("long sequences are embedded by overlapping windows, as computed by hand", {
  lens <- c(45L, 70L, 130L, 333L, 1000L)
  x <- vapply(seq_along(lens), function(i) substr(genome, 200L * i, 200L * i + lens[[i]] - 1L), "")
  names(x) <- paste0("len", lens)
  e <- dnabert_embed(m, x, max_length = 16L, overlap = 4L, batch_size = 3L, progress = FALSE)
  n_windows <- integer()
  for (nm in names(x)) {
    ref <- manual_embedding(x[[nm]], 16L, 4L)
    n_windows[[nm]] <- ref$windows
    expect_lt(max(abs(e[nm, ] - ref$embedding)), 1e-4, label = paste("windowed embedding of", nm))
  }
  expect_true(any(n_windows >= 3L))
  expect_true(max(n_windows) >= 20L)
  # a different overlap gives a (slightly) different embedding: the rule matters
  e8 <- dnabert_embed(m, x[["len1000"]], max_length = 16L, overlap = 8L, progress = FALSE)
  expect_lt(max(abs(e8[1L, ] - manual_embedding(x[["len1000"]], 16L, 8L)$embedding)), 1e-4)
  expect_gt(max(abs(e8[1L, ] - e["len1000", ])), 1e-5)
  # overlap not given with a short window: a quarter of the window, (16 - 2) %/% 4 = 3
  e_default <- dnabert_embed(m, x[["len333"]], max_length = 16L, progress = FALSE)
  expect_lt(max(abs(e_default[1L, ] - manual_embedding(x[["len333"]], 16L, 3L)$embedding)), 1e-4)
})

test_that("uppercase = TRUE embeds soft-masked (lower-case) DNA as DNA", {
  s <- substr(genome, 3001, 3200)
  lower <- tolower(s)
  expect_lt(max(abs(dnabert_embed(m, lower, progress = FALSE) - dnabert_embed(m, s, progress = FALSE))), 1e-6)
  # without it, lower case is [UNK], which gives another embedding
  expect_gt(max(abs(dnabert_embed(m, lower, uppercase = FALSE, progress = FALSE) -
                      dnabert_embed(m, s, progress = FALSE))), 1e-3)
})

test_that("DNAStringSet input keeps the record names as row names", {
  skip_if_not_installed("Biostrings")
  set <- Biostrings::DNAStringSet(c(chr1_1_100 = substr(genome, 1, 100), chr1_201_400 = substr(genome, 201, 400)))
  e <- dnabert_embed(m, set, progress = FALSE)
  expect_identical(rownames(e), c("chr1_1_100", "chr1_201_400"))
  expect_identical(unname(e), unname(dnabert_embed(m, as.character(set), progress = FALSE)))
})

test_that("'distributed' must be TRUE or FALSE and is not combined with BPPARAM", {
  expect_error(dnabert_embed(m, "ACGT", progress = FALSE, distributed = NA), "'distributed' must be TRUE or FALSE")
  expect_error(dnabert_embed(m, "ACGT", progress = FALSE, distributed = c(TRUE, TRUE)), "'distributed' must be TRUE or FALSE")
  expect_error(dnabert_embed(m, "ACGT", progress = FALSE, distributed = TRUE, BPPARAM = list()), "BPPARAM")
})

test_that("empty input gives a 0-row matrix", {
  e <- dnabert_embed(m, character(), progress = FALSE)
  expect_identical(dim(e), c(0L, 48L))
})

test_that("a progress function is called, and returning FALSE cancels", {
  x <- rep(substr(genome, 1, 300), 40)
  calls <- 0L
  seen <- NULL
  e <- dnabert_embed(m, x, batch_size = 4L, progress = function(stage, current, total, elapsed, eta) {
    calls <<- calls + 1L
    seen <<- c(current = current, total = total)
    TRUE
  })
  expect_gt(calls, 0L)
  expect_equal(unname(seen[["total"]]), 40)
  expect_equal(unname(seen[["current"]]), 40)
  expect_identical(dim(e), c(40L, 48L))
  expect_error(dnabert_embed(m, x, batch_size = 4L, progress = function(...) FALSE), "cancelled")
  # an R error inside the progress function surfaces as that error
  expect_error(dnabert_embed(m, x, batch_size = 4L, progress = function(...) stop("stop from progress")),
               "stop from progress")
  # the model still works afterwards
  expect_identical(dim(dnabert_embed(m, "ACGT", progress = FALSE)), c(1L, 48L))
})
