# The encoder from R compared with the project's PyTorch reference (tools/reference/dnabert2_reference.py):
# hidden states, every layer's output, MLM logits and attention maps of a padded batch of 3 real genome
# sequences (fixtures/model_reference/, made by tools/reference/make_r_model_fixture.py).

fixture <- model_fixture_dir()
ids <- model_reference("input_ids")
mask <- model_reference("attention_mask")
real_len <- as.integer(rowSums(mask))

test_that("the fixture is what the tests assume", {
  expect_identical(dim(ids), c(3L, 35L))
  expect_true(all(mask %in% c(0L, 1L)))
  expect_true(length(unique(real_len)) == 3L) # three different lengths: padding matters
})

test_that("a model folder loads, and info/print describe it", {
  m <- dnabert_model(fixture)
  expect_s3_class(m, "dnabert_model")
  expect_true(is_dnabert_model(m))
  i <- dnabert_model_info(m)
  # the values of the fixture's config.json
  expect_identical(i$hidden_size, 48L)
  expect_identical(i$num_layers, 2L)
  expect_identical(i$num_heads, 6L)
  expect_identical(i$intermediate_size, 64L)
  expect_identical(i$vocab_size, 4096L)
  expect_identical(i$num_labels, 3L)
  expect_true(i$has_mlm_head)
  expect_true(i$has_pooler)
  expect_false(i$has_tokenizer)
  # parameter count of that architecture, counted by hand (MLM decoder tied to the word embeddings)
  H <- 48; I <- 64; V <- 4096
  layer <- H * 3 * H + 3 * H + H * H + H + 2 * H + H * 2 * I + I * H + H + 2 * H
  expected <- V * H + 2 * H + 2 * H + 2 * layer + (H * H + H + 2 * H + V) + (H * H + H) + (H * 3 + 3)
  expect_equal(i$num_parameters, expected)
  out <- capture.output(print(m))
  expect_match(out[[1L]], "2 layers, hidden 48, 6 heads")
  expect_true(any(grepl("tokenizer: no", out)))
  expect_null(dnabert_model_tokenizer(m))
})

test_that("the config comes back as JSON text and as a parsed list", {
  m <- dnabert_model(fixture)
  text <- dnabert_model_config(m)
  expect_type(text, "character")
  expect_length(text, 1L)
  cfg <- dnabert_model_config(m, parse = TRUE)
  expect_equal(cfg$hidden_size, 48)
  expect_equal(cfg$num_attention_heads, 6)
  expect_equal(cfg$layer_norm_eps, 1e-12)
  expect_identical(cfg$model_type, "bert")
  expect_identical(cfg$architectures, "BertForSequenceClassification")
  expect_identical(cfg$id2label[["2"]], "LABEL_2")
  skip_if_not_installed("jsonlite")   # the comparison with jsonlite's parse below
  ref <- jsonlite::fromJSON(text, simplifyVector = TRUE)
  expect_setequal(names(cfg), names(ref))
  for (k in names(ref)) if (!is.list(ref[[k]])) expect_equal(cfg[[k]], ref[[k]], label = k)
})

test_that("last hidden state equals PyTorch's (padded batch, 1e-4)", {
  m <- dnabert_model(fixture)
  h <- dnabert_forward(m, ids, mask)
  expect_identical(dim(h), c(3L, 35L, 48L))
  expect_type(h, "double")
  expect_lt(max(abs(h - model_reference("last_hidden_state"))), 1e-4)
  # padded positions are zero, as in the reference
  for (b in 1:3) if (real_len[b] < 35) expect_true(all(h[b, (real_len[b] + 1):35, ] == 0))
})

test_that("numeric ids, logical masks and the padded dnabert_encode() result are accepted", {
  m <- dnabert_model(fixture)
  ref <- model_reference("last_hidden_state")
  num <- ids
  storage.mode(num) <- "double"
  expect_lt(max(abs(dnabert_forward(m, num, mask == 1L) - ref)), 1e-4)
  expect_lt(max(abs(dnabert_forward(m, list(ids = ids, attention_mask = mask)) - ref)), 1e-4)
})

