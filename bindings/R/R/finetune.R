# Fine-tuning sequence classifiers (LoRA or full) and using them: dnabert_finetune() runs the library's
# fine-tuner (src/finetune.c bridges the per-step callback) and returns a classifier object; dnabert_predict(),
# dnabert_evaluate(), dnabert_classifier_save() / dnabert_classifier_load() work on it.
#
# A classifier is a small S3 list (class "dnabert_classifier") around an external pointer to the library's
# handle, freed by a finalizer; it also keeps the base model object it was built on, the training history and
# the test metrics.

finetune_history_columns <- c("step", "epoch", "loss", "learning_rate", "grad_norm", "tokens_per_second",
                              "elapsed_seconds", "eta_seconds", "dev_loss", "dev_accuracy", "dev_f1", "dev_mcc",
                              "dev_precision", "dev_recall", "dev_pearson", "dev_spearman")

lora_target_names <- c("Wqkv", "attention.output.dense", "gated_layers", "wo")
select_by_names <- c("loss", "accuracy", "f1", "mcc", "precision", "recall", "pearson", "spearman", "r2")
# One spelling across the CLI, Python, R and config.json: Hugging Face's (single_label_classification,
# multi_label_classification, regression); the short forms are accepted on input.
problem_type_codes <- c(auto = 0L, single_label_classification = 1L, multi_label_classification = 2L, regression = 3L,
                        single_label = 1L, multi_label = 2L)

new_classifier <- function(ptr, base, source) {
  structure(list(ptr = ptr, base = base, source = source, history = NULL, test = NULL), class = "dnabert_classifier")
}

classifier_ptr <- function(clf, name = "clf") {
  if (!inherits(clf, "dnabert_classifier")) {
    stop_arg("'", name, "' must be a dnabert classifier (from dnabert_finetune() or dnabert_classifier_load()), not ",
             paste(class(clf), collapse = "/"))
  }
  clf$ptr
}

# Labels as the strings a CSV label field would hold: class names, class indices, numbers (regression) or,
# for a list of integer vectors (multi-label), "0;2".
label_strings <- function(labels, name) {
  if (is.null(labels)) stop_arg("'", name, "': labels are missing")
  if (is.factor(labels)) labels <- as.character(labels)
  if (is.list(labels) && !is.data.frame(labels)) {
    out <- vapply(seq_along(labels), function(i) {
      v <- labels[[i]]
      if (!is.numeric(v) || anyNA(v) || any(v != round(v)) || any(v < 0)) {
        stop_arg("'", name, "': multi-label element ", i, " must be a vector of non-negative class indices")
      }
      paste(sprintf("%.0f", v), collapse = ";")
    }, "")
    return(out)
  }
  if (!is.atomic(labels) || is.null(labels) || !(is.character(labels) || is.numeric(labels) || is.logical(labels))) {
    stop_arg("'", name, "': labels must be a character, factor, numeric or logical vector (or a list of class ",
             "index vectors for multi-label data), not ", paste(class(labels), collapse = "/"))
  }
  if (anyNA(labels)) stop_arg("'", name, "': label ", which(is.na(labels))[1L], " is NA")
  if (is.numeric(labels)) {
    if (any(!is.finite(labels))) stop_arg("'", name, "': labels must be finite numbers")
    whole <- labels == round(labels) & abs(labels) < 1e15
    return(ifelse(whole, sprintf("%.0f", labels), sprintf("%.17g", labels)))
  }
  as.character(labels)
}

