#include "master/master.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>

#include "broker/amqp_broker.h"
#include "broker/amqp_url.h"
#include "broker/embedded_broker.h"
#include "changes/git_poller.h"
#include "cluster/cluster.h"
#include "cluster/live_events.h"
#include "config/config.h"
#include "config/config_eval.h"
#include "config/config_json.h"
#include "core/log.h"
#include "http/server.h"
#include "master/api.h"
#include "master/api_artifacts.h"
#include "master/api_control.h"
#include "master/api_jobs.h"
#include "master/api_metrics.h"
#include "master/api_notify.h"
#include "master/api_schedulers.h"
#include "master/artifact_tokens.h"
#include "master/auth.h"
#include "master/config_reloader.h"
#include "master/controller.h"
#include "master/core_loop.h"
#include "master/event_hub.h"
#include "master/job_token.h"
#include "master/notify_control.h"
#include "master/private_files.h"
#include "master/read_pool.h"
#include "master/shared_keys.h"
#include "master/web_ui.h"
#include "notify/service.h"
#include "retention/pruner.h"
#include "schedulers/schedulers.h"

namespace grove {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::string ConfigPath(const std::string& dir) {
  return (fs::path(dir) / "grove.lua").string();
}
std::string PidPath(const std::string& dir) {
  return (fs::path(dir) / "master.pid").string();
}

// The pid file lets `grove reconfig` find the master; it is removed on a clean stop.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {
    std::ofstream(path_) << getpid() << "\n";
  }
  ~PidFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }

 private:
  std::string path_;
};

// The broker for the log: amqp[s]://user:***@host:port/vhost?... (never the password).
std::string RedactedBrokerUrl(const std::string& url) {
  amqp::AmqpUrl parsed;
  return amqp::AmqpUrl::Parse(url, &parsed).ok() ? parsed.Redacted() : "amqp (password not shown)";
}

}  // namespace

