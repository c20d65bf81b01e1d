/*
 * dnabert.h - C API of libdnabert, a CPU implementation of the DNABERT-2 genome foundation model.
 *
 * Conventions
 *  - Objects are opaque handles created by *_load / *_create / *_train and released by *_free
 *    (every *_free accepts NULL).
 *  - Every function that can fail returns an int status: DNABERT_OK (0) or a negative DNABERT_ERR_* code.
 *    On failure, dnabert_last_error() returns a message for the calling thread.
 *  - Results are written into caller-owned buffers. Functions whose result size is not known in advance
 *    either document an upper bound (dnabert_tokenizer_max_tokens) or return DNABERT_ERR_BUFFER_TOO_SMALL
 *    and report the required size through their size out-parameter.
 *  - Every struct passed across the API starts with `uint32_t struct_size` (see "ABI promise" below).
 *    Parameter structs are filled by dnabert_*_default_params() first; result structs are declared with
 *    struct_size = sizeof(the struct) (e.g. `dnabert_model_info info = { sizeof info };`) before the call.
 *  - Sequences are byte strings with an explicit length (need not be NUL-terminated). They are DNA as the
 *    tokenizer sees it: no normalisation happens unless a parameter asks for it.
 *
 * ABI promise (from 0.2.0 on; the library's SONAME is libdnabert.so.0)
 *  - Within a major version, a program compiled against an older header keeps working with a newer library
 *    without recompiling: functions are never removed and never change their signature or meaning;
 *    structs only grow by fields appended at the end.
 *  - struct_size, set by the caller, says which layout the caller was compiled with. The library reads only
 *    the first struct_size bytes of a parameter struct (fields beyond it keep their defaults) and writes only
 *    the first struct_size bytes of a result struct. A struct_size that does not end on a field boundary of
 *    a released layout of that struct (e.g. one that ends inside a pointer) is rejected with
 *    DNABERT_ERR_INVALID_ARGUMENT before anything is read or written.
 *  - Structs the library passes to a callback (dnabert_progress, the metrics structs) carry the library's
 *    struct_size: read only the fields that fit in it.
 *  - A *_default_params() function returns its struct by value, i.e. into a buffer of the caller's sizeof, so
 *    when a parameter struct grows, the old default_params stays as a versioned symbol that returns the old
 *    layout (0.2.0: dnabert_finetune_default_params, which gained out_dir).
 *  - 0.1.0 had result structs without struct_size. Programs built against 0.1.0 are bound (by ELF symbol
 *    versions: DNABERT_0.1, DNABERT_0.2) to entry points that keep writing exactly the 0.1.0 layouts.
 *  - Names deprecated in a release (see "renamed in 0.2.0" at the end) stay as aliases for source
 *    compatibility.
 *  - Worker threads are set the same way everywhere: the n_threads field of the call's parameter struct
 *    (0 = all cores: every CPU the process may run on, by its affinity mask — taskset, numactl or a batch
 *    scheduler's binding limit it). Between parallel regions the workers spin for DNABERT_SPIN_US microseconds
 *    (environment; default 1000, 0 = sleep at once) before they sleep.
 *
 * Thread safety
 *  - A tokenizer is immutable after loading: any number of threads may encode/decode with the same handle
 *    at once. Freeing a handle while another thread uses it is undefined.
 */
#ifndef DNABERT_H
#define DNABERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DNABERT_VERSION_MAJOR 0
#define DNABERT_VERSION_MINOR 2
#define DNABERT_VERSION_PATCH 0
#define DNABERT_VERSION_STRING "0.2.0"

/* Marks the library's exported functions. */
#if defined(__GNUC__) || defined(__clang__)
#define DNABERT_API __attribute__((visibility("default")))
#define DNABERT_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define DNABERT_API
#define DNABERT_DEPRECATED(msg)
#endif

/* ---- status codes ------------------------------------------------------------------------------ */
#define DNABERT_OK 0
#define DNABERT_ERR_INVALID_ARGUMENT (-1) /* NULL pointer, bad size, value out of range */
#define DNABERT_ERR_IO (-2)               /* a file cannot be opened, read or written */
#define DNABERT_ERR_FORMAT (-3)           /* malformed input file or data (JSON, FASTA, gzip, ...) */
#define DNABERT_ERR_BUFFER_TOO_SMALL (-4) /* caller buffer too small; the required size is reported */
#define DNABERT_ERR_OUT_OF_MEMORY (-5)
#define DNABERT_ERR_CANCELLED (-6)        /* a progress callback returned non-zero */
#define DNABERT_ERR_UNSUPPORTED (-7)      /* valid input using a feature this library does not implement */
#define DNABERT_ERR_NOT_FOUND (-8)        /* e.g. a token that is not in the vocabulary */
#define DNABERT_ERR_INTERNAL (-9)

/* ---- library ----------------------------------------------------------------------------------- */

/* Version of the loaded library, e.g. "0.2.0" (static string). */
DNABERT_API const char *dnabert_version(void);

/* Message describing the last error on the calling thread ("" when none). The pointer stays valid until
 * the next dnabert call on this thread. */
DNABERT_API const char *dnabert_last_error(void);

/* Forget the calling thread's last error. */
DNABERT_API void dnabert_clear_error(void);

/* ---- progress reporting for long operations ---------------------------------------------------- */
typedef struct dnabert_progress {
    uint32_t struct_size;       /* sizeof(dnabert_progress) of the library that filled it */
    const char *stage;          /* short description, e.g. "reading", "counting", "merging" */
    int64_t current;            /* units done in this stage */
    int64_t total;              /* units in this stage, or -1 if unknown */
    double elapsed_seconds;     /* since the operation started */
    double eta_seconds;         /* estimated seconds left, or -1 if unknown */
} dnabert_progress;

/* Called from the thread that started the operation. Return 0 to continue, non-zero to cancel (the
 * operation then returns DNABERT_ERR_CANCELLED and creates nothing). */
typedef int (*dnabert_progress_fn)(void *user_data, const dnabert_progress *progress);

