// dnabert.hpp - header-only C++17 wrapper of libdnabert's C API (dnabert.h).
//
//  - RAII: every handle (tokenizer, model, trainer, dataset, finetuner, classifier, FASTA reader) is a move-only
//    class that frees its C handle in its destructor.
//  - Errors: a failing call throws dnabert::error, carrying the status code (status(), a DNABERT_ERR_* value)
//    and the library's message (what()).
//  - Inputs: std::string_view (or pointer + length) for sequences; batches as std::vector<std::string_view> or,
//    with C++20, std::span<const std::string_view>; token id matrices as pointer + sizes (or std::span).
//  - Outputs: std::vector, row-major as in the C API.
//
// Thread model. A tokenizer and a model may be used by several threads at once (inference calls are thread-safe);
// a trainer, finetuner or FASTA reader by one thread at a time. Every call that computes takes a thread count
// (n_threads in the C parameter structs, `threads` here; 0 = all cores). When your program parallelises itself
// (a thread pool of workers each calling the library), give each call threads = 1, otherwise every worker starts
// all-core work and the cores are oversubscribed. Prefer batches: one call with many records (embed, predict,
// encode_batch) is faster than one call per record, because the library pads and runs them as matrix products
// (measured in the README, "C and C++").
//
// Link with -ldnabert (pkg-config dnabert). Needs C++17; std::span overloads appear when compiled as C++20.
#ifndef DNABERT_HPP
#define DNABERT_HPP

#include <dnabert.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if __cplusplus >= 202002L && __has_include(<span>)
#include <span>
#define DNABERT_HPP_SPAN 1
#endif

