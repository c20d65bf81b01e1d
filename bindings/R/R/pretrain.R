# Masked-language-model pretraining: dnabert_pretrain() builds (or takes) a model, runs the library's trainer
# to the last step (src/pretrain.c bridges the per-step callback) and returns the trained model with its
# metric history.

pretrain_presets <- list(
  tiny = list(hidden_size = 64L, num_hidden_layers = 2L, num_attention_heads = 4L, intermediate_size = 128L),
  small = list(hidden_size = 256L, num_hidden_layers = 4L, num_attention_heads = 8L, intermediate_size = 1024L),
  base = list(hidden_size = 768L, num_hidden_layers = 12L, num_attention_heads = 12L, intermediate_size = 3072L)
)

history_columns <- c("step", "loss", "learning_rate", "grad_norm", "tokens", "tokens_per_second",
                     "elapsed_seconds", "eta_seconds", "validation_loss", "validation_accuracy")

check_number <- function(x, name, min = -Inf) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < min) {
    stop_arg("'", name, "' must be a single finite number", if (is.finite(min)) paste0(" >= ", min) else "")
  }
  as.double(x)
}

# The model to train: a preset name, a config.json path (or a folder holding one), JSON text, a named list,
# or an existing model (trained in place).
pretrain_model <- function(config, tokenizer, seed) {
  if (inherits(config, "dnabert_model")) {
    info <- dnabert_model_info(config)
    if (!is.null(tokenizer) && !isTRUE(as.logical(info$has_tokenizer))) {
      stop_arg("'config' is a model without a tokenizer, and a tokenizer cannot be attached to an existing model: ",
               "save it with dnabert_save_model(), put tokenizer.json into that folder and load it with dnabert_model()")
    }
    return(config)
  }
  tok <- tokenizer
  if (is.character(tok)) {
    check_string(tok, "tokenizer")
    tok <- dnabert_tokenizer(tok)
  }
  if (is.null(tok)) {
    stop_arg("'tokenizer' is needed to build a new model (a dnabert tokenizer or a tokenizer.json path)")
  }
  if (is.character(config) && length(config) == 1L && !is.na(config) && config %in% names(pretrain_presets)) {
    cfg <- c(pretrain_presets[[config]], list(vocab_size = dnabert_vocab_size(tok)))
    return(dnabert_random_model(cfg, tok, seed = seed))
  }
  if (is.character(config) && length(config) == 1L && !is.na(config) && dir.exists(config)) {
    config <- file.path(config, "config.json")
  }
  if (!(is.list(config) || (is.character(config) && length(config) == 1L && !is.na(config)))) {
    stop_arg("'config' must be \"tiny\", \"small\", \"base\", a config.json path, a named list or a dnabert model")
  }
  dnabert_random_model(config, tok, seed = seed)
}

# The per-step recorder of long runs (pretraining, fine-tuning): keeps the history (the named `columns` of each
# step's metrics) in a preallocated matrix, drives the progress display and the user's function. `eval_line(v)`
# gives the message printed after an evaluation step, or NULL. record() returns FALSE to stop.
step_recorder <- function(progress, columns, eval_line) {
  st <- new.env(parent = emptyenv())
  st$m <- NULL
  st$n <- 0L
  st$bar <- NULL
  show <- isTRUE(progress)
  user_fn <- if (is.function(progress)) progress else NULL
  record <- function(v) {
    if (is.null(st$m)) st$m <- matrix(NA_real_, nrow = max(1, v[["total_steps"]]), ncol = length(columns),
                                      dimnames = list(NULL, columns))
    if (st$n >= nrow(st$m)) st$m <- rbind(st$m, matrix(NA_real_, nrow = nrow(st$m), ncol = ncol(st$m)))
    st$n <- st$n + 1L
    st$m[st$n, ] <- v[columns]
    if (show) {
      if (is.null(st$bar)) st$bar <- txtProgressBar(min = 0, max = max(1, v[["total_steps"]]), style = 3)
      setTxtProgressBar(st$bar, v[["step"]])
      line <- eval_line(v)
      if (!is.null(line)) message(line)
    }
    if (!is.null(user_fn) && isFALSE(user_fn(as.list(v)))) return(FALSE)
    TRUE
  }
  history <- function() {
    m <- if (is.null(st$m)) matrix(NA_real_, 0L, length(columns), dimnames = list(NULL, columns))
         else st$m[seq_len(st$n), , drop = FALSE]
    df <- as.data.frame(m)
    df$step <- as.integer(df$step)
    df
  }
  finish <- function() {
    if (!is.null(st$bar)) close(st$bar)
    st$bar <- NULL
  }
  list(record = record, history = history, finish = finish)
}

