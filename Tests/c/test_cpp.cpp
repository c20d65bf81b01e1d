// The C++ wrapper (include/dnabert.hpp), compiled with -Wall -Wextra -Werror as C++17 and as C++20 (std::span).
// Results are compared with independent numbers: token ids from Hugging Face `tokenizers` (tokenizer_fixture.tsv),
// hidden states from the PyTorch reference (model_expected.bin), embeddings recomputed by hand from the forward
// pass, metrics recomputed from the predictions, FASTA records from the hand-written fixtures in Tests/c/fasta.
// Usage (from the repository root): test_cpp
#include <dnabert.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static int passed = 0, failed = 0;
#define CHECK(cond, what)                                                          \
    do {                                                                           \
        if (cond) {                                                                \
            passed++;                                                              \
        } else {                                                                   \
            failed++;                                                              \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what);   \
        }                                                                          \
    } while (0)

template <typename F> static int status_of(F &&f) {
    try {
        f();
    } catch (const dnabert::error &e) {
        return std::string(e.what()).empty() ? 1 : e.status(); // a message must come with the status
    }
    return DNABERT_OK;
}

static void test_tokenizer() {
    auto tok = dnabert::tokenizer::load("examples/data/dnabert2/tokenizer.json");
    std::ifstream f("Tests/c/tokenizer_fixture.tsv");
    std::string line;
    int cases = 0, same = 0, roundtrip = 0, clean = 0;
    while (std::getline(f, line)) {
        auto tab = line.find('\t');
        if (tab == std::string::npos) continue;
        std::string seq = line.substr(0, tab);
        std::istringstream in(line.substr(tab + 1));
        std::vector<int32_t> expected;
        for (int32_t v; in >> v;) expected.push_back(v);
        auto e = tok.encode(std::string_view(seq));
        same += e.ids == expected && e.offsets.size() == 2 * e.ids.size();
        // pointer + length overload: the same ids
        same -= tok.encode(seq.data(), seq.size()).ids != e.ids;
        if (seq.find_first_not_of("ACGT") == std::string::npos) {
            clean++;
            roundtrip += tok.decode(e.ids) == seq;
        }
        cases++;
    }
    CHECK(cases >= 10 && same == cases, "ids equal Hugging Face's");
    CHECK(clean > 0 && roundtrip == clean, "decode(encode(x)) == x");
    CHECK(tok.vocab_size() == 4096 && tok.special_ids().cls == 1 && tok.special_ids().pad == 3 && tok.token_to_id("[SEP]") == 2 &&
              tok.id_to_token(2) == "[SEP]",
          "vocabulary and special ids");
    auto j = tok.to_json();
    auto again = dnabert::tokenizer::from_json(j);
    CHECK(again.encode("ACGTTGCA").ids == tok.encode("ACGTTGCA").ids, "to_json / from_json round trip");
    std::vector<std::string_view> batch = {"ACGTACGTAAAT", "GG"};
    auto pb = tok.encode_padded(batch, 6);
    auto e0 = tok.encode(batch[0]).ids, e1 = tok.encode(batch[1]).ids;
    bool padded_ok = pb.rows == 2 && pb.row_len == 6 && pb.lengths[1] == static_cast<int32_t>(e1.size());
    for (size_t i = 0; padded_ok && i < e1.size(); i++) padded_ok = pb.ids[6 + i] == e1[i] && pb.attention_mask[6 + i] == 1;
    for (size_t i = e1.size(); padded_ok && i < 6; i++) padded_ok = pb.ids[6 + i] == 3 && pb.attention_mask[6 + i] == 0;
    CHECK(padded_ok && pb.ids[0] == e0[0], "encode_padded rows equal single encodings, padded with [PAD]");

    CHECK(status_of([] { dnabert::tokenizer::load("/nonexistent/tokenizer.json"); }) == DNABERT_ERR_IO,
          "missing file throws dnabert::error with DNABERT_ERR_IO and a message");
    CHECK(status_of([&] { tok.id_to_token(1 << 30); }) == DNABERT_ERR_NOT_FOUND, "id outside the vocabulary throws NOT_FOUND");
    CHECK(status_of([&] { tok.token_to_id("no-such-token"); }) == DNABERT_ERR_NOT_FOUND, "unknown token throws NOT_FOUND");
    dnabert::tokenizer moved = std::move(tok);
    CHECK(moved && !tok, "move transfers the handle");
}

