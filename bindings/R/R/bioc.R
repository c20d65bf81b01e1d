# Bioconductor inputs and outputs: genomic regions (GRanges) with a genome to take the DNA from (a BSgenome,
# an indexed FASTA as Rsamtools::FaFile or its path, or a named DNAStringSet), S4Vectors DataFrame tables,
# token offsets as IRanges, BiocParallel back-ends, and S4 `show` methods for the package's objects.
#
# All of these packages are optional (Suggests): a function needs one only when it is given such an object,
# and then says which package is missing.

need_pkg <- function(pkg, why) {
  if (!requireNamespace(pkg, quietly = TRUE)) {
    stop_arg("package '", pkg, "' is needed ", why, "; install it from Bioconductor")
  }
}

is_granges <- function(x) methods::is(x, "GRanges")
is_s4_table <- function(x) methods::is(x, "DataFrame")
is_table <- function(x) is.data.frame(x) || is_s4_table(x)

# Names of regions: names(gr) when set, else "chr:start-end:strand".
region_names <- function(gr) {
  nm <- names(gr)
  if (!is.null(nm) && all(nzchar(nm))) return(nm)
  paste0(as.character(GenomicRanges::seqnames(gr)), ":", GenomicRanges::start(gr), "-", GenomicRanges::end(gr),
         ":", as.character(GenomicRanges::strand(gr)))
}

# The DNA of each region of `gr`, read 5' to 3' on the region's strand: regions on "-" are reverse-complemented
# ("*" reads as "+"). Returns a character vector named by region_names().
region_sequences <- function(gr, genome, name = "x") {
  need_pkg("GenomicRanges", "for GRanges input")
  if (is.null(genome)) {
    stop_arg("'", name, "' is a GRanges: give 'genome', where to read its DNA from: a BSgenome, an ",
             "Rsamtools::FaFile (indexed FASTA) or its path, or a DNAStringSet named by sequence")
  }
  if (is.character(genome) && length(genome) == 1L && !is.na(genome)) {
    need_pkg("Rsamtools", "to read regions from a FASTA path")
    if (!file.exists(genome)) stop_arg("'genome': no file '", genome, "'")
    genome <- Rsamtools::FaFile(genome)
  }
  seqs <- as.character(GenomicRanges::seqnames(gr))
  starts <- GenomicRanges::start(gr)
  ends <- GenomicRanges::end(gr)
  if (methods::is(genome, "FaFile")) {
    need_pkg("Rsamtools", "to read an FaFile")
    lens <- tryCatch(GenomeInfoDb_seqlengths(Rsamtools::seqinfo(genome)),
                     error = function(e) stop_arg("'genome': cannot read the FASTA index (",
                                                  conditionMessage(e), "); run Rsamtools::indexFa() on it"))
  } else if (methods::is(genome, "BSgenome")) {
    lens <- GenomeInfoDb_seqlengths(genome)
  } else if (methods::is(genome, "DNAStringSet")) {
    if (is.null(names(genome))) stop_arg("'genome' as a DNAStringSet must be named by sequence (chromosome)")
    lens <- stats::setNames(Biostrings::width(genome), names(genome))
  } else {
    stop_arg("'genome' must be a BSgenome, an Rsamtools::FaFile, a FASTA path or a named DNAStringSet, not ",
             paste(class(genome), collapse = "/"))
  }
  unknown <- which(!(seqs %in% names(lens)))
  if (length(unknown)) {
    stop_arg("'", name, "': region ", unknown[[1L]], " is on '", seqs[[unknown[[1L]]]], "', which the genome does ",
             "not have (it has ", paste(utils::head(names(lens), 5L), collapse = ", "),
             if (length(lens) > 5L) ", ..." else "", ")")
  }
  outside <- which(starts < 1L | ends > lens[seqs])
  if (length(outside)) {
    k <- outside[[1L]]
    stop_arg("'", name, "': region ", k, " (", seqs[[k]], ":", starts[[k]], "-", ends[[k]], ") lies outside ",
             seqs[[k]], " (1-", lens[[seqs[[k]]]], ")")
  }
  plain <- GenomicRanges::GRanges(seqs, IRanges::IRanges(starts, ends))
  dna <- if (methods::is(genome, "FaFile")) {
    Rsamtools::scanFa(genome, plain)
  } else if (methods::is(genome, "BSgenome")) {
    Biostrings::getSeq(genome, plain)
  } else {
    Biostrings::subseq(genome[seqs], starts, ends)
  }
  minus <- as.character(GenomicRanges::strand(gr)) == "-"
  if (any(minus)) dna[minus] <- Biostrings::reverseComplement(dna[minus])
  set_names(as.character(dna), region_names(gr))
}

