# Fine-tuning from R: a short real LoRA run of the project's pretrained small model on the bundled coding task,
# checked against metrics computed here in R from the predicted probabilities (confusion table, MCC formula,
# log loss), save/load round trips, the callback bridge, and hostile input. The model and the task are the
# repository's (examples/): found through DNABERT_REPO or above the working folder (see helper-data.R), else
# these tests are skipped with the reason.

# The training file as bundled; dev and test as their first eval_rows rows (of 400), copied to a temporary folder:
# the tests below evaluate them many times, which was much of this file's cost in `make test`.
eval_rows <- 200L
small_task <- local({
  dir <- NULL
  function(split) {
    if (is.null(dir)) dir <<- tempfile("dnabert-task-")
    path <- file.path(dir, paste0(split, ".csv"))
    if (!file.exists(path)) {
      dir.create(dir, showWarnings = FALSE)
      src <- repo_file("examples", "data", "tasks", "coding_200", paste0(split, ".csv"))
      writeLines(readLines(src, n = eval_rows + 1L), path)
    }
    path
  }
})
task_file <- function(split) {
  if (split == "train") repo_file("examples", "data", "tasks", "coding_200", "train.csv") else small_task(split)
}
read_task <- function(split) utils::read.csv(task_file(split), colClasses = c("character", "integer"))

# Binary/multi-class metrics from a confusion table, written from their definitions (scikit-learn's macro
# averages; MCC in its multi-class form, which is the usual formula for two classes).
r_metrics <- function(truth, pred, k) {
  cm <- table(factor(truth, levels = 0:(k - 1)), factor(pred, levels = 0:(k - 1)))  # rows truth, cols pred
  n <- sum(cm)
  tp <- diag(cm)
  prec <- ifelse(colSums(cm) > 0, tp / colSums(cm), 0)
  rec <- ifelse(rowSums(cm) > 0, tp / rowSums(cm), 0)
  f1 <- ifelse(prec + rec > 0, 2 * prec * rec / (prec + rec), 0)
  t_k <- rowSums(cm)
  p_k <- colSums(cm)
  c_ <- sum(tp)
  den <- sqrt((n^2 - sum(p_k^2)) * (n^2 - sum(t_k^2)))
  mcc <- if (den > 0) (c_ * n - sum(t_k * p_k)) / den else 0   # scikit-learn's convention for a 0 denominator
  c(accuracy = c_ / n, f1 = mean(f1), mcc = mcc, precision = mean(prec), recall = mean(rec))
}

base_model <- local({
  m <- NULL
  function() {
    if (is.null(m)) m <<- dnabert_model(repo_file("examples", "models", "dnabert2-small-5genomes"))
    m
  }
})

# One real fine-tune shared by the tests below (about 20 s on 2 cores): the training set as a data.frame, the
# dev set as list(sequences, labels) (a DNAStringSet when Biostrings is installed), the test set as a path.
trained <- local({
  res <- NULL
  function() {
    if (is.null(res)) {
      dev <- read_task("dev")
      dev_seqs <- if (requireNamespace("Biostrings", quietly = TRUE)) Biostrings::DNAStringSet(dev$sequence)
                  else dev$sequence
      steps <- list()
      clf <- dnabert_finetune(base_model(), read_task("train"), dev = list(dev_seqs, dev$label),
                              test = task_file("test"), max_steps = 48, batch_size = 32, eval_every = 24,
                              seed = 7, progress = function(m) { steps[[length(steps) + 1L]] <<- m; TRUE },
                              # one strand: the metric test recomputes the loss from the scores, which for a
                              # strand-symmetric classifier (the auto default here) is not yet the library's loss
                              reverse_complement = FALSE)
      res <<- list(clf = clf, steps = steps)
    }
    res
  }
})

