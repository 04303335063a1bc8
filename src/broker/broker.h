// Broker, master side: carries jobs and control messages to workers and brings their events
// back (DESIGN.md, "Broker"). The embedded broker speaks WebSocket on the master's HTTP port;
// the AMQP broker goes through RabbitMQ. The JSON is the same on both.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/status.h"
#include "core/worker_event.h"
#include "core/worker_messages.h"

namespace grove {

// A connection of one worker process; a reconnect gets a new id.
using ConnId = uint64_t;

// Implemented by the master. Called from the broker's thread; the implementation moves work to
// its own thread.
class BrokerListener {
 public:
  virtual ~BrokerListener() = default;
  // |reply| is called once, from any thread: ok → the worker is welcome; else refused.
  virtual void OnHello(ConnId conn, WorkerHello hello, std::function<void(Status)> reply) = 0;
  // Messages from an accepted worker, in the order they arrived.
  virtual void OnMessages(ConnId conn, const std::string& worker, std::vector<Json> msgs) = 0;
  // The same, as the AMQP broker reads them: each a tree or its fields read without one
  // (core/event_parse.h).
  virtual void OnEvents(ConnId conn, const std::string& worker,
                        std::vector<WorkerEvent> events) = 0;
  virtual void OnClosed(ConnId conn, const std::string& worker) = 0;
  // Distributed mode: a submission (a build or consumer job to enqueue) an application
  // published to grove.submit. |done| is called once, from any thread, when it is durable (ok),
  // refused for good (Invalid, NotFound) or failed for now (anything else).
  virtual void OnSubmission(Json /*msg*/, std::function<void(Status)> done) {
    done(Status::Unavailable("submissions are not handled"));
  }
};

class Broker {
 public:
  virtual ~Broker() = default;
  // Thread-safe; messages to a closed connection are dropped.
  virtual void Send(ConnId conn, Json msg) = 0;
  virtual void Close(ConnId conn, const std::string& reason) = 0;
  // Distributed mode (AmqpBroker): the broker, not the dispatcher, picks the worker. A job is
  // handed over with PublishJob for the queue of the builder's |tags|; its worker is known from
  // its first event.
  virtual bool RoutesJobs() const { return false; }
  virtual void PublishJob(const std::vector<std::string>& /*tags*/, Json /*msg*/) {}
  // PublishJob of a job already serialized: |job_text| is the job object's JSON (JobText, not
  // the {"type": "job"} envelope); |consumer| when its builder is a consumer's.
  virtual void PublishJobText(const std::vector<std::string>& tags, std::string job_text,
                              bool /*consumer*/) {
    PublishJob(tags, Json{{"type", "job"}, {"job", Json::parse(job_text)}});
  }
  // Distributed mode: how many jobs wait (ready, taken by no worker) in each of |queues|, for
  // the on-demand pools. Answered on the broker's thread; a broker without queues answers an
  // empty map.
  using QueueDepthsDone = std::function<void(Status, std::map<std::string, int64_t>)>;
  virtual void QueueDepths(std::vector<std::string> /*queues*/, QueueDepthsDone done) {
    done(Status::Ok(), {});
  }
};

}  // namespace grove
