# Bioconductor inputs and outputs. Every expectation compares against an independent computation: the region's
# DNA cut out of the genome with Biostrings (subseq + reverseComplement), and the plain-character path of the
# same function.

skip_without_bioc <- function(pkgs = c("GenomicRanges", "Rsamtools", "Biostrings", "S4Vectors", "IRanges")) {
  for (p in pkgs) if (!requireNamespace(p, quietly = TRUE)) skip(paste0("needs the Bioconductor package ", p))
}

# The H. pylori genome prefix as a plain, indexed FASTA (FaFile) and as a DNAStringSet.
indexed_genome <- function() {
  gz <- genome_prefix_file("hpylori")
  dna <- Biostrings::readDNAStringSet(gz)
  names(dna) <- sub("\\s.*", "", names(dna))
  path <- tempfile(fileext = ".fa")
  Biostrings::writeXStringSet(dna, path)
  Rsamtools::indexFa(path)
  list(path = path, fa = Rsamtools::FaFile(path), dna = dna, chr = names(dna)[[1L]])
}

test_regions <- function(chr) {
  GenomicRanges::GRanges(chr, IRanges::IRanges(start = c(101L, 5001L, 20001L, 777L), width = c(150L, 300L, 90L, 64L)),
                         strand = c("+", "-", "*", "-"))
}

# Independent: cut with Biostrings, reverse-complement the minus strand.
expected_dna <- function(dna, gr) {
  out <- vapply(seq_along(gr), function(i) {
    d <- Biostrings::subseq(dna[[1L]], GenomicRanges::start(gr)[i], GenomicRanges::end(gr)[i])
    if (as.character(GenomicRanges::strand(gr))[i] == "-") d <- Biostrings::reverseComplement(d)
    as.character(d)
  }, "")
  out
}

test_that("GRanges + FaFile encode like the regions' DNA, strand honoured", {
  skip_without_bioc()
  g <- indexed_genome()
  gr <- test_regions(g$chr)
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  want <- expected_dna(g$dna, gr)
  got <- dnabert_encode(tok, gr, genome = g$fa)
  expect_equal(unname(got), unname(dnabert_encode(tok, want)))
  expect_equal(names(got), paste0(g$chr, ":", GenomicRanges::start(gr), "-", GenomicRanges::end(gr), ":",
                                  as.character(GenomicRanges::strand(gr))))
  # the minus-strand region is not the plus-strand DNA
  expect_false(identical(got[[2L]], dnabert_encode(tok, as.character(Biostrings::subseq(g$dna[[1L]], 5001L, 5300L)))[[1L]]))
  # a path and a DNAStringSet give the same as the FaFile; names(gr) key the result
  names(gr) <- paste0("r", seq_along(gr))
  expect_equal(dnabert_encode(tok, gr, genome = g$path), stats::setNames(unname(got), names(gr)))
  expect_equal(dnabert_encode(tok, gr, genome = g$dna), stats::setNames(unname(got), names(gr)))
  expect_equal(dnabert_decode(tok, dnabert_encode(tok, gr, genome = g$fa)), stats::setNames(want, names(gr)))
})

test_that("GRanges errors name the problem", {
  skip_without_bioc()
  g <- indexed_genome()
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  gr <- test_regions(g$chr)
  expect_error(dnabert_encode(tok, gr), "give 'genome'")
  expect_error(dnabert_encode(tok, GenomicRanges::GRanges("chrX:1-10"), genome = g$fa), "chrX")
  far <- GenomicRanges::GRanges(g$chr, IRanges::IRanges(199990L, 200100L))
  expect_error(dnabert_encode(tok, far, genome = g$fa), "outside")
  expect_error(dnabert_encode(tok, gr, genome = 42), "BSgenome")
})

test_that("a BSgenome is read like the FASTA", {
  skip_without_bioc(c("BSgenome", "GenomicRanges", "Biostrings", "IRanges"))
  pkgs <- BSgenome::installed.genomes()
  if (length(pkgs) == 0L) skip("no BSgenome data package (BSgenome.*) is installed: Debian packages none; install one from Bioconductor")
  genome <- BSgenome::getBSgenome(pkgs[[1L]])
  chr <- GenomeInfoDb::seqnames(genome)[[1L]]
  gr <- GenomicRanges::GRanges(chr, IRanges::IRanges(c(100001L, 200001L), width = 120L), strand = c("+", "-"))
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  want <- c(as.character(Biostrings::subseq(genome[[chr]], 100001L, 100120L)),
            as.character(Biostrings::reverseComplement(Biostrings::subseq(genome[[chr]], 200001L, 200120L))))
  expect_equal(unname(dnabert_encode(tok, gr, genome = genome)), unname(dnabert_encode(tok, want)))
})

test_that("token offsets as IRanges match the data-frame offsets", {
  skip_without_bioc(c("IRanges", "S4Vectors"))
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  x <- c(a = "ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCGTTAGC", b = "TTTTGGGGCCCCAAAA")
  df <- dnabert_encode(tok, x, offsets = TRUE)
  r <- dnabert_encode(tok, x, offsets = "IRanges")
  expect_s4_class(r, "IRangesList")
  expect_equal(names(r), names(x))
  for (k in names(x)) {
    real <- df[[k]][!is.na(df[[k]]$start), ]
    expect_equal(IRanges::start(r[[k]]), real$start)
    expect_equal(IRanges::end(r[[k]]), real$end)
    expect_equal(S4Vectors::mcols(r[[k]])$id, real$id)
    # the ranges tile the sequence
    expect_equal(sum(IRanges::width(r[[k]])), nchar(x[[k]]))
    expect_equal(substring(x[[k]], IRanges::start(r[[k]]), IRanges::end(r[[k]])), dnabert_id_to_token(tok, real$id))
  }
  expect_error(dnabert_encode(tok, x, offsets = "GRanges"), "IRanges")
})