test_that("a short LoRA fine-tune on the coding task learns (dev accuracy clearly above chance)", {
  r <- trained()
  clf <- r$clf
  expect_s3_class(clf, "dnabert_classifier")
  h <- clf$history
  expect_s3_class(h, "data.frame")
  expect_equal(h$step, 1:48)
  expect_true(all(is.finite(h$loss)))
  # the progress function saw every step, with the same numbers as the history
  expect_length(r$steps, 48L)
  expect_equal(vapply(r$steps, function(m) m$loss, 0), h$loss)
  expect_equal(r$steps[[48]]$total_steps, 48)
  evals <- h[!is.na(h$dev_loss), ]
  expect_equal(evals$step, c(24L, 48L))
  majority <- max(table(read_task("dev")$label)) / eval_rows
  expect_gt(max(evals$dev_accuracy), majority + 0.15)
  expect_gt(max(evals$dev_mcc), 0.3)
  # training loss went down from ln 2
  expect_lt(mean(utils::tail(h$loss, 8)), mean(utils::head(h$loss, 8)))
  info <- dnabert_classifier_info(clf)
  expect_equal(info$num_labels, 2L)
  expect_equal(info$problem_type, "single_label_classification")
  expect_equal(info$lora_r, 8L)
  # the defaults: LoRA on all four linears, Wqkv (256 -> 768), attention.output.dense (256 -> 256), gated_layers
  # (256 -> 2048), wo (1024 -> 256), in 4 layers; the pooling follows the strand decision (one strand, given
  # above: [CLS] pooling, so the pooler 256x256 + 256 trains), plus the classifier 2x256 + 2
  expect_equal(info$pooling, "cls")
  lora <- 4 * (8 * 256 + 768 * 8 + 8 * 256 + 256 * 8 + 8 * 256 + 2048 * 8 + 8 * 1024 + 256 * 8)
  expect_equal(info$trainable_parameters, lora + 256 * 256 + 256 + 2 * 256 + 2)
  expect_output(print(clf), "LoRA r = 8")
})

test_that("metrics equal those computed in R from the predicted probabilities", {
  clf <- trained()$clf
  test <- read_task("test")
  p <- dnabert_predict(clf, test$sequence)
  expect_equal(names(p), c("id", "label", "prob_0", "prob_1"))
  expect_equal(p$id, seq_len(eval_rows))
  probs <- as.matrix(p[, c("prob_0", "prob_1")])
  expect_true(all(probs >= 0 & probs <= 1))
  expect_equal(unname(rowSums(probs)), rep(1, eval_rows), tolerance = 1e-6)
  expect_equal(p$label, max.col(probs, ties.method = "first") - 1L)
  want <- r_metrics(test$label, p$label, 2L)
  loss <- mean(-log(probs[cbind(seq_len(eval_rows), test$label + 1L)]))
  got <- dnabert_evaluate(clf, task_file("test"))
  expect_equal(names(got), c("accuracy", "f1", "mcc", "precision", "recall", "loss", "n"))
  expect_equal(got[names(want)], want, tolerance = 1e-9)
  expect_equal(got[["loss"]], loss, tolerance = 1e-5)
  expect_equal(got[["n"]], eval_rows)
  # the test metrics stored by dnabert_finetune, and evaluation from a data.frame, agree
  expect_equal(clf$test, got)
  expect_equal(dnabert_evaluate(clf, test), got)
  # type = "prob" has no label column; a DNAStringSet and a named vector give ids
  expect_equal(names(dnabert_predict(clf, test$sequence[1:3], type = "prob")), c("id", "prob_0", "prob_1"))
  named <- dnabert_predict(clf, c(a = test$sequence[1], b = test$sequence[2]))
  expect_equal(named$id, c("a", "b"))
  expect_equal(named$prob_1, p$prob_1[1:2], tolerance = 1e-6)
  expect_equal(nrow(dnabert_predict(clf, character())), 0L)
  skip_if_not_installed("Biostrings")   # the DNAStringSet input below
  dss <- Biostrings::DNAStringSet(test$sequence[1:5])
  expect_equal(dnabert_predict(clf, dss)$prob_0, p$prob_0[1:5], tolerance = 1e-6)
})

test_that("FASTA and CSV input to dnabert_predict", {
  clf <- trained()$clf
  test <- read_task("test")
  fa <- withr::local_tempfile(fileext = ".fa")
  writeLines(c(">s1 first", substr(test$sequence[1], 1, 100), substring(test$sequence[1], 101), ">s2",
               test$sequence[2]), fa)
  p <- dnabert_predict(clf, fa)
  ref <- dnabert_predict(clf, test$sequence[1:2])
  expect_equal(p$id, c("s1", "s2"))
  expect_equal(p$prob_1, ref$prob_1, tolerance = 1e-6)
  csv <- dnabert_predict(clf, task_file("test"))
  expect_equal(csv$prob_1, dnabert_predict(clf, test$sequence)$prob_1, tolerance = 1e-6)
})

