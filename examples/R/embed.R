#!/usr/bin/env Rscript
# Embed the records of a FASTA file with a DNABERT-2 model from R: one vector per record.
#
#   Rscript examples/R/embed.R [model_dir] [sequences.fasta(.gz)] [max_pieces] [precision]
#
# model_dir: a model folder (config.json, model.safetensors or pytorch_model.bin, tokenizer.json), e.g. a
#            download of zhihan1996/DNABERT-2-117M. Default: $DNABERT_MODEL; if neither is given, a tiny model
#            with RANDOM weights is built from DNABERT-2's tokenizer (examples/data/dnabert2/tokenizer.json), so
#            that the example runs anywhere (its embeddings are meaningless).
# FASTA:     plain or gzip. Default: examples/data/hpylori_sjm180.fasta.gz. Records longer than 5 kbp (whole
#            genomes) are cut into 5 kbp pieces named record:start-end, at most max_pieces (default 24) of them.
# precision: "fp32" (default) or "int8": the four linears of each layer in int8 (dnabert_quantize), and the
#            embeddings compared with float32's.
# Run from the repository root. Needs the dnabert package (R CMD INSTALL bindings/R) and Biostrings.

suppressPackageStartupMessages({
  library(dnabert)
  library(Biostrings)
})

args <- commandArgs(trailingOnly = TRUE)
arg <- function(i, default) if (length(args) >= i && nzchar(args[[i]])) args[[i]] else default
model_dir <- arg(1L, Sys.getenv("DNABERT_MODEL"))
fasta <- arg(2L, "examples/data/hpylori_sjm180.fasta.gz")
max_pieces <- as.integer(arg(3L, "24"))
precision <- arg(4L, "fp32")
piece <- 5000L

cat("libdnabert", dnabert_version(), "\n")
cat(dnabert_blas_info(), "\n")
if (nzchar(model_dir)) {
  model <- dnabert_model(model_dir)
} else {
  tokenizer <- "examples/data/dnabert2/tokenizer.json"
  if (!file.exists(tokenizer)) stop("give a model folder as the first argument (no ", tokenizer, " to build a demo model)")
  cat("no model folder given: building a tiny model with random weights (embeddings are meaningless)\n")
  model <- dnabert_random_model(list(vocab_size = 4096L, hidden_size = 64L, num_hidden_layers = 2L,
                                     num_attention_heads = 4L, intermediate_size = 128L),
                                tokenizer = tokenizer, seed = 42)
}
print(model)

records <- readDNAStringSet(fasta) # gzip is read transparently
# short record names: the first word, or for NCBI "gi|...|ref|NC_014560.1|" headers the accession
short <- sub(" .*", "", names(records))
names(records) <- vapply(strsplit(short, "|", fixed = TRUE), function(p) if (length(p)) p[[length(p)]] else "", "")
cat(sprintf("%s: %d record(s), %s bp\n", basename(fasta), length(records), format(sum(width(records)), big.mark = ",")))

# Whole genomes: cut records into pieces of `piece` bp (a DNAStringSet named record:start-end).
pieces <- do.call(c, lapply(seq_along(records), function(i) {
  w <- width(records)[i]
  if (w <= piece) return(records[i])
  starts <- seq(1L, w - piece + 1L, by = piece)
  s <- as(Views(records[[i]], start = starts, width = piece), "DNAStringSet")
  names(s) <- sprintf("%s:%d-%d", names(records)[i], starts, starts + piece - 1L)
  s
}))
pieces <- pieces[seq_len(min(length(pieces), max_pieces))]

t0 <- proc.time()[["elapsed"]]
emb <- dnabert_embed(model, pieces, pooling = "mean", progress = interactive())
secs <- proc.time()[["elapsed"]] - t0
cat(sprintf("\nembedded %d sequences (%s bp) in %.2f s: a %d x %d matrix\n", nrow(emb),
            format(sum(width(pieces)), big.mark = ","), secs, nrow(emb), ncol(emb)))
stopifnot(identical(rownames(emb), names(pieces)), all(is.finite(emb)))
print(round(emb[seq_len(min(4L, nrow(emb))), 1:6, drop = FALSE], 4))

# Cosine similarity between the first sequences.
if (nrow(emb) >= 2L) {
  k <- seq_len(min(4L, nrow(emb)))
  unit <- emb[k, , drop = FALSE] / sqrt(rowSums(emb[k, , drop = FALSE]^2))
  cat("\ncosine similarity of the first embeddings\n")
  sim <- unit %*% t(unit)
  dimnames(sim) <- list(rownames(unit), paste0("[", k, "]"))
  print(round(sim, 3))
}

# int8: the same pieces through the quantized model, compared with the float32 embeddings above.
if (precision == "int8") {
  q <- dnabert_quantize(model, "int8")
  t0 <- proc.time()[["elapsed"]]
  emb8 <- dnabert_embed(q, pieces, pooling = "mean", progress = interactive())
  secs8 <- proc.time()[["elapsed"]] - t0
  cosv <- rowSums(emb * emb8) / sqrt(rowSums(emb^2) * rowSums(emb8^2))
  cat(sprintf("\nint8 (%s kernel, %s attention products): %.2f s (%.2fx float32); cosine to float32: median %.6f, min %.6f\n",
              dnabert_int8_kernel(), dnabert_int8_attention(), secs8, secs / max(secs8, 1e-9), median(cosv), min(cosv)))
} else if (precision != "fp32") {
  stop("precision must be \"fp32\" or \"int8\", not \"", precision, "\"")
}