test_that("one unpadded sequence (an id vector) equals its rows of the padded batch reference", {
  m <- dnabert_model(fixture)
  ref <- model_reference("last_hidden_state")
  for (b in 1:3) {
    L <- real_len[[b]]
    h <- dnabert_forward(m, ids[b, seq_len(L)])
    expect_identical(dim(h), c(1L, L, 48L))
    expect_lt(max(abs(h[1, , ] - ref[b, seq_len(L), ])), 1e-4)
  }
})

test_that("all hidden states: embedding output then each layer (1e-4)", {
  m <- dnabert_model(fixture)
  a <- dnabert_forward(m, ids, mask, all_hidden = TRUE)
  expect_identical(dim(a), c(3L, 3L, 35L, 48L))
  expect_lt(max(abs(a[1, , , ] - model_reference("embedding_output"))), 1e-4)
  expect_lt(max(abs(a[2, , , ] - model_reference("hidden_states.0"))), 1e-4)
  expect_lt(max(abs(a[3, , , ] - model_reference("hidden_states.1"))), 1e-4)
  expect_lt(max(abs(a[3, , , ] - model_reference("last_hidden_state"))), 1e-4)
})

test_that("MLM logits equal PyTorch's (1e-3) on the stored vocabulary columns", {
  m <- dnabert_model(fixture)
  lg <- dnabert_mlm_logits(m, ids, mask)
  expect_identical(dim(lg), c(3L, 35L, 4096L))
  cols <- model_reference("mlm_columns") + 1L # 0-based token ids -> R columns
  ref <- model_reference("mlm_logits")
  expect_identical(dim(ref), c(3L, 35L, length(cols)))
  expect_lt(max(abs(lg[, , cols] - ref)), 1e-3)
  # the arg max over the whole vocabulary is one of the stored columns and agrees
  top <- apply(lg, c(1, 2), which.max)
  expect_true(all(top %in% cols))
})

test_that("attention maps of layer 1 and 2 (1-based) equal PyTorch's layer 0 and 1", {
  m <- dnabert_model(fixture)
  for (layer in 1:2) {
    a <- dnabert_attention(m, ids, mask, layer = layer)
    expect_identical(dim(a), c(3L, 6L, 35L, 35L))
    ref <- model_reference(paste0("attention.", layer - 1L))
    for (b in 1:3) {
      q <- seq_len(real_len[[b]]) # real query rows (the reference also fills rows of padded queries)
      expect_lt(max(abs(a[b, , q, ] - ref[b, , q, ])), 1e-4)
      expect_lt(max(abs(apply(a[b, , q, , drop = FALSE], c(1, 2, 3), sum) - 1)), 1e-5)
    }
  }
  # and the two layers really differ (the layer index is passed through)
  expect_gt(max(abs(dnabert_attention(m, ids, mask, layer = 1) - dnabert_attention(m, ids, mask, layer = 2))), 1e-3)
})

test_that("row names of ids name the batch dimension", {
  m <- dnabert_model(fixture)
  named <- ids
  rownames(named) <- c("ecoli", "saureus", "hpylori")
  expect_identical(dimnames(dnabert_forward(m, named, mask))[[1L]], rownames(named))
  expect_identical(dimnames(dnabert_forward(m, named, mask, all_hidden = TRUE))[[2L]], rownames(named))
  expect_identical(dimnames(dnabert_mlm_logits(m, named, mask))[[1L]], rownames(named))
  expect_identical(dimnames(dnabert_attention(m, named, mask))[[1L]], rownames(named))
})