pretrain_recorder <- function(progress) {
  step_recorder(progress, history_columns, function(v) {
    if (is.na(v[["validation_loss"]])) return(NULL)
    sprintf("\nstep %d/%d  loss %.4f  validation loss %.4f  accuracy %.4f  (%.0f tokens/s)",
            as.integer(v[["step"]]), as.integer(v[["total_steps"]]), v[["loss"]],
            v[["validation_loss"]], v[["validation_accuracy"]], v[["tokens_per_second"]])
  })
}

#' Pretrain a DNABERT-2 model with masked-language modelling on FASTA files (see ?dnabert_pretrain).
dnabert_pretrain <- function(config = "small", tokenizer = NULL, files, out, steps = 1000L, batch_size = 32L,
                             seq_len = 128L, lr = 5e-4, warmup = NULL, dropout = NULL, max_grad_norm = 1,
                             eval_every = 100L, checkpoint_every = 500L, keep_checkpoints = 3L,
                             validation_windows = 256L, drop_windows_with_n = TRUE, reverse_complement = TRUE,
                             resume = FALSE, threads = 0L, seed = 0, progress = interactive(), grad_accum = 1L,
                             distributed = FALSE) {
  if (missing(files) || is.null(files) || !is.character(files) || length(files) == 0L || anyNA(files)) {
    stop_arg("'files' must be a character vector of FASTA paths (plain or gzip)")
  }
  if (missing(out)) stop_arg("'out' (the output folder for checkpoints, metrics and the final model) is missing")
  check_string(out, "out")
  ints <- c(
    steps = check_int(steps, "steps", min = 0L),
    batch_size = check_int(batch_size, "batch_size", min = 0L),
    grad_accum = check_int(grad_accum, "grad_accum", min = 0L),
    seq_len = check_int(seq_len, "seq_len", min = 0L),
    warmup = if (is.null(warmup)) -1L else check_int(warmup, "warmup", min = 0L),
    eval_every = check_int(eval_every, "eval_every", min = 0L),
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", min = 0L),
    keep_checkpoints = check_int(keep_checkpoints, "keep_checkpoints", min = 0L),
    validation_windows = check_int(validation_windows, "validation_windows", min = 0L),
    drop_windows_with_n = as.integer(check_flag(drop_windows_with_n, "drop_windows_with_n")),
    reverse_complement = as.integer(check_flag(reverse_complement, "reverse_complement")),
    resume = as.integer(check_flag(resume, "resume")),
    threads = check_int(threads, "threads", min = 0L),
    distributed = as.integer(check_flag(distributed, "distributed"))
  )
  dbls <- c(check_number(lr, "lr"), if (is.null(dropout)) -1 else check_number(dropout, "dropout", min = 0),
            check_number(max_grad_norm, "max_grad_norm", min = 0))
  if (!is.numeric(seed) || length(seed) != 1L || is.na(seed) || !is.finite(seed) || seed < 0 ||
      seed != round(seed) || seed > 2^53) {
    stop_arg("'seed' must be a single whole number in [0, 2^53]")
  }
  if (!(is.function(progress) || isTRUE(progress) || isFALSE(progress) || is.null(progress))) {
    stop_arg("'progress' must be TRUE, FALSE or a function(metrics) returning FALSE to stop")
  }
  model <- pretrain_model(config, tokenizer, seed)
  ptr <- model_ptr(model, "config")
  rec <- pretrain_recorder(progress)
  on.exit(rec$finish(), add = TRUE)
  res <- .Call(dnabert_r_pretrain, ptr, unname(path.expand(files)), path.expand(out), unname(ints), dbls,
               as.double(seed), rec$record)
  rec$finish()
  hist <- rec$history()
  if (isTRUE(res$cancelled)) {
    last <- if (nrow(hist) > 0L) hist$step[[nrow(hist)]] else NA_integer_
    warning("pretraining stopped by the progress function after step ", last, " (", res$message, "); ",
            "a checkpoint was written to '", out, "': continue with resume = TRUE", call. = FALSE)
  }
  attr(model, "history") <- hist
  model
}

# This process's rank in an MPI job (distributed = TRUE), from the launcher's environment as the library reads
# it (Open MPI's OMPI_COMM_WORLD_RANK, PMIx, PMI); 0 outside a launcher. Used only to let rank 0 alone write
# R-side files into an output folder that the library writes on rank 0 alone.
mpi_rank <- function() {
  for (v in c("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK")) {
    r <- suppressWarnings(as.integer(Sys.getenv(v, "")))
    if (!is.na(r)) return(r)
  }
  0L
}