test_that("save and load give identical probabilities and metrics", {
  clf <- trained()$clf
  dir <- withr::local_tempdir()
  dnabert_classifier_save(clf, dir)
  expect_true(all(file.exists(file.path(dir, c("adapter_config.json", "adapter_model.safetensors")))))
  clf2 <- dnabert_classifier_load(base_model(), dir)
  seqs <- read_task("test")$sequence[1:64]
  expect_identical(dnabert_predict(clf2, seqs), dnabert_predict(clf, seqs))
  expect_equal(dnabert_classifier_info(clf2), dnabert_classifier_info(clf))
  expect_equal(dnabert_evaluate(clf2, task_file("dev")), dnabert_evaluate(clf, task_file("dev")))
  expect_output(print(clf2), "source")
})

test_that("reverse_complement: a sequence and its reverse complement score alike, and the flag is saved", {
  train <- read_task("train")[1:96, ]
  clf <- dnabert_finetune(base_model(), train, max_steps = 3, lr = 5e-3, reverse_complement = TRUE,
                          lora_targets = c("Wqkv", "attention.output.dense", "gated_layers", "wo"), progress = FALSE)
  expect_true(dnabert_classifier_info(clf)$reverse_complement)
  # the default pooling ("auto") follows the strand decision: mean with both strands ([CLS] with one: trained())
  expect_equal(dnabert_classifier_info(clf)$pooling, "mean")
  seqs <- read_task("test")$sequence[1:32]
  rc <- vapply(seqs, function(s) paste(rev(strsplit(chartr("ACGTacgt", "TGCAtgca", s), "")[[1]]), collapse = ""),
               "", USE.NAMES = FALSE)
  a <- dnabert_predict(clf, seqs, type = "prob")
  b <- dnabert_predict(clf, rc, type = "prob")
  expect_equal(as.matrix(a[, -1]), as.matrix(b[, -1]), tolerance = 1e-6)
  dir <- withr::local_tempdir()
  dnabert_classifier_save(clf, dir)
  clf2 <- dnabert_classifier_load(base_model(), dir)
  expect_true(dnabert_classifier_info(clf2)$reverse_complement)
  expect_identical(dnabert_predict(clf2, seqs), dnabert_predict(clf, seqs))
  expect_false(dnabert_classifier_info(trained()$clf)$reverse_complement)
  expect_error(dnabert_finetune(base_model(), train, max_steps = 1, reverse_complement = "yes", progress = FALSE),
               "reverse_complement")
})

test_that("class names, full fine-tuning and the full model folder round trip", {
  train <- read_task("train")[1:96, ]
  named <- data.frame(sequence = train$sequence, label = ifelse(train$label == 1, "coding", "noncoding"))
  clf <- dnabert_finetune(base_model(), named, full = TRUE, max_steps = 2, batch_size = 16, progress = FALSE)
  info <- dnabert_classifier_info(clf)
  expect_equal(info$lora_r, 0L)
  expect_true(info$has_label_names)
  expect_equal(info$labels, c("coding", "noncoding"))
  seqs <- read_task("dev")[1:20, ]
  p <- dnabert_predict(clf, seqs$sequence)
  expect_equal(names(p), c("id", "label", "prob_coding", "prob_noncoding"))
  expect_equal(p$label, c("coding", "noncoding")[max.col(as.matrix(p[, 3:4]), ties.method = "first")])
  dir <- withr::local_tempdir()
  dnabert_classifier_save(clf, dir)
  clf2 <- dnabert_classifier_load(NULL, dir)
  expect_identical(dnabert_predict(clf2, seqs$sequence), p)
  # a full classifier saved over a LoRA adapter's folder loads as the full one (dnabert_classifier.json decides)
  both <- withr::local_tempdir()
  dnabert_classifier_save(trained()$clf, both)
  dnabert_classifier_save(clf, both)
  expect_identical(dnabert_predict(dnabert_classifier_load(NULL, both), seqs$sequence), p)
  expect_equal(dnabert_classifier_info(dnabert_classifier_load(base_model(), both))$lora_r, 0L)
  # evaluation with class names, through the loaded classifier's label schema
  lab <- ifelse(seqs$label == 1, "coding", "noncoding")
  ev <- dnabert_evaluate(clf2, data.frame(sequence = seqs$sequence, label = lab))
  want <- r_metrics(match(lab, info$labels) - 1L, match(p$label, info$labels) - 1L, 2L)
  expect_equal(ev[names(want)], want, tolerance = 1e-9)
  expect_error(dnabert_evaluate(clf2, list(seqs$sequence, rep("intergenic", 20))), "intergenic")
})

