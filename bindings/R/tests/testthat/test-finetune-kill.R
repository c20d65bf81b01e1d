# An R dnabert_finetune(out = ...) killed part-way leaves its best classifier so far, loadable, in `out`: the library
# saves the classifier atomically after each improving dev evaluation, before that step's metrics.jsonl line. A child
# Rscript is SIGKILLed once metrics.jsonl holds four dev evaluations (an event, not a wall-clock budget).

# The repository's files (DNABERT_REPO, else above the working folder); without them the test is skipped with the
# reason (helper-data.R's repo_file), so that R CMD check outside the repository passes.
kill_repo_file <- function(...) repo_file(...)

dev_losses <- function(path) {
  if (!file.exists(path)) return(numeric())
  lines <- readLines(path, warn = FALSE)
  # a line cut by the kill has no closing brace; dev figures sit under "dev"
  lines <- lines[grepl("\\}$", lines) & grepl("\"dev\":", lines)]
  as.numeric(sub(".*\"dev\":\\{\"loss\":([-0-9.eE+]+).*", "\\1", lines))
}

test_that("a SIGKILLed R fine-tune leaves its best classifier, loadable, with the best recorded dev loss", {
  model_dir <- normalizePath(kill_repo_file("examples", "models", "dnabert2-small-5genomes"))
  task <- normalizePath(kill_repo_file("examples", "data", "tasks", "coding_200"))
  out <- file.path(tempfile("dnabert-r-kill-"), "clf")
  # the first 96 dev sequences: the dev evaluations, not the steps, are most of the run's time
  dev <- tempfile(fileext = ".csv")
  writeLines(utils::head(readLines(file.path(task, "dev.csv")), 97L), dev)
  script <- tempfile(fileext = ".R")
  writeLines(c(
    "library(dnabert)",
    "a <- commandArgs(TRUE)",
    "m <- dnabert_model(a[1])",
    "dnabert_finetune(m, file.path(a[2], 'train.csv'), dev = a[4], out = a[3],",
    "                 max_steps = 400, eval_every = 4, batch_size = 16, lr = 2e-3, seed = 3, progress = FALSE)"),
    script)
  rscript <- file.path(R.home("bin"), "Rscript")
  pid <- as.integer(system(sprintf("'%s' '%s' '%s' '%s' '%s' '%s' >/dev/null 2>&1 & echo $!", rscript, script, model_dir,
                                   task, out, dev), intern = TRUE))
  metrics <- file.path(out, "metrics.jsonl")
  alive <- function() tools::pskill(pid, 0L)
  deadline <- Sys.time() + 300  # a guard against a hung child only
  while (Sys.time() < deadline && alive() && length(dev_losses(metrics)) < 4) Sys.sleep(0.02)
  expect_true(alive(), info = "the run ended before it could be killed")
  tools::pskill(pid, tools::SIGKILL)
  Sys.sleep(0.5)
  losses <- dev_losses(metrics)
  expect_gte(length(losses), 4)
  expect_false(file.exists(file.path(out, "loss.svg")))
  m <- dnabert_model(model_dir)
  clf <- dnabert_classifier_load(m, out)
  again <- dnabert_evaluate(clf, dev)[["loss"]]
  best <- min(losses)
  expect_true(abs(best - again) <= 1e-5 * max(1, abs(best)) || again < best,
              info = sprintf("saved classifier's dev loss %g, best recorded %g", again, best))
})
