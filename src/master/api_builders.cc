#include "master/api_builders.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "core/result.h"
#include "http/encoded_pieces.h"
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
// Builders per separately deflated piece of the whole list: ~40 KiB of JSON in the full view,
// big enough to compress nearly as well as the whole, small enough to redo in a millisecond.
constexpr size_t kPieceBuilders = 64;

struct Page {
  bool whole = true;  // no parameter: the whole list
  bool lean = false;
  int64_t limit = 0, offset = 0;
  std::string q;
  // The client reads zstd but not gzip: the whole list (sent as gzip pieces to the others) is
  // zstd-compressed for it, a pass over the whole list per change.
  bool zstd_only = false;
  std::string Key() const {
    const std::string key =
        whole ? "all"
              : (lean ? "s" : "f") + std::to_string(limit) + ":" + std::to_string(offset) + ":" + q;
    return zstd_only ? key + "|z" : key;
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

// One builder's part of the list: its recent builds and its entry in each view. Shared by the
// snapshots that follow while the builder does not change, so a change costs only its own
// builders' reads and serialisation.
struct BuilderEntry {
  std::vector<BuildRecord> builds;  // kRecentBuilds at most, newest first
  std::string lower_name;           // for ?q=
  std::string lean;                 // name, recent_builds: id, number, state, result
  // name, tags, priority, steps, recent_builds: made when a full page first needs it.
  mutable std::once_flag full_once;
  mutable std::string full;
};

// One generation of the list and one config's builders. Pages (the whole list too) are joined
// from the entries' strings and compressed when first asked.
struct Snapshot {
  uint64_t gen = 0;
  std::shared_ptr<const Config> config;
  std::vector<std::shared_ptr<const BuilderEntry>> entries;  // in config->builders' order
  mutable PageCache pages;
  mutable std::mutex making;  // one page made at a time; guards the pieces
  // The whole list in each view, deflated kPieceBuilders entries at a time and sent as these
  // pieces (gzip or identity, no zstd: EncodedBody's parts); a piece is null until made, and
  // taken over by the next snapshot unless one of its builders changed.
  mutable std::vector<std::shared_ptr<const http::EncodedPiece>> lean_pieces, full_pieces;
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

// Written by hand rather than through Json objects: with thousands of builders this runs for
// every builder on a full rebuild, and it is most of the rebuild's time besides the store's.
std::string LeanEntry(const std::string& name, const std::vector<BuildRecord>& builds) {
  std::string out = "{\"name\":" + Dump(Json(name)) + ",\"recent_builds\":[";
  for (size_t i = 0; i < builds.size(); ++i) {
    const BuildRecord& r = builds[i];
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

std::shared_ptr<const BuilderEntry> MakeEntry(const BuilderConfig& b,
                                              std::vector<BuildRecord> builds) {
  auto e = std::make_shared<BuilderEntry>();
  e->builds = std::move(builds);
  e->lower_name = Lower(b.name);
  e->lean = LeanEntry(b.name, e->builds);
  return e;
}

const std::string& FullEntry(const BuilderConfig& b, const BuilderEntry& e) {
  std::call_once(e.full_once, [&] {
    Json builds = Json::array();
    for (const BuildRecord& r : e.builds) builds.push_back(BuildSummaryJson(r));
    e.full = Dump({{"name", b.name},
                   {"tags", b.tags},
                   {"priority", b.priority},
                   {"steps", b.steps.size()},
                   {"recent_builds", std::move(builds)}});
  });
  return e.full;
}

// Every builder from one statement (Store::LastBuildsPerBuilder).
std::shared_ptr<Snapshot> FullSnapshot(std::vector<BuildRecord> recent,
                                       std::shared_ptr<const Config> config, uint64_t gen) {
  auto s = std::make_shared<Snapshot>();
  s->gen = gen;
  s->config = config;
  std::unordered_map<std::string, std::vector<BuildRecord>> by_builder;
  for (auto& r : recent) by_builder[r.builder].push_back(std::move(r));
  s->entries.reserve(config->builders.size());
  for (const auto& b : config->builders) {
    auto found = by_builder.find(b.name);
    s->entries.push_back(MakeEntry(
        b, found == by_builder.end() ? std::vector<BuildRecord>() : std::move(found->second)));
  }
  return s;
}

// |base| (same config) with |changed|'s builders read again, one short query each.
Status UpdatedSnapshot(Store& store, const Snapshot& base, const std::set<std::string>& changed,
                       uint64_t gen, std::shared_ptr<Snapshot>* out) {
  auto s = std::make_shared<Snapshot>();
  s->gen = gen;
  s->config = base.config;
  s->entries = base.entries;
  {
    std::lock_guard<std::mutex> making(base.making);
    s->lean_pieces = base.lean_pieces;
    s->full_pieces = base.full_pieces;
  }
  const auto& builders = base.config->builders;
  for (size_t i = 0; i < builders.size(); ++i) {
    if (!changed.count(builders[i].name)) continue;
    for (auto* pieces : {&s->lean_pieces, &s->full_pieces})
      if (i / kPieceBuilders < pieces->size()) (*pieces)[i / kPieceBuilders] = nullptr;
    std::vector<BuildRecord> builds;
    GROVE_RETURN_IF_ERROR(store.ListBuilds(builders[i].name, 0, kRecentBuilds, &builds));
    // As LastBuildsPerBuilder: the builds numbered within kRecentBuilds of the newest (a pruned
    // gap is not filled with older builds), and no properties (lists never show them).
    if (!builds.empty()) {
      const int64_t newest = builds.front().number;
      std::erase_if(builds,
                    [&](const BuildRecord& r) { return r.number <= newest - kRecentBuilds; });
    }
    for (auto& r : builds) r.properties = Json::object();
    s->entries[i] = MakeEntry(builders[i], std::move(builds));
  }
  *out = std::move(s);
  return Status::Ok();
}

// Under s.making. The whole list from its pieces, the ones no snapshot made yet made now; null
// on a (memory) failure.
std::shared_ptr<const http::EncodedBody> WholeList(const Snapshot& s, bool lean, bool zstd) {
  auto& pieces = lean ? s.lean_pieces : s.full_pieces;
  const size_t n = s.entries.size();
  pieces.resize((n + kPieceBuilders - 1) / kPieceBuilders);
  for (size_t k = 0; k < pieces.size(); ++k) {
    if (pieces[k]) continue;
    std::string text(k == 0 ? "[" : ",");
    for (size_t i = k * kPieceBuilders; i < std::min(n, (k + 1) * kPieceBuilders); ++i) {
      if (i % kPieceBuilders) text += ',';
      text += lean ? s.entries[i]->lean : FullEntry(s.config->builders[i], *s.entries[i]);
    }
    if (k + 1 == pieces.size()) text += ']';
    pieces[k] = http::MakeEncodedPiece(std::move(text));
    if (!pieces[k]) return nullptr;
  }
  return http::JoinEncodedPieces(pieces, zstd);
}

// Under s.making.
PageBody MakePage(const Snapshot& s, const Page& p) {
  const auto n = static_cast<int64_t>(s.entries.size());
  if (p.q.empty() && p.offset == 0 && p.limit >= n && n > static_cast<int64_t>(kPieceBuilders)) {
    if (auto body = WholeList(s, p.lean, p.zstd_only)) return {std::move(body), n};
  }
  int64_t total = 0;
  std::vector<const std::string*> picked;
  for (size_t i = 0; i < s.entries.size(); ++i) {
    const BuilderEntry& e = *s.entries[i];
    if (!p.q.empty() && e.lower_name.find(p.q) == std::string::npos) continue;
    if (total >= p.offset && total - p.offset < p.limit)
      picked.push_back(p.lean ? &e.lean : &FullEntry(s.config->builders[i], e));
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

// Events that never change a builder's recent builds: they leave the cached list as it is
// (a chatty step publishes a "log" event per chunk). Any other event ("build", "resync", one
// this code does not know) makes the list older than it.
bool LeavesBuildsAlone(const std::string& type) {
  static const std::set<std::string, std::less<>> kTypes = {"log",     "step",    "worker",
                                                            "request", "masters", "notification"};
  return kTypes.count(type) > 0;
}

// With thousands of builders the list is megabytes of JSON: it is kept with the generation
// and config it was built from. The generation is this cache's own: it counts the events
// that change builds (EventHub::Observe sees each before any browser does), and remembers
// which builders a "build" event named, so that the next snapshot reads only those again.
// Requests that arrive after a change wait for the rebuild that includes it (the web UI
// re-reads the list after an event: it must never get a list older than the event).
class BuildersCache {
 public:
  // More distinct builders changed than this between two snapshots: one statement for all is
  // cheaper. A changed builder costs one short query and its piece's deflate (about 0.6 ms at
  // most); a full rebuild of 4,000 builders reads 100,000 builds and deflates every piece (150 ms
  // measured, at a load average of 4). Counted per event, as before, 64 was reached whenever no
  // one read the list for a second while builds ran (a builder's build makes two events), and
  // the first reader after it waited for a full rebuild: the loaded p99's spikes.
  static constexpr size_t kMaxChangedBuilders = 256;

  BuildersCache(ReadPool& reads, ConfigSource config) : reads_(reads), config_(std::move(config)) {}

  void OnEvent(const Json& event) {
    auto type = event.find("type");
    // An event without a type is not one this code knows: the list is read again, to be safe.
    const std::string name =
        type != event.end() && type->is_string() ? type->get<std::string>() : "";
    if (LeavesBuildsAlone(name)) return;
    auto builder = event.find("builder");
    std::lock_guard<std::mutex> lock(mu_);
    ++gen_;
    if (name == "build" && builder != event.end() && builder->is_string() &&
        (changed_.size() < kMaxChangedBuilders || changed_.count(builder->get<std::string>()))) {
      changed_[builder->get<std::string>()] = gen_;
    } else {
      reread_all_at_ = gen_;  // everything is read again
      changed_.clear();
    }
  }

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
    const std::string accept = req.Header("accept-encoding");
    p.zstd_only = http::ChooseCoding(accept, false) == http::Coding::kIdentity &&
                  http::ChooseCoding(accept) == http::Coding::kZstd;
    // Without limit a filtered or summary list is whole too (`grove status`, scripts).
    if (req.Query("limit").empty()) p.limit = INT64_MAX;

    auto config = config_();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (snap_ && snap_->gen == gen_ && snap_->config == config) {
        // A page asked before is a lookup; a new one is made on the read pool.
        if (auto page = snap_->pages.Find(p.Key())) return respond(Answer(*page));
        return reads_.Run(
            [snap = snap_, p, respond](Store&) { respond(Answer(PageOf(*snap, p))); });
      }
      waiters_.push_back({gen_, p, std::move(respond)});
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
    uint64_t gen = 0;
    std::shared_ptr<const Snapshot> base;
    std::set<std::string> changed;
    {
      // Read before the store: the data read is at least this new (events follow commits).
      std::lock_guard<std::mutex> lock(mu_);
      gen = gen_;
      if (snap_ && snap_->config == config && reread_all_at_ <= snap_->gen) {
        base = snap_;
        for (const auto& [name, g] : changed_)
          if (g > base->gen) changed.insert(name);
      }
    }
    reads_.Run([this, config, gen, base, changed = std::move(changed)](Store& store) {
      std::shared_ptr<Snapshot> snap;
      Status st;
      if (base) {
        st = UpdatedSnapshot(store, *base, changed, gen, &snap);
      } else {
        std::vector<BuildRecord> recent;
        st = store.LastBuildsPerBuilder(kRecentBuilds, &recent);
        if (st.ok()) snap = FullSnapshot(std::move(recent), config, gen);
      }
      if (snap) MakeAskedPages(*snap);
      std::vector<Waiter> ready, later;
      bool again = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (snap) {
          snap_ = snap;
          std::erase_if(changed_, [&](const auto& c) { return c.second <= gen; });
        }
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

  // Makes, before |snap| is published, the pages its waiters ask and the whole list in each
  // view the snapshot before had made (what `grove status` and scripts keep asking: a piece
  // or two to deflate after a change). Published with them, the snapshot answers those on the
  // network thread: no reader queues on the read pool behind the one making a page.
  void MakeAskedPages(const Snapshot& snap) {
    std::vector<Page> pages;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& w : waiters_)
        if (w.gen <= snap.gen) pages.push_back(w.page);
    }
    // Not published yet: no other thread sees its pieces.
    Page whole;  // no parameter
    whole.limit = INT64_MAX;
    if (!snap.full_pieces.empty()) pages.push_back(whole);
    if (!snap.lean_pieces.empty()) {
      whole.whole = false;  // ?view=summary
      whole.lean = true;
      pages.push_back(whole);
    }
    for (const Page& p : pages) PageOf(snap, p);
  }

  ReadPool& reads_;
  ConfigSource config_;
  std::mutex mu_;
  uint64_t gen_ = 0;
  uint64_t reread_all_at_ = 0;  // the last generation whose event named no one builder
  // Builders changed since snap_, each with the generation of its newest change.
  std::map<std::string, uint64_t> changed_;
  std::shared_ptr<const Snapshot> snap_;
  std::vector<Waiter> waiters_;
  bool building_ = false;
};

}  // namespace

void AddBuildersRoute(http::Router& router, ReadPool& reads, EventHub& hub, ConfigSource config) {
  auto cache = std::make_shared<BuildersCache>(reads, std::move(config));
  hub.Observe([cache](const Json& event) { cache->OnEvent(event); });
  router.Add("GET", "/api/v1/builders", [cache](const Request& req, Responder respond) {
    cache->Get(req, std::move(respond));
  });
}

}  // namespace grove