static void test_model_fixture() {
    std::ifstream f("Tests/c/model_expected.bin", std::ios::binary);
    int32_t dims[3];
    f.read(reinterpret_cast<char *>(dims), sizeof dims);
    size_t B = static_cast<size_t>(dims[0]), L = static_cast<size_t>(dims[1]), H = static_cast<size_t>(dims[2]);
    std::vector<int32_t> ids(B * L), mask(B * L);
    std::vector<float> expected(B * L * H);
    f.read(reinterpret_cast<char *>(ids.data()), static_cast<std::streamsize>(ids.size() * 4));
    f.read(reinterpret_cast<char *>(mask.data()), static_cast<std::streamsize>(mask.size() * 4));
    f.read(reinterpret_cast<char *>(expected.data()), static_cast<std::streamsize>(expected.size() * 4));
    CHECK(f.good(), "model fixture read");
    auto m = dnabert::model::load("Tests/DNABertTests/Fixtures/model");
    CHECK(m.info().hidden_size == dims[2], "model info");
    auto h = m.forward(ids.data(), mask.data(), B, L, dnabert::forward_params(1));
    float d = 0;
    for (size_t i = 0; i < h.size(); i++) d = std::fmax(d, std::fabs(h[i] - expected[i]));
    CHECK(h.size() == expected.size() && d < 1e-4f, "hidden states match PyTorch");
    auto logits = m.mlm_logits(ids.data(), mask.data(), B, L);
    CHECK(logits.size() == B * L * static_cast<size_t>(m.info().vocab_size), "mlm logits shape");
    CHECK(status_of([&] { m.forward(ids.data(), mask.data(), B, 0); }) == DNABERT_ERR_INVALID_ARGUMENT, "length 0 throws");
    CHECK(status_of([] { dnabert::model::load("/nonexistent/model"); }) != DNABERT_OK, "missing model throws");
}

static std::vector<float> mean_pool_by_hand(const dnabert::model &m, const dnabert::tokenizer &tok, std::string_view seq) {
    auto e = tok.encode(seq);
    size_t L = e.ids.size(), H = static_cast<size_t>(m.info().hidden_size);
    auto h = m.forward(e.ids.data(), nullptr, 1, L);
    std::vector<float> out(H, 0.0f);
    for (size_t t = 1; t + 1 < L; t++)
        for (size_t k = 0; k < H; k++) out[k] += h[t * H + k];
    for (auto &v : out) v /= static_cast<float>(L - 2);
    return out;
}

static void test_embed_and_finetune() {
    auto m = dnabert::model::load("examples/models/dnabert2-small-5genomes");
    auto tok = m.tokenizer();
    std::vector<std::string_view> seqs = {"ACGTAGCTAGCTAGGATCGATCGTAGCTAGCTAGCATCGAT", "TTTTGGGGCCCCAAAATTGACAGT"};
    auto e = m.embed(seqs);
    size_t H = static_cast<size_t>(m.info().hidden_size);
    CHECK(e.size() == 2 * H, "embed shape");
    float d = 0;
    for (size_t i = 0; i < 2; i++) {
        auto ref = mean_pool_by_hand(m, tok, seqs[i]);
        for (size_t k = 0; k < H; k++) d = std::fmax(d, std::fabs(ref[k] - e[i * H + k]));
    }
    CHECK(d < 1e-4f, "embed equals the mean of the forward pass's token states");
    auto one = m.embed(seqs[1]);
    bool same = one.size() == H;
    for (size_t k = 0; same && k < H; k++) same = std::fabs(one[k] - e[H + k]) < 1e-5f;
    CHECK(same, "single-sequence embed equals its batch row");
#ifdef DNABERT_HPP_SPAN
    auto es = m.embed(std::span<const std::string_view>(seqs));
    CHECK(es == e, "std::span overload");
#endif

    // fine-tuning: a few LoRA steps on a toy task; metrics recomputed from predictions
    std::vector<std::string> s;
    std::vector<std::string> labels;
    for (int i = 0; i < 16; i++) {
        s.push_back(i % 2 ? "ACGTACGTACGTAAAATTTTACGT" : "GGGGCCCCGGGGCCCCTATAGCGC");
        labels.push_back(i % 2 ? "yes" : "no");
    }
    std::vector<std::string_view> sv(s.begin(), s.end());
    auto train = dnabert::dataset::from_arrays(sv, labels);
    auto dev = dnabert::dataset::from_arrays(sv, labels, &train);
    CHECK(train.info().n_sequences == 16 && train.info().num_labels == 2 && train.label_name(1) == "yes", "dataset");
    auto p = dnabert::finetune_params();
    p.max_steps = 3;
    p.batch_size = 8;
    p.n_threads = 1;
    dnabert::finetuner ft(m, train, &dev, p);
    auto first = ft.step();
    CHECK(first.step == 1 && std::isfinite(first.loss), "one step");
    ft.run();
    CHECK(ft.info().step == 3, "run to the end");
    auto clf = ft.classifier();
    auto probs = clf.predict(sv);
    bool rows = probs.size() == 32;
    for (size_t i = 0; rows && i < 16; i++) rows = std::fabs(probs[2 * i] + probs[2 * i + 1] - 1.0f) < 1e-5f;
    CHECK(rows, "predict: probability rows sum to 1");
    auto decided = clf.decide(probs);
    int correct = 0;
    for (size_t i = 0; i < 16; i++) correct += decided[i] == static_cast<int32_t>(i % 2);
    auto r = ft.test(dev);
    CHECK(r.n == 16 && std::fabs(r.accuracy - correct / 16.0) < 1e-9, "test accuracy equals the predictions'");
    CHECK(clf.label_name(0) == "no", "label names");
    auto single = clf.predict(s[3].data(), s[3].size());
    CHECK(single.size() == 2 && std::fabs(single[1] - probs[7]) < 1e-5f, "pointer + length predict equals the batch row");
    CHECK(status_of([&] { dnabert::dataset::from_arrays(sv, {"a"}); }) == DNABERT_ERR_INVALID_ARGUMENT, "label count");
    CHECK(status_of([&] {
              auto q = dnabert::finetune_params();
              q.pooling = 7;
              dnabert::finetuner bad(m, train, nullptr, q);
          }) == DNABERT_ERR_INVALID_ARGUMENT,
          "bad params throw");
}