namespace dnabert {

/// A failed library call: status() is the DNABERT_ERR_* code, what() the library's message.
class error : public std::runtime_error {
public:
    error(int status, const std::string &message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

namespace detail {
inline void check(int status) {
    if (status != DNABERT_OK) {
        const char *m = dnabert_last_error();
        throw error(status, m && *m ? std::string(m) : "dnabert: error " + std::to_string(status));
    }
}

template <typename T, void (*Free)(T *)> struct deleter {
    void operator()(T *p) const noexcept { Free(p); }
};

/// A string produced by a C function with the (buf, cap, len) size-query convention.
template <typename F> std::string query_string(F &&f) {
    size_t len = 0;
    int rc = f(nullptr, 0, &len);
    if (rc != DNABERT_ERR_BUFFER_TOO_SMALL && rc != DNABERT_OK) check(rc);
    std::string s(len + 1, '\0');
    check(f(s.data(), s.size(), &len));
    s.resize(len);
    return s;
}

/// Pointers and lengths of a batch of string views, as the C batch calls take them.
struct batch {
    std::vector<const char *> ptrs;
    std::vector<size_t> lens;
    template <typename It> batch(It first, It last) {
        for (; first != last; ++first) {
            std::string_view s(*first);
            ptrs.push_back(s.data());
            lens.push_back(s.size());
        }
    }
    size_t size() const noexcept { return ptrs.size(); }
};

inline std::vector<const char *> c_strings(const std::vector<std::string> &v) {
    std::vector<const char *> out;
    out.reserve(v.size());
    for (const auto &s : v) out.push_back(s.c_str());
    return out;
}
} // namespace detail

inline std::string version() { return dnabert_version(); }

/// Parameter structs with the library's defaults (modify fields, then pass them to a call).
inline dnabert_encode_params encode_params() { return dnabert_encode_default_params(); }
inline dnabert_embed_params embed_params() { return dnabert_embed_default_params(); }
inline dnabert_forward_params forward_params(int32_t threads = 0) {
    dnabert_forward_params p = dnabert_forward_default_params();
    p.n_threads = threads;
    return p;
}
inline dnabert_pretrain_params pretrain_params() { return dnabert_pretrain_default_params(); }
inline dnabert_finetune_params finetune_params() { return dnabert_finetune_default_params(); }
inline dnabert_bpe_train_params bpe_train_params() { return dnabert_bpe_train_default_params(); }

// ---- tokenizer ----------------------------------------------------------------------------------------------

/// Token ids of one sequence, with [start, end) byte offsets of each token (special tokens [0, 0)).
struct encoding {
    std::vector<int32_t> ids;
    std::vector<int64_t> offsets; // 2 per token
};

/// A padded batch: rows × row_len ids and attention mask (row-major), and each row's unpadded length.
struct padded_batch {
    size_t rows = 0, row_len = 0;
    std::vector<int32_t> ids, attention_mask, lengths;
};

class tokenizer {
public:
    tokenizer() = default;
    /// Takes ownership of a C handle.
    explicit tokenizer(dnabert_tokenizer *h) noexcept : h_(h) {}
    /// Loads a tokenizer.json file.
    static tokenizer load(const std::string &path) {
        dnabert_tokenizer *h = nullptr;
        detail::check(dnabert_tokenizer_load(path.c_str(), &h));
        return tokenizer(h);
    }
    static tokenizer from_json(std::string_view json) {
        dnabert_tokenizer *h = nullptr;
        detail::check(dnabert_tokenizer_load_json(json.data(), json.size(), &h));
        return tokenizer(h);
    }
    /// Trains a BPE tokenizer on FASTA files (plain or gzip).
    static tokenizer train(const std::vector<std::string> &paths, const dnabert_bpe_train_params &params = bpe_train_params()) {
        auto c = detail::c_strings(paths);
        dnabert_tokenizer *h = nullptr;
        detail::check(dnabert_tokenizer_train(c.data(), c.size(), &params, &h));
        return tokenizer(h);
    }

    dnabert_tokenizer *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(h_); }

    void save(const std::string &path) const { detail::check(dnabert_tokenizer_save(get(), path.c_str())); }
    std::string to_json() const {
        return detail::query_string([&](char *b, size_t c, size_t *l) { return dnabert_tokenizer_to_json(get(), b, c, l); });
    }
    int32_t vocab_size() const {
        int32_t n = 0;
        detail::check(dnabert_tokenizer_vocab_size(get(), &n));
        return n;
    }
    int32_t token_to_id(const std::string &token) const {
        int32_t id = 0;
        detail::check(dnabert_tokenizer_token_to_id(get(), token.c_str(), &id));
        return id;
    }
    std::string id_to_token(int32_t id) const {
        return detail::query_string([&](char *b, size_t c, size_t *l) { return dnabert_tokenizer_id_to_token(get(), id, b, c, l); });
    }
    dnabert_special_ids special_ids() const {
        dnabert_special_ids s{};
        s.struct_size = sizeof s;
        detail::check(dnabert_tokenizer_special_ids(get(), &s));
        return s;
    }

    /// Encodes one sequence (pointer + length, or a string_view).
    encoding encode(const char *seq, size_t len, const dnabert_encode_params &params = encode_params()) const {
        size_t cap = 0;
        detail::check(dnabert_tokenizer_max_tokens(get(), len, &params, &cap));
        encoding e;
        e.ids.resize(cap);
        e.offsets.resize(2 * cap);
        size_t n = 0;
        detail::check(dnabert_encode(get(), seq, len, &params, e.ids.data(), e.offsets.data(), cap, &n));
        e.ids.resize(n);
        e.offsets.resize(2 * n);
        return e;
    }
    encoding encode(std::string_view seq, const dnabert_encode_params &params = encode_params()) const {
        return encode(seq.data(), seq.size(), params);
    }

    /// Encodes a batch into a rows × row_len matrix (truncated and padded).
    padded_batch encode_padded(const std::vector<std::string_view> &seqs, size_t row_len,
                               const dnabert_encode_params &params = encode_params()) const {
        return encode_padded(detail::batch(seqs.begin(), seqs.end()), row_len, params);
    }
#ifdef DNABERT_HPP_SPAN
    padded_batch encode_padded(std::span<const std::string_view> seqs, size_t row_len,
                               const dnabert_encode_params &params = encode_params()) const {
        return encode_padded(detail::batch(seqs.begin(), seqs.end()), row_len, params);
    }
#endif

    std::string decode(const int32_t *ids, size_t n, bool skip_special_tokens = true) const {
        return detail::query_string(
            [&](char *b, size_t c, size_t *l) { return dnabert_decode(get(), ids, n, skip_special_tokens ? 1 : 0, b, c, l); });
    }
    std::string decode(const std::vector<int32_t> &ids, bool skip_special_tokens = true) const {
        return decode(ids.data(), ids.size(), skip_special_tokens);
    }

private:
    padded_batch encode_padded(const detail::batch &b, size_t row_len, const dnabert_encode_params &params) const {
        padded_batch out;
        out.rows = b.size();
        out.row_len = row_len;
        out.ids.resize(b.size() * row_len);
        out.attention_mask.resize(b.size() * row_len);
        out.lengths.resize(b.size());
        detail::check(dnabert_encode_batch_padded(get(), b.ptrs.data(), b.lens.data(), b.size(), &params, row_len,
                                                  out.ids.data(), out.attention_mask.data(), out.lengths.data()));
        return out;
    }
    std::unique_ptr<dnabert_tokenizer, detail::deleter<dnabert_tokenizer, dnabert_tokenizer_free>> h_;
};

// ---- model --------------------------------------------------------------------------------------------------

class model {
public:
    model() = default;
    explicit model(dnabert_model *h) noexcept : h_(h) {}
    /// Loads a model folder (config.json + model.safetensors [+ tokenizer.json]).
    static model load(const std::string &dir) {
        dnabert_model *h = nullptr;
        detail::check(dnabert_model_load(dir.c_str(), &h));
        return model(h);
    }
    /// A new randomly initialised model for a config.json text.
    static model create(std::string_view config_json, const tokenizer *tok = nullptr, uint64_t seed = 0) {
        dnabert_model *h = nullptr;
        detail::check(dnabert_model_create(config_json.data(), config_json.size(), tok ? tok->get() : nullptr, seed, &h));
        return model(h);
    }

