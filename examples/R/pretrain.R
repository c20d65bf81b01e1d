#!/usr/bin/env Rscript
# Pretrain a small DNABERT-2-style model from R by masked-language modelling on a genome, then embed with it.
#
#   Rscript examples/R/pretrain.R [genome.fasta(.gz)] [out_dir] [steps] [config]
#
# genome:  plain or gzip FASTA. Default: examples/data/hpylori_sjm180.fasta.gz (1.7 Mbp).
# out_dir: checkpoints, metrics.jsonl and the final model/ folder. Default: a temporary folder.
# steps:   optimizer steps (default 200). If out_dir already holds checkpoints (e.g. the run was interrupted
#          with Ctrl-C), the same command resumes from the newest one (same steps and settings required).
# config:  tiny / small / base or a config.json path (default tiny).
# Uses DNABERT-2's tokenizer (examples/data/dnabert2/tokenizer.json). Run from the repository root; needs the
# dnabert package (R CMD INSTALL bindings/R).

suppressPackageStartupMessages(library(dnabert))

args <- commandArgs(trailingOnly = TRUE)
arg <- function(i, default) if (length(args) >= i && nzchar(args[[i]])) args[[i]] else default
fasta <- arg(1L, "examples/data/hpylori_sjm180.fasta.gz")
out <- arg(2L, file.path(tempdir(), "dnabert-pretrain"))
steps <- as.integer(arg(3L, "200"))
config <- arg(4L, "tiny")
tokenizer <- dnabert_tokenizer("examples/data/dnabert2/tokenizer.json")

resume <- length(list.files(out, pattern = "^checkpoint-")) > 0L
cat(sprintf("libdnabert %s: pretraining '%s' on %s for %d steps into %s%s\n", dnabert_version(), config,
            basename(fasta), steps, out, if (resume) " (resuming)" else ""))
model <- dnabert_pretrain(config, tokenizer, fasta, out, steps = steps, batch_size = 16L, seq_len = 128L,
                          lr = 1e-3, eval_every = max(1L, steps %/% 5L), checkpoint_every = max(1L, steps %/% 2L),
                          validation_windows = 64L, resume = resume, seed = 1, progress = TRUE)
print(model)

h <- attr(model, "history")
ev <- h[!is.na(h$validation_loss), c("step", "loss", "validation_loss", "validation_accuracy")]
cat("\nvalidation (an untrained model scores about log(vocabulary) =", round(log(dnabert_vocab_size(tokenizer)), 2), ")\n")
print(ev, row.names = FALSE, digits = 4)
if (nrow(h) > 0L) cat(sprintf("\n%d steps in %.1f s, %.0f tokens/s\n", nrow(h), h$elapsed_seconds[nrow(h)],
            h$tokens_per_second[nrow(h)]))
cat("final model:", file.path(out, "model"), "(load with dnabert_model())\n")

# The trained model embeds right away (it carries the tokenizer).
emb <- dnabert_embed(model, c(a = "ACGTTGCATGCATGCATCGATCGATCGTAGCTAG", b = "TTTTTTTTTTAAAAAAAAAACCCCCCCCCC"),
                     progress = FALSE)
cat("embeddings:", nrow(emb), "x", ncol(emb), "\n")
