// Registry: counters, gauges and histograms in the Prometheus data model, rendered in the text
// exposition format (version 0.0.4) for GET /metrics.
//
// Updating must cost next to nothing on the core loop: a value is an atomic, and a family's
// children (one per label set) live in a std::map that never moves them. A family is either
// owned by one writer thread (OwnedBy: the core loop) — that thread finds its children without a
// lock, since only it inserts, and takes the family's mutex only to add a new label set — or
// shared (the default), when every lookup takes the mutex (notifier lanes, the broker's thread:
// rare events). Rendering takes each family's mutex while it copies the values out.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace grove::metrics {

using Labels = std::vector<std::string>;  // values, in the order of the family's label names

class Counter {
 public:
  void Inc(double n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  // For a total read from elsewhere (the process's CPU time): never goes down.
  void RaiseTo(double v);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  // Cumulative counts per bound (then +Inf), the sum and the count, read consistently enough
  // for a scrape (each value is exact; they may be one observation apart).
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1 (+Inf)
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

enum class Kind { kCounter, kGauge, kHistogram };

class Family {
 public:
  // |single_writer|: one thread (the first to update it: the core loop) is the only one that
  // ever updates the family, so it finds children without the lock.
  Family(Kind kind, std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds, bool single_writer);

  Counter& counter(const Labels& labels = {}) { return *static_cast<Counter*>(Child(labels)); }
  Gauge& gauge(const Labels& labels = {}) { return *static_cast<Gauge*>(Child(labels)); }
  Histogram& histogram(const Labels& labels = {}) {
    return *static_cast<Histogram*>(Child(labels));
  }
  // Gauges computed at scrape time: the whole set of children is replaced (label sets that
  // vanished, such as a builder removed from grove.lua, go with it).
  void ReplaceGauges(const std::vector<std::pair<Labels, double>>& values);

  void Render(std::string* out) const;
  const std::string& name() const { return name_; }

 private:
  void* Child(const Labels& labels);

  Kind kind_;
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  const bool single_writer_;
  std::atomic<std::thread::id> owner_{};
  std::map<Labels, std::shared_ptr<void>> children_;
};

class Registry {
 public:
  // Families live as long as the registry; the pointer is stable.
  Family* Add(Kind kind, std::string name, std::string help, std::vector<std::string> label_names,
              std::vector<double> bounds = {}, bool single_writer = false);
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
};

// Label values and help text escaped as the text format wants (\\, \", \n).
std::string EscapeLabel(const std::string& v);
// A sample value: integers without a decimal point, +Inf/-Inf/NaN by name.
std::string FormatValue(double v);

}  // namespace grove::metrics
