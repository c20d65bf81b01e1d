# The DNABERT-2 encoder: model objects (an external pointer to the library's handle, freed by a finalizer,
# wrapped in a small S3 list), inference on token ids, and sequence embeddings.
#
# Layout: the library works on row-major tensors; the C shims (src/model.c) transpose, so that element
# [b, l, h] of an R array is element [b][l][h] of the library's tensor. Indices that users give (layer) are
# 1-based; token ids are the library's 0-based vocabulary ids, as dnabert_encode() returns them.

new_model <- function(ptr, source) {
  structure(list(ptr = ptr, source = source), class = "dnabert_model")
}

model_ptr <- function(model, name = "model") {
  if (!inherits(model, "dnabert_model")) {
    stop_arg("'", name, "' must be a dnabert model (from dnabert_model() or dnabert_random_model()), not ",
             paste(class(model), collapse = "/"))
  }
  model$ptr
}

#' Which BLAS libdnabert runs: library, OpenBLAS kernel, threads, how the kernel was chosen (one string).
dnabert_blas_info <- function() {
  .Call(dnabert_r_blas_info)
}

#' The int8 GEMM kernel of this CPU: "avx512vnni", "avx2" or "generic" (all give the same numbers; the
#' environment variable DNABERT_INT8_KERNEL=generic or =avx2, set before the library loads, forces a slower one).
dnabert_int8_kernel <- function() {
  .Call(dnabert_r_int8_kernel)
}

#' How an int8 model's attention tile products run on this CPU: "bf16" (bfloat16 inputs, float32 sums; CPUs whose
#' AVX512_BF16 outruns float32 FMA, i.e. AMD Zen 4 on) or "float32" (DNABERT_INT8_ATTENTION overrides it).
dnabert_int8_attention <- function() {
  .Call(dnabert_r_int8_attention)
}

#' Convert a PyTorch `pytorch_model.bin` into `model.safetensors` (same tensor names; no pickle code runs).
dnabert_convert <- function(bin, safetensors) {
  check_string(bin, "bin")
  check_string(safetensors, "safetensors")
  .Call(dnabert_r_convert, bin, safetensors)
  invisible(safetensors)
}

#' Load a model folder: config.json + model.safetensors (or pytorch_model.bin) + tokenizer.json (optional,
#' needed by dnabert_embed()).
#' precision: NULL (as stored), "fp32" or "int8" (quantizes a float32 checkpoint after loading; see
#' dnabert_quantize()).
dnabert_model <- function(dir, precision = NULL) {
  check_string(dir, "dir")
  want <- if (is.null(precision)) NULL else precision_code(precision)
  m <- new_model(.Call(dnabert_r_model_load, dir), normalizePath(dir, mustWork = FALSE))
  if (is.null(want) || identical(want, precision_code(dnabert_model_info(m)$precision))) return(m)
  q <- dnabert_quantize(m, precision)
  dnabert_free_model(m)
  q
}