/* ---- tokenizer --------------------------------------------------------------------------------- */
typedef struct dnabert_tokenizer dnabert_tokenizer;

/* Load a Hugging Face tokenizer.json with a BPE model (e.g. DNABERT-2's). */
DNABERT_API int dnabert_tokenizer_load(const char *path, dnabert_tokenizer **out);

/* Same, from a JSON text of `len` bytes in memory. */
DNABERT_API int dnabert_tokenizer_load_json(const char *json, size_t len, dnabert_tokenizer **out);

/* Write the tokenizer as a tokenizer.json that Hugging Face `tokenizers` loads. */
DNABERT_API int dnabert_tokenizer_save(const dnabert_tokenizer *tok, const char *path);

/* Serialise to JSON into `buf` (capacity `cap` bytes, NUL-terminated when it fits). `*len` receives the
 * JSON length without the NUL; DNABERT_ERR_BUFFER_TOO_SMALL if cap < *len + 1 (buf may then be NULL). */
DNABERT_API int dnabert_tokenizer_to_json(const dnabert_tokenizer *tok, char *buf, size_t cap, size_t *len);

DNABERT_API void dnabert_tokenizer_free(dnabert_tokenizer *tok);

/* Number of tokens in the vocabulary, added tokens included. */
DNABERT_API int dnabert_tokenizer_vocab_size(const dnabert_tokenizer *tok, int32_t *out);

/* Id of a token string (NUL-terminated); DNABERT_ERR_NOT_FOUND if absent. */
DNABERT_API int dnabert_tokenizer_token_to_id(const dnabert_tokenizer *tok, const char *token, int32_t *id);

/* The string of token `id`, into buf (NUL-terminated); *len receives its length without the NUL. */
DNABERT_API int dnabert_tokenizer_id_to_token(const dnabert_tokenizer *tok, int32_t id, char *buf, size_t cap, size_t *len);

/* Ids of the special tokens, -1 for any the tokenizer does not define. */
typedef struct dnabert_special_ids {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_special_ids) */
    int32_t unk, cls, sep, pad, mask;
} dnabert_special_ids;
DNABERT_API int dnabert_tokenizer_special_ids(const dnabert_tokenizer *tok, dnabert_special_ids *out);

typedef struct dnabert_encode_params {
    uint32_t struct_size;        /* sizeof(dnabert_encode_params) */
    int32_t add_special_tokens;  /* 1 (default): apply the post-processor, e.g. [CLS] x [SEP] */
    int32_t max_length;          /* > 0: truncate so that a result holds at most max_length tokens, special
                                    tokens included (as Hugging Face truncation does); 0 (default): none */
    int32_t uppercase;           /* 1: fold a-z to A-Z before encoding; 0 (default): encode as given, like
                                    Hugging Face (a lower-case base is then an [UNK]) */
    int32_t n_threads;           /* batch calls: worker threads, 0 (default) = all cores */
} dnabert_encode_params;

DNABERT_API dnabert_encode_params dnabert_encode_default_params(void);

/* Upper bound on the number of tokens that encoding `seq_len` bytes can produce with these params.
 * A buffer of this many entries always suffices for dnabert_encode. */
DNABERT_API int dnabert_tokenizer_max_tokens(const dnabert_tokenizer *tok, size_t seq_len, const dnabert_encode_params *params,
                                 size_t *out);

/* Encode one sequence (any length: a whole chromosome works).
 *  ids      - receives the token ids (capacity entries)
 *  offsets  - NULL, or 2 * capacity entries receiving [start, end) byte offsets of each token in `seq`
 *             (special tokens get [0, 0)), so tokens map back to genome positions
 *  n_tokens - receives the number of tokens; if it exceeds capacity the call returns
 *             DNABERT_ERR_BUFFER_TOO_SMALL and writes nothing else.
 * params may be NULL for the defaults. */
DNABERT_API int dnabert_encode(const dnabert_tokenizer *tok, const char *seq, size_t len, const dnabert_encode_params *params,
                   int32_t *ids, int64_t *offsets, size_t capacity, size_t *n_tokens);

/* Encode n sequences in parallel into one flat buffer (ragged layout).
 *  seqs/lens  - n sequences and their lengths in bytes
 *  ids        - capacity entries; sequence i's tokens are ids[row_starts[i] .. row_starts[i+1])
 *  offsets    - NULL or 2 * capacity entries, as for dnabert_encode
 *  row_starts - n + 1 entries
 * If the total exceeds capacity: DNABERT_ERR_BUFFER_TOO_SMALL, with row_starts[n] = the total needed. */
DNABERT_API int dnabert_encode_batch(const dnabert_tokenizer *tok, const char *const *seqs, const size_t *lens, size_t n,
                         const dnabert_encode_params *params, int32_t *ids, int64_t *offsets, size_t capacity,
                         int64_t *row_starts);

/* Encode n sequences in parallel into an n x row_len matrix (row-major): each row is truncated to row_len
 * tokens (special tokens kept, as Hugging Face truncation does) and padded with the [PAD] id.
 *  attention_mask - NULL or n * row_len entries: 1 for a real token, 0 for padding
 *  lengths        - NULL or n entries: the unpadded length of each row */
DNABERT_API int dnabert_encode_batch_padded(const dnabert_tokenizer *tok, const char *const *seqs, const size_t *lens, size_t n,
                                const dnabert_encode_params *params, size_t row_len, int32_t *ids,
                                int32_t *attention_mask, int32_t *lengths);

/* Decode ids back to a DNA string: the tokens' strings concatenated (no spaces), special tokens skipped
 * when skip_special_tokens is non-zero. The text goes to buf (NUL-terminated when it fits); *len receives
 * its length; DNABERT_ERR_BUFFER_TOO_SMALL when cap < *len + 1. An id outside the vocabulary is an error. */
DNABERT_API int dnabert_decode(const dnabert_tokenizer *tok, const int32_t *ids, size_t n, int skip_special_tokens, char *buf,
                   size_t cap, size_t *len);

/* ---- tokenizer training -------------------------------------------------------------------------- */

