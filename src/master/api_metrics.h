// GET /metrics (Prometheus text format) and the sampler behind the home page's charts.
//
// A scrape asks the controller for the queue and workers on the core loop (exact at that
// moment, cheap: memory only), then renders the registry on a read-pool thread, never on the
// network thread. Who may read it is decided by the auth guard (web { metrics = ... }).
#pragma once

#include <functional>
#include <memory>

#include "http/router.h"

namespace boost::asio {
class io_context;
}

namespace grove {

class Controller;
class CoreLoop;
class ReadPool;
class AmqpBroker;

// While the store is unreachable (the core loop's tasks wait for it), a scrape answers at once
// with the queue figures of the last scrape or sample: metrics matter most when things break.
// |on_scrape| (may be empty) runs at most every 5 s on a scrape: with RabbitMQ it asks the
// broker's thread for fresh queue depths, which the next scrape shows.
void AddMetricsRoutes(http::Router& router, Controller& controller, ReadPool& reads, CoreLoop& core,
                      std::function<void()> on_scrape);

// Every metrics::kSampleEveryMs: a chart sample of the queue and the workers; with RabbitMQ,
// the queues' depths read by the broker's own thread (a passive declare per queue).
class MetricsSampler {
 public:
  MetricsSampler(boost::asio::io_context& net, Controller& controller, AmqpBroker* amqp);
  ~MetricsSampler();
  void Start();
  void Stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace grove