# Labelled data for the library: a path (CSV/TSV with a header `sequence,label`) or list(sequences, labels).
# Accepts a path, a data.frame with `sequence` and `label` columns, list(sequences, labels) where sequences is
# a character vector or a Biostrings DNAStringSet, or a DNAStringSet with a `label` metadata column.
as_labelled <- function(x, name, genome = NULL) {
  if (is.null(x)) stop_arg("'", name, "' must not be NULL")
  if (is_granges(x)) {
    labels <- S4Vectors::mcols(x)$label
    if (is.null(labels)) stop_arg("'", name, "' is a GRanges without a 'label' metadata column (mcols(x)$label)")
    x <- list(region_sequences(x, genome, name), labels)
  }
  if (is.character(x) && length(x) == 1L && !is.na(x)) {
    path <- path.expand(x)
    if (!file.exists(path) || dir.exists(path)) stop_arg("'", name, "': no file '", x, "'")
    return(path)
  }
  if (is_table(x)) {
    if (!all(c("sequence", "label") %in% names(x))) {
      stop_arg("'", name, "' as a data.frame needs columns 'sequence' and 'label' (it has ",
               paste(names(x), collapse = ", "), ")")
    }
    seqs <- as_sequences(x[["sequence"]], paste0(name, "$sequence"))
    labels <- x[["label"]]
  } else if (methods::is(x, "XStringSet")) {
    mc <- tryCatch(as.data.frame(methods::slot(x, "elementMetadata")), error = function(e) NULL)
    if (is.null(mc) || !("label" %in% names(mc))) {
      stop_arg("'", name, "' is a DNAStringSet without a 'label' metadata column: give list(sequences, labels) ",
               "or set mcols(x)$label")
    }
    seqs <- as_sequences(x, name)
    labels <- mc$label
  } else if (is.list(x)) {
    if (length(x) != 2L) stop_arg("'", name, "' as a list must be list(sequences, labels)")
    seqs <- as_sequences(x[[1L]], paste0(name, "[[1]] (the sequences)"))
    labels <- x[[2L]]
  } else if (is.character(x)) {
    stop_arg("'", name, "' is a character vector: give a single CSV path, or list(sequences, labels) for ",
             "sequences with their labels")
  } else {
    stop_arg("'", name, "' must be a CSV path, a data.frame with 'sequence' and 'label' columns, ",
             "list(sequences, labels) or a DNAStringSet with a 'label' metadata column, not ",
             paste(class(x), collapse = "/"))
  }
  labels <- label_strings(labels, name)
  if (length(seqs) == 0L) stop_arg("'", name, "' has no sequences")
  if (length(labels) != length(seqs)) {
    stop_arg("'", name, "': ", length(seqs), " sequences but ", length(labels), " labels")
  }
  list(unname(seqs), unname(labels))
}

check_whole <- function(x, name, min = 0) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x != round(x) || x < min || x > 2^53) {
    stop_arg("'", name, "' must be a single whole number in [", min, ", 2^53]")
  }
  as.double(x)
}

# The per-step recorder (see step_recorder in pretrain.R) with fine-tuning's columns and dev-evaluation line.
finetune_recorder <- function(progress) {
  step_recorder(progress, finetune_history_columns, function(v) {
    if (is.na(v[["dev_loss"]])) return(NULL)
    extra <- if (!is.na(v[["dev_mcc"]])) {
      sprintf("accuracy %.4f  MCC %.4f", v[["dev_accuracy"]], v[["dev_mcc"]])
    } else if (!is.na(v[["dev_pearson"]])) {
      sprintf("Pearson %.4f", v[["dev_pearson"]])
    } else ""
    sprintf("\nstep %d/%d  epoch %.2f  loss %.4f  dev loss %.4f  %s", as.integer(v[["step"]]),
            as.integer(v[["total_steps"]]), v[["epoch"]], v[["loss"]], v[["dev_loss"]], extra)
  })
}