/* How training treats letters other than upper-case A, C, G, T. Encoding never changes input. */
#define DNABERT_CASE_UPPER 0 /* default: a-z are folded to A-Z */
#define DNABERT_CASE_KEEP 1  /* lower case stays distinct (and is then cut out per non_acgt) */

#define DNABERT_NONACGT_SPLIT 0 /* default: any other character ends the current word and is dropped */
#define DNABERT_NONACGT_KEEP 1  /* IUPAC codes (N, R, Y, ...) stay in words and join the alphabet */

typedef struct dnabert_bpe_train_params {
    uint32_t struct_size;       /* sizeof(dnabert_bpe_train_params) */
    int32_t vocab_size;         /* final vocabulary size including the 5 special tokens (default 4096) */
    int32_t min_frequency;      /* a pair must occur at least this often to be merged (default 2) */
    int32_t max_token_length;   /* longest token in bases, 0 = unlimited (default 0) */
    int32_t word_length;        /* records are cut into words of at most this many bases (default: see README) */
    int32_t case_policy;        /* DNABERT_CASE_* */
    int32_t non_acgt_policy;    /* DNABERT_NONACGT_* */
    int32_t n_threads;          /* 0 = all cores */
    int64_t max_bases;          /* read at most this many bases from the inputs, 0 = all */
    dnabert_progress_fn progress; /* NULL or a callback */
    void *progress_user_data;
} dnabert_bpe_train_params;

DNABERT_API dnabert_bpe_train_params dnabert_bpe_train_default_params(void);

/* Train a DNABERT-2-style BPE tokenizer ([UNK] [CLS] [SEP] [PAD] [MASK] = ids 0-4, then the alphabet, then
 * merges; Whitespace pre-tokenizer; [CLS] $A [SEP] post-processor) on FASTA files (plain or gzip,
 * detected from content; multi-record; any line endings). */
DNABERT_API int dnabert_tokenizer_train(const char *const *paths, size_t n_paths, const dnabert_bpe_train_params *params,
                                        dnabert_tokenizer **out);

/* Same, on n in-memory sequences. */
DNABERT_API int dnabert_tokenizer_train_from_sequences(const char *const *seqs, const size_t *lens, size_t n,
                                                       const dnabert_bpe_train_params *params, dnabert_tokenizer **out);


/* ---- BLAS ------------------------------------------------------------------------------------------ */

/* Which BLAS the library runs: library path, OpenBLAS core type (kernel), thread count and how the kernel was
 * chosen, as one line of text into buf (NUL-terminated). Loads OpenBLAS on first use: when the user has not set
 * OPENBLAS_CORETYPE, the library picks the core type from the CPU's features so the fast kernel runs. */
DNABERT_API int dnabert_blas_info(char *buf, size_t cap, size_t *len);

/* Benchmark of the library's own sgemm: *gflops = GFLOP/s (2·n³ per product) of an n×n by n×n float32 product
 * (1 <= n <= 8192), split by rows across threads workers (0 = all cores) each running sgemm single-threaded, as
 * the model's layers do; the best of the products run in about half a second after one warm-up. */
DNABERT_API int dnabert_blas_benchmark(int n, int threads, double *gflops);

/* ---- model ------------------------------------------------------------------------------------------ */
typedef struct dnabert_model dnabert_model;

/* Load a model folder: config.json + model.safetensors (or pytorch_model.bin, read without executing any
 * pickle code) + tokenizer.json (optional, needed by dnabert_embed). */
DNABERT_API int dnabert_model_load(const char *dir, dnabert_model **out);

/* A new model with random weights (normal(0, initializer_range)) for a config.json text; tokenizer optional
 * (copied). */
DNABERT_API int dnabert_model_create(const char *config_json, size_t len, const dnabert_tokenizer *tok, uint64_t seed,
                         dnabert_model **out);

/* Write config.json + model.safetensors (+ tokenizer.json when the model has one) into dir (created if needed). */
DNABERT_API int dnabert_model_save(const dnabert_model *model, const char *dir);

DNABERT_API void dnabert_model_free(dnabert_model *model);

typedef struct dnabert_model_info {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_model_info) */
    int32_t vocab_size, hidden_size, num_layers, num_heads, intermediate_size, num_labels;
    int32_t has_mlm_head, has_pooler, has_tokenizer;
    int64_t num_parameters;
    int32_t precision;          /* appended (int8): DNABERT_PRECISION_FP32 or DNABERT_PRECISION_INT8 */
} dnabert_model_info;
DNABERT_API int dnabert_model_get_info(const dnabert_model *model, dnabert_model_info *out);

/* Reduced precision. DNABERT_PRECISION_INT8: the four linears of each encoder layer run with int8 weights (one
 * scale per output channel, symmetric, after SmoothQuant-style per-input-channel smoothing calibrated when the
 * model is quantized) and 8-bit activations quantized per row at run time (asymmetric: each row's own scale and
 * zero point, so that its whole range spans the 256 steps), accumulating in
 * int32 (AVX-512 VNNI when the CPU has it, else AVX2, else a portable path; all give the same numbers; the
 * environment variable DNABERT_INT8_KERNEL=generic or =avx2 forces a slower path). LayerNorm, softmax, GELU, residuals, attention
 * and the heads stay float32. Every inference call works on a quantized model; dnabert_model_save writes the
 * int8 layout (README "Reduced precision") and dnabert_model_load reads it back. An int8 model holds no float32
 * copy of its quantized weights: fine-tuning it trains LoRA adapters on the frozen int8 base (QLoRA-style; the
 * saved adapters load on the float32 model) or, with full fine-tuning, float32 copies of the dequantized weights;
 * pretraining it is DNABERT_ERR_INVALID_ARGUMENT. */
enum { DNABERT_PRECISION_FP32 = 0, DNABERT_PRECISION_INT8 = 1 };

/* A new model handle at `precision` (free with dnabert_model_free). DNABERT_ERR_INVALID_ARGUMENT for an unknown
 * precision or a model that is already int8 (quantize the float32 model; int8 -> fp32 is not supported).
 * Thread-safe with respect to inference on `model`. */
