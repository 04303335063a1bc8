#include "metrics/registry.h"

#include <cmath>
#include <cstdio>

namespace grove::metrics {

void Counter::RaiseTo(double v) {
  double cur = v_.load(std::memory_order_relaxed);
  while (v > cur && !v_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

void Gauge::Add(double d) {
  v_.fetch_add(d, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;  // the +Inf bucket and _count must agree for a parser
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

Family::Family(Kind kind, std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> bounds, bool single_writer)
    : kind_(kind),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)),
      single_writer_(single_writer) {}

void* Family::Child(const Labels& labels) {
  const auto me = std::this_thread::get_id();
  if (single_writer_) {
    std::thread::id none;
    owner_.compare_exchange_strong(none, me);
    if (owner_.load() == me) {
      // Only this thread inserts: reading the map without the lock cannot race a change.
      if (auto it = children_.find(labels); it != children_.end()) return it->second.get();
    }
  }
  std::lock_guard lock(mu_);
  auto it = children_.find(labels);
  if (it == children_.end()) {
    std::shared_ptr<void> child;
    if (kind_ == Kind::kCounter)
      child = std::make_shared<Counter>();
    else if (kind_ == Kind::kGauge)
      child = std::make_shared<Gauge>();
    else
      child = std::make_shared<Histogram>(&bounds_);
    it = children_.emplace(labels, std::move(child)).first;
  }
  return it->second.get();
}

void Family::ReplaceGauges(const std::vector<std::pair<Labels, double>>& values) {
  std::map<Labels, std::shared_ptr<void>> fresh;
  for (const auto& [labels, v] : values) {
    auto g = std::make_shared<Gauge>();
    g->Set(v);
    fresh[labels] = std::move(g);
  }
  std::lock_guard lock(mu_);
  children_.swap(fresh);
}

std::string EscapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

namespace {

void AppendLabels(std::string* out, const std::vector<std::string>& names, const Labels& values,
                  const char* extra_name = nullptr, const std::string& extra_value = {}) {
  if (names.empty() && !extra_name) return;
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out->push_back(',');
    first = false;
    *out += names[i];
    *out += "=\"";
    *out += EscapeLabel(values[i]);
    out->push_back('"');
  }
  if (extra_name) {
    if (!first) out->push_back(',');
    *out += extra_name;
    *out += "=\"";
    *out += extra_value;
    out->push_back('"');
  }
  out->push_back('}');
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

void Family::Render(std::string* out) const {
  static const char* kTypes[] = {"counter", "gauge", "histogram"};
  *out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  *out += "# TYPE " + name_ + " " + kTypes[static_cast<int>(kind_)] + "\n";
  std::lock_guard lock(mu_);
  for (const auto& [labels, child] : children_) {
    if (kind_ == Kind::kCounter || kind_ == Kind::kGauge) {
      *out += name_;
      AppendLabels(out, label_names_, labels);
      out->push_back(' ');
      *out +=
          FormatValue(kind_ == Kind::kCounter ? static_cast<const Counter*>(child.get())->value()
                                              : static_cast<const Gauge*>(child.get())->value());
      out->push_back('\n');
      continue;
    }
    Histogram::Snapshot s = static_cast<const Histogram*>(child.get())->Read();
    for (size_t i = 0; i < s.cumulative.size(); ++i) {
      *out += name_ + "_bucket";
      AppendLabels(out, label_names_, labels, "le",
                   i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf");
      *out += " " + std::to_string(s.cumulative[i]) + "\n";
    }
    *out += name_ + "_sum";
    AppendLabels(out, label_names_, labels);
    *out += " " + FormatValue(s.sum) + "\n";
    *out += name_ + "_count";
    AppendLabels(out, label_names_, labels);
    *out += " " + std::to_string(s.count) + "\n";
  }
}

Family* Registry::Add(Kind kind, std::string name, std::string help,
                      std::vector<std::string> label_names, std::vector<double> bounds,
                      bool single_writer) {
  std::lock_guard lock(mu_);
  families_.push_back(std::make_unique<Family>(kind, std::move(name), std::move(help),
                                               std::move(label_names), std::move(bounds),
                                               single_writer));
  return families_.back().get();
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  out.reserve(families_.size() * 256);
  for (const auto& f : families_) f->Render(&out);
  return out;
}

}  // namespace grove::metrics
