# MLM pretraining through dnabert_pretrain(). The learning check is against numbers independent of our code:
# an untrained model over a 4096-token vocabulary has a loss near log(4096) = 8.32, and a synthetic genome
# made of a few repeated 40-bp motifs (with 2% point mutations) is highly predictable, so a working trainer
# must cut the validation loss far below the first step's loss within 40 steps.

# ~60 kbp: 1500 copies of one of 6 random 40-bp motifs, 2% of the bases mutated, in 3 records.
synthetic_fasta <- function(path, seed = 1L) {
  set.seed(seed)
  bases <- c("A", "C", "G", "T")
  motifs <- replicate(6L, sample(bases, 40L, replace = TRUE), simplify = FALSE)
  recs <- vapply(1:3, function(r) {
    s <- unlist(motifs[sample.int(6L, 500L, replace = TRUE)])
    mut <- which(stats::runif(length(s)) < 0.02)
    s[mut] <- sample(bases, length(mut), replace = TRUE)
    paste(s, collapse = "")
  }, "")
  lines <- unlist(lapply(seq_along(recs), function(r) {
    x <- recs[[r]]
    starts <- seq(1L, nchar(x), by = 60L)
    c(paste0(">synthetic_", r), substring(x, starts, pmin(starts + 59L, nchar(x))))
  }))
  writeLines(lines, path)
  path
}

tiny_config_file <- function(dir) {
  path <- file.path(dir, "config.json")
  writeLines(paste0('{"vocab_size": 4096, "hidden_size": 32, "num_hidden_layers": 1, ',
                    '"num_attention_heads": 2, "intermediate_size": 64}'), path)
  path
}

pretrain_fixture <- local({
  cache <- NULL
  function() {
    if (is.null(cache)) {
      dir <- tempfile("dnabert-pretrain-")
      dir.create(dir)
      cache <<- list(dir = dir, fasta = synthetic_fasta(file.path(dir, "motifs.fa")),
                     config = tiny_config_file(dir), tokenizer = dnabert_tokenizer(dnabert2_tokenizer_path()))
    }
    cache
  }
})

run_tiny <- function(out, steps, files = pretrain_fixture()$fasta, progress = FALSE, ...) {
  fx <- pretrain_fixture()
  dnabert_pretrain(fx$config, fx$tokenizer, files, out, steps = steps, batch_size = 8L, seq_len = 32L,
                   lr = 3e-3, warmup = 2L, validation_windows = 16L, threads = 0L, seed = 0, progress = progress, ...)
}

test_that("40 steps on repeated motifs cut the validation loss far below the untrained loss", {
  out <- tempfile("pt-learn-")
  m <- run_tiny(out, 40L, eval_every = 20L)
  h <- attr(m, "history")
  expect_s3_class(h, "data.frame")
  expect_identical(names(h), c("step", "loss", "learning_rate", "grad_norm", "tokens", "tokens_per_second",
                               "elapsed_seconds", "eta_seconds", "validation_loss", "validation_accuracy"))
  expect_identical(h$step, 1:40)
  # untrained: about log(4096) = 8.32
  expect_gt(h$loss[[1L]], 7.5)
  expect_lt(h$loss[[1L]], 9.5)
  evaluated <- which(!is.na(h$validation_loss))
  expect_true(40L %in% evaluated)
  expect_true(20L %in% evaluated)
  expect_true(all(is.na(h$validation_loss[-evaluated])))
  final <- h$validation_loss[[40L]]
  expect_lt(final, h$loss[[1L]] - 1.5)
  acc <- h$validation_accuracy[[40L]]
  expect_true(acc > 0 && acc <= 1)
  # Hugging Face get_linear_schedule_with_warmup(warmup = 2, total = 40): update k (0-based) uses
  # peak * (k < 2 ? k / 2 : (40 - k) / 38); step s of the history is update s - 1.
  k <- 0:39
  expect_equal(h$learning_rate, 3e-3 * ifelse(k < 2, k / 2, (40 - k) / 38), tolerance = 1e-9)
  expect_true(all(diff(h$tokens) > 0))
  expect_true(file.exists(file.path(out, "model", "model.safetensors")))
  expect_true(file.exists(file.path(out, "metrics.jsonl")))
  # the returned model is the trained one, and the saved folder loads with the same weights
  expect_true(is_dnabert_model(m))
  info <- dnabert_model_info(m)
  expect_equal(info$hidden_size, 32L)
  expect_equal(info$vocab_size, 4096L)
  saved <- dnabert_model(file.path(out, "model"))
  ids <- dnabert_encode(pretrain_fixture()$tokenizer, "ACGTACGTTTGACCA")[[1L]]
  expect_equal(dnabert_mlm_logits(saved, ids), dnabert_mlm_logits(m, ids), tolerance = 1e-6)
})