test_that("regression: predictions and metrics agree with R's", {
  train <- read_task("train")[1:64, ]
  gc <- vapply(strsplit(train$sequence, ""), function(b) mean(b %in% c("G", "C")), 0)
  clf <- dnabert_finetune(base_model(), list(train$sequence, gc), max_steps = 2, batch_size = 16, progress = FALSE)
  expect_equal(dnabert_classifier_info(clf)$problem_type, "regression")
  p <- dnabert_predict(clf, train$sequence)
  expect_equal(names(p), c("id", "prediction"))
  ev <- dnabert_evaluate(clf, list(train$sequence, gc))
  expect_equal(names(ev), c("pearson", "spearman", "mse", "r2", "loss", "n"))
  expect_equal(ev[["mse"]], mean((p$prediction - gc)^2), tolerance = 1e-5)
  expect_equal(ev[["pearson"]], cor(p$prediction, gc), tolerance = 1e-5)
  expect_equal(ev[["spearman"]], cor(p$prediction, gc, method = "spearman"), tolerance = 1e-5)
})

test_that("multi-label: label sets from a list, predictions and the loaded classifier's evaluation", {
  train <- read_task("train")[1:48, ]
  sets <- lapply(seq_len(48), function(i) if (i %% 3 == 0) c(0, 2) else if (i %% 3 == 1) 1 else integer())
  clf <- dnabert_finetune(base_model(), list(train$sequence, sets), max_steps = 2, batch_size = 16, progress = FALSE)
  info <- dnabert_classifier_info(clf)
  expect_equal(info$problem_type, "multi_label_classification")
  expect_equal(info$num_labels, 3L)
  p <- dnabert_predict(clf, train$sequence)
  probs <- as.matrix(p[, c("prob_0", "prob_1", "prob_2")])
  expect_true(all(probs > 0 & probs < 1))
  expect_equal(p$label, apply(probs >= 0.5, 1L, function(r) paste(c("0", "1", "2")[r], collapse = ";")))
  truth <- t(vapply(sets, function(s) as.numeric(0:2 %in% s), numeric(3)))
  ev <- dnabert_evaluate(clf, list(train$sequence, sets))
  bce <- mean(-(truth * log(probs) + (1 - truth) * log(1 - probs)))
  expect_equal(ev[["loss"]], bce, tolerance = 1e-5)
  expect_equal(ev[["accuracy"]], mean(rowSums((probs >= 0.5) == (truth == 1)) == 3), tolerance = 1e-9)
  dir <- withr::local_tempdir()
  dnabert_classifier_save(clf, dir)
  expect_equal(dnabert_evaluate(dnabert_classifier_load(base_model(), dir), list(train$sequence, sets)), ev)
})

test_that("the progress function can stop training, and an R error in it propagates without a crash", {
  train <- read_task("train")[1:64, ]
  expect_warning(clf <- dnabert_finetune(base_model(), train, max_steps = 10, batch_size = 16,
                                         progress = function(m) m$step < 2),
                 "stopped by the progress function")
  expect_equal(nrow(clf$history), 2L)
  expect_equal(nrow(dnabert_predict(clf, train$sequence[1:3])), 3L)
  expect_error(dnabert_finetune(base_model(), train, max_steps = 10, batch_size = 16,
                                progress = function(m) stop("boom in the callback")),
               "boom in the callback")
  # Ctrl-C during training (a SIGINT to this R process): training stops, the interrupt reaches R
  last <- 0
  got <- tryCatch(dnabert_finetune(base_model(), train, max_steps = 10, batch_size = 16,
                                   progress = function(m) {
                                     last <<- m$step
                                     if (m$step == 2) tools::pskill(Sys.getpid(), tools::SIGINT)
                                     TRUE
                                   }),
                  interrupt = function(e) "interrupted")
  expect_identical(got, "interrupted")
  expect_lt(last, 10)
  # R and the library still work
  expect_equal(nrow(dnabert_predict(clf, train$sequence[1:2])), 2L)
})