#' Fine-tune a DNABERT-2 model for sequence classification (LoRA adapters or full fine-tuning).
#'
#' @param model the pretrained model (\code{dnabert_model()}); it is not modified.
#' @param train,dev,test labelled sequences: a CSV/TSV path (header \code{sequence,label}, as GUE), a data.frame
#'   with \code{sequence} and \code{label} columns, \code{list(sequences, labels)} (sequences a character vector or a
#'   Biostrings \code{DNAStringSet}), or a \code{DNAStringSet} with a \code{label} metadata column. Labels: class
#'   names, class indices, numbers (regression), \code{"0;2"} strings or a list of index vectors (multi-label).
#'   \code{dev} (optional) is evaluated during training and the best dev parameters are kept; \code{test}
#'   (optional) is evaluated at the end.
#' @param lora_r,lora_alpha,lora_dropout,lora_targets LoRA rank, alpha (scaling alpha / r), dropout on the adapters'
#'   input and the adapted modules (\code{"Wqkv"}, \code{"attention.output.dense"}, \code{"gated_layers"}, \code{"wo"}).
#' @param full \code{TRUE}: fine-tune every encoder weight instead of LoRA adapters.
#' @param pooling \code{"auto"} (default): \code{"mean"} for a strand-symmetric run (see \code{reverse_complement}),
#'   \code{"cls"} (DNABERT-2's pooler on \code{[CLS]}) otherwise; or \code{"mean"} or \code{"cls"} explicitly. The
#'   choice is in the classifier's info (\code{dnabert_classifier_info()$pooling}).
#' @param epochs,max_steps passes over the training data, or (\code{max_steps > 0}) this many optimizer steps.
#' @param batch_size sequences per step.
#' @param lr peak learning rate; \code{NULL}: 5e-4 with LoRA, 3e-5 full.
#' @param max_length tokens per sequence incl. \code{[CLS]}/\code{[SEP]}; 0 = the longest training sequence (<= 512).
#' @param class_weights weight the single-label loss by inverse class frequency.
#' @param reverse_complement \code{TRUE} for strand-symmetric tasks (sequences from either strand): each training
#'   example is reverse-complemented with probability 1/2 when drawn, and the classifier scores a sequence by the
#'   mean of both strands' probabilities. Not for strand-specific tasks (oriented promoters, splice sites).
#'   \code{NA} (default): automatic, on when the training sequences' 3-mer counts are strand-symmetric (sequences
#'   from a random strand), off otherwise (see the README, "Defaults").
#' @param select_by dev metric that picks the kept parameters: \code{"loss"} (lowest) or accuracy, f1, mcc,
#'   precision, recall, pearson, spearman, r2 (highest).
#' @param seed seed of the adapters/head, shuffling and dropout.
#' @param threads worker threads, 0 = all cores.
#' @param out \code{NULL} or an output folder that the library manages during the run (as the CLI's
#'   \code{--out}): \code{metrics.jsonl} (one line per step), the classifier saved atomically after every dev
#'   evaluation that improves on the best (so a killed run leaves its best classifier), the kept classifier and
#'   \code{loss.svg} at the end, \code{test_metrics.json} and \code{test_predictions.csv} with \code{test}; and
#'   \code{history.csv}.
#' @param progress \code{TRUE}: a progress bar and a message at each dev evaluation; \code{FALSE}; or a
#'   \code{function(metrics)} called after each step with a named list that returns \code{FALSE} to stop.
#' @param eval_every dev evaluation every this many steps (0 = once per epoch; always at the end).
#' @param warmup warm-up steps (\code{NULL} = min(50, 10\% of the steps)).
#' @param dropout hidden and classifier dropout (\code{NULL} = the model configuration's).
#' @param grad_accum micro-batches per optimizer step.
#' @param problem_type \code{"auto"} (inferred from the labels), \code{"single_label_classification"},
#'   \code{"multi_label_classification"} (short forms \code{"single_label"}, \code{"multi_label"}) or
#'   \code{"regression"}.
#' @param distributed \code{TRUE}: data-parallel over MPI, the script being run as \code{mpirun -np N Rscript train.R}
#'   (every rank the same call; micro-batch k of a step on rank k mod N; dev evaluation sharded; rank 0 writes
#'   \code{out}); every rank returns the same classifier.
#' @param genome where the DNA of \code{GRanges} data is read (a BSgenome, an \code{Rsamtools::FaFile} or its path,
#'   a named DNAStringSet): \code{train}, \code{dev}, \code{test} may be GRanges with a \code{label} metadata column;
#'   minus-strand regions are reverse-complemented. Data frames may also be S4Vectors \code{DataFrame}s.
#' @return a \code{dnabert_classifier} with \code{$history} (a data.frame, one row per step) and \code{$test}
#'   (named test metrics, or \code{NULL}).
dnabert_finetune <- function(model, train, dev = NULL, test = NULL, lora_r = 8, lora_alpha = 32, lora_dropout = 0.05,
                             lora_targets = c("Wqkv", "attention.output.dense", "gated_layers", "wo"), full = FALSE, pooling = "auto",
                             epochs = 3, max_steps = 0, batch_size = 32, lr = NULL, max_length = 0,
                             class_weights = FALSE, select_by = "loss", seed = 0, threads = 0, out = NULL,
                             progress = interactive(), eval_every = 0, warmup = NULL, dropout = NULL,
                             grad_accum = 1, problem_type = "auto", reverse_complement = NA, genome = NULL,
                             distributed = FALSE) {
  ptr <- model_ptr(model)
  if (missing(train)) stop_arg("'train' (the labelled training sequences) is missing")
  tr <- as_labelled(train, "train", genome)
  dv <- if (is.null(dev)) NULL else as_labelled(dev, "dev", genome)
  te <- if (is.null(test)) NULL else as_labelled(test, "test", genome)
  check_flag(full, "full")
  check_flag(class_weights, "class_weights")
  check_flag(distributed, "distributed")
  rc_auto <- length(reverse_complement) == 1L && is.na(reverse_complement)
  if (!rc_auto) check_flag(reverse_complement, "reverse_complement")
  if (!is.character(pooling) || length(pooling) != 1L || !(pooling %in% c("auto", "cls", "mean"))) {
    stop_arg("'pooling' must be \"auto\", \"cls\" or \"mean\"")
  }
  if (!is.character(select_by) || length(select_by) != 1L || !(select_by %in% select_by_names)) {
    stop_arg("'select_by' must be one of ", paste(select_by_names, collapse = ", "))
  }
  if (!is.character(problem_type) || length(problem_type) != 1L || !(problem_type %in% names(problem_type_codes))) {
    stop_arg("'problem_type' must be one of ", paste(names(problem_type_codes), collapse = ", "))
  }
  if (!full) {
    if (!is.character(lora_targets) || length(lora_targets) == 0L || anyNA(lora_targets) ||
        !all(lora_targets %in% lora_target_names)) {
      stop_arg("'lora_targets' must name modules among ", paste(lora_target_names, collapse = ", "))
    }
  }
  r <- if (full) 0L else check_int(lora_r, "lora_r", min = 1L)
  ints <- c(
    lora_r = r,
    pooling = switch(pooling, auto = -1L, cls = 1L, mean = 0L),
    max_steps = check_int(max_steps, "max_steps", min = 0L),
    batch_size = check_int(batch_size, "batch_size", min = 1L),
    grad_accum = check_int(grad_accum, "grad_accum", min = 1L),
    warmup = if (is.null(warmup)) -1L else check_int(warmup, "warmup", min = 0L),
    eval_every = check_int(eval_every, "eval_every", min = 0L),
    max_length = check_int(max_length, "max_length", min = 0L),
    threads = check_int(threads, "threads", min = 0L),
    class_weights = as.integer(class_weights),
    problem_type = problem_type_codes[[problem_type]],
    reverse_complement = if (rc_auto) -1L else as.integer(reverse_complement),
    distributed = as.integer(distributed)
  )
  if (ints[["max_length"]] > 512L) stop_arg("'max_length' must be at most 512 tokens")
  dbls <- c(
    lora_alpha = if (full) 32 else check_number(lora_alpha, "lora_alpha", min = 0),
    lora_dropout = if (full) 0 else check_number(lora_dropout, "lora_dropout", min = 0),
    epochs = check_number(epochs, "epochs", min = 0),
    lr = if (is.null(lr)) 0 else check_number(lr, "lr", min = 0),
    dropout = if (is.null(dropout)) -1 else check_number(dropout, "dropout", min = 0),
    max_grad_norm = 1,
    weight_decay = 0.01
  )
  if (dbls[["lora_dropout"]] >= 1 || dbls[["dropout"]] >= 1) stop_arg("dropout rates must be below 1")
  if (ints[["max_steps"]] == 0L && dbls[["epochs"]] <= 0) stop_arg("'epochs' must be positive when max_steps = 0")
  if (!is.null(lr) && lr <= 0) stop_arg("'lr' must be positive (or NULL for the default)")
  seed <- check_whole(seed, "seed")
  if (!is.null(out)) check_string(out, "out")
  if (!(is.function(progress) || isTRUE(progress) || isFALSE(progress) || is.null(progress))) {
    stop_arg("'progress' must be TRUE, FALSE or a function(metrics) returning FALSE to stop")
  }
  strs <- c(paste(lora_targets, collapse = ","), select_by, if (is.null(out)) "" else path.expand(out))
  rec <- finetune_recorder(progress)
  on.exit(rec$finish(), add = TRUE)
  res <- .Call(dnabert_r_finetune, ptr, tr, dv, te, unname(ints), unname(dbls), strs, seed, rec$record)
  rec$finish()
  clf <- new_classifier(res$classifier, model, "<fine-tuned>")
  clf$history <- rec$history()
  clf$test <- if (is.null(res$test)) NULL else metrics_for(res$test, dnabert_classifier_info(clf)$problem_type)
  clf$best_step <- res$best_step
  clf$steps_per_epoch <- res$steps_per_epoch
  clf$learning_rate <- res$learning_rate
  if (isTRUE(res$cancelled)) {
    warning("fine-tuning stopped by the progress function after step ",
            if (nrow(clf$history)) clf$history$step[[nrow(clf$history)]] else NA,
            "; the classifier holds the best parameters so far", call. = FALSE)
  }
  if (!is.null(out) && (!distributed || mpi_rank() == 0L)) {
    # the library saved the kept classifier, metrics.jsonl, loss.svg and the test files in `out` (distributed:
    # rank 0 alone, as here; `out` may not exist on another rank's machine)
    utils::write.csv(clf$history, file.path(out, "history.csv"), row.names = FALSE)
  }
  clf
}