DNABERT_API int dnabert_model_quantize(const dnabert_model *model, int32_t precision, dnabert_model **out);

/* The int8 kernel in use: "avx512vnni", "avx2" or "generic" (static string). */
DNABERT_API const char *dnabert_int8_kernel(void);

/* The arithmetic of an int8 model's attention tile products (S = Q K^T and P V; softmax stays float32) on this CPU:
 * "bf16" (inputs rounded to bfloat16, float32 sums: CPUs with AVX512_BF16 that run it faster than float32, i.e.
 * AMD Zen 4 on) or "float32" (static string). DNABERT_INT8_ATTENTION=float32 or =bf16, set before the library
 * loads, overrides it (bf16 only where the CPU has AVX512_BF16). Float32 models always use float32. */
DNABERT_API const char *dnabert_int8_attention(void);

/* For tests and benchmarks: y = x W^T (+ bias) through the library's int8 linear (W [out, in] quantized per
 * output channel, x [rows, in] per row), `repeats` times; the best wall time in *seconds (may be NULL). */
DNABERT_API int dnabert_int8_linear(const float *x, size_t rows, size_t in_features, const float *w,
                                    size_t out_features, const float *bias, int32_t n_threads, int32_t repeats,
                                    float *y, double *seconds);
/* dnabert_int8_linear with SmoothQuant smoothing (what a quantized model's linears do): smooth [in_features] (each
 * finite and > 0, else DNABERT_ERR_INVALID_ARGUMENT; NULL = none). W[n, j] * smooth[j] is quantized per output
 * channel and each row of x is multiplied by 1 / smooth[j] (float32) before its quantization. */
DNABERT_API int dnabert_int8_linear_smoothed(const float *x, size_t rows, size_t in_features, const float *w,
                                             size_t out_features, const float *smooth, const float *bias,
                                             int32_t n_threads, int32_t repeats, float *y, double *seconds);

/* The model's config.json text into buf (size query as for dnabert_tokenizer_to_json). */
DNABERT_API int dnabert_model_config_json(const dnabert_model *model, char *buf, size_t cap, size_t *len);

/* A new handle to the model's tokenizer (free it with dnabert_tokenizer_free); DNABERT_ERR_NOT_FOUND if none. */
DNABERT_API int dnabert_model_tokenizer(const dnabert_model *model, dnabert_tokenizer **out);

typedef struct dnabert_forward_params {
    uint32_t struct_size; /* sizeof(dnabert_forward_params) */
    int32_t n_threads;    /* 0 (default) = all cores */
} dnabert_forward_params;
DNABERT_API dnabert_forward_params dnabert_forward_default_params(void);

/* Inference calls below are thread-safe: several threads may run them on one model at once.
 * ids and attention_mask are batch x length, row-major; attention_mask NULL means no padding (all ones);
 * mask values must be 0 or 1. */

/* Last hidden state, batch x length x hidden; positions with mask 0 are zero (as the reference). */
DNABERT_API int dnabert_forward(const dnabert_model *model, const int32_t *ids, const int32_t *attention_mask, size_t batch,
                    size_t length, const dnabert_forward_params *params, float *hidden);

/* Embedding output and every layer's output: (num_layers + 1) x batch x length x hidden. */
DNABERT_API int dnabert_forward_all_hidden(const dnabert_model *model, const int32_t *ids, const int32_t *attention_mask,
                               size_t batch, size_t length, const dnabert_forward_params *params, float *hidden);

/* Attention probabilities of one layer (0-based): batch x heads x length x length. Quadratic memory: meant for
 * short inputs (length <= 4096). */
DNABERT_API int dnabert_attention_map(const dnabert_model *model, const int32_t *ids, const int32_t *attention_mask,
                          size_t batch, size_t length, int32_t layer, const dnabert_forward_params *params,
                          float *probs);

/* Masked-language-model logits, batch x length x vocab_size (needs the MLM head). */
DNABERT_API int dnabert_mlm_logits(const dnabert_model *model, const int32_t *ids, const int32_t *attention_mask, size_t batch,
                       size_t length, const dnabert_forward_params *params, float *logits);

#define DNABERT_POOL_MEAN 0 /* mean of the sequence's token states ([CLS]/[SEP] excluded), mask-aware */
#define DNABERT_POOL_CLS 1  /* the [CLS] state */
#define DNABERT_POOL_AUTO (-1) /* fine-tuning only (since 0.2.0): mean for a strand-symmetric run, [CLS] otherwise */

typedef struct dnabert_embed_params {
    uint32_t struct_size; /* sizeof(dnabert_embed_params) */
    int32_t pooling;      /* DNABERT_POOL_MEAN (default) or DNABERT_POOL_CLS */
    int32_t max_length;   /* tokens per window incl. [CLS]/[SEP] (default 512); longer sequences are embedded by
                             overlapping windows, stitched back (each token's state averaged over the windows
                             that contain it) */
    int32_t overlap;      /* tokens shared by consecutive windows (default 64) */
    int32_t batch_size;   /* windows per forward pass (default 16) */
    int32_t uppercase;    /* fold a-z to A-Z before tokenizing (default 1: soft-masked genomes embed as DNA) */
    int32_t n_threads;    /* 0 = all cores */
    dnabert_progress_fn progress; /* NULL or a callback (units: sequences) */
    void *progress_user_data;
    /* appended in 0.2 (issue 15): */
    int32_t distributed;  /* 1: this process is one rank of `mpirun -np N ...`; every rank calls dnabert_embed with
                             the same sequences, forward batch j of the windows runs on rank j mod N and every rank
                             receives all n rows, identical to a one-process call (0) */
} dnabert_embed_params;
DNABERT_API dnabert_embed_params dnabert_embed_default_params(void);

/* One embedding per sequence (n x hidden) with the model's own tokenizer. */
DNABERT_API int dnabert_embed(const dnabert_model *model, const char *const *seqs, const size_t *lens, size_t n,
                  const dnabert_embed_params *params, float *out);

