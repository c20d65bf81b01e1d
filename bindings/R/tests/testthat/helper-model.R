# The tiny PyTorch model fixture (Tests/DNABertTests/Fixtures/model/ of the repository: config.json,
# model.safetensors, pytorch_model.bin) and its PyTorch reference outputs, converted by
# tools/reference/make_r_model_fixture.py into fixtures/model_reference/ (raw little-endian, row-major).
# The model files are copied into the package as fixtures/model (config.json, model.safetensors,
# pytorch_model.bin), so the tests run outside the repository too. A missing fixture is an error, never a skip.

model_fixture_dir <- function() {
  dir <- fixture_file("model")
  for (f in c("config.json", "model.safetensors", "pytorch_model.bin")) fixture_file("model", f)
  dir
}

# One reference tensor as an R array with the PyTorch dims: the file is row-major, so it is read into an
# array with the reversed dims and transposed back.
model_reference <- function(name) {
  dir <- test_path("fixtures", "model_reference")
  man <- utils::read.delim(file.path(dir, "manifest.tsv"), colClasses = "character")
  row <- man[man$name == name, ]
  if (nrow(row) != 1L) stop("no reference tensor '", name, "'", call. = FALSE)
  dims <- as.integer(strsplit(row$dims, ",", fixed = TRUE)[[1L]])
  n <- prod(dims)
  path <- file.path(dir, row$file)
  stopifnot(file.size(path) == 4 * n)
  what <- if (row$dtype == "int32") "integer" else "double"
  v <- readBin(path, what = what, n = n, size = 4L, endian = "little")
  if (length(dims) == 1L) return(v)
  aperm(array(v, dim = rev(dims)), rev(seq_along(dims)))
}

# A temporary copy of the fixture model with DNABERT-2's real tokenizer.json (same vocabulary size, 4096),
# so that dnabert_embed() can tokenize.
model_with_tokenizer_dir <- function() {
  dir <- file.path(tempdir(), "dnabert-model-with-tokenizer")
  if (!file.exists(file.path(dir, "tokenizer.json"))) {
    dir.create(dir, showWarnings = FALSE)
    src <- model_fixture_dir()
    stopifnot(file.copy(file.path(src, c("config.json", "model.safetensors")), dir, overwrite = TRUE))
    stopifnot(file.copy(dnabert2_tokenizer_path(), file.path(dir, "tokenizer.json"), overwrite = TRUE))
  }
  dir
}
