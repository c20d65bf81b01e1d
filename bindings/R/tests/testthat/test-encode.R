# Encoding compared id for id with Hugging Face `tokenizers` (fixtures/dnabert2_hf_reference.tsv, written
# by tools/reference/make_r_fixture.py from DNABERT-2's tokenizer.json): edge cases (empty, one base,
# lower case, N runs, IUPAC, "[MASK]" inside, whitespace, punctuation) and 1 kbp genome windows.

ref <- hf_reference()
tok <- dnabert_tokenizer(dnabert2_tokenizer_path())

test_that("the fixture covers the edge cases it claims", {
  expect_true(all(c("empty", "one_base", "lower_case", "n_run", "iupac", "mask_inside") %in% ref$name))
  expect_gte(sum(startsWith(ref$name, "genome_window")), 4L)
  expect_identical(unname(ref$sequence[["empty"]]), "")
})

test_that("encodings equal Hugging Face's, id for id", {
  got <- dnabert_encode(tok, ref$sequence)
  expect_type(got, "list")
  expect_named(got, ref$name)
  for (nm in ref$name) expect_identical(got[[nm]], ref$ids[[nm]], label = paste("ids of", nm))
})

test_that("one sequence at a time gives the same as the batch (and as Hugging Face)", {
  for (nm in ref$name) {
    got <- dnabert_encode(tok, unname(ref$sequence[[nm]]))
    expect_null(names(got))
    expect_identical(got[[1L]], ref$ids[[nm]], label = paste("single ids of", nm))
  }
})

test_that("add_special_tokens = FALSE equals Hugging Face without special tokens", {
  got <- dnabert_encode(tok, ref$sequence, add_special_tokens = FALSE)
  for (nm in ref$name) expect_identical(got[[nm]], ref$ids_plain[[nm]], label = paste("plain ids of", nm))
})

test_that("uppercase = TRUE equals Hugging Face on the upper-cased text", {
  got <- dnabert_encode(tok, ref$sequence, uppercase = TRUE)
  for (nm in ref$name) expect_identical(got[[nm]], ref$ids_upper[[nm]], label = paste("upper ids of", nm))
  # and lower-case input without it gives [UNK]s, as Hugging Face does
  expect_true(all(dnabert_encode(tok, "acgt", add_special_tokens = FALSE)[[1L]] == 0L))
})

test_that("max_length truncates like Hugging Face (special tokens kept, counted in the length)", {
  got <- dnabert_encode(tok, ref$sequence, max_length = 16)
  for (nm in ref$name) expect_identical(got[[nm]], ref$ids_trunc16[[nm]], label = paste("truncated ids of", nm))
  expect_true(all(lengths(got) <= 16L))
})

test_that("offsets are 1-based inclusive positions matching Hugging Face's 0-based [start, end)", {
  got <- dnabert_encode(tok, ref$sequence, offsets = TRUE)
  expect_named(got, ref$name)
  for (nm in ref$name) {
    d <- got[[nm]]
    expect_s3_class(d, "data.frame")
    expect_named(d, c("id", "start", "end"))
    expect_identical(d$id, ref$ids[[nm]])
    hf <- ref$offsets[[nm]]
    special <- hf$start == hf$end # HF gives [CLS]/[SEP] the empty span (0, 0)
    expect_identical(is.na(d$start), special, label = paste("special-token NA starts of", nm))
    expect_identical(d$start[!special], hf$start[!special] + 1L, label = paste("starts of", nm))
    expect_identical(d$end[!special], hf$end[!special], label = paste("ends of", nm))
  }
  # token k covers substr(x, start, end) and its string is that text
  w <- ref$name[startsWith(ref$name, "genome_window")][1L]
  d <- got[[w]][!is.na(got[[w]]$start), ]
  expect_identical(substring(ref$sequence[[w]], d$start, d$end), dnabert_id_to_token(tok, d$id))
})

test_that("Biostrings DNAStringSet input keeps names and equals the character encoding", {
  skip_if_not_installed("Biostrings")
  # upper-case windows only: DNAStringSet() itself upper-cases lower-case letters
  windows <- ref$sequence[grepl("^genome_window_[0-9]", ref$name)]
  dna <- Biostrings::DNAStringSet(windows)
  names(dna) <- paste0("chr1:", seq_along(dna))
  got <- dnabert_encode(tok, dna)
  expect_named(got, names(dna))
  expect_identical(unname(got), unname(ref$ids[names(windows)]))
  padded <- dnabert_encode(tok, dna, padding = TRUE)
  expect_identical(rownames(padded$ids), names(dna))
  expect_identical(rownames(padded$attention_mask), names(dna))
  # a single DNAString works too
  expect_identical(dnabert_encode(tok, dna[[1L]])[[1L]], ref$ids[[names(windows)[1L]]])
})