test_that("pytorch_model.bin is converted to safetensors, and loads (both ways) to the same outputs", {
  out <- file.path(withr::local_tempdir(), "model")
  dir.create(out)
  file.copy(file.path(fixture, "config.json"), out)
  expect_identical(dnabert_convert(file.path(fixture, "pytorch_model.bin"), file.path(out, "model.safetensors")),
                   file.path(out, "model.safetensors"))
  expect_true(file.size(file.path(out, "model.safetensors")) > 100000)
  m <- dnabert_model(out)
  expect_lt(max(abs(dnabert_forward(m, ids, mask) - model_reference("last_hidden_state"))), 1e-4)
  bin_only <- file.path(withr::local_tempdir(), "bin")
  dir.create(bin_only)
  file.copy(file.path(fixture, c("config.json", "pytorch_model.bin")), bin_only)
  m2 <- dnabert_model(bin_only)
  expect_lt(max(abs(dnabert_mlm_logits(m2, ids, mask)[, , model_reference("mlm_columns") + 1L] -
                      model_reference("mlm_logits"))), 1e-3)
})

test_that("a saved model loads back with identical outputs (and its tokenizer)", {
  m <- dnabert_model(model_with_tokenizer_dir())
  out <- file.path(withr::local_tempdir(), "saved")
  expect_identical(dnabert_save_model(m, out), out)
  expect_true(all(file.exists(file.path(out, c("config.json", "model.safetensors", "tokenizer.json")))))
  m2 <- dnabert_model(out)
  expect_identical(dnabert_forward(m2, ids, mask), dnabert_forward(m, ids, mask))
  expect_true(dnabert_model_info(m2)$has_tokenizer)
  tok <- dnabert_model_tokenizer(m2)
  expect_s3_class(tok, "dnabert_tokenizer")
  expect_identical(dnabert_encode(tok, "ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCGTTAGC"),
                   dnabert_encode(dnabert_tokenizer(dnabert2_tokenizer_path()),
                                  "ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCGTTAGC"))
})

test_that("random models follow their config, seed makes them reproducible", {
  cfg <- list(vocab_size = 4096L, hidden_size = 32L, num_hidden_layers = 3L, num_attention_heads = 4L,
              intermediate_size = 40L)
  m1 <- dnabert_random_model(cfg, seed = 7)
  i <- dnabert_model_info(m1)
  expect_identical(c(i$hidden_size, i$num_layers, i$num_heads, i$intermediate_size), c(32L, 3L, 4L, 40L))
  expect_false(i$has_tokenizer)
  x <- matrix(c(1L, 100L, 2000L, 57L, 2L), nrow = 1L)
  h1 <- dnabert_forward(m1, x)
  expect_identical(dim(h1), c(1L, 5L, 32L))
  expect_identical(dnabert_forward(dnabert_random_model(cfg, seed = 7), x), h1)
  expect_false(identical(dnabert_forward(dnabert_random_model(cfg, seed = 8), x), h1))
  expect_identical(dim(dnabert_forward(m1, x, all_hidden = TRUE)), c(4L, 1L, 5L, 32L))
  expect_identical(dim(dnabert_attention(m1, x, layer = 3)), c(1L, 4L, 5L, 5L))
  # from a config.json file and from JSON text, with a tokenizer
  m2 <- dnabert_random_model(file.path(fixture, "config.json"), tokenizer = dnabert2_tokenizer_path(), seed = 1)
  expect_identical(dnabert_model_info(m2)$hidden_size, 48L)
  expect_true(dnabert_model_info(m2)$has_tokenizer)
  text <- paste(readLines(file.path(fixture, "config.json")), collapse = "\n")
  expect_identical(dnabert_model_info(dnabert_random_model(text))$num_heads, 6L)
})

test_that("dnabert_blas_info() describes the BLAS", {
  info <- dnabert_blas_info()
  expect_type(info, "character")
  expect_length(info, 1L)
  expect_true(nzchar(info))
  # the library's workers each call a single-threaded sgemm: when R's own OpenBLAS runs several threads, the
  # library uses a private single-threaded copy rather than queueing on R's (R's thread count is left alone)
  if (grepl("OpenBLAS", info)) expect_match(info, "threads: 1[,)]")
})