# The metrics of a problem type from the library's full vector.
metrics_for <- function(v, problem_type) {
  keep <- if (identical(problem_type, "regression")) c("pearson", "spearman", "mse", "r2", "loss", "n")
          else c("accuracy", "f1", "mcc", "precision", "recall", "loss", "n")
  v[keep]
}

#' Problem type, labels, LoRA settings and sizes of a classifier, as a named list.
dnabert_classifier_info <- function(clf) {
  .Call(dnabert_r_classifier_info, classifier_ptr(clf))
}

#' TRUE for a classifier whose handle is usable (not freed, not restored from a saved session).
is_dnabert_classifier <- function(x) {
  inherits(x, "dnabert_classifier") && .Call(dnabert_r_classifier_is_valid, x$ptr)
}

#' Release the classifier's memory now instead of at garbage collection. Using it afterwards is an error.
dnabert_free_classifier <- function(clf) {
  .Call(dnabert_r_classifier_free, classifier_ptr(clf))
  invisible(NULL)
}

#' Save a classifier: LoRA: a Hugging Face PEFT adapter folder (adapter_config.json, adapter_model.safetensors,
#' dnabert_classifier.json); full: a BertForSequenceClassification model folder.
dnabert_classifier_save <- function(clf, dir) {
  ptr <- classifier_ptr(clf)
  check_string(dir, "dir")
  .Call(dnabert_r_classifier_save, ptr, path.expand(dir))
  invisible(dir)
}