#' A model with random weights (normal(0, initializer_range)) for a configuration.
dnabert_random_model <- function(config, tokenizer = NULL, seed = 0) {
  if (is.list(config)) {
    text <- to_json_object(config)
    origin <- "<random, from a list>"
  } else {
    check_string(config, "config")
    if (grepl("^\\s*\\{", config)) {
      text <- config
      origin <- "<random, from JSON text>"
    } else if (file.exists(config) && !dir.exists(config)) {
      text <- paste(readLines(config, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
      origin <- paste0("<random, config ", normalizePath(config), ">")
    } else {
      stop_arg("'config' must be a config.json path, JSON text or a named list; no file '", config, "'")
    }
  }
  tok_ptr <- NULL
  if (!is.null(tokenizer)) {
    if (is.character(tokenizer)) tokenizer <- dnabert_tokenizer(tokenizer)
    tok_ptr <- tokenizer_ptr(tokenizer, "tokenizer")
  }
  if (!is.numeric(seed) || length(seed) != 1L || is.na(seed) || !is.finite(seed) || seed < 0 ||
      seed != round(seed) || seed > 2^53) {
    stop_arg("'seed' must be a single whole number in [0, 2^53]")
  }
  new_model(.Call(dnabert_r_model_create, text, tok_ptr, as.double(seed)), origin)
}

#' Write config.json + model.safetensors (+ tokenizer.json when the model has one) into dir (created if needed).
dnabert_save_model <- function(model, dir) {
  ptr <- model_ptr(model)
  check_string(dir, "dir")
  .Call(dnabert_r_model_save, ptr, dir)
  invisible(dir)
}

#' Release the model's memory now instead of at garbage collection. Using it afterwards is an error.
dnabert_free_model <- function(model) {
  .Call(dnabert_r_model_free, model_ptr(model))
  invisible(NULL)
}

#' TRUE for a model whose handle is usable (not freed, not restored from a saved session).
is_dnabert_model <- function(x) {
  inherits(x, "dnabert_model") && .Call(dnabert_r_model_is_valid, x$ptr)
}

#' Sizes and parts of the model, as a named list.
dnabert_model_info <- function(model) {
  .Call(dnabert_r_model_info, model_ptr(model))
}

#' The model's config.json: its text, or with parse = TRUE a named list.
dnabert_model_config <- function(model, parse = FALSE) {
  check_flag(parse, "parse")
  text <- .Call(dnabert_r_model_config_json, model_ptr(model))
  if (parse) parse_json(text) else text
}

#' The model's tokenizer (from tokenizer.json in its folder), or NULL when it has none.
dnabert_model_tokenizer <- function(model) {
  ptr <- .Call(dnabert_r_model_tokenizer, model_ptr(model))
  if (is.null(ptr)) NULL else new_tokenizer(ptr, "<from the model>")
}

print.dnabert_model <- function(x, ...) {
  if (!.Call(dnabert_r_model_is_valid, x$ptr)) {
    cat("<dnabert model: not usable (freed, or restored from a saved R session); load it again>\n")
    return(invisible(x))
  }
  i <- dnabert_model_info(x)
  cat(sprintf("<dnabert model> %d layers, hidden %d, %d heads, intermediate %d, vocabulary %d\n",
              i$num_layers, i$hidden_size, i$num_heads, i$intermediate_size, i$vocab_size))
  heads <- c(if (i$has_mlm_head) "MLM head", if (i$has_pooler) "pooler",
             if (i$num_labels > 0L) paste0("classifier (", i$num_labels, " labels)"))
  cat("  parameters:", format(i$num_parameters, big.mark = ",", scientific = FALSE),
      if (length(heads)) paste0("(with ", paste(heads, collapse = ", "), ")") else "", "\n")
  cat("  tokenizer:", if (i$has_tokenizer) "yes" else "no (dnabert_embed() needs a tokenizer.json in the folder)", "\n")
  if (!is.null(x$source)) cat("  source:", x$source, "\n")
  invisible(x)
}

# ---- inference on ids ----------------------------------------------------------------------------------

# ids (and mask) as B x L integer matrices, validated against the model's vocabulary.
model_inputs <- function(model, ids, attention_mask) {
  if (is.list(ids) && !is.data.frame(ids) && is.matrix(ids$ids)) {
    # the padded result of dnabert_encode(..., padding = TRUE)
    if (is.null(attention_mask)) attention_mask <- ids$attention_mask
    ids <- ids$ids
  }
  if (is.null(ids)) stop_arg("'ids' must not be NULL")
  if (!is.numeric(ids) || (!is.null(dim(ids)) && length(dim(ids)) != 2L)) {
    stop_arg("'ids' must be an integer matrix [batch, length] or an integer vector (one sequence)")
  }
  if (!is.matrix(ids)) ids <- matrix(ids, nrow = 1L)
  if (nrow(ids) == 0L || ncol(ids) == 0L) stop_arg("'ids' must have at least one row and one column")
  if (anyNA(ids)) stop_arg("'ids' contains NA")
  vocab <- dnabert_model_info(model)$vocab_size
  bad <- which(ids < 0 | ids >= vocab | ids != round(ids))
  if (length(bad) > 0L) {
    k <- bad[[1L]]
    stop_arg("'ids' must hold token ids in 0..", vocab - 1L, " (the model's vocabulary); found ", format(ids[k]),
             " at row ", (k - 1L) %% nrow(ids) + 1L, ", column ", (k - 1L) %/% nrow(ids) + 1L)
  }
  rn <- rownames(ids)
  storage.mode(ids) <- "integer"
  if (!is.null(attention_mask)) {
    if (!(is.numeric(attention_mask) || is.logical(attention_mask))) {
      stop_arg("'attention_mask' must be a 0/1 (or logical) matrix shaped like 'ids'")
    }
    if (!is.matrix(attention_mask)) {
      if (!is.null(dim(attention_mask))) stop_arg("'attention_mask' must be a matrix shaped like 'ids'")
      attention_mask <- matrix(attention_mask, nrow = 1L)
    }
    if (!identical(dim(attention_mask), dim(ids))) {
      stop_arg("'attention_mask' is ", nrow(attention_mask), " x ", ncol(attention_mask), " but 'ids' is ",
               nrow(ids), " x ", ncol(ids))
    }
    if (anyNA(attention_mask) || any(attention_mask != 0 & attention_mask != 1)) {
      stop_arg("'attention_mask' must hold only 0 and 1 (1 = real token, 0 = padding)")
    }
    attention_mask <- matrix(as.integer(attention_mask), nrow = nrow(ids))
  }
  list(ids = unname(ids), mask = attention_mask, rownames = rn)
}

run_model <- function(model, what, ids, attention_mask, layer, threads) {
  ptr <- model_ptr(model)
  threads <- check_int(threads, "threads", min = 0L)
  inp <- model_inputs(model, ids, attention_mask)
  out <- .Call(dnabert_r_model_run, ptr, what, inp$ids, inp$mask, layer, threads)
  list(out = out, rownames = inp$rownames)
}

set_batch_names <- function(a, which, nm) {
  if (is.null(nm)) return(a)
  dn <- vector("list", length(dim(a)))
  dn[[which]] <- nm
  dimnames(a) <- dn
  a
}

#' Hidden states of token ids: [batch, length, hidden], or [layers + 1, batch, length, hidden].
dnabert_forward <- function(model, ids, attention_mask = NULL, threads = 0L, all_hidden = FALSE) {
  check_flag(all_hidden, "all_hidden")
  r <- run_model(model, if (all_hidden) 1L else 0L, ids, attention_mask, 0L, threads)
  set_batch_names(r$out, if (all_hidden) 2L else 1L, r$rownames)
}

#' Masked-language-model logits of token ids: [batch, length, vocab].
dnabert_mlm_logits <- function(model, ids, attention_mask = NULL, threads = 0L) {
  r <- run_model(model, 3L, ids, attention_mask, 0L, threads)
  set_batch_names(r$out, 1L, r$rownames)
}

#' Attention probabilities of one layer (1-based): [batch, heads, length (query), length (key)].
dnabert_attention <- function(model, ids, attention_mask = NULL, layer = 1L, threads = 0L) {
  ptr <- model_ptr(model)
  n_layers <- dnabert_model_info(model)$num_layers
  layer <- check_int(layer, "layer", min = 1L)
  if (layer > n_layers) stop_arg("'layer' must be between 1 and ", n_layers, " (the model's layers), not ", layer)
  r <- run_model(model, 2L, ids, attention_mask, layer - 1L, threads)
  set_batch_names(r$out, 1L, r$rownames)
}

# ---- embeddings ----------------------------------------------------------------------------------------

#' One embedding per sequence: a numeric matrix [N, hidden], rows named like x.
#'
#' `x`: a character vector, a Biostrings DNAStringSet, a data.frame / S4 DataFrame with a `sequence` column
#' (rows keyed by its row names or `id` column), or a GRanges of regions whose DNA is read from `genome` (a
#' BSgenome, an Rsamtools::FaFile or its path, a named DNAStringSet; minus strand reverse-complemented; rows
#' keyed by names(x), else "chr:start-end:strand"). `BPPARAM`: a BiocParallel back-end to split the sequences
#' over workers (each then uses `threads` threads; the default is 1 per worker when BPPARAM is given).
#' `distributed = TRUE`: one rank of `mpirun -np N Rscript script.R`; every rank passes the same `x`, forward batch j
#' of the windows runs on rank j mod N, and every rank returns all rows, identical to a one-process call.
dnabert_embed <- function(model, x, pooling = c("mean", "cls"), max_length = 512L, overlap = 64L,
                          batch_size = 16L, uppercase = TRUE, threads = 0L, progress = interactive(),
                          genome = NULL, BPPARAM = NULL, distributed = FALSE) {
  model_ptr(model)
  check_flag(distributed, "distributed")
  if (distributed && !is.null(BPPARAM)) {
    stop_arg("'distributed = TRUE' shares the sequences out over MPI ranks; it cannot be combined with 'BPPARAM'")
  }
  x <- input_sequences(x, genome)
  pooling <- match.arg(pooling)
  max_length <- check_int(max_length, "max_length", min = 3L)
  # Not given: 64 tokens, or a quarter of the window for short windows (so that any max_length works alone).
  overlap <- if (missing(overlap)) min(64L, (max_length - 2L) %/% 4L) else check_int(overlap, "overlap", min = 0L)
  if (overlap >= max_length - 2L) {
    stop_arg("'overlap' must be smaller than max_length - 2 (", max_length - 2L, "), not ", overlap)
  }
  batch_size <- check_int(batch_size, "batch_size", min = 1L)
  check_flag(uppercase, "uppercase")
  threads <- if (missing(threads) && !is.null(BPPARAM)) 1L else check_int(threads, "threads", min = 0L)
  fn <- NULL
  if (is.function(progress)) {
    fn <- progress
  } else if (isTRUE(progress)) {
    reporter <- progress_bar_reporter()
    fn <- reporter$report
    on.exit(reporter$finish(), add = TRUE)
  } else if (!(isFALSE(progress) || is.null(progress))) {
    stop_arg("'progress' must be TRUE, FALSE or a function(stage, current, total, elapsed, eta)")
  }
  seq_names <- names(x)
  if (!is.null(BPPARAM)) fn <- NULL   # a progress callback cannot run in another process
  pool <- if (pooling == "mean") 0L else 1L
  caller <- Sys.getpid()
  out <- bp_map(unname(x), BPPARAM, function(chunk) {
    # in this process the model is used as given (a freed model is an error); a worker process reloads it
    m <- if (Sys.getpid() == caller) model else usable_model(model)
    .Call(dnabert_r_embed, m$ptr, chunk, pool, max_length, overlap, batch_size, uppercase, threads, fn, distributed)
  })
  rownames(out) <- seq_names
  out
}

# ---- a small JSON reader/writer (base R has none) --------------------------------------------------------

# Parse JSON text: objects -> named lists, arrays -> atomic vectors when all elements are non-null scalars of
# one type (else lists), null -> NULL, true/false -> logical, numbers -> double.
parse_json <- function(text) {
  pattern <- paste0('"(?:[^"\\\\]|\\\\.)*"', "|-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?",
                    "|true|false|null|[][{}:,]|\\S")
  tokens <- regmatches(text, gregexpr(pattern, text, perl = TRUE))[[1L]]
  pos <- 1L
  peek <- function() if (pos <= length(tokens)) tokens[[pos]] else ""
  take <- function(expected = NULL) {
    t <- peek()
    if (pos > length(tokens)) stop("JSON: unexpected end of text", call. = FALSE)
    if (!is.null(expected) && t != expected) stop("JSON: expected '", expected, "', found '", t, "'", call. = FALSE)
    pos <<- pos + 1L
    t
  }
  unquote <- function(s) {
    s <- substr(s, 2L, nchar(s) - 1L)
    if (!grepl("\\", s, fixed = TRUE)) return(s)
    parts <- regmatches(s, gregexpr("\\\\u[0-9a-fA-F]{4}|\\\\.|[^\\\\]+", s, perl = TRUE))[[1L]]
    map <- c(n = "\n", t = "\t", r = "\r", b = "\b", f = "\f", "/" = "/", "\\" = "\\", "\"" = "\"")
    out <- vapply(parts, function(p) {
      if (!startsWith(p, "\\")) return(p)
      if (startsWith(p, "\\u")) return(intToUtf8(strtoi(substr(p, 3L, 6L), 16L)))
      map[[substr(p, 2L, 2L)]]
    }, "")
    paste(out, collapse = "")
  }
  value <- function() {
    t <- take()
    if (t == "{") {
      out <- list()
      keys <- character()
      if (peek() == "}") { take(); return(structure(list(), names = character())) }
      repeat {
        k <- take()
        if (!startsWith(k, "\"")) stop("JSON: object key expected, found '", k, "'", call. = FALSE)
        take(":")
        out[length(out) + 1L] <- list(value())
        keys <- c(keys, unquote(k))
        sep <- take()
        if (sep == "}") break
        if (sep != ",") stop("JSON: ',' or '}' expected, found '", sep, "'", call. = FALSE)
      }
      names(out) <- keys
      return(out)
    }
    if (t == "[") {
      out <- list()
      if (peek() == "]") { take(); return(list()) }
      repeat {
        out[length(out) + 1L] <- list(value())
        sep <- take()
        if (sep == "]") break
        if (sep != ",") stop("JSON: ',' or ']' expected, found '", sep, "'", call. = FALSE)
      }
      scalar <- vapply(out, function(v) is.atomic(v) && length(v) == 1L, TRUE)
      types <- unique(vapply(out, typeof, ""))
      if (all(scalar) && length(types) == 1L) return(unlist(out))
      return(out)
    }
    if (startsWith(t, "\"")) return(unquote(t))
    if (t == "true") return(TRUE)
    if (t == "false") return(FALSE)
    if (t == "null") return(NULL)
    if (grepl("^-?[0-9]", t)) return(as.numeric(t))
    stop("JSON: unexpected '", t, "'", call. = FALSE)
  }
  v <- value()
  if (pos <= length(tokens)) stop("JSON: unexpected '", peek(), "' after the value", call. = FALSE)
  v
}

# A named list of scalars / vectors / nested named lists as JSON text (for dnabert_random_model()).
to_json_object <- function(x) {
  enc <- function(v) {
    if (is.null(v)) return("null")
    if (is.list(v)) {
      if (!is.null(names(v))) {
        return(paste0("{", paste0(vapply(names(v), enc_string, ""), ":", vapply(v, enc, ""), collapse = ","), "}"))
      }
      return(paste0("[", paste(vapply(v, enc, ""), collapse = ","), "]"))
    }
    one <- function(e) {
      if (is.na(e)) return("null")
      if (is.character(e)) return(enc_string(e))
      if (is.logical(e)) return(if (e) "true" else "false")
      if (is.numeric(e)) return(format(e, digits = 17, scientific = FALSE, trim = TRUE))
      stop_arg("cannot write a ", class(e)[1L], " as JSON")
    }
    parts <- vapply(as.list(v), one, "")
    if (length(v) == 1L) parts else paste0("[", paste(parts, collapse = ","), "]")
  }
  enc_string <- function(s) {
    s <- gsub("\\", "\\\\", s, fixed = TRUE)
    s <- gsub("\"", "\\\"", s, fixed = TRUE)
    s <- gsub("\n", "\\n", s, fixed = TRUE)
    paste0("\"", s, "\"")
  }
  if (is.null(names(x)) || any(!nzchar(names(x)))) stop_arg("'config' as a list must be fully named")
  enc(x)
}

# ---- reduced precision ---------------------------------------------------------------------------------

precision_code <- function(precision) {
  codes <- c(fp32 = 0L, float32 = 0L, int8 = 1L)
  if (!is.character(precision) || length(precision) != 1L || is.na(precision) || !(tolower(precision) %in% names(codes))) {
    stop_arg("unknown precision ", if (is.character(precision) && length(precision) == 1L) paste0("'", precision, "'") else "value",
             " (expected one of: fp32, int8)")
  }
  codes[[tolower(precision)]]
}

#' A copy of the model at `precision` ("int8": the encoder's linears with int8 weights, one scale per output
#' channel, and int8 activations quantized per row at run time; "fp32": a plain copy). An int8 model cannot be
#' quantized again. dnabert_save_model() writes the int8 layout and dnabert_model() reads it back.
dnabert_quantize <- function(model, precision = "int8") {
  ptr <- model_ptr(model)
  code <- precision_code(precision)
  new_model(.Call(dnabert_r_model_quantize, ptr, code), model$source)
}
