// Embeds the records of a FASTA/FASTQ file (plain or gzip) with the C++ wrapper, printing one TSV line per record
// (name, then the embedding). Records are cut into windows of --window bases and embedded --batch at a time
// (batch 1 = one call per window, to compare; see the README, "C and C++", for the measured difference).
//   c++ -std=c++17 embed_fasta.cpp $(pkg-config --cflags --libs dnabert) -o embed_fasta
//   ./embed_fasta MODEL_DIR reads.fa.gz [--batch 32] [--window 200] [--max 400] [--threads 0] [--quiet]
#include <dnabert.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL_DIR FILE [--batch N] [--window N] [--max N] [--threads N] [--quiet]\n", argv[0]);
        return 2;
    }
    size_t batch = 32, window = 200, max_windows = 400;
    int threads = 0;
    bool quiet = false;
    for (int i = 3; i < argc; i++) {
        auto num = [&](size_t &v) { if (i + 1 < argc) v = std::strtoul(argv[++i], nullptr, 10); };
        if (!std::strcmp(argv[i], "--batch")) num(batch);
        else if (!std::strcmp(argv[i], "--window")) num(window);
        else if (!std::strcmp(argv[i], "--max")) num(max_windows);
        else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--quiet")) quiet = true;
    }
    if (batch == 0 || window == 0) return 2;
    try {
        auto model = dnabert::model::load(argv[1]);
        auto params = dnabert::embed_params();
        params.n_threads = threads;
        size_t H = static_cast<size_t>(model.info().hidden_size);
        std::vector<std::string> names, seqs;
        auto flush = [&] {
            std::vector<std::string_view> views(seqs.begin(), seqs.end());
            auto e = model.embed(views, params);
            for (size_t i = 0; i < seqs.size() && !quiet; i++) {
                std::printf("%s", names[i].c_str());
                for (size_t k = 0; k < H; k++) std::printf("\t%.6g", static_cast<double>(e[i * H + k]));
                std::printf("\n");
            }
            names.clear();
            seqs.clear();
        };
        size_t done = 0;
        dnabert::fasta_reader reader(argv[2]);
        while (done < max_windows) {
            auto r = reader.next();
            if (!r) break;
            for (size_t at = 0; at < r->sequence.size() && done < max_windows; at += window, done++) {
                names.push_back(std::string(r->name) + ":" + std::to_string(at));
                seqs.emplace_back(r->sequence.substr(at, window));
                if (seqs.size() == batch) flush();
            }
        }
        if (!seqs.empty()) flush();
        std::fprintf(stderr, "%zu windows embedded, %zu per call\n", done, batch);
    } catch (const dnabert::error &e) {
        std::fprintf(stderr, "error %d: %s\n", e.status(), e.what());
        return 1;
    }
    return 0;
}