#' Load a classifier saved by dnabert_classifier_save() (or a PEFT adapter trained with peft on DNABERT-2):
#' a LoRA adapter folder on the base `model`, or a fully fine-tuned model folder (`model` may then be NULL).
dnabert_classifier_load <- function(model, dir) {
  if (!is.null(model)) model_ptr(model)
  check_string(dir, "dir")
  if (!dir.exists(path.expand(dir))) stop_arg("'dir': no folder '", dir, "'")
  ptr <- .Call(dnabert_r_classifier_load, if (is.null(model)) NULL else model$ptr, path.expand(dir))
  new_classifier(ptr, model, normalizePath(dir, mustWork = FALSE))
}

#' A standalone model (a BertForSequenceClassification folder once saved with dnabert_save_model()) with the
#' LoRA adapters merged into the weights. It keeps the classifier's pooling, strand symmetry, label names,
#' problem type and max length, so dnabert_classifier_load(NULL, dir) on the saved folder predicts the same.
dnabert_merged_model <- function(clf) {
  ptr <- classifier_ptr(clf)
  new_model(.Call(dnabert_r_classifier_merged_model, ptr), "merged classifier")
}

# Sequences (named) for prediction: a character vector, a DNAStringSet, or a FASTA / CSV / TSV path.
prediction_input <- function(x, genome = NULL) {
  if (is.character(x) && length(x) == 1L && !is.na(x) && nchar(x) < 4096L &&
      (grepl("[./\\\\]", x) || file.exists(path.expand(x)))) {
    path <- path.expand(x)
    if (!file.exists(path) || dir.exists(path)) stop_arg("'sequences': no file '", x, "'")
    if (grepl("\\.(csv|tsv)(\\.gz)?$", path, ignore.case = TRUE)) {
      sep <- if (grepl("\\.tsv(\\.gz)?$", path, ignore.case = TRUE)) "\t" else ","
      df <- utils::read.table(path, header = TRUE, sep = sep, quote = "\"", colClasses = "character",
                              comment.char = "", na.strings = character(), check.names = FALSE)
      if (!("sequence" %in% names(df))) stop_arg("'sequences': '", x, "' has no 'sequence' column")
      ids <- if ("id" %in% names(df)) df$id else NULL
      return(set_names(df$sequence, ids))
    }
    return(read_fasta(path))
  }
  input_sequences(x, genome, "sequences")
}