/* Convert a PyTorch pytorch_model.bin into model.safetensors (same tensor names). */
DNABERT_API int dnabert_convert_pytorch(const char *bin_path, const char *safetensors_path);


/* ---- pretraining (masked-language modelling) ------------------------------------------------------ */
typedef struct dnabert_pretrain_params {
    uint32_t struct_size;       /* sizeof(dnabert_pretrain_params) */
    int32_t steps;              /* optimizer steps (default 1000) */
    int32_t batch_size;         /* sequences per micro-batch (32) */
    int32_t grad_accum;         /* micro-batches per step (1) */
    int32_t seq_len;            /* tokens per sequence, [CLS]/[SEP] included (128) */
    int32_t warmup_steps;       /* linear warm-up, then linear decay to 0; -1 (default) = 6% of steps */
    int32_t eval_every;         /* validation every N steps and at the end (100; 0 = only at the end) */
    int32_t checkpoint_every;   /* checkpoint every N steps and at the end (500; 0 = only at the end) */
    int32_t keep_checkpoints;   /* newest checkpoints kept (3; 0 = all) */
    int32_t validation_windows; /* held-out windows from the end of each record (256) */
    int32_t drop_windows_with_n; /* 1 (default): windows containing N are skipped */
    int32_t reverse_complement; /* 1 (default): half the windows are reverse-complemented */
    int32_t resume;             /* 1: continue from the newest complete checkpoint in out_dir (0) */
    int32_t n_threads;          /* 0 = all cores */
    double learning_rate;       /* peak (5e-4) */
    double dropout;             /* hidden dropout; < 0 (default) = the config's */
    double max_grad_norm;       /* global-norm clipping, 0 = none (1.0) */
    double beta1, beta2, eps, weight_decay; /* AdamW (0.9, 0.98, 1e-6, 1e-5: DNABERT-2's) */
    uint64_t seed;              /* data, masks, dropout (0) */
    /* appended in 0.2 (a caller's older struct_size keeps the default): */
    int32_t distributed;        /* 1: data-parallel over MPI, the process being one rank of `mpirun -np N ...`
                                   (Open MPI's libmpi.so.40 is loaded at run time, DNABERT_ERR_UNSUPPORTED when
                                   missing; without a launcher a single rank with a warning). Every rank creates
                                   the trainer with the same arguments and calls step/run/evaluate/save the same
                                   number of times (they are collective); micro-batch k of a step runs on rank
                                   k mod N, so N ranks x grad_accum g equal one process with grad_accum N*g; rank 0
                                   alone writes files. (0) */
} dnabert_pretrain_params;
DNABERT_API dnabert_pretrain_params dnabert_pretrain_default_params(void);

typedef struct dnabert_pretrain_metrics {
    uint32_t struct_size;       /* the caller's sizeof for dnabert_trainer_step; the library's in a callback */
    int64_t step, total_steps;
    int64_t tokens;             /* tokens seen so far */
    double loss;                /* MLM loss of this step */
    double learning_rate, grad_norm;
    double tokens_per_second, elapsed_seconds, eta_seconds;
    double validation_loss, validation_accuracy; /* NaN when this step was not evaluated */
} dnabert_pretrain_metrics;

/* Called after each step; return non-zero to stop (a checkpoint is written first, and run returns
 * DNABERT_ERR_CANCELLED). */
typedef int (*dnabert_pretrain_callback)(void *user_data, const dnabert_pretrain_metrics *metrics);

typedef struct dnabert_trainer dnabert_trainer;

/* A trainer that pretrains `model` in place (it needs a tokenizer and the MLM head) on FASTA files, writing
 * out_dir/checkpoint-<step>/, out_dir/metrics.jsonl and, at the end of run, out_dir/model/. While a trainer
 * exists, do not use the model from other threads. */
DNABERT_API int dnabert_trainer_create(dnabert_model *model, const char *const *files, size_t n_files, const char *out_dir,
                           const dnabert_pretrain_params *params, dnabert_trainer **out);
/* One optimizer step (gradients of grad_accum micro-batches → clipping → AdamW). */
DNABERT_API int dnabert_trainer_step(dnabert_trainer *trainer, dnabert_pretrain_metrics *metrics);
/* MLM loss and masked-token accuracy on the fixed validation batches. */
DNABERT_API int dnabert_trainer_evaluate(dnabert_trainer *trainer, double *loss, double *accuracy);
/* Write a checkpoint of the current step. */
DNABERT_API int dnabert_trainer_save_checkpoint(dnabert_trainer *trainer);
/* Run to the last step with validation, checkpoints and metrics on schedule; callback may be NULL. */
DNABERT_API int dnabert_trainer_run(dnabert_trainer *trainer, dnabert_pretrain_callback callback, void *user_data);
DNABERT_API void dnabert_trainer_free(dnabert_trainer *trainer);


/* ---- fine-tuning for sequence classification (LoRA or full) ---------------------------------------- */
/* Labelled sequences (GUE CSV `sequence,label`, TSV, or arrays). Labels are inferred from the whole column
 * unless told: `0;2` lists → multi-label, integers → class indices, other numbers → regression, other text →
 * class names (sorted; kept for predictions). Dev/test data must be read with the training set as `like`. */
typedef struct dnabert_dataset dnabert_dataset;
#define DNABERT_PROBLEM_AUTO 0         /* infer from the labels */
#define DNABERT_PROBLEM_SINGLE_LABEL 1 /* one class per sequence: cross-entropy */
#define DNABERT_PROBLEM_MULTI_LABEL 2  /* any subset of the labels: binary cross-entropy */
#define DNABERT_PROBLEM_REGRESSION 3   /* one real target: mean squared error */
/* Their names, one spelling in the CLI, Python, R and config.json (Hugging Face's): "single_label_classification",
 * "multi_label_classification", "regression". */
/* `like` (may be NULL) gives the label mapping of a training set; problem_type is a DNABERT_PROBLEM_*. */
DNABERT_API int dnabert_dataset_read(const char *path, const dnabert_dataset *like, int32_t problem_type, dnabert_dataset **out);
/* n sequences (pointer + length each) with labels as NUL-terminated strings, as a CSV label field would be. */
DNABERT_API int dnabert_dataset_from_arrays(const char *const *seqs, const size_t *lens, const char *const *labels, size_t n,
                                const dnabert_dataset *like, int32_t problem_type, dnabert_dataset **out);
