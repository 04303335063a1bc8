#include "master/api_builders.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "core/result.h"
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

struct Page {
  bool whole = true;  // no parameter: the whole list
  bool lean = false;
  int64_t limit = 0, offset = 0;
  std::string q;
  std::string Key() const {
    if (whole) return "all";
    return (lean ? "s" : "f") + std::to_string(limit) + ":" + std::to_string(offset) + ":" + q;
  }
};

// A page as sent: its body in every coding and the number of builders that matched.
struct PageBody {
  std::shared_ptr<const http::EncodedBody> body;
  int64_t total = 0;
};

// The pages asked of one snapshot (the home page asks the same one again and again), so that a
// repeated page is a lookup on the network thread; a new one is made on the read pool.
class PageCache {
 public:
  static constexpr size_t kMaxPages = 64;
  std::optional<PageBody> Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pages_.find(key);
    if (it == pages_.end()) return std::nullopt;
    return it->second;
  }
  void Keep(const std::string& key, const PageBody& page) {
    std::lock_guard<std::mutex> lock(mu_);
    if (pages_.size() < kMaxPages) pages_.emplace(key, page);
  }

 private:
  std::mutex mu_;
  std::map<std::string, PageBody> pages_;
};

// One EventHub generation and one config's builders with their recent builds. The home page's
// lean entries are serialised at once (a change costs only those); the full entries with the
// first page that needs them. Pages (the whole list too) are joined from these strings and
// compressed when first asked.
struct Snapshot {
  uint64_t gen = 0;
  std::shared_ptr<const Config> config;
  std::vector<BuildRecord> recent;                      // kRecentBuilds per builder at most
  std::vector<std::vector<const BuildRecord*>> builds;  // into |recent|, per builder
  std::vector<std::string> lower_names;                 // for ?q=
  std::vector<std::string> lean;  // name, recent_builds: id, number, state, result
  mutable PageCache pages;
  mutable std::mutex making;              // one page made at a time; guards |full|
  mutable std::vector<std::string> full;  // name, tags, priority, steps, recent_builds
};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string JoinArray(const std::vector<const std::string*>& items) {
  size_t n = 2;
  for (const std::string* i : items) n += i->size() + 1;
  std::string out;
  out.reserve(n);
  out += '[';
  for (const std::string* i : items) {
    if (out.size() > 1) out += ',';
    out += *i;
  }
  out += ']';
  return out;
}

// Written by hand rather than through Json objects: with thousands of builders this runs after
// every change, and it is most of the rebuild's time besides the store's.
std::string LeanEntry(const std::string& name, const std::vector<const BuildRecord*>& builds) {
  std::string out = "{\"name\":" + Dump(Json(name)) + ",\"recent_builds\":[";
  for (size_t i = 0; i < builds.size(); ++i) {
    const BuildRecord& r = *builds[i];
    if (i) out += ',';
    out += "{\"id\":" + std::to_string(r.id) + ",\"number\":" + std::to_string(r.number) +
           ",\"state\":" + Dump(Json(r.state)) + ",\"result\":";
    out += r.result < 0 ? std::string("null")
                        : "\"" + std::string(ResultName(static_cast<Result>(r.result))) + "\"";
    out += '}';
  }
  out += "]}";
  return out;
}

std::shared_ptr<const Snapshot> BuildSnapshot(std::vector<BuildRecord> recent,
                                              std::shared_ptr<const Config> config, uint64_t gen) {
  auto s = std::make_shared<Snapshot>();
  s->gen = gen;
  s->config = config;
  s->recent = std::move(recent);
  std::unordered_map<std::string_view, std::vector<const BuildRecord*>> by_builder;
  for (const auto& r : s->recent) by_builder[r.builder].push_back(&r);
  const size_t n = config->builders.size();
  s->builds.reserve(n);
  s->lower_names.reserve(n);
  s->lean.reserve(n);
  for (const auto& b : config->builders) {
    auto found = by_builder.find(b.name);
    s->builds.push_back(found == by_builder.end() ? std::vector<const BuildRecord*>()
                                                  : std::move(found->second));
    s->lower_names.push_back(Lower(b.name));
    s->lean.push_back(LeanEntry(b.name, s->builds.back()));
  }
  return s;
}

// Under s.making.
void MakeFullEntries(const Snapshot& s) {
  if (!s.full.empty() || s.config->builders.empty()) return;
  s.full.reserve(s.config->builders.size());
  for (size_t i = 0; i < s.config->builders.size(); ++i) {
    const auto& b = s.config->builders[i];
    Json builds = Json::array();
    for (const BuildRecord* r : s.builds[i]) builds.push_back(BuildSummaryJson(*r));
    s.full.push_back(Dump({{"name", b.name},
                           {"tags", b.tags},
                           {"priority", b.priority},
                           {"steps", b.steps.size()},
                           {"recent_builds", std::move(builds)}}));
  }
}

// Under s.making.
PageBody MakePage(const Snapshot& s, const Page& p) {
  if (!p.lean) MakeFullEntries(s);
  const auto& entries = p.lean ? s.lean : s.full;
  int64_t total = 0;
  std::vector<const std::string*> picked;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!p.q.empty() && s.lower_names[i].find(p.q) == std::string::npos) continue;
    if (total >= p.offset && total - p.offset < p.limit) picked.push_back(&entries[i]);
    ++total;
  }
  return {http::MakeEncodedBody(JoinArray(picked)), total};
}

PageBody PageOf(const Snapshot& s, const Page& p) {
  const std::string key = p.Key();
  if (auto page = s.pages.Find(key)) return *page;
  // One page is made at a time: readers asking the same new page (8 browsers after a change,
  // all wanting the whole list) wait for it rather than each compress it again.
  std::lock_guard<std::mutex> making(s.making);
  if (auto page = s.pages.Find(key)) return *page;
  PageBody page = MakePage(s, p);
  s.pages.Keep(key, page);
  return page;
}

Response Answer(const PageBody& page) {
  Response r;
  r.encoded = page.body;
  r.headers["X-Total-Count"] = std::to_string(page.total);
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
    if (req.Query("limit").empty()) p.limit = INT64_MAX;

    auto config = config_();
    const uint64_t gen = hub_.generation();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (snap_ && snap_->gen == gen && snap_->config == config) {
        // A page asked before is a lookup; a new one is made on the read pool.
        if (auto page = snap_->pages.Find(p.Key())) return respond(Answer(*page));
        return reads_.Run(
            [snap = snap_, p, respond](Store&) { respond(Answer(PageOf(*snap, p))); });
      }
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
      if (st.ok()) snap = BuildSnapshot(std::move(recent), config, gen);
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
      for (auto& w : ready) w.respond(snap ? Answer(PageOf(*snap, w.page)) : ErrorResponse(st));
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