    dnabert_model *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(h_); }

    void save(const std::string &dir) const { detail::check(dnabert_model_save(get(), dir.c_str())); }
    dnabert_model_info info() const {
        dnabert_model_info i{};
        i.struct_size = sizeof i;
        detail::check(dnabert_model_get_info(get(), &i));
        return i;
    }
    std::string config_json() const {
        return detail::query_string([&](char *b, size_t c, size_t *l) { return dnabert_model_config_json(get(), b, c, l); });
    }
    /// The model's own tokenizer (a separate handle).
    dnabert::tokenizer tokenizer() const {
        dnabert_tokenizer *t = nullptr;
        detail::check(dnabert_model_tokenizer(get(), &t));
        return dnabert::tokenizer(t);
    }

    /// Last hidden state (batch × length × hidden) of right-padded ids; mask may be null (no padding).
    std::vector<float> forward(const int32_t *ids, const int32_t *mask, size_t batch, size_t length,
                               const dnabert_forward_params &params = forward_params()) const {
        std::vector<float> out(batch * length * static_cast<size_t>(info().hidden_size));
        detail::check(dnabert_forward(get(), ids, mask, batch, length, &params, out.data()));
        return out;
    }
    std::vector<float> forward(const padded_batch &b, const dnabert_forward_params &params = forward_params()) const {
        return forward(b.ids.data(), b.attention_mask.data(), b.rows, b.row_len, params);
    }
    /// Masked-language-model logits (batch × length × vocab_size).
    std::vector<float> mlm_logits(const int32_t *ids, const int32_t *mask, size_t batch, size_t length,
                                  const dnabert_forward_params &params = forward_params()) const {
        std::vector<float> out(batch * length * static_cast<size_t>(info().vocab_size));
        detail::check(dnabert_mlm_logits(get(), ids, mask, batch, length, &params, out.data()));
        return out;
    }
    std::vector<float> mlm_logits(const padded_batch &b, const dnabert_forward_params &params = forward_params()) const {
        return mlm_logits(b.ids.data(), b.attention_mask.data(), b.rows, b.row_len, params);
    }