typedef struct dnabert_dataset_info {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_dataset_info) */
    int64_t n_sequences;
    int32_t problem_type;       /* DNABERT_PROBLEM_* */
    int32_t num_labels;         /* classes, labels, or 1 for regression */
    int32_t has_label_names;    /* 1 when the labels were class names */
} dnabert_dataset_info;
DNABERT_API int dnabert_dataset_get_info(const dnabert_dataset *ds, dnabert_dataset_info *out);
/* Label name of class `index` (its number when the labels were indices). */
DNABERT_API int dnabert_dataset_label_name(const dnabert_dataset *ds, int32_t index, char *buf, size_t cap, size_t *len);
/* Labels as the loss takes them: n (single-label class index, regression target) or n × num_labels (0/1). */
DNABERT_API int dnabert_dataset_labels(const dnabert_dataset *ds, float *out, size_t cap);
DNABERT_API void dnabert_dataset_free(dnabert_dataset *ds);

typedef struct dnabert_finetune_params {
    uint32_t struct_size;       /* sizeof(dnabert_finetune_params) */
    int32_t lora_r;             /* LoRA rank (8); 0 = full fine-tuning (every encoder weight trains) */
    double lora_alpha;          /* scaling alpha / r (32) */
    double lora_dropout;        /* dropout on the adapters' input (0.05) */
    const char *lora_targets;   /* comma-separated: Wqkv, attention.output.dense, gated_layers, wo;
                                   NULL (default since 0.2.0) = all four */
    int32_t pooling;            /* DNABERT_POOL_AUTO (default since 0.2.0): tied to the strand rule (reverse_complement
                                   below), DNABERT_POOL_MEAN when the run is strand-symmetric, DNABERT_POOL_CLS
                                   (tanh(pooler([CLS])), DNABERT-2's) otherwise; or either of them explicitly.
                                   dnabert_classifier_get_info reports the pooling used */
    double epochs;              /* passes over the training data (3) */
    int32_t max_steps;          /* > 0: this many optimizer steps instead of epochs (0) */
    int32_t batch_size;         /* sequences per micro-batch (32) */
    int32_t grad_accum;         /* micro-batches per step (1) */
    int32_t warmup_steps;       /* linear warm-up then decay; -1 (default) = min(50, 10% of the steps) */
    int32_t eval_every;         /* dev evaluation every N steps; 0 (default) = once per epoch; always at the end */
    int32_t max_length;         /* tokens incl. [CLS]/[SEP]; 0 (default) = longest training sequence, <= 512 */
    int32_t n_threads;          /* 0 = all cores */
    int32_t use_class_weights;  /* 1: single-label loss weighted by inverse class frequency (0) */
    double learning_rate;       /* peak; 0 (default) = 1e-3 with LoRA, 3e-5 full (DNABERT-2's) */
    double dropout;             /* hidden and classifier dropout; < 0 (default) = the config's (0.1) */
    double max_grad_norm;       /* global-norm clipping, 0 = none (1.0) */
    double weight_decay;        /* AdamW (0.01; betas 0.9/0.999, eps 1e-8) */
    const char *select_by;      /* best dev checkpoint by "loss" (default, lowest) or accuracy, f1, mcc, precision,
                                   recall, pearson, spearman, r2 (highest) */
    uint64_t seed;              /* adapters/head init, shuffling, dropout (0) */
    int32_t reverse_complement; /* 1: strand-symmetric task (sequences from either strand): each training example is
                                   reverse-complemented with probability 1/2 when drawn, and the classifier scores by
                                   the mean of both strands' probabilities. Not for strand-specific tasks. 0: off;
                                   -1 (default): auto, on when the training sequences' 3-mer counts are strand-
                                   symmetric (sum |n(w) - n(revcomp w)| / total < 0.05: sequences from a random
                                   strand), off for oriented windows; dnabert_classifier_get_info reports the choice */
    /* appended in 0.2.0 */
    const char *out_dir;        /* NULL (default) or an output folder (created if needed) that the run manages:
                                   metrics.jsonl (one line per step, the keys of pretraining's metrics.jsonl, dev
                                   figures under "dev"), the classifier saved atomically after every dev evaluation
                                   that improves on the best so far (so a killed run leaves its best classifier),
                                   and at the end of dnabert_finetuner_run the kept classifier, loss.svg; see also
                                   dnabert_finetuner_test */
    int32_t distributed;        /* appended in 0.2 (issue 15): 1 = data-parallel over MPI, the process being one
                                   rank of `mpirun -np N ...` (see dnabert_pretrain_params.distributed); micro-batch
                                   k of a step on rank k mod N, dev evaluation sharded, rank 0 writes out_dir (0) */
} dnabert_finetune_params;
DNABERT_API dnabert_finetune_params dnabert_finetune_default_params(void);

typedef struct dnabert_finetune_metrics {
    uint32_t struct_size;       /* the caller's sizeof for dnabert_finetuner_step; the library's in a callback */
    int64_t step, total_steps;
    double epoch;               /* fractional epochs done */
    double loss;                /* training loss of this step */
    double learning_rate, grad_norm;
    double tokens_per_second, elapsed_seconds, eta_seconds;
    /* dev figures after this step; NaN when it was not evaluated (or not defined for the problem type) */
    double dev_loss, dev_accuracy, dev_f1, dev_mcc, dev_precision, dev_recall, dev_pearson, dev_spearman;
} dnabert_finetune_metrics;
/* Called after each step; return non-zero to stop (the classifier keeps the best parameters so far). */
typedef int (*dnabert_finetune_callback)(void *user_data, const dnabert_finetune_metrics *metrics);

typedef struct dnabert_classifier dnabert_classifier;
typedef struct dnabert_finetuner dnabert_finetuner;

