// Encoding speed of HfTokenizer (trainer/hf_tokenizer.cpp) on a JSONL corpus (one JSON string per line, as
// tests/peers/make_corpus.py writes it), the C++ side of bench/tokenizer_bench.sh; its JavaScript peer is
// tests/peers/bench_peer.mjs. One warm-up pass (the word cache fills as it would in a long run), then the
// timed passes, each printed as "<MB/s> <seconds> <ids>" (MB = 10^6 bytes of UTF-8 text).
//   bench_tokenizer <tokenizer folder> <corpus.jsonl> [passes=1]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/hf_tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: bench_tokenizer <tokenizer folder> <corpus.jsonl> [passes=1]\n";
    return 2;
  }
  const int passes = argc == 4 ? std::stoi(argv[3]) : 1;
  using Clock = std::chrono::steady_clock;
  try {
    const auto load_start = Clock::now();
    const auto tokenizer = grpo::HfTokenizer::from_folder(argv[1]);
    const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();

    std::ifstream in(argv[2]);
    if (!in) throw std::runtime_error(std::string(argv[2]) + ": cannot be read");
    std::vector<std::string> corpus;
    size_t bytes = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      corpus.push_back(nlohmann::json::parse(line).get<std::string>());
      bytes += corpus.back().size();
    }
    std::cerr << "bench_tokenizer: " << tokenizer->describe() << " loaded in " << load_s << " s; "
              << corpus.size() << " lines, " << bytes << " bytes\n";

    std::vector<int64_t> ids;
    const auto pass = [&] {
      size_t n = 0;
      for (const std::string& text : corpus) {
        ids.clear();
        tokenizer->encode_into(text, ids);
        n += ids.size();
      }
      return n;
    };
    pass();  // warm-up
    for (int i = 0; i < passes; ++i) {
      const auto start = Clock::now();
      const size_t n = pass();
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      std::printf("%.3f %.4f %zu\n", bytes / seconds / 1e6, seconds, n);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_tokenizer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
