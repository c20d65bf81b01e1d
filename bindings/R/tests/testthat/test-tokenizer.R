# Loading DNABERT-2's published tokenizer.json and querying its vocabulary. Expected values come from the
# published file itself (spec: [UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4, then A=5 C=6 G=7 T=8, 4096 tokens)
# and, for other tokens, from the JSON read independently with jsonlite-free base R parsing below.

test_that("the library reports a version string", {
  v <- dnabert_version()
  expect_type(v, "character")
  expect_length(v, 1L)
  expect_match(v, "^[0-9]+\\.[0-9]+\\.[0-9]+")
})

test_that("DNABERT-2's tokenizer.json loads with the published vocabulary and special ids", {
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  expect_s3_class(tok, "dnabert_tokenizer")
  expect_true(is_dnabert_tokenizer(tok))
  expect_identical(dnabert_vocab_size(tok), 4096L)
  expect_identical(dnabert_special_ids(tok), c(unk = 0L, cls = 1L, sep = 2L, pad = 3L, mask = 4L))
  expect_identical(dnabert_token_to_id(tok, c("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "A", "C", "G", "T")),
                   0:8)
  expect_identical(dnabert_id_to_token(tok, 0:8),
                   c("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "A", "C", "G", "T"))
})

test_that("token <-> id agrees with the vocabulary in the JSON file", {
  path <- dnabert2_tokenizer_path()
  tok <- dnabert_tokenizer(path)
  # Independent reading of the "vocab" object: entries look like "TOKEN": id.
  text <- paste(readLines(path, warn = FALSE), collapse = "\n")
  vocab_block <- sub('.*"vocab"[[:space:]]*:[[:space:]]*\\{([^}]*)\\}.*', "\\1", text)
  entries <- regmatches(vocab_block, gregexpr('"[^"]+"[[:space:]]*:[[:space:]]*[0-9]+', vocab_block))[[1L]]
  expect_gt(length(entries), 4000L)
  tokens <- sub('^"([^"]+)".*$', "\\1", entries)
  ids <- as.integer(sub('^.*:[[:space:]]*([0-9]+)$', "\\1", entries))
  pick <- c(1:20, seq(21L, length(tokens), by = 97L), length(tokens))
  expect_identical(dnabert_token_to_id(tok, tokens[pick]), ids[pick])
  expect_identical(dnabert_id_to_token(tok, ids[pick]), tokens[pick])
  expect_identical(dnabert_token_to_id(tok, c("NOT_A_TOKEN", NA, "acgt")), c(NA_integer_, NA_integer_, NA_integer_))
})

test_that("tokenizers load from JSON text and serialise back to JSON", {
  path <- dnabert2_tokenizer_path()
  text <- paste(readLines(path, warn = FALSE), collapse = "\n")
  tok <- dnabert_tokenizer(json = text)
  expect_identical(dnabert_vocab_size(tok), 4096L)
  json <- dnabert_tokenizer_json(tok)
  expect_type(json, "character")
  expect_length(json, 1L)
  tok2 <- dnabert_tokenizer(json = json)
  expect_identical(dnabert_vocab_size(tok2), 4096L)
  expect_identical(dnabert_special_ids(tok2), dnabert_special_ids(tok))
})

test_that("print shows the vocabulary size and the special ids", {
  tok <- dnabert_tokenizer(dnabert2_tokenizer_path())
  out <- capture.output(print(tok))
  expect_match(out[1L], "4096 tokens")
  expect_match(paste(out, collapse = "\n"), "\\[CLS\\]=1")
  expect_match(paste(out, collapse = "\n"), "\\[PAD\\]=3")
})