/* A fine-tuning run of a new classifier on `base` (which is not modified and must outlive the run): LoRA adapters
 * + head, or a trainable copy of the whole encoder + head. dev may be NULL (then no best-checkpoint selection). */
DNABERT_API int dnabert_finetuner_create(const dnabert_model *base, const dnabert_dataset *train, const dnabert_dataset *dev,
                             const dnabert_finetune_params *params, dnabert_finetuner **out);
/* One optimizer step, with the dev evaluation when due. */
DNABERT_API int dnabert_finetuner_step(dnabert_finetuner *ft, dnabert_finetune_metrics *metrics);
/* To the last step with dev evaluations on schedule, then the best dev parameters are restored. */
DNABERT_API int dnabert_finetuner_run(dnabert_finetuner *ft, dnabert_finetune_callback callback, void *user_data);
/* A handle to the run's classifier (the same object: it keeps training if the run goes on). */
DNABERT_API int dnabert_finetuner_classifier(const dnabert_finetuner *ft, dnabert_classifier **out);
typedef struct dnabert_finetuner_info {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_finetuner_info) */
    int64_t step, total_steps, steps_per_epoch;
    int64_t trainable_parameters;
    int32_t max_length;
    double learning_rate;
    int64_t best_step;          /* -1 before the first dev evaluation */
    double best_value;          /* the select_by value at best_step */
} dnabert_finetuner_info;
DNABERT_API int dnabert_finetuner_get_info(const dnabert_finetuner *ft, dnabert_finetuner_info *out);
DNABERT_API void dnabert_finetuner_free(dnabert_finetuner *ft);

/* Load a classifier saved by dnabert_classifier_save: a LoRA adapter directory in Hugging Face PEFT format
 * (adapter_config.json + adapter_model.safetensors, also as written by peft for DNABERT-2) on `base`, or a full
 * fine-tuned model folder (base may then be NULL). */
DNABERT_API int dnabert_classifier_load(const dnabert_model *base, const char *dir, dnabert_classifier **out);
/* LoRA: a PEFT adapter (+ dnabert_classifier.json with problem type, pooling, label names, max length);
 * full: a Hugging Face BertForSequenceClassification folder with config.json, model.safetensors, tokenizer.json. */
DNABERT_API int dnabert_classifier_save(const dnabert_classifier *clf, const char *dir);
typedef struct dnabert_classifier_info {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_classifier_info) */
    int32_t num_labels;
    int32_t problem_type;       /* DNABERT_PROBLEM_* */
    int32_t pooling;            /* DNABERT_POOL_* */
    int32_t lora_r;             /* 0 = fully fine-tuned */
    double lora_alpha;
    int64_t trainable_parameters;
    int32_t max_length;         /* token length used in training (predict truncates to it) */
    int32_t has_label_names;
    int32_t reverse_complement; /* 1: scores are the mean over both strands (see dnabert_finetune_params) */
} dnabert_classifier_info;
DNABERT_API int dnabert_classifier_get_info(const dnabert_classifier *clf, dnabert_classifier_info *out);
DNABERT_API int dnabert_classifier_label_name(const dnabert_classifier *clf, int32_t index, char *buf, size_t cap, size_t *len);
/* Scores of n raw sequences into out (n × num_labels): class probabilities (softmax), label probabilities
 * (sigmoid, multi-label) or regression outputs. Upper-cased and truncated to max_length tokens. params may be
 * NULL (n_threads = all cores). */
DNABERT_API int dnabert_classifier_predict(const dnabert_classifier *clf, const char *const *seqs, const size_t *lens,
                                           size_t n, const dnabert_forward_params *params, float *out);
/* Inputs longer than a classifier's max_length (appended in 0.2.0): dnabert_classifier_predict truncates them
 * (as the classifier was trained); dnabert_classifier_predict_ex says how many were too long (a binding warns)
 * and can instead score overlapping windows of max_length tokens (each with its own [CLS]/[SEP]) and pool them. */
#define DNABERT_LONG_TRUNCATE 0        /* keep the first max_length tokens (counted in the report) */
#define DNABERT_LONG_WINDOWS 1         /* sliding windows, scores pooled per sequence */
#define DNABERT_WINDOW_POOL_MEAN 0     /* mean of the windows' probabilities / outputs */
#define DNABERT_WINDOW_POOL_MAX 1      /* largest window probability per label (need not sum to 1) */
typedef struct dnabert_predict_params {
    uint32_t struct_size;       /* sizeof(dnabert_predict_params) */
    int32_t n_threads;          /* 0 = all cores */
    int32_t batch_size;         /* sequences (windows) per forward pass (32) */
    int32_t max_length;         /* tokens per input incl. [CLS]/[SEP]; 0 (default) = the classifier's training length */
    int32_t long_inputs;        /* DNABERT_LONG_TRUNCATE (default) or DNABERT_LONG_WINDOWS */
    int32_t window_overlap;     /* tokens shared by consecutive windows; -1 (default) = a quarter of the window */
    int32_t window_pooling;     /* DNABERT_WINDOW_POOL_MEAN (default) or DNABERT_WINDOW_POOL_MAX */
} dnabert_predict_params;
DNABERT_API dnabert_predict_params dnabert_predict_default_params(void);
typedef struct dnabert_predict_report {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_predict_report) */
    int64_t n_long;             /* inputs with more tokens than max_length (truncated, or scored by windows) */
    int64_t n_windows;          /* windows scored per strand (= n when none was windowed) */
    int32_t longest_tokens;     /* tokens of the longest input, [CLS]/[SEP] included */
    int32_t max_length;         /* the token length used */
} dnabert_predict_report;
/* As dnabert_classifier_predict, with params (may be NULL: the defaults) and a report (may be NULL). A
 * strand-symmetric classifier averages both strands' pooled scores. */
DNABERT_API int dnabert_classifier_predict_ex(const dnabert_classifier *clf, const char *const *seqs, const size_t *lens,
                                              size_t n, const dnabert_predict_params *params, float *out,
                                              dnabert_predict_report *report);
/* Logits (batch × num_labels) of right-padded token ids, without dropout (forward strand only, also for a
 * reverse_complement classifier: token ids cannot be reverse-complemented). */