    /// One embedding per sequence (n × hidden, row-major).
    std::vector<float> embed(const std::vector<std::string_view> &seqs, const dnabert_embed_params &params = embed_params()) const {
        return embed(detail::batch(seqs.begin(), seqs.end()), params);
    }
#ifdef DNABERT_HPP_SPAN
    std::vector<float> embed(std::span<const std::string_view> seqs, const dnabert_embed_params &params = embed_params()) const {
        return embed(detail::batch(seqs.begin(), seqs.end()), params);
    }
#endif
    std::vector<float> embed(std::string_view seq, const dnabert_embed_params &params = embed_params()) const {
        return embed(detail::batch(&seq, &seq + 1), params);
    }

private:
    std::vector<float> embed(const detail::batch &b, const dnabert_embed_params &params) const {
        std::vector<float> out(b.size() * static_cast<size_t>(info().hidden_size));
        detail::check(dnabert_embed(get(), b.ptrs.data(), b.lens.data(), b.size(), &params, out.data()));
        return out;
    }
    std::unique_ptr<dnabert_model, detail::deleter<dnabert_model, dnabert_model_free>> h_;
};

// ---- pretraining --------------------------------------------------------------------------------------------

class trainer {
public:
    /// MLM pretraining of `m` (which must outlive the trainer) on FASTA files, outputs in out_dir.
    trainer(model &m, const std::vector<std::string> &files, const std::string &out_dir,
            const dnabert_pretrain_params &params = pretrain_params()) {
        auto c = detail::c_strings(files);
        dnabert_trainer *h = nullptr;
        detail::check(dnabert_trainer_create(m.get(), c.data(), c.size(), out_dir.c_str(), &params, &h));
        h_.reset(h);
    }
    dnabert_trainer *get() const noexcept { return h_.get(); }
    dnabert_pretrain_metrics step() {
        dnabert_pretrain_metrics m{};
        m.struct_size = sizeof m;
        detail::check(dnabert_trainer_step(get(), &m));
        return m;
    }
    /// Validation (loss, masked-token accuracy).
    std::pair<double, double> evaluate() {
        double loss = 0, acc = 0;
        detail::check(dnabert_trainer_evaluate(get(), &loss, &acc));
        return {loss, acc};
    }
    void save_checkpoint() { detail::check(dnabert_trainer_save_checkpoint(get())); }
    void run(dnabert_pretrain_callback cb = nullptr, void *user = nullptr) { detail::check(dnabert_trainer_run(get(), cb, user)); }

private:
    std::unique_ptr<dnabert_trainer, detail::deleter<dnabert_trainer, dnabert_trainer_free>> h_;
};

// ---- fine-tuning --------------------------------------------------------------------------------------------

class dataset {
public:
    dataset() = default;
    explicit dataset(dnabert_dataset *h) noexcept : h_(h) {}
    /// Reads labelled data (CSV/TSV); `like` = the training set when reading dev/test data.
    static dataset read(const std::string &path, const dataset *like = nullptr, int32_t problem_type = DNABERT_PROBLEM_AUTO) {
        dnabert_dataset *h = nullptr;
        detail::check(dnabert_dataset_read(path.c_str(), like ? like->get() : nullptr, problem_type, &h));
        return dataset(h);
    }
    /// Sequences with label strings (as a CSV label field would be).
    static dataset from_arrays(const std::vector<std::string_view> &seqs, const std::vector<std::string> &labels,
                               const dataset *like = nullptr, int32_t problem_type = DNABERT_PROBLEM_AUTO) {
        if (seqs.size() != labels.size()) throw error(DNABERT_ERR_INVALID_ARGUMENT, "dataset: sequences and labels differ in number");
        detail::batch b(seqs.begin(), seqs.end());
        auto l = detail::c_strings(labels);
        dnabert_dataset *h = nullptr;
        detail::check(dnabert_dataset_from_arrays(b.ptrs.data(), b.lens.data(), l.data(), b.size(),
                                                  like ? like->get() : nullptr, problem_type, &h));
        return dataset(h);
    }
    dnabert_dataset *get() const noexcept { return h_.get(); }
    dnabert_dataset_info info() const {
        dnabert_dataset_info i{};
        i.struct_size = sizeof i;
        detail::check(dnabert_dataset_get_info(get(), &i));
        return i;
    }
    std::string label_name(int32_t index) const {
        return detail::query_string([&](char *b, size_t c, size_t *l) { return dnabert_dataset_label_name(get(), index, b, c, l); });
    }

private:
    std::unique_ptr<dnabert_dataset, detail::deleter<dnabert_dataset, dnabert_dataset_free>> h_;
};

class classifier {
public:
    classifier() = default;
    explicit classifier(dnabert_classifier *h) noexcept : h_(h) {}
    /// Loads a saved classifier (a LoRA adapter on `base`, or a full fine-tuned folder with base = nullptr).
    static classifier load(const model *base, const std::string &dir) {
        dnabert_classifier *h = nullptr;
        detail::check(dnabert_classifier_load(base ? base->get() : nullptr, dir.c_str(), &h));
        return classifier(h);
    }
    dnabert_classifier *get() const noexcept { return h_.get(); }
    void save(const std::string &dir) const { detail::check(dnabert_classifier_save(get(), dir.c_str())); }
    dnabert_classifier_info info() const {
        dnabert_classifier_info i{};
        i.struct_size = sizeof i;
        detail::check(dnabert_classifier_get_info(get(), &i));
        return i;
    }
    std::string label_name(int32_t index) const {
        return detail::query_string([&](char *b, size_t c, size_t *l) { return dnabert_classifier_label_name(get(), index, b, c, l); });
    }
    /// Scores (n × num_labels): probabilities, or regression outputs.
    std::vector<float> predict(const std::vector<std::string_view> &seqs, const dnabert_forward_params &params = forward_params()) const {
        return predict(detail::batch(seqs.begin(), seqs.end()), params);
    }
#ifdef DNABERT_HPP_SPAN
    std::vector<float> predict(std::span<const std::string_view> seqs, const dnabert_forward_params &params = forward_params()) const {
        return predict(detail::batch(seqs.begin(), seqs.end()), params);
    }
#endif
    std::vector<float> predict(const char *seq, size_t len, const dnabert_forward_params &params = forward_params()) const {
        std::string_view s(seq, len);
        return predict(detail::batch(&s, &s + 1), params);
    }
    /// Loss and metrics on labelled data read with the classifier's labels (dataset::read(..., like) or read_dataset).
    dnabert_eval_result evaluate(const dataset &data, const dnabert_forward_params &params = forward_params()) const {
        dnabert_eval_result r{};
        r.struct_size = sizeof r;
        detail::check(dnabert_classifier_evaluate(get(), data.get(), &params, &r, nullptr));
        return r;
    }
    dataset read_dataset(const std::string &path) const {
        dnabert_dataset *h = nullptr;
        detail::check(dnabert_classifier_read_dataset(get(), path.c_str(), &h));
        return dataset(h);
    }
    /// The label decision (argmax, or >= 0.5 per label) of scores from predict.
    std::vector<int32_t> decide(const std::vector<float> &scores) const {
        auto i = info();
        size_t n = i.num_labels > 0 ? scores.size() / static_cast<size_t>(i.num_labels) : 0;
        std::vector<int32_t> out(i.problem_type == DNABERT_PROBLEM_MULTI_LABEL ? scores.size() : n);
        detail::check(dnabert_decide_labels(i.problem_type, scores.data(), n, i.num_labels, out.data()));
        return out;
    }
    model merged_model() const {
        dnabert_model *h = nullptr;
        detail::check(dnabert_classifier_merged_model(get(), &h));
        return model(h);
    }

private:
    std::vector<float> predict(const detail::batch &b, const dnabert_forward_params &params) const {
        std::vector<float> out(b.size() * static_cast<size_t>(info().num_labels));
        detail::check(dnabert_classifier_predict(get(), b.ptrs.data(), b.lens.data(), b.size(), &params, out.data()));
        return out;
    }
    std::unique_ptr<dnabert_classifier, detail::deleter<dnabert_classifier, dnabert_classifier_free>> h_;
};

class finetuner {
public:
    /// A fine-tuning run on `base` (which must outlive the run); dev may be null.
    finetuner(const model &base, const dataset &train, const dataset *dev = nullptr,
              const dnabert_finetune_params &params = finetune_params()) {
        dnabert_finetuner *h = nullptr;
        detail::check(dnabert_finetuner_create(base.get(), train.get(), dev ? dev->get() : nullptr, &params, &h));
        h_.reset(h);
    }
    dnabert_finetuner *get() const noexcept { return h_.get(); }
    dnabert_finetune_metrics step() {
        dnabert_finetune_metrics m{};
        m.struct_size = sizeof m;
        detail::check(dnabert_finetuner_step(get(), &m));
        return m;
    }
    void run(dnabert_finetune_callback cb = nullptr, void *user = nullptr) { detail::check(dnabert_finetuner_run(get(), cb, user)); }
    dnabert_finetuner_info info() const {
        dnabert_finetuner_info i{};
        i.struct_size = sizeof i;
        detail::check(dnabert_finetuner_get_info(get(), &i));
        return i;
    }
    /// A handle to the run's classifier (the same object).
    dnabert::classifier classifier() const {
        dnabert_classifier *c = nullptr;
        detail::check(dnabert_finetuner_classifier(get(), &c));
        return dnabert::classifier(c);
    }
    dnabert_eval_result test(const dataset &data) {
        dnabert_eval_result r{};
        r.struct_size = sizeof r;
        detail::check(dnabert_finetuner_test(get(), data.get(), &r));
        return r;
    }

private:
    std::unique_ptr<dnabert_finetuner, detail::deleter<dnabert_finetuner, dnabert_finetuner_free>> h_;
};

// ---- FASTA / FASTQ --------------------------------------------------------------------------------------------

/// One record; the views point into the reader and stay valid until its next call (copy what you keep).
struct fasta_record_view {
    std::string_view name, description, sequence, quality;
};

/// An owning copy of a record.
struct fasta_record {
    std::string name, description, sequence, quality;
};

/// Streaming FASTA/FASTQ reader (plain or gzip): `while (auto r = reader.next()) use(r->sequence);`, or a
/// range-for loop over owning records.
class fasta_reader {
public:
    explicit fasta_reader(const std::string &path) {
        dnabert_fasta_reader *h = nullptr;
        detail::check(dnabert_fasta_open(path.c_str(), &h));
        h_.reset(h);
    }
    /// The next record, or false at the end (a pointer-like result: use -> or *).
    struct next_result {
        bool ok = false;
        fasta_record_view view;
        explicit operator bool() const noexcept { return ok; }
        const fasta_record_view *operator->() const noexcept { return &view; }
        const fasta_record_view &operator*() const noexcept { return view; }
    };
    next_result next() {
        dnabert_fasta_record r{};
        r.struct_size = sizeof r;
        int32_t got = 0;
        detail::check(dnabert_fasta_next(h_.get(), &r, &got));
        next_result out;
        if (got) {
            out.ok = true;
            out.view = {std::string_view(r.name, r.name_len), std::string_view(r.description, r.description_len),
                        std::string_view(r.sequence, r.sequence_len), std::string_view(r.quality, r.quality_len)};
        }
        return out;
    }
    /// Up to max_records owning records (fewer at the end of the file; none when it is exhausted): a batch for
    /// embed / predict, which are faster per record on batches than one record at a time.
    std::vector<fasta_record> next_batch(size_t max_records) {
        std::vector<fasta_record> out;
        while (out.size() < max_records) {
            auto r = next();
            if (!r) break;
            out.push_back({std::string(r->name), std::string(r->description), std::string(r->sequence), std::string(r->quality)});
        }
        return out;
    }