GenomeInfoDb_seqlengths <- function(x) {
  need_pkg("GenomeInfoDb", "to read sequence lengths")
  GenomeInfoDb::seqlengths(x)
}

# Row keys of a table: its row names when they were set (not 1..n), else an `id` column, else NULL.
table_keys <- function(x) {
  if (is.data.frame(x)) {
    if (.row_names_info(x) > 0L) return(rownames(x))
  } else if (!is.null(rownames(x))) {
    return(rownames(x))
  }
  if ("id" %in% names(x)) return(as.character(x[["id"]]))
  NULL
}

# Sequences from anything the package accepts where sequences are: a character vector / factor /
# XStringSet (as_sequences), a GRanges (+ genome), or a data.frame / S4 DataFrame with a `sequence` column
# (keyed by row names or an `id` column). Names are the keys results get.
input_sequences <- function(x, genome = NULL, name = "x") {
  if (is_granges(x)) return(region_sequences(x, genome, name))
  if (is_table(x)) {
    if (!("sequence" %in% names(x))) {
      stop_arg("'", name, "' as a table needs a 'sequence' column (it has ", paste(names(x), collapse = ", "), ")")
    }
    s <- as_sequences(x[["sequence"]], paste0(name, "$sequence"))
    keys <- table_keys(x)
    if (!is.null(keys)) names(s) <- keys
    return(s)
  }
  as_sequences(x, name)
}

# Work split over sequences with BiocParallel: `fun(chunk)` returns a matrix (one row per sequence) or a
# list; chunks are contiguous, one per worker, and the results are bound back in input order.
bp_map <- function(x, BPPARAM, fun) {
  parts <- bp_parts(x, BPPARAM, fun)
  if (length(parts) == 1L) parts[[1L]] else do.call(rbind, parts)
}

# The same split, returning the list of the workers' results (one element without BPPARAM).
bp_parts <- function(x, BPPARAM, fun) {
  if (is.null(BPPARAM)) return(list(fun(x)))
  need_pkg("BiocParallel", "for 'BPPARAM'")
  if (!methods::is(BPPARAM, "BiocParallelParam")) {
    stop_arg("'BPPARAM' must be a BiocParallel back-end such as MulticoreParam(4) or SerialParam(), not ",
             paste(class(BPPARAM), collapse = "/"))
  }
  k <- min(BiocParallel::bpnworkers(BPPARAM), length(x))
  if (k <= 1L) return(list(fun(x)))
  chunks <- split(x, rep(seq_len(k), times = tabulate(cut(seq_along(x), k, labels = FALSE), k)))
  BiocParallel::bplapply(unname(chunks), fun, BPPARAM = BPPARAM)
}

# A model usable in this process: a BiocParallel worker that is a new R process (SnowParam) receives the model
# without its library handle; it loads the model again from its folder.
# (Only called in a worker process: in the caller's process a freed model stays an error.)
usable_model <- function(model) {
  if (is_dnabert_model(model)) return(model)
  if (!is.null(model$source) && dir.exists(model$source)) return(dnabert_model(model$source))
  stop_arg("the model's handle is not usable in this process and it has no folder to load from; use a forked ",
           "back-end (MulticoreParam) or SerialParam, or save the model and load it with dnabert_model()")
}

# Token offsets of dnabert_encode(offsets = TRUE) (data frames id/start/end) as IRanges: one IRanges per
# sequence, one range per token that covers bases, with the token id and its position in the encoding in mcols.
offsets_as_iranges <- function(frames) {
  need_pkg("IRanges", "for offsets = \"IRanges\"")
  out <- lapply(frames, function(f) {
    keep <- !is.na(f$start)
    r <- IRanges::IRanges(start = f$start[keep], end = f$end[keep])
    S4Vectors::mcols(r) <- S4Vectors::DataFrame(id = f$id[keep], token = which(keep))
    r
  })
  IRanges::IRangesList(out)
}

# ---- S4 show methods ------------------------------------------------------------------------------------
# The model, tokenizer and classifier are S3 objects (a list around the library handle, so that `$history`,
# `$test` and other fields stay as they were) registered as S4 classes with setOldClass(), so that S4 code
# (show(), SimpleList, slots typed "dnabert_model") handles them, and they display through show().

methods::setOldClass("dnabert_tokenizer")
methods::setOldClass("dnabert_model")
methods::setOldClass("dnabert_classifier")
methods::setMethod("show", "dnabert_tokenizer", function(object) print.dnabert_tokenizer(object))
methods::setMethod("show", "dnabert_model", function(object) print.dnabert_model(object))
methods::setMethod("show", "dnabert_classifier", function(object) print.dnabert_classifier(object))
