#!/usr/bin/env Rscript
# Tokenize a genome with DNABERT-2's tokenizer (or one trained on the genome itself) from R.
#
#   Rscript examples/R/tokenize.R [genome.fasta(.gz)] [tokenizer.json]
#
# genome:    a FASTA file (plain or gzip). Default: $DNABERT_GENOME, else the first examples/data/*.fa(sta).gz,
#            else $DNABERT_SHARED/data/genomes/hpylori_sjm180.fasta.gz ($DNABERT_SHARED defaults to ../shared).
# tokenizer: a Hugging Face tokenizer.json such as DNABERT-2's. Default: $DNABERT_TOKENIZER, else
#            examples/data/dnabert2/tokenizer.json, else $DNABERT_SHARED/data/dnabert2/tokenizer.json;
#            if none is found, a tokenizer is trained on the genome.
# Run from the repository root.
# Needs the dnabert package (R CMD INSTALL bindings/R) and Biostrings.

suppressPackageStartupMessages({
  library(dnabert)
  library(Biostrings)
})

args <- commandArgs(trailingOnly = TRUE)
shared <- Sys.getenv("DNABERT_SHARED", "../shared") # the project's shared data folder, if any
first_existing <- function(...) {
  paths <- c(...)
  paths <- paths[nzchar(paths) & file.exists(paths)]
  if (length(paths) > 0L) paths[[1L]] else ""
}

genome_path <- first_existing(if (length(args) >= 1L) args[[1L]], Sys.getenv("DNABERT_GENOME"),
                              sort(Sys.glob(c("examples/data/*.fa.gz", "examples/data/*.fasta.gz"))),
                              file.path(shared, c("data", "."), "genomes", "hpylori_sjm180.fasta.gz"))
if (!nzchar(genome_path)) stop("no genome found: give a FASTA file as the first argument")
tokenizer_path <- first_existing(if (length(args) >= 2L) args[[2L]], Sys.getenv("DNABERT_TOKENIZER"),
                                 "examples/data/dnabert2/tokenizer.json",
                                 file.path(shared, c("data", "."), "dnabert2", "tokenizer.json"))

cat("libdnabert", dnabert_version(), "\n")
genome <- readDNAStringSet(genome_path) # gzip is read transparently
cat(sprintf("genome: %s, %d record(s), %s bp\n", basename(genome_path), length(genome),
            format(sum(width(genome)), big.mark = ",")))

if (nzchar(tokenizer_path)) {
  tok <- dnabert_tokenizer(tokenizer_path)
} else {
  cat("no tokenizer.json found: training a 4096-token BPE tokenizer on the genome\n")
  tok <- dnabert_train_tokenizer(genome_path, vocab_size = 4096L, progress = interactive())
  saved <- dnabert_save_tokenizer(tok, file.path(tempdir(), "tokenizer.json"))
  cat("saved it to", saved, "(Hugging Face tokenizers loads it too)\n")
}
print(tok)

# Cut the genome into 1 kbp windows (a DNAStringSet named chr:start-end), as a model would see it.
windows <- do.call(c, lapply(seq_along(genome)[width(genome) >= 1000L], function(i) {
  starts <- seq(1L, width(genome)[i] - 999L, by = 1000L)
  s <- as(Views(genome[[i]], start = starts, width = 1000L), "DNAStringSet")
  names(s) <- sprintf("%s:%d-%d", sub(" .*", "", names(genome)[i]), starts, starts + 999L)
  s
}))

t0 <- proc.time()[["elapsed"]]
ids <- dnabert_encode(tok, windows, add_special_tokens = FALSE)
secs <- proc.time()[["elapsed"]] - t0
n_tokens <- lengths(ids)
cat(sprintf("\n%d windows of 1 kbp encoded in %.2f s (%.1f Mbp/s)\n", length(windows), secs,
            sum(width(windows)) / 1e6 / max(secs, 1e-9)))
cat(sprintf("tokens per window: min %d, median %d, max %d; %.2f bp per token\n",
            min(n_tokens), as.integer(stats::median(n_tokens)), max(n_tokens), sum(width(windows)) / sum(n_tokens)))
print(head(data.frame(window = names(ids), tokens = n_tokens, bp_per_token = round(1000 / n_tokens, 2),
                      row.names = NULL)))

# The first tokens of the first window with their genome coordinates (1-based, inclusive).
first <- dnabert_encode(tok, windows[1], offsets = TRUE)[[1L]]
first$token <- dnabert_id_to_token(tok, first$id)
cat("\nfirst tokens of", names(windows)[1], "\n")
print(head(first, 10L), row.names = FALSE)

# Model input: [CLS] ... [SEP], padded to 128 tokens, with an attention mask.
batch <- dnabert_encode(tok, windows[1:8], max_length = 128L, padding = TRUE)
cat(sprintf("\nmodel batch: ids %d x %d, %d real tokens, %d padding\n", nrow(batch$ids), ncol(batch$ids),
            sum(batch$attention_mask), sum(batch$attention_mask == 0L)))

# Decoding gives the DNA back.
stopifnot(identical(unname(dnabert_decode(tok, ids[1:3])), unname(as.character(windows[1:3]))))