test_that("stop after 3 steps via the progress function, then resume = TRUE, matches 6 steps straight", {
  straight <- attr(run_tiny(tempfile("pt-straight-"), 6L, checkpoint_every = 3L), "history")
  expect_identical(straight$step, 1:6)

  out <- tempfile("pt-resume-")
  seen <- list()
  stop_at_3 <- function(m) {
    seen[[length(seen) + 1L]] <<- m
    m$step < 3
  }
  expect_warning(first <- run_tiny(out, 6L, checkpoint_every = 3L, progress = stop_at_3),
                 "stopped by the progress function after step 3")
  h1 <- attr(first, "history")
  expect_identical(h1$step, 1:3)
  expect_length(seen, 3L)
  expect_true(is.list(seen[[1L]]) && all(c("step", "total_steps", "loss") %in% names(seen[[1L]])))
  expect_equal(seen[[1L]]$total_steps, 6)
  expect_true(any(grepl("^checkpoint-", list.files(out))))

  h2 <- attr(run_tiny(out, 6L, checkpoint_every = 3L, resume = TRUE), "history")
  expect_identical(h2$step, 4:6)
  cols <- c("loss", "learning_rate", "grad_norm", "tokens")
  expect_identical(as.list(h1[, cols]), as.list(straight[1:3, cols]))
  rownames(h2) <- NULL
  s46 <- straight[4:6, cols]
  rownames(s46) <- NULL
  expect_identical(as.list(h2[, cols]), as.list(s46))
  expect_identical(h2$validation_loss[[3L]], straight$validation_loss[[6L]])
})

test_that("an error in the progress function reaches R after the library has stopped cleanly", {
  out <- tempfile("pt-err-")
  boom <- function(m) if (m$step >= 2) stop("boom at step ", m$step) else TRUE
  expect_error(run_tiny(out, 5L, progress = boom), "boom at step 2")
  # the library is still usable afterwards, and the checkpoint it wrote resumes
  h <- attr(run_tiny(out, 5L, resume = TRUE), "history")
  expect_identical(h$step, 3:5)
})

test_that("an interrupt (SIGINT) during training stops after a checkpoint and reaches R as an interrupt", {
  skip_on_os("windows")
  out <- tempfile("pt-int-")
  ctrl_c <- function(m) {
    if (m$step == 3) tools::pskill(Sys.getpid(), tools::SIGINT)
    TRUE
  }
  r <- tryCatch(run_tiny(out, 8L, progress = ctrl_c), interrupt = function(e) "interrupted")
  expect_identical(r, "interrupted")
  expect_true(any(grepl("^checkpoint-[34]$", list.files(out))))
  h <- attr(run_tiny(out, 8L, resume = TRUE), "history")
  expect_identical(h$step[[length(h$step)]], 8L)
  expect_true(h$step[[1L]] %in% 4:5)
})

test_that("progress = TRUE draws a bar and reports each evaluation", {
  out <- tempfile("pt-bar-")
  msgs <- character()
  txt <- withCallingHandlers(
    utils::capture.output(m <- run_tiny(out, 4L, eval_every = 2L, progress = TRUE)),
    message = function(c) {
      msgs <<- c(msgs, conditionMessage(c))
      invokeRestart("muffleMessage")
    })
  expect_length(msgs, 2L)
  expect_match(msgs[[1L]], "step 2/4 .*validation loss")
  expect_match(msgs[[2L]], "step 4/4 .*validation loss")
  expect_true(any(grepl("100%", txt)))
  expect_identical(attr(m, "history")$step, 1:4)
})

test_that("a preset with a tokenizer path builds the documented architecture; a model continues in place", {
  fx <- pretrain_fixture()
  args <- list(files = fx$fasta, steps = 2L, batch_size = 4L, seq_len = 32L, validation_windows = 8L,
               progress = FALSE)
  m <- do.call(dnabert_pretrain, c(list("tiny", dnabert2_tokenizer_path(), out = tempfile("pt-tiny-")), args))
  i <- dnabert_model_info(m)
  expect_equal(c(i$hidden_size, i$num_layers, i$num_heads, i$intermediate_size, i$vocab_size),
               c(64, 2, 4, 128, 4096))
  ids <- dnabert_encode(fx$tokenizer, "ACGTACGTTTGACCAGGT")[[1L]]
  before <- dnabert_mlm_logits(m, ids)
  m2 <- do.call(dnabert_pretrain, c(list(m, out = tempfile("pt-cont-"), lr = 1e-2), args))
  expect_identical(attr(m2, "history")$step, 1:2)
  after <- dnabert_mlm_logits(m, ids)   # the object passed in was trained
  expect_gt(max(abs(after - before)), 1e-4)
  expect_equal(dnabert_mlm_logits(m2, ids), after)
})

test_that("invalid settings stop with the library's message", {
  fx <- pretrain_fixture()
  expect_error(run_tiny(tempfile("pt-e0-"), 0L), "steps")
  expect_error(run_tiny(tempfile("pt-e1-"), 2L, files = file.path(fx$dir, "no-such.fa")), "no-such\\.fa")
  no_tok <- dnabert_random_model(fx$config)
  expect_error(dnabert_pretrain(no_tok, NULL, fx$fasta, tempfile("pt-e2-"), steps = 2L, batch_size = 8L,
                                seq_len = 32L, validation_windows = 16L, progress = FALSE), "tokenizer")
  expect_error(dnabert_pretrain("tiny", NULL, fx$fasta, tempfile("pt-e3-"), steps = 2L, progress = FALSE),
               "'tokenizer' is needed")
  expect_error(run_tiny(tempfile("pt-e4-"), 2L, progress = "yes"), "'progress'")
  expect_error(run_tiny(tempfile("pt-e5-"), NA), "'steps'")
})
