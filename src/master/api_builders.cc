#include "master/api_builders.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_map>

#include "http/encoding.h"
#include "master/api_json.h"
#include "master/api_util.h"
#include "master/event_hub.h"
#include "master/read_pool.h"

namespace grove {

using http::Request;
using http::Responder;
using http::Response;

namespace {

constexpr int kRecentBuilds = 5;
constexpr int64_t kMaxPage = 1000;

// Every builder's entry in both views, and the whole list ready to send, as of one EventHub
// generation and one config.
struct Snapshot {
  uint64_t gen = 0;
  std::shared_ptr<const Config> config;
  std::vector<std::string> lower_names;  // for ?q=
  std::vector<Json> full;                // name, tags, priority, steps, recent_builds
  std::vector<Json> lean;                // name, recent_builds: id, number, state, result
  std::shared_ptr<const http::EncodedBody> all;
};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::shared_ptr<const Snapshot> BuildSnapshot(const std::vector<BuildRecord>& recent,
                                              std::shared_ptr<const Config> config, uint64_t gen) {
  std::unordered_map<std::string, std::vector<const BuildRecord*>> by_builder;
  for (const auto& r : recent) by_builder[r.builder].push_back(&r);
  auto s = std::make_shared<Snapshot>();
  s->gen = gen;
  s->config = config;
  Json whole = Json::array();
  for (const auto& b : config->builders) {
    Json full_builds = Json::array(), lean_builds = Json::array();
    if (auto found = by_builder.find(b.name); found != by_builder.end()) {
      for (const BuildRecord* r : found->second) {
        Json j = BuildSummaryJson(*r);
        lean_builds.push_back({{"id", j["id"]},
                               {"number", j["number"]},
                               {"state", j["state"]},
                               {"result", j["result"]}});
        full_builds.push_back(std::move(j));
      }
    }
    s->lower_names.push_back(Lower(b.name));
    s->lean.push_back({{"name", b.name}, {"recent_builds", std::move(lean_builds)}});
    s->full.push_back({{"name", b.name},
                       {"tags", b.tags},
                       {"priority", b.priority},
                       {"steps", b.steps.size()},
                       {"recent_builds", std::move(full_builds)}});
    whole.push_back(s->full.back());
  }
  s->all = http::MakeEncodedBody(whole.dump(-1, ' ', false, Json::error_handler_t::replace));
  return s;
}

struct Page {
  bool whole = true;  // no parameter: the cached list as it is
  bool lean = false;
  int64_t limit = 0, offset = 0;
  std::string q;
};

// Answers from a snapshot (cheap: at most kMaxPage entries are serialised).
Response Answer(const Snapshot& s, const Page& p) {
  Response r;
  if (p.whole) {
    r.encoded = s.all;
    r.headers["X-Total-Count"] = std::to_string(s.full.size());
    return r;
  }
  const auto& entries = p.lean ? s.lean : s.full;
  Json out = Json::array();
  int64_t total = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!p.q.empty() && s.lower_names[i].find(p.q) == std::string::npos) continue;
    if (total >= p.offset && total < p.offset + p.limit) out.push_back(entries[i]);
    ++total;
  }
  r.body = out.dump(-1, ' ', false, Json::error_handler_t::replace);
  r.headers["X-Total-Count"] = std::to_string(total);
  return r;
}

// With thousands of builders the list is megabytes of JSON: it is built once per change (one
// statement, Store::LastBuildsPerBuilder) and kept with the EventHub generation and config it
// was built from. Requests that arrive while it is being rebuilt wait for that one rebuild.
class BuildersCache {
 public:
  BuildersCache(ReadPool& reads, EventHub& hub, ConfigSource config)
      : reads_(reads), hub_(hub), config_(std::move(config)) {}

  void Get(const Request& req, Responder respond) {
    Page p;
    p.whole = req.query.empty();
    const std::string view = req.Query("view", "full");
    if (view != "full" && view != "summary")
      return respond(Response::Error(
          400, "invalid 'view' parameter: " + view + " (expected full or summary)"));
    p.lean = view == "summary";
    if (!QueryInt(req, "limit", kMaxPage, 1, kMaxPage, &p.limit, respond)) return;
    if (!QueryInt(req, "offset", 0, 0, INT64_MAX, &p.offset, respond)) return;
    p.q = Lower(req.Query("q"));
    // Without limit a filtered or summary list is whole too (`grove status`, scripts).
    if (req.Query("limit").empty()) p.limit = INT64_MAX - p.offset;

    auto config = config_();
    const uint64_t gen = hub_.generation();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (snap_ && snap_->gen == gen && snap_->config == config) return respond(Answer(*snap_, p));
      waiters_.push_back({gen, p, std::move(respond)});
      if (building_) return;
      building_ = true;
    }
    Rebuild();
  }

 private:
  struct Waiter {
    uint64_t gen;  // answered by a snapshot of this generation or newer
    Page page;
    Responder respond;
  };

  void Rebuild() {
    auto config = config_();
    const uint64_t gen = hub_.generation();  // read before the store: the data is at least this
    reads_.Run([this, config, gen](Store& store) {
      std::vector<BuildRecord> recent;
      Status st = store.LastBuildsPerBuilder(kRecentBuilds, &recent);
      std::shared_ptr<const Snapshot> snap;
      if (st.ok()) snap = BuildSnapshot(recent, config, gen);
      std::vector<Waiter> ready, later;
      bool again = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (snap) snap_ = snap;
        // A snapshot answers who asked at its generation or before; who saw a newer change
        // waits for the next rebuild. A failed read answers everyone with its error.
        for (auto& w : waiters_) (!snap || w.gen <= gen ? ready : later).push_back(std::move(w));
        waiters_ = std::move(later);
        again = building_ = !waiters_.empty();
      }
      for (auto& w : ready) w.respond(snap ? Answer(*snap, w.page) : ErrorResponse(st));
      if (again) Rebuild();
    });
  }

  ReadPool& reads_;
  EventHub& hub_;
  ConfigSource config_;
  std::mutex mu_;
  std::shared_ptr<const Snapshot> snap_;
  std::vector<Waiter> waiters_;
  bool building_ = false;
};

}  // namespace

void AddBuildersRoute(http::Router& router, ReadPool& reads, EventHub& hub, ConfigSource config) {
  auto cache = std::make_shared<BuildersCache>(reads, hub, std::move(config));
  router.Add("GET", "/api/v1/builders", [cache](const Request& req, Responder respond) {
    cache->Get(req, std::move(respond));
  });
}

}  // namespace grove