    class iterator {
    public:
        iterator() = default;
        explicit iterator(fasta_reader *r) : r_(r) { advance(); }
        const fasta_record &operator*() const noexcept { return rec_; }
        const fasta_record *operator->() const noexcept { return &rec_; }
        iterator &operator++() {
            advance();
            return *this;
        }
        bool operator==(const iterator &o) const noexcept { return r_ == o.r_; }
        bool operator!=(const iterator &o) const noexcept { return r_ != o.r_; }

    private:
        void advance() {
            auto v = r_->next();
            if (!v) {
                r_ = nullptr;
                return;
            }
            rec_ = {std::string(v->name), std::string(v->description), std::string(v->sequence), std::string(v->quality)};
        }
        fasta_reader *r_ = nullptr;
        fasta_record rec_;
    };
    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }

private:
    std::unique_ptr<dnabert_fasta_reader, detail::deleter<dnabert_fasta_reader, dnabert_fasta_close>> h_;
};

/// Every record of a FASTA/FASTQ file.
inline std::vector<fasta_record> read_fasta(const std::string &path) {
    std::vector<fasta_record> out;
    fasta_reader r(path);
    for (const auto &rec : r) out.push_back(rec);
    return out;
}

} // namespace dnabert

#endif // DNABERT_HPP