DNABERT_API int dnabert_classifier_logits(const dnabert_classifier *clf, const int32_t *ids, const int32_t *attention_mask,
                                          size_t batch, size_t length, const dnabert_forward_params *params, float *out);
typedef struct dnabert_eval_result {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_eval_result) */
    int64_t n;
    double loss;
    double accuracy, f1, mcc, precision, recall;  /* classification (macro averages, as scikit-learn); else NaN */
    double pearson, spearman, mse, r2;            /* regression; else NaN */
} dnabert_eval_result;
/* Loss and metrics on a labelled dataset (read with the training set as `like`). scores may be NULL, else it
 * receives n × num_labels scores as dnabert_classifier_predict. */
DNABERT_API int dnabert_classifier_evaluate(const dnabert_classifier *clf, const dnabert_dataset *data,
                                            const dnabert_forward_params *params, dnabert_eval_result *out, float *scores);
/* Evaluate `test` (read like the training data) with the classifier as it is now (after dnabert_finetuner_run:
 * the kept best parameters); out (may be NULL) receives the figures. With params.out_dir set, also writes
 * out_dir/test_metrics.json and out_dir/test_predictions.csv (id, decided label, one score column per label). */
DNABERT_API int dnabert_finetuner_test(dnabert_finetuner *ft, const dnabert_dataset *test, dnabert_eval_result *out);
/* Read labelled data (CSV/TSV) with a classifier's label mapping, e.g. to evaluate a loaded classifier. */
DNABERT_API int dnabert_classifier_read_dataset(const dnabert_classifier *clf, const char *path, dnabert_dataset **out);
/* n sequences with a classifier's label mapping, as dnabert_dataset_from_arrays with `like` = the classifier's
 * training data: labels NULL gives an unlabelled dataset (for prediction), else n label strings. */
DNABERT_API int dnabert_classifier_dataset_from_arrays(const dnabert_classifier *clf, const char *const *seqs,
                                                       const size_t *lens, const char *const *labels, size_t n,
                                                       dnabert_dataset **out);
/* A standalone model (BertForSequenceClassification layout) with the LoRA adapters merged into the weights. It keeps
 * the classifier's pooling, strand symmetry, label names, problem type and max length: dnabert_model_save writes
 * them as dnabert_classifier.json (and id2label/problem_type into config.json), so dnabert_classifier_load(NULL, dir)
 * gives the same probabilities. */
DNABERT_API int dnabert_classifier_merged_model(const dnabert_classifier *clf, dnabert_model **out);
DNABERT_API void dnabert_classifier_free(dnabert_classifier *clf);

/* The label decision every binding and the CLI use, on n rows of num_labels scores (as dnabert_classifier_predict
 * writes them): DNABERT_PROBLEM_SINGLE_LABEL → out[i] = the most probable class (argmax; the first on ties), n
 * entries; DNABERT_PROBLEM_MULTI_LABEL → out[i * num_labels + k] = 1 when score >= 0.5 else 0. Regression has
 * no decision (DNABERT_ERR_INVALID_ARGUMENT). A NaN score is an error. */
DNABERT_API int dnabert_decide_labels(int32_t problem_type, const float *scores, size_t n, int32_t num_labels,
                                      int32_t *out);


/* ---- FASTA / FASTQ records (appended in 0.2.0) ------------------------------------------------------ */
/* A streaming reader of FASTA or FASTQ files, plain or gzip (detected from the content, not the name), so a
 * program can feed the library without its own parser or zlib. Rules: any line ending; blank lines ignored;
 * whitespace inside sequence lines dropped; multi-line FASTQ allowed; sequence data before the first header
 * is one record with an empty name; bytes are returned as in the file (no case folding). Memory is bounded by
 * a 1 MiB input buffer plus the current record, whatever the file size.
 * One reader is used by one thread at a time (calls on one reader are serialised by a lock); separate readers
 * are independent. */
typedef struct dnabert_fasta_reader dnabert_fasta_reader;
typedef struct dnabert_fasta_record {
    uint32_t struct_size;       /* set by the caller: sizeof(dnabert_fasta_record) */
    const char *name;           /* first word after '>' or '@' (NUL-terminated, also name_len bytes) */
    size_t name_len;
    const char *description;    /* rest of the header line, trimmed ("" when none) */
    size_t description_len;
    const char *sequence;       /* residues (NUL-terminated) */
    size_t sequence_len;
    const char *quality;        /* FASTQ quality string, sequence_len bytes; "" (quality_len 0) for FASTA */
    size_t quality_len;
} dnabert_fasta_record;
/* Open a file (DNABERT_ERR_IO if it cannot be opened). */
DNABERT_API int dnabert_fasta_open(const char *path, dnabert_fasta_reader **out);
/* The next record: *got = 1 and *record filled, or *got = 0 at the end of the file. The record's pointers
 * belong to the reader and stay valid until the next dnabert_fasta_next or dnabert_fasta_close on it: copy what
 * you keep. A malformed file gives DNABERT_ERR_FORMAT, a corrupt gzip stream DNABERT_ERR_FORMAT or _IO. */
DNABERT_API int dnabert_fasta_next(dnabert_fasta_reader *reader, dnabert_fasta_record *record, int32_t *got);
DNABERT_API void dnabert_fasta_close(dnabert_fasta_reader *reader);

/* ---- renamed in 0.2.0: the old names, for source compatibility ---------------------------------------- */
#ifndef DNABERT_NO_DEPRECATED
typedef dnabert_bpe_train_params dnabert_train_params;      /* tokenizer training (BPE) parameters */
typedef dnabert_pretrain_metrics dnabert_train_metrics;     /* pretraining metrics */
typedef dnabert_pretrain_callback dnabert_train_callback;   /* pretraining callback */
DNABERT_API DNABERT_DEPRECATED("use dnabert_bpe_train_default_params")
dnabert_bpe_train_params dnabert_train_default_params(void);
#endif

#ifdef __cplusplus
}
#endif

#endif /* DNABERT_H */