test_that("hostile input gives R errors, never a crash", {
  m <- base_model()
  train <- read_task("train")[1:32, ]
  ft <- function(...) dnabert_finetune(m, ..., max_steps = 1, batch_size = 8, progress = FALSE)
  expect_error(dnabert_finetune("model", train), "must be a dnabert model")
  expect_error(dnabert_finetune(m), "'train'")
  expect_error(ft(NULL), "must not be NULL")
  expect_error(ft(42), "must be a CSV path")
  expect_error(ft(train$sequence), "list\\(sequences, labels\\)")
  expect_error(ft(list(train$sequence, train$label[-1])), "32 sequences but 31 labels")
  expect_error(ft(list(train$sequence, c(NA, train$label[-1]))), "NA")
  expect_error(ft(list(c(NA, train$sequence[-1]), train$label)), "NA")
  expect_error(ft(data.frame(seq = train$sequence, label = train$label)), "'sequence' and 'label'")
  expect_error(ft("/no/such/train.csv"), "no file")
  expect_error(ft(train, dev = "/no/such/dev.csv"), "no file")
  expect_error(ft(list(train$sequence, train$label[1:32]), test = list(train$sequence, rep(5L, 32))), "label")
  expect_error(ft(train, pooling = "max"), "pooling")
  expect_error(ft(train, lora_targets = "query"), "lora_targets")
  expect_error(ft(train, lora_r = 0), "lora_r")
  expect_error(ft(train, batch_size = -1), "batch_size")
  expect_error(ft(train, batch_size = NA), "batch_size")
  expect_error(ft(train, lr = -1), "lr")
  expect_error(ft(train, select_by = "auc"), "select_by")
  expect_error(ft(train, select_by = "pearson"), "pearson")   # the library: not a metric of single-label
  expect_error(ft(train, max_length = 10000), "max_length")
  expect_error(ft(train, distributed = NA), "'distributed' must be TRUE or FALSE")
  expect_error(ft(train, distributed = "yes"), "'distributed' must be TRUE or FALSE")
  expect_error(ft(train, seed = -1), "seed")
  expect_error(ft(train, progress = "yes"), "progress")
  bad_csv <- withr::local_tempfile(fileext = ".csv")
  writeLines(c("sequence,label", "ACGT,1", "ACGTAC"), bad_csv)
  expect_error(ft(bad_csv))
  empty <- withr::local_tempfile(fileext = ".csv")
  writeLines("sequence,label", empty)
  expect_error(ft(empty))

  clf <- trained()$clf
  expect_error(dnabert_predict(m, "ACGT"), "must be a dnabert classifier")
  expect_error(dnabert_predict(clf, NULL), "NULL")
  expect_error(dnabert_predict(clf, 1:3), "character vector")
  expect_error(dnabert_predict(clf, c("ACGT", NA)), "NA")
  expect_error(dnabert_predict(clf, "/no/such/file.fa"), "no file")
  expect_error(dnabert_predict(clf, "ACGT", type = "logits"))
  expect_error(dnabert_predict(clf, "ACGT", threads = -1), "threads")
  nofasta <- withr::local_tempfile(fileext = ".txt")
  writeLines("just text", nofasta)
  expect_error(dnabert_predict(clf, nofasta), "not FASTA")
  expect_error(dnabert_evaluate(clf), "missing")
  expect_error(dnabert_evaluate(clf, "/no/such.csv"), "no file")
  expect_error(dnabert_evaluate(clf, list("ACGT", "2")))   # class 2 of a binary classifier
  expect_error(dnabert_evaluate(clf, list(c("ACGT", "ACGT"), "1")), "2 sequences but 1 labels")

  expect_error(dnabert_classifier_save(m, tempdir()), "must be a dnabert classifier")
  expect_error(dnabert_classifier_save(clf, NA_character_), "dir")
  expect_error(dnabert_classifier_load(m, "/no/such/adapter"), "no folder")
  expect_error(dnabert_classifier_load("model", tempdir()), "must be a dnabert model")
  expect_error(dnabert_classifier_load(NULL, withr::local_tempdir()))   # an empty folder
  # a LoRA adapter without its base model
  dir <- withr::local_tempdir()
  dnabert_classifier_save(clf, dir)
  expect_error(dnabert_classifier_load(NULL, dir))
  # corrupt adapters: truncated weights, garbage config, rank that does not match the weights
  w <- file.path(dir, "adapter_model.safetensors")
  bytes <- readBin(w, "raw", file.size(w))
  for (cut in c(4L, 100L, length(bytes) %/% 2L)) {
    bad <- withr::local_tempdir()
    file.copy(list.files(dir, full.names = TRUE), bad)
    writeBin(bytes[seq_len(cut)], file.path(bad, "adapter_model.safetensors"))
    expect_error(dnabert_classifier_load(m, bad))
  }
  bad <- withr::local_tempdir()
  file.copy(list.files(dir, full.names = TRUE), bad)
  writeLines("{ not json", file.path(bad, "adapter_config.json"))
  expect_error(dnabert_classifier_load(m, bad))
  bad <- withr::local_tempdir()
  file.copy(list.files(dir, full.names = TRUE), bad)
  cfg <- readLines(file.path(dir, "adapter_config.json"))
  writeLines(gsub('"r" *: *8', '"r": 4', cfg), file.path(bad, "adapter_config.json"))
  expect_error(dnabert_classifier_load(m, bad))

  # a freed classifier, and one restored from a saved session
  clf3 <- dnabert_classifier_load(m, dir)
  dnabert_free_classifier(clf3)
  expect_false(is_dnabert_classifier(clf3))
  expect_error(dnabert_predict(clf3, "ACGT"), "no longer valid")
  expect_output(print(clf3), "not usable")
  rds <- withr::local_tempfile(fileext = ".rds")
  saveRDS(dnabert_classifier_load(m, dir), rds)
  restored <- readRDS(rds)
  expect_error(dnabert_predict(restored, "ACGT"), "no longer valid")
  expect_true(is_dnabert_classifier(clf))
})