test_that("embeddings of GRanges, data.frame and DataFrame are keyed like the input", {
  skip_without_bioc()
  g <- indexed_genome()
  gr <- test_regions(g$chr)
  names(gr) <- c("p1", "m1", "u1", "m2")
  m <- dnabert_model(model_with_tokenizer_dir())
  want <- dnabert_embed(m, stats::setNames(expected_dna(g$dna, gr), names(gr)), progress = FALSE)
  got <- dnabert_embed(m, gr, genome = g$fa, progress = FALSE)
  expect_equal(got, want, tolerance = 1e-6)
  seqs <- unname(expected_dna(g$dna, gr))
  df <- data.frame(sequence = seqs, row.names = names(gr))
  expect_equal(dnabert_embed(m, df, progress = FALSE), want, tolerance = 1e-6)
  DF <- S4Vectors::DataFrame(sequence = Biostrings::DNAStringSet(seqs), row.names = names(gr))
  expect_equal(dnabert_embed(m, DF, progress = FALSE), want, tolerance = 1e-6)
  expect_error(dnabert_embed(m, S4Vectors::DataFrame(seq = seqs), progress = FALSE), "'sequence' column")
})

test_that("BPPARAM splits the work and gives the serial result", {
  skip_without_bioc(c("BiocParallel"))
  m <- dnabert_model(model_with_tokenizer_dir())
  set.seed(1)
  x <- vapply(1:9, function(i) paste(sample(c("A", "C", "G", "T"), 80 + 10 * i, TRUE), collapse = ""), "")
  names(x) <- paste0("s", 1:9)
  want <- dnabert_embed(m, x, progress = FALSE, threads = 1L)
  expect_equal(dnabert_embed(m, x, progress = FALSE, BPPARAM = BiocParallel::SerialParam()), want)
  expect_equal(dnabert_embed(m, x, progress = FALSE, BPPARAM = BiocParallel::MulticoreParam(2L)), want,
               tolerance = 1e-6)
  # a new R process per worker: the model is loaded again from its folder there
  expect_equal(dnabert_embed(m, x, progress = FALSE, BPPARAM = BiocParallel::SnowParam(2L)), want,
               tolerance = 1e-6)
  expect_error(dnabert_embed(m, x, progress = FALSE, BPPARAM = 2), "BiocParallel")
})

test_that("predict on GRanges returns the regions with scores in mcols; DataFrame data is accepted", {
  skip_without_bioc()
  g <- indexed_genome()
  m <- dnabert_model(model_with_tokenizer_dir())
  starts <- seq(1001L, by = 997L, length.out = 24L)
  gr <- GenomicRanges::GRanges(g$chr, IRanges::IRanges(starts, width = 100L), strand = rep(c("+", "-"), 12L))
  S4Vectors::mcols(gr)$label <- rep(c("a", "b"), each = 12L)
  S4Vectors::mcols(gr)$score0 <- seq_along(gr)
  seqs <- expected_dna(g$dna, gr)
  clf <- dnabert_finetune(m, gr, genome = g$fa, max_steps = 2, batch_size = 8, progress = FALSE, seed = 3)
  # the same training from the plain sequences gives the same classifier
  clf2 <- dnabert_finetune(m, S4Vectors::DataFrame(sequence = seqs, label = S4Vectors::mcols(gr)$label),
                           max_steps = 2, batch_size = 8, progress = FALSE, seed = 3)
  p_plain <- dnabert_predict(clf, seqs)
  expect_equal(dnabert_predict(clf2, seqs), p_plain, tolerance = 1e-6)
  p <- dnabert_predict(clf, gr, genome = g$fa)
  expect_s4_class(p, "GRanges")
  expect_equal(GenomicRanges::granges(p), GenomicRanges::granges(gr))
  expect_equal(S4Vectors::mcols(p)$score0, seq_along(gr))
  expect_equal(S4Vectors::mcols(p)$prob_a, p_plain$prob_a, tolerance = 1e-6)
  expect_equal(S4Vectors::mcols(p)$label, p_plain$label)
  # data.frame / DataFrame input: rows keyed by the row names
  keys <- paste0("w", seq_along(seqs))
  pd <- dnabert_predict(clf, S4Vectors::DataFrame(sequence = seqs, row.names = keys))
  expect_equal(rownames(pd), keys)
  expect_equal(pd$prob_b, p_plain$prob_b, tolerance = 1e-6)
  expect_equal(dnabert_evaluate(clf, gr, genome = g$fa),
               dnabert_evaluate(clf, list(seqs, S4Vectors::mcols(gr)$label)))
})

test_that("show() displays the model, tokenizer and classifier like print()", {
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  m <- dnabert_model(model_with_tokenizer_dir())
  expect_true(methods::existsMethod("show", "dnabert_model"))
  expect_equal(utils::capture.output(methods::show(tok)), utils::capture.output(print(tok)))
  expect_equal(utils::capture.output(methods::show(m)), utils::capture.output(print(m)))
  expect_match(utils::capture.output(methods::show(m))[[1L]], "<dnabert model>")
  expect_true(methods::is(m, "dnabert_model"))
})