Status RunMaster(const MasterOptions& opts) {
  auto config = std::make_shared<Config>();
  EvalOptions eval;
  eval.limits = opts.config_limits;
  GROVE_RETURN_IF_ERROR(EvaluateConfig(ConfigPath(opts.dir), eval, config.get()));
  const bool amqp_mode =
      config->broker_url.rfind("amqp://", 0) == 0 || config->broker_url.rfind("amqps://", 0) == 0;
  if (config->broker_url != "embedded" && !amqp_mode)
    return Status::Invalid("broker must be \"embedded\" or an amqp:// URL");
  MakeMasterFilesPrivate(*config);  // before the store and the keys are created

  std::unique_ptr<Store> store;
  GROVE_RETURN_IF_ERROR(
      OpenStore(config->store_url, config->base_dir, &store, config->store_password));
  // The token keys: the state/ files', or those of the masters already sharing the store.
  const fs::path state_dir = fs::path(config->base_dir) / "state";
  std::string job_key, artifact_key;
  GROVE_RETURN_IF_ERROR(
      JobTokens::LoadOrCreateKey((state_dir / "job-token.key").string(), &job_key));
  GROVE_RETURN_IF_ERROR(
      ArtifactTokens::LoadOrCreateKey((state_dir / "artifacts.key").string(), &artifact_key));
  GROVE_RETURN_IF_ERROR(ShareKey(*store, "job-token", &job_key));
  GROVE_RETURN_IF_ERROR(ShareKey(*store, "artifacts", &artifact_key));
  CoreLoop core(std::move(store));
  ReadPool reads;
  GROVE_RETURN_IF_ERROR(
      reads.Start(config->store_url, config->base_dir, opts.read_threads, config->store_password));

  std::atomic<std::shared_ptr<const Config>> current(config);
  ConfigSource config_source = [&current] { return current.load(); };

  asio::io_context net(1);
  ControllerOptions copts;
  copts.worker_grace = opts.worker_grace;
  Controller controller(core, net, config, copts);
  // Schedulers and change sources (issue 3): job tokens for trigger steps, timers, git poller.
  JobTokens job_tokens(job_key);
  controller.SetJobTokenMaker(
      [&job_tokens](int64_t request, int attempt) { return job_tokens.Make(request, attempt); });
  Schedulers schedulers(core, net, controller, config);
  GitPoller git_poller(schedulers, (fs::path(config->base_dir) / "state").string());
  EventHub hub;
  controller.SetEventHub(&hub);
  // Several masters: the hub's forwarder to the others (set up once the name is known). It lives
  // as long as the hub, which hands it events.
  std::unique_ptr<LiveEvents> live_events;
  Auth auth([&current] {
    auto c = current.load();
    fs::path users(c->web.users);
    if (users.is_relative()) users = fs::path(c->base_dir) / users;
    return AuthSettings{users.string(), c->web.anonymous, c->web.metrics};
  });

  // Notifiers (issue 11): notices are queued by the controller in the build's transaction and
  // delivered by the service's lanes; their bookkeeping goes through the core loop.
  std::unique_ptr<notify::BuildControl> build_control = MakeBuildControl(controller, reads);
  notify::NotifyService notices(
      [&core](std::function<void(Store&)> task, std::function<void(const Status&)> done) {
        core.Post([task = std::move(task), done = std::move(done)](Txn& txn) {
          task(txn.store());
          txn.AfterCommit(done);
        });
      },
      {config->store_url, config->base_dir}, build_control.get());
  controller.SetNotices(&notices);
  notices.SetOnUpdate([&hub](int64_t build) {
    hub.Publish(Json{{"type", "notification"}, {"build", build}});
  });

  http::Router router;
  // GET /api/v1/status tells the home page whether the masters' configurations differ (the
  // cluster exists once the port is known, before anything is served).
  Cluster* cluster_view = nullptr;
  AddApiRoutes(router, controller, reads, config_source, [&cluster_view] {
    if (!cluster_view) return Json();
    Json all = cluster_view->Describe();
    int active = 0;
    for (const Json& m : all["masters"]) active += m.value("state", "") == "active";
    return Json{{"self", all["self"]},
                {"active", active},
                {"config_hashes_differ", all.value("config_hashes_differ", false)}};
  });
  AddJobRoutes(router, controller, config_source);  // consumer jobs (issue 5)
  // Distributed mode (issue 5): RabbitMQ's dead-letter queue, read without consuming it.
  std::unique_ptr<AmqpBroker> amqp_broker;
  router.Add(
      "GET", "/api/v1/deadletters",
      [&amqp_broker](const http::Request& req, http::Responder respond) {
        if (!amqp_broker)
          return respond(http::Response::Json(200, {{"count", 0}, {"messages", Json::array()}}));
        (void)req;
        amqp_broker->ListDeadLetters(100, [respond](Status st, Json out) {
          if (!st.ok()) return respond(http::Response::Error(503, st.message()));
          respond(http::Response::Json(200, out));
        });
      });
  // Pipelines (issue 4): per-build artifact tokens, the artifact store and test results.
  auto artifact_tokens = std::make_unique<ArtifactTokens>(artifact_key);
  controller.SetArtifactTokens(artifact_tokens.get());
  AddArtifactRoutes(
      router, core, reads, *artifact_tokens,
      {(fs::path(config->base_dir) / "state" / "artifacts").string(), config->artifact_max_bytes});
  AddControlRoutes(router, controller, reads, hub, config_source);
  AddSchedulerRoutes(router, schedulers, reads, job_tokens, config_source);
  AddNotifyRoutes(router, reads);
  AddMetricsRoutes(router, controller, reads, core, [&amqp_broker] {
    if (amqp_broker) amqp_broker->ReadQueueDepths();
  });
  // Retention (issue 13): old builds, logs, artifacts and changes pruned off the core loop.
  PrunerOptions prune_options{config->store_url, config->base_dir, config->store_password,
                              (fs::path(config->base_dir) / "state" / "artifacts").string()};
  // The builders list (api_builders.cc) is kept between events: pruned builds are one.
  prune_options.on_builds_pruned = [&hub] { hub.Publish(Json{{"type", "builds_pruned"}}); };
  Pruner pruner(config_source, std::move(prune_options));
  router.Add("GET", "/api/v1/retention", [&pruner](const http::Request&, http::Responder respond) {
    respond(http::Response::Json(200, pruner.Describe()));
  });
  router.Add("POST", "/api/v1/retention/prune",
             [&pruner](const http::Request&, http::Responder respond) {
               if (!pruner.RunNow())
                 return respond(http::Response::Error(503, "the master is stopping"));
               respond(http::Response::Json(202, {{"running", true}}));
             });
  auth.AddRoutes(router, reads);
  // While the database is unreachable, changes are refused at once with 503 rather than left
  // waiting for it (reads answer 503 on their own, from the read pool's store).
  router.SetGuard([inner = router.guard(), &core](http::Request* req) {
    std::optional<http::Response> answer = inner ? inner(req) : std::nullopt;
    if (!answer && req->method != "GET" && req->method != "HEAD" &&
        req->path.rfind("/api/", 0) == 0 && !core.store_available()) {
      answer = http::Response::Error(503, "the store is unavailable; try again shortly");
    }
    return answer;
  });
  AddWebUiRoutes(router);
  http::ServerOptions sopts;
  sopts.listen = opts.listen.empty() ? config->web.listen : opts.listen;
  sopts.max_connections = static_cast<size_t>(config->web.max_connections);
  // An artifact upload is one request body: the limit must let the largest allowed one in.
  sopts.max_body_bytes = std::max<size_t>(sopts.max_body_bytes,
                                          static_cast<size_t>(config->artifact_max_bytes) + 65536);
  http::HttpServer server(net, router, sopts);
  EmbeddedBroker broker(net, server, controller);
  controller.SetBroker(&broker);
  // Distributed mode (issue 5): jobs and events go through RabbitMQ instead.
  if (amqp_mode) {
    amqp_broker = std::make_unique<AmqpBroker>(config->broker_url, controller);
    // A worker's welcome tells it its tags and capacity (from the running configuration).
    amqp_broker->SetWorkerSettings([&current](const std::string& name) {
      auto c = current.load();
      const WorkerConfig* wc = c->FindWorkerOrInstance(name);
      return wc ? Json{{"tags", wc->tags}, {"capacity", wc->capacity}} : Json();
    });
    std::vector<std::vector<std::string>> builder_tags;
    for (const auto& b : config->builders) builder_tags.push_back(b.tags);
    // Several masters: only the holder of the "amqp-events" lease consumes (below); until the
    // lease is decided (the cluster's first round, before this master serves) none does.
    amqp_broker->SetActive(false);
    controller.GateEventsOnLease();
    // What fails here is the broker's configuration, found at start (a refused login, a TLS
    // file), never grove.lua's syntax: exit 1 like the worker, not 2 (docs/operations.md).
    if (Status st = amqp_broker->Start(builder_tags); !st.ok())
      return st.IsInvalid() ? Status::IoError(st.message()) : st;
    controller.SetBroker(amqp_broker.get());
  }

  GROVE_RETURN_IF_ERROR(server.Start());
  MetricsSampler sampler(net, controller, amqp_broker.get());
  // Several masters on one store (issue 10): the timed schedulers and the git poller run on the
  // master holding their lease, this one only once it is acquired.
  std::string host = sopts.listen.substr(0, sopts.listen.rfind(':'));
  const std::string name =
      opts.name.empty() ? DefaultMasterName(static_cast<int>(server.port())) : opts.name;
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]")
    host = DefaultMasterName(0).substr(0, DefaultMasterName(0).rfind(':'));
  Cluster cluster({name, "http://" + host + ":" + std::to_string(server.port()),
                   ConfigHash(ConfigToJson(*config)), config->store_url, config->base_dir,
                   config->store_password});
  schedulers.SetActive(false);
  git_poller.SetActive(false);
  cluster.OnLease("schedulers", [&schedulers](bool held) { schedulers.SetActive(held); });
  cluster.OnLease("git-poller", [&git_poller](bool held) { git_poller.SetActive(held); });
  cluster.OnLease("on-demand", [&controller](bool held) { controller.SetPoolsActive(held); });
  if (amqp_broker) {
    // Gained: the controller reads the jobs from the store before the first event is consumed
    // (the core loop runs its tasks in order). Lost: the consumer stops first, so no event
    // reaches a controller that no longer follows the jobs.
    cluster.OnLease("amqp-events", [&controller, &amqp_broker](bool held) {
      if (held) controller.SetEventsActive(true);
      amqp_broker->SetActive(held);
      if (!held) controller.SetEventsActive(false);
    });
  }
  // Requests and running builds are shared too (controller_cluster.cc).
  cluster.OnPeers([&controller](std::set<std::string> live, bool others_recent) {
    controller.SetPeers(std::move(live), others_recent);
  });
  controller.SetMasterName(name);
  router.Add("GET", "/api/v1/masters", [&cluster](const http::Request&, http::Responder respond) {
    respond(http::Response::Json(200, cluster.Describe()));
  });
  cluster_view = &cluster;
  // The Masters page re-reads when a master comes or goes, a lease moves or a hash changes.
  cluster.OnChange([&hub] { hub.PublishLocal(Json{{"type", "masters"}}); });
  // Live updates across the masters (PostgreSQL only: a SQLite store has one master). Set up
  // before the core loop runs, so that every committed change is forwarded.
  if (config->store_url.rfind("postgresql://", 0) == 0 ||
      config->store_url.rfind("postgres://", 0) == 0) {
    live_events = std::make_unique<LiveEvents>(
        LiveEvents::Options{name, config->store_url, config->store_password}, hub);
    hub.SetForwarder([events = live_events.get()](const Json& event) { events->Send(event); });
    // A build running through another master is stopped through it (docs/api.md).
    live_events->OnStopBuild([&controller](int64_t build, const std::string& from) {
      controller.StopRelayedBuild(build, from);
    });
    controller.SetStopRelay(
        [events = live_events.get()](int64_t build, const std::string& to) {
          events->SendStopBuild(build, to);
        },
        [&cluster] { return cluster.LeaseHolder("amqp-events"); });
    live_events->Start();
  }
  // On-demand workers (issue 13): what their start commands are told.
  controller.SetPoolEnvironment({"http://" + host + ":" + std::to_string(server.port()),
                                 amqp_mode ? config->broker_url : "",
                                 (fs::path(config->base_dir) / "state" / "pool").string()});
  core.Start();
  controller.Recover();
  sampler.Start();
  pruner.Start();
  GROVE_RETURN_IF_ERROR(notices.Start(config));
  schedulers.Start();
  git_poller.Start(*config);
  GROVE_RETURN_IF_ERROR(cluster.Start());
  PidFile pid_file(PidPath(opts.dir));
  spdlog::info("master '{}' ({}) listening on http://{}:{} (store {}, broker {})", name,
               config->project_name, sopts.listen.substr(0, sopts.listen.rfind(':')), server.port(),
               RedactedStoreUrl(config->store_url),
               amqp_mode ? RedactedBrokerUrl(config->broker_url) : config->broker_url);

  // Live-update streams get a comment every 15 s: idle proxies keep them open and the hub
  // notices subscribers that went away.
  asio::steady_timer ping(net);
  std::function<void()> schedule_ping = [&] {
    ping.expires_after(std::chrono::seconds(15));
    ping.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      hub.Ping();
      schedule_ping();
    });
  };
  schedule_ping();

  asio::signal_set stop_signals(net, SIGINT, SIGTERM);
  stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    server.Stop();
    broker.Shutdown();
    ping.cancel();
    sampler.Stop();
    // Let the close frames go out, then leave the loop.
    auto timer = std::make_shared<asio::steady_timer>(net, std::chrono::milliseconds(200));
    timer->async_wait([&net, timer](const boost::system::error_code&) { net.stop(); });
  });

  // Runs on the network thread with what the reloader's thread evaluated.
  auto apply = [&](const Status& st, std::shared_ptr<Config> fresh) {
    if (!st.ok()) {
      spdlog::error("reconfig refused, the running configuration is unchanged: {}", st.message());
      return;
    }
    if (fresh->store_url != config->store_url || fresh->store_password != config->store_password ||
        fresh->broker_url != config->broker_url || fresh->web.listen != config->web.listen)
      spdlog::warn("reconfig: store, broker and listen address take effect at the next restart");
    current.store(fresh);
    cluster.SetConfigHash(ConfigHash(ConfigToJson(*fresh)));
    controller.Reconfigure(fresh);
    schedulers.Reconfigure(fresh);
    git_poller.Reconfigure(*fresh);
    notices.Reconfigure(fresh);
    spdlog::info("reconfig applied: {} builders, {} workers", fresh->builders.size(),
                 fresh->workers.size());
  };
  ConfigReloader reloader(net, ConfigPath(opts.dir), opts.config_limits, apply);

  asio::signal_set hup(net, SIGHUP);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      reloader.Request();
      wait_hup();
    });
  };
  wait_hup();

  net.run();
  if (amqp_broker) amqp_broker->Stop();
  cluster.Stop();  // hands its leases over at once
  git_poller.Stop();
  pruner.Stop();
  notices.Stop();  // before the core loop: the last outcomes are stored through it
  core.Stop();
  if (live_events) live_events->Stop();  // after the core loop: its last changes are sent
  reads.Stop();
  spdlog::info("master stopped");
  return Status::Ok();
}

Status SignalReconfig(const std::string& dir) {
  std::ifstream in(PidPath(dir));
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0)
    return Status::NotFound("no running master in " + dir + " (no master.pid)");
  if (kill(pid, SIGHUP) != 0)
    return Status::NotFound("master process " + std::to_string(pid) + " is not running");
  return Status::Ok();
}

}  // namespace grove
