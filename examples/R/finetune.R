#!/usr/bin/env Rscript
# Fine-tune a pretrained DNABERT-2 model with LoRA on a labelled task from R, print the metrics, save the
# adapter, load it back and predict.
#
#   Rscript examples/R/finetune.R [model_dir] [task_dir] [steps] [out_dir]
#
# model_dir: a model folder (config.json, model.safetensors, tokenizer.json). Default: the project's small
#            pretrained model examples/models/dnabert2-small-5genomes (a download of zhihan1996/DNABERT-2-117M
#            works the same, with slower steps).
# task_dir:  a GUE-style task folder with train.csv, dev.csv and test.csv (header `sequence,label`).
#            Default: examples/data/tasks/coding_200 (is a 200 bp window protein-coding? 2000/400/400 rows).
# steps:     optimizer steps of 32 sequences; 0 = 3 epochs. Default 60.
# out_dir:   where the adapter (Hugging Face PEFT format) and history.csv go. Default: a temporary folder.
# Run from the repository root; needs the dnabert package (R CMD INSTALL bindings/R).

suppressPackageStartupMessages(library(dnabert))

args <- commandArgs(trailingOnly = TRUE)
arg <- function(i, default) if (length(args) >= i && nzchar(args[[i]])) args[[i]] else default
model_dir <- arg(1L, "examples/models/dnabert2-small-5genomes")
task <- arg(2L, "examples/data/tasks/coding_200")
steps <- as.integer(arg(3L, "60"))
out <- arg(4L, file.path(tempdir(), "dnabert-finetune"))
split <- function(name) file.path(task, paste0(name, ".csv"))

model <- dnabert_model(model_dir)
cat(sprintf("libdnabert %s: LoRA fine-tuning %s on %s (%s)\n", dnabert_version(), basename(model_dir),
            basename(task), if (steps > 0L) paste(steps, "steps") else "3 epochs"))
t0 <- proc.time()[["elapsed"]]
clf <- dnabert_finetune(model, split("train"), dev = split("dev"), test = split("test"),
                        lora_r = 8, lora_alpha = 32, lora_dropout = 0.05, epochs = 3, max_steps = steps,
                        batch_size = 32, eval_every = if (steps > 0L) max(1L, steps %/% 3L) else 0L,
                        seed = 1, out = out, progress = interactive())
secs <- proc.time()[["elapsed"]] - t0
print(clf)

h <- clf$history
cat("\ndev evaluations\n")
print(h[!is.na(h$dev_loss), c("step", "epoch", "loss", "dev_loss", "dev_accuracy", "dev_f1", "dev_mcc")],
      row.names = FALSE, digits = 4)
cat(sprintf("\n%d steps in %.1f s (%.2f s per step)\n", nrow(h), secs, secs / max(1L, nrow(h))))

cat("\ntest metrics\n")
print(round(clf$test, 4))
test <- read.csv(split("test"))
p <- dnabert_predict(clf, test$sequence)
cat("\nconfusion table (test)\n")
print(table(truth = test$label, predicted = p$label))

# The adapter loads back on the base model and predicts the same.
clf2 <- dnabert_classifier_load(model, out)
p2 <- dnabert_predict(clf2, test$sequence)
stopifnot(identical(p, p2), clf$test[["accuracy"]] > 0.5)
cat("\nadapter saved in", out, ":", paste(list.files(out), collapse = ", "), "\n")
cat("loaded back: identical predictions\n")
print(head(p2, 3), row.names = FALSE, digits = 3)
