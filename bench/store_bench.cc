// Store micro-benchmarks: log appends as the master makes them (64 KB chunks, many per
// transaction) and log reads as the web UI makes them (the tail of a long log).
//
// Not wired into CMake yet (link it like cron_bench, with benchmark::benchmark_main). By hand, from
// a Release build dir where grove_store is built:
//   g++ -O2 -std=c++20 -I../src ../bench/store_bench.cc src/store/libgrove_store.a
//       src/core/libgrove_core.a -lsqlite3 -lzstd -lspdlog -lfmt -lbenchmark_main -lbenchmark
//       -lpthread
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "store/log_codec.h"
#include "store/store.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 64 * 1024;
constexpr int kChunksPerCommit = 64;

// Build output as compilers print it: varied paths, numbers and words, so that zstd works about
// as hard as on a real log (a log of repeated lines would make compression look free).
std::string LogText(size_t size) {
  static const char* const kWords[] = {
      "warning:", "unused", "variable", "in", "function", "note:", "expanded", "from",   "macro",
      "g++",      "-O2",    "-Wall",    "-c", "-o",       "error", "linking",  "target", "ok"};
  std::mt19937 rng(42);
  std::string out;
  out.reserve(size + 256);
  while (out.size() < size) {
    out += "[" + std::to_string(rng() % 100000) + "/" + std::to_string(rng() % 100000) + "] ";
    out += "src/" + std::to_string(rng() % 50) + "/file_" + std::to_string(rng() % 2000) + ".cc:";
    out += std::to_string(rng() % 3000) + ": ";
    for (int w = rng() % 12; w > 0; --w) {
      out += kWords[rng() % std::size(kWords)];
      out += ' ';
    }
    out += std::to_string(rng() % 10000) + '\n';
  }
  out.resize(size);
  return out;
}

class TempStore {
 public:
  TempStore() {
    std::string tmpl = (fs::temp_directory_path() / "grove-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
    if (!OpenStore("sqlite:bench.db", dir_.string(), &store_).ok()) std::abort();
    RequestRecord r;
    r.builder = "bench";
    BuildRecord b;
    StepRecord s;
    if (!store_->AddRequest(&r).ok()) std::abort();
    b.request_id = r.id;
    b.attempt = 1;
    b.builder = "bench";
    if (!store_->StartBuild(&b).ok()) std::abort();
    s.build_id = build_id_ = b.id;
    if (!store_->StartStep(s).ok()) std::abort();
  }
  ~TempStore() {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Store& store() { return *store_; }
  int64_t build_id() const { return build_id_; }

 private:
  fs::path dir_;
  std::unique_ptr<Store> store_;
  int64_t build_id_ = 0;
};

// Walks through 16 MB of text: compressing one chunk over and over would let the branch
// predictor learn it and flatter zstd by ~2x.
void BM_Compress64K(benchmark::State& state) {
  const std::string text = LogText(16 << 20);
  LogCodec codec;
  std::string frame;
  size_t pos = 0, in = 0, out = 0;
  for (auto _ : state) {
    if (!codec.Compress(std::string_view(text).substr(pos, kChunk), &frame).ok())
      state.SkipWithError("compress");
    benchmark::DoNotOptimize(frame.data());
    pos = (pos + kChunk) % text.size();
    in += kChunk;
    out += frame.size();
  }
  state.SetBytesProcessed(state.iterations() * kChunk);
  state.counters["ratio"] = static_cast<double>(in) / out;
}
BENCHMARK(BM_Compress64K);

// Appends a log of state.range(0) MB in 64 KB chunks, committing every 64 chunks.
void BM_AppendLogBatched(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0)) << 20;
  const std::string text = LogText(16 << 20);  // reused: chunk content, not size, is what varies
  for (auto _ : state) {
    state.PauseTiming();
    auto t = std::make_unique<TempStore>();
    state.ResumeTiming();
    Store& s = t->store();
    if (!s.Begin().ok()) state.SkipWithError("begin");
    int64_t seq = 0;
    for (size_t pos = 0; pos < size; pos += kChunk, ++seq) {
      std::string_view chunk = std::string_view(text).substr(pos % text.size(), kChunk);
      if (!s.AppendLog(t->build_id(), 0, seq, chunk).ok()) state.SkipWithError("append");
      if (seq % kChunksPerCommit == kChunksPerCommit - 1) {
        if (!s.Commit().ok() || !s.Begin().ok()) state.SkipWithError("commit");
      }
    }
    if (!s.Commit().ok()) state.SkipWithError("commit");
    state.PauseTiming();  // the temp store's removal is not part of the figure
    t.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * size);
}
BENCHMARK(BM_AppendLogBatched)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// Reads the last 64 KB of a log of state.range(0) MB: should not depend on the log's size.
void BM_ReadLogTail(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0)) << 20;
  const std::string text = LogText(size);
  TempStore t;
  Store& s = t.store();
  if (!s.Begin().ok()) state.SkipWithError("begin");
  int64_t seq = 0;
  for (size_t pos = 0; pos < size; pos += kChunk, ++seq) {
    if (!s.AppendLog(t.build_id(), 0, seq, std::string_view(text).substr(pos, kChunk)).ok())
      state.SkipWithError("append");
  }
  if (!s.Commit().ok()) state.SkipWithError("commit");
  std::string out;
  int64_t total = 0;
  // Not chunk-aligned: the read spans two chunks.
  const int64_t offset = static_cast<int64_t>(size) - kChunk - 1000;
  for (auto _ : state) {
    if (!s.ReadLog(t.build_id(), 0, offset, kChunk, &out, &total).ok()) state.SkipWithError("read");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_ReadLogTail)->Arg(1)->Arg(32)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace grove
