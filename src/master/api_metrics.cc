#include "master/api_metrics.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/amqp_broker.h"
#include "core/clock.h"
#include "master/controller.h"
#include "master/core_loop.h"
#include "master/read_pool.h"
#include "metrics/master_metrics.h"

namespace grove {

namespace asio = boost::asio;

void AddMetricsRoutes(http::Router& router, Controller& controller, ReadPool& reads, CoreLoop& core,
                      std::function<void()> on_scrape) {
  auto last_refresh = std::make_shared<std::atomic<int64_t>>(0);
  router.Add(
      "GET", "/metrics",
      [&controller, &reads, &core, on_scrape, last_refresh](const http::Request&,
                                                            http::Responder respond) {
        const int64_t now = NowMs();
        int64_t last = last_refresh->load();
        if (on_scrape && now - last >= 5000 && last_refresh->compare_exchange_strong(last, now))
          on_scrape();
        auto render = [&reads, respond] {
          reads.Run([respond](Store&) {
            http::Response r = http::Response::Text(200, metrics::Render());
            r.content_type = "text/plain; version=0.0.4; charset=utf-8";
            respond(std::move(r));
          });
        };
        if (!core.store_available()) return render();
        controller.SnapshotQueue([render](const metrics::QueueState& s) {
          metrics::SetQueueState(s);
          render();
        });
      });
}

struct MetricsSampler::State {
  State(asio::io_context& n, Controller& c, AmqpBroker* a)
      : net(n), controller(c), amqp(a), timer(n) {}
  asio::io_context& net;
  Controller& controller;
  AmqpBroker* amqp;
  asio::steady_timer timer;
  bool stopped = false;
};

MetricsSampler::MetricsSampler(asio::io_context& net, Controller& controller, AmqpBroker* amqp)
    : state_(std::make_shared<State>(net, controller, amqp)) {}

MetricsSampler::~MetricsSampler() {
  Stop();
}

namespace {

void Tick(const std::shared_ptr<MetricsSampler::State>& st);

}  // namespace

void MetricsSampler::Start() {
  Tick(state_);
}

void MetricsSampler::Stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

namespace {

void Tick(const std::shared_ptr<MetricsSampler::State>& st) {
  if (st->stopped) return;
  st->controller.SnapshotQueue([](const metrics::QueueState& s) {
    metrics::SetQueueState(s);
    int64_t queued = 0;
    for (const auto& [b, n] : s.queued_by_builder) queued += n;
    metrics::RecordSample({NowMs(), queued, s.running, s.workers_connected, s.workers_busy});
  });
  if (st->amqp) st->amqp->ReadQueueDepths();
  st->timer.expires_after(std::chrono::milliseconds(metrics::kSampleEveryMs));
  st->timer.async_wait([st](const boost::system::error_code& ec) {
    if (!ec) Tick(st);
  });
}

}  // namespace

}  // namespace grove