# A FASTA file (plain or gzip) as a named character vector.
read_fasta <- function(path) {
  lines <- readLines(path, warn = FALSE)
  head <- which(startsWith(lines, ">"))
  if (length(head) == 0L) stop_arg("'", path, "' is not FASTA (no '>' header), nor a .csv/.tsv file")
  if (head[[1L]] != 1L && any(nzchar(trimws(lines[seq_len(head[[1L]] - 1L)])))) {
    stop_arg("'", path, "': text before the first FASTA header")
  }
  ends <- c(head[-1L] - 1L, length(lines))
  seqs <- vapply(seq_along(head), function(i) {
    if (ends[[i]] <= head[[i]]) return("")
    paste(gsub("\\s", "", lines[(head[[i]] + 1L):ends[[i]]]), collapse = "")
  }, "")
  set_names(seqs, sub("\\s.*", "", substring(lines[head], 2L)))
}

#' Predict with a classifier.
#'
#' @param clf a classifier from \code{dnabert_finetune()} or \code{dnabert_classifier_load()}.
#' @param sequences a character vector, a Biostrings \code{DNAStringSet}, a data.frame or S4 \code{DataFrame} with a
#'   \code{sequence} column (rows keyed by row names or an \code{id} column), a \code{GRanges} of regions read from
#'   \code{genome} (minus strand reverse-complemented), or a FASTA (plain/gzip) / CSV / TSV path (with a
#'   \code{sequence} column, ids from an \code{id} column).
#' @param genome for \code{GRanges}: a BSgenome, an \code{Rsamtools::FaFile} or its path, or a named DNAStringSet.
#' @param BPPARAM a BiocParallel back-end (e.g. \code{MulticoreParam(4)}) to split the sequences over workers; each
#'   uses \code{threads} threads (default 1 when \code{BPPARAM} is given).
#' @param type \code{"label"}: the predicted label and the probability columns; \code{"prob"}: only the
#'   probabilities.
#' @param threads worker threads, 0 = all cores.
#' @return a data.frame, one row per sequence: \code{id} (the sequence's name, else its position), \code{label}
#'   (the class name when the classifier has names, else the class index; multi-label: the labels with probability
#'   >= 0.5 joined by ";"), and \code{prob_<label>} columns (class probabilities that sum to 1, or label
#'   probabilities for multi-label). Regression: \code{id} and \code{prediction}. Rows are named by the ids when
#'   these are unique names. For a \code{GRanges} input: the same \code{GRanges} with these columns (without
#'   \code{id}) appended to its \code{mcols} (replacing columns of the same name, such as a true \code{label}).
dnabert_predict <- function(clf, sequences, type = c("label", "prob"), threads = 0L,
                            long_inputs = c("truncate", "windows"), window_overlap = NULL,
                            window_pooling = c("mean", "max"), genome = NULL, BPPARAM = NULL) {
  ptr <- classifier_ptr(clf)
  type <- match.arg(type)
  long_inputs <- match.arg(long_inputs)
  window_pooling <- match.arg(window_pooling)
  threads <- if (missing(threads) && !is.null(BPPARAM)) 1L else check_int(threads, "threads", min = 0L)
  overlap <- if (is.null(window_overlap)) -1L else check_int(window_overlap, "window_overlap", min = 0L)
  if (missing(sequences) || is.null(sequences)) stop_arg("'sequences' must not be NULL")
  x <- prediction_input(sequences, genome)
  info <- dnabert_classifier_info(clf)
  # one part per BiocParallel worker (one part without BPPARAM); each part reports its too-long inputs
  parts <- bp_parts(unname(x), BPPARAM, function(chunk) {
    s <- .Call(dnabert_r_classifier_predict, ptr, chunk, threads,
               if (long_inputs == "windows") 1L else 0L, overlap, if (window_pooling == "max") 1L else 0L)
    n_long <- attr(s, "n_long")
    part <- list(n_long = if (is.null(n_long)) 0 else n_long, max_length = attr(s, "max_length"),
                 longest = attr(s, "longest_tokens"))
    attributes(s) <- list(dim = dim(s))
    part$scores <- s
    part
  })
  scores <- do.call(rbind, lapply(parts, `[[`, "scores"))
  n_long <- sum(vapply(parts, function(p) as.numeric(p$n_long), 0))
  if (n_long > 0 && long_inputs == "truncate") {
    max_len <- parts[[1L]]$max_length
    longest <- max(unlist(lapply(parts, `[[`, "longest")), 0)
    warning(n_long, " of ", length(x), " sequences are longer than the classifier's ", max_len,
            " tokens (longest ", longest, ") and were truncated to their first ",
            max_len, " tokens; use long_inputs = \"windows\" to score them by sliding windows",
            call. = FALSE)
  }
  ids <- if (!is.null(names(x)) && all(nzchar(names(x)))) names(x) else seq_along(x)
  keyed <- function(out) {
    if (is_granges(sequences)) {
      # the regions, with the scores appended to their metadata columns
      # (a metadata column of the same name, e.g. the true `label`, is replaced)
      gr <- sequences
      mc <- S4Vectors::mcols(gr)
      for (col in names(out)[-1L]) mc[[col]] <- out[[col]]
      S4Vectors::mcols(gr) <- mc
      return(gr)
    }
    if (is.character(ids) && !anyDuplicated(ids)) rownames(out) <- ids
    out
  }
  if (info$problem_type == "regression") {
    return(keyed(data.frame(id = ids, prediction = scores[, 1L], stringsAsFactors = FALSE)))
  }
  labels <- info$labels
  colnames(scores) <- paste0("prob_", labels)
  out <- data.frame(id = ids, stringsAsFactors = FALSE)
  if (type == "label") {
    # the library's label decision (argmax / >= 0.5), shared with the CLI and the Python bindings
    if (info$problem_type == "multi_label_classification") {
      decided <- .Call(dnabert_r_decide_labels, 2L, scores)
      out$label <- apply(decided == 1L, 1L, function(r) paste(labels[r], collapse = ";"))
    } else {
      best <- .Call(dnabert_r_decide_labels, 1L, scores) + 1L
      out$label <- if (info$has_label_names) labels[best] else best - 1L
    }
  }
  keyed(cbind(out, as.data.frame(scores, optional = TRUE)))
}