static void test_pretrain() {
    auto cfg = dnabert::model::load("Tests/DNABertTests/Fixtures/model").config_json();
    auto tok = dnabert::tokenizer::load("examples/data/dnabert2/tokenizer.json");
    auto m = dnabert::model::create(cfg, &tok, 3);
    CHECK(m.info().has_tokenizer == 1, "created model has the tokenizer");
    char dir[] = "/tmp/dnabert-cpp-pretrain-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr, "temp dir");
    auto p = dnabert::pretrain_params();
    p.steps = 2;
    p.batch_size = 2;
    p.seq_len = 32;
    p.validation_windows = 2;
    p.eval_every = 0;
    p.checkpoint_every = 0;
    p.n_threads = 1;
    {
        dnabert::trainer t(m, {"examples/data/hpylori_sjm180.fasta.gz"}, dir, p);
        auto s = t.step();
        CHECK(s.step == 1 && std::isfinite(s.loss) && s.loss > 0, "a pretraining step");
        auto [loss, acc] = t.evaluate();
        CHECK(std::isfinite(loss) && acc >= 0 && acc <= 1, "validation");
    }
    std::filesystem::remove_all(dir);
    CHECK(status_of([&] { dnabert::trainer t(m, {"/nonexistent.fa"}, "/tmp/x", p); }) != DNABERT_OK, "missing file throws");
}

static void test_fasta() {
    auto recs = dnabert::read_fasta("Tests/c/fasta/tricky.fa");
    CHECK(recs.size() == 4 && recs[0].name == "chr1" && recs[0].description == "first record" &&
              recs[0].sequence == "ACGTacgtNNNN" && recs[1].sequence == "GGGGCCCCTTTT" && recs[2].name == "empty_one" &&
              recs[2].sequence.empty() && recs[3].description == "desc with tab",
          "FASTA records as written in the fixture");
    dnabert::fasta_reader fq("Tests/c/fasta/reads.fq");
    auto b = fq.next_batch(2);
    auto rest = fq.next_batch(10);
    CHECK(b.size() == 2 && b[0].sequence == "ACGTAC" && b[0].quality == "IIIIII" && b[1].quality == "@@@@#" && rest.size() == 1 &&
              fq.next_batch(5).empty(),
          "FASTQ batches");
    auto r = dnabert::fasta_reader("examples/data/hpylori_sjm180.fasta.gz").next();
    CHECK(r && r->sequence.size() > 1000000, "gzip genome");
    CHECK(status_of([] { dnabert::fasta_reader x("/nonexistent.fa"); }) == DNABERT_ERR_IO, "missing FASTA throws");
}

int main() {
    std::printf("dnabert %s (C++ %ld)\n", dnabert::version().c_str(), static_cast<long>(__cplusplus));
    try {
        test_tokenizer();
        test_model_fixture();
        test_fasta();
        test_pretrain();
        test_embed_and_finetune();
    } catch (const dnabert::error &e) {
        failed++;
        std::fprintf(stderr, "FAIL: uncaught dnabert::error %d: %s\n", e.status(), e.what());
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