test_that("a merged classifier folder keeps pooling, strand symmetry, labels and max length (issue 13)", {
  train <- read_task("train")[1:96, ]
  train$label <- ifelse(train$label == 1L, "coding", "noncoding")
  # mean pooling + both strands: the case that reloaded with MCC 0 when the merged folder forgot them
  clf <- dnabert_finetune(base_model(), train, max_steps = 3, lr = 5e-3, pooling = "mean",
                          reverse_complement = TRUE, lora_targets = c("Wqkv", "attention.output.dense", "gated_layers", "wo"),
                          progress = FALSE)
  seqs <- read_task("test")$sequence[1:60]
  expected <- dnabert_predict(clf, seqs, type = "prob")
  dir <- tempfile("merged")
  dnabert_save_model(dnabert_merged_model(clf), dir)
  back <- dnabert_classifier_load(NULL, dir)
  i <- dnabert_classifier_info(back)
  expect_equal(i$pooling, "mean")
  expect_true(i$reverse_complement)
  expect_equal(i$labels, c("coding", "noncoding"))
  expect_equal(i$max_length, dnabert_classifier_info(clf)$max_length)
  got <- dnabert_predict(back, seqs, type = "prob")
  expect_lte(max(abs(as.matrix(got[, -1]) - as.matrix(expected[, -1]))), 1e-5)
})

test_that("inputs longer than max_length warn (truncation) or are scored by windows", {
  train <- read_task("train")[1:64, ]
  clf <- dnabert_finetune(base_model(), train, max_steps = 1, progress = FALSE)
  long <- paste(read_task("test")$sequence[1:6], collapse = "")
  short <- read_task("test")$sequence[7]
  expect_warning(p1 <- dnabert_predict(clf, c(long, short), type = "prob"), "1 of 2 sequences are longer")
  expect_silent(p2 <- dnabert_predict(clf, c(long, short), type = "prob", long_inputs = "windows"))
  expect_equal(p1[2, ], p2[2, ], tolerance = 1e-6, ignore_attr = TRUE)   # the short one: the same either way
  expect_false(isTRUE(all.equal(p1[1, -1], p2[1, -1])))                  # the long one: every window counts
  expect_equal(sum(unlist(p2[1, -1])), 1, tolerance = 1e-5)
})

test_that("a path is read as a file by dnabert_embed, never embedded as letters", {
  m <- base_model()
  fa <- tempfile(fileext = ".fa")
  writeLines(c(">a", "ACGTACGTTTGACCA", ">b", "GGGCCCATATATGCA"), fa)
  e <- dnabert_embed(m, fa)
  expect_equal(rownames(e), c("a", "b"))
  expect_equal(unname(e), unname(dnabert_embed(m, c("ACGTACGTTTGACCA", "GGGCCCATATATGCA"))), tolerance = 1e-6)
  expect_error(dnabert_embed(m, "no/such/reads.fa"), "no file")
})