#' Metrics of a classifier on labelled data (a CSV/TSV path, a data.frame with sequence and label columns,
#' list(sequences, labels) or a DNAStringSet with a label metadata column): a named numeric vector: accuracy,
#' f1, mcc, precision, recall (macro averages), loss, n; regression: pearson, spearman, mse, r2, loss, n.
dnabert_evaluate <- function(clf, data, threads = 0L, genome = NULL) {
  ptr <- classifier_ptr(clf)
  threads <- check_int(threads, "threads", min = 0L)
  if (missing(data)) stop_arg("'data' (labelled sequences) is missing")
  d <- as_labelled(data, "data", genome)
  v <- .Call(dnabert_r_classifier_evaluate, ptr, d, threads)
  metrics_for(v, dnabert_classifier_info(clf)$problem_type)
}

print.dnabert_classifier <- function(x, ...) {
  if (!.Call(dnabert_r_classifier_is_valid, x$ptr)) {
    cat("<dnabert classifier: not usable (freed, or restored from a saved R session); load it again>\n")
    return(invisible(x))
  }
  i <- dnabert_classifier_info(x)
  kind <- if (i$lora_r > 0L) sprintf("LoRA r = %d, alpha = %g", i$lora_r, i$lora_alpha) else "fully fine-tuned"
  cat(sprintf("<dnabert classifier> %s, %d label%s (%s), %s pooling, max length %d tokens\n",
              gsub("_", "-", i$problem_type), i$num_labels, if (i$num_labels == 1L) "" else "s",
              paste(utils::head(i$labels, 8L), collapse = ", "), i$pooling, i$max_length))
  cat("  ", kind, ", trainable parameters: ", format(i$trainable_parameters, big.mark = ",", scientific = FALSE),
      "\n", sep = "")
  if (!is.null(x$history) && nrow(x$history)) {
    h <- x$history
    cat(sprintf("  trained %d steps (%.2f epochs), last loss %.4f", h$step[[nrow(h)]], h$epoch[[nrow(h)]],
                h$loss[[nrow(h)]]))
    if (!is.null(x$best_step) && !is.na(x$best_step)) cat(sprintf(", best dev step %d", as.integer(x$best_step)))
    cat("\n")
  }
  if (!is.null(x$test)) {
    t <- x$test
    cat("  test:", paste(sprintf("%s %s", names(t), ifelse(names(t) == "n", sprintf("%.0f", t), sprintf("%.4f", t))),
                         collapse = ", "), "\n")
  }
  if (!is.null(x$source) && !identical(x$source, "<fine-tuned>")) cat("  source:", x$source, "\n")
  invisible(x)
}