test_that("padding = TRUE pads to the longest encoding with [PAD] and a 0/1 mask", {
  x <- ref$sequence[c("empty", "one_base", "short", "genome_window_lower")]
  expected <- ref$ids[names(x)]
  n <- lengths(expected)
  got <- dnabert_encode(tok, x, padding = TRUE)
  expect_named(got, c("ids", "attention_mask"))
  expect_true(is.matrix(got$ids) && is.integer(got$ids))
  expect_true(is.matrix(got$attention_mask) && is.integer(got$attention_mask))
  expect_identical(dim(got$ids), c(length(x), max(n)))
  expect_identical(dim(got$attention_mask), dim(got$ids))
  expect_identical(rownames(got$ids), names(x))
  for (i in seq_along(x)) {
    expect_identical(got$ids[i, seq_len(n[i])], expected[[i]])
    expect_true(all(got$ids[i, -seq_len(n[i])] == 3L))
    expect_identical(got$attention_mask[i, ], rep(c(1L, 0L), c(n[i], max(n) - n[i])))
  }
  expect_identical(unname(rowSums(got$attention_mask)), unname(as.numeric(n)))
})

test_that("padding with max_length gives fixed-width rows, truncated like Hugging Face", {
  x <- ref$sequence
  got <- dnabert_encode(tok, x, padding = TRUE, max_length = 16)
  expect_identical(dim(got$ids), c(length(x), 16L))
  for (nm in ref$name) {
    e <- ref$ids_trunc16[[nm]]
    k <- length(e)
    expect_identical(unname(got$ids[nm, seq_len(k)]), e, label = paste("padded ids of", nm))
    expect_identical(unname(got$attention_mask[nm, ]), rep(c(1L, 0L), c(k, 16L - k)))
    if (k < 16L) expect_true(all(got$ids[nm, (k + 1L):16L] == 3L))
  }
  # wider than every sequence: all [CLS] ... [SEP] then padding
  wide <- dnabert_encode(tok, x[c("one_base", "short")], padding = TRUE, max_length = 12)
  expect_identical(unname(wide$ids[1L, ]), c(ref$ids[["one_base"]], rep(3L, 9L)))
})

test_that("padding with offsets gives start/end matrices with NA outside real bases", {
  x <- ref$sequence[c("one_base", "short", "n_run")]
  got <- dnabert_encode(tok, x, padding = TRUE, offsets = TRUE)
  expect_named(got, c("ids", "attention_mask", "start", "end"))
  expect_identical(dim(got$start), dim(got$ids))
  for (nm in names(x)) {
    hf <- ref$offsets[[nm]]
    k <- length(hf$start)
    special <- hf$start == hf$end
    s <- got$start[nm, seq_len(k)]
    expect_identical(unname(is.na(s)), special)
    expect_identical(unname(s[!special]), hf$start[!special] + 1L)
    expect_identical(unname(got$end[nm, seq_len(k)][!special]), hf$end[!special])
    if (k < ncol(got$start)) expect_true(all(is.na(got$start[nm, -seq_len(k)])))
  }
  # the same ids as without offsets
  expect_identical(got$ids, dnabert_encode(tok, x, padding = TRUE)$ids)
})

test_that("threads do not change results and empty input gives empty output", {
  x <- ref$sequence
  expect_identical(dnabert_encode(tok, x, threads = 1L), dnabert_encode(tok, x, threads = 2L))
  expect_identical(dnabert_encode(tok, character()), list())
  e <- dnabert_encode(tok, character(), padding = TRUE)
  expect_identical(nrow(e$ids), 0L)
  expect_identical(dim(dnabert_encode(tok, character(), padding = TRUE, max_length = 8)$ids), c(0L, 8L))
})

test_that("a long sequence (a genome prefix) encodes at about 4-5 bases per token", {
  genome <- read_fasta_prefix(genome_prefix_file("hpylori"), 200000L)
  expect_identical(nchar(genome), 200000L)
  got <- dnabert_encode(tok, genome, add_special_tokens = FALSE, offsets = TRUE)[[1L]]
  expect_gt(nrow(got), 200000 / 7)
  expect_lt(nrow(got), 200000 / 3)
  # offsets tile the sequence: each token starts right after the previous one ends
  expect_identical(got$start[1L], 1L)
  expect_identical(got$end[nrow(got)], 200000L)
  expect_identical(got$start[-1L], got$end[-nrow(got)] + 1L)
  expect_identical(paste(dnabert_id_to_token(tok, got$id), collapse = ""), genome)
})
