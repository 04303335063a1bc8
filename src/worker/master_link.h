// MasterLink: the worker's WebSocket connection to the master (the embedded broker).
//
// It says hello (name, secret, capacity, the jobs it still runs), receives jobs and cancels,
// and sends events from an outbox. An event leaves the outbox only when the master
// acknowledges it (after storing it), so a master restart or a network break loses nothing:
// the link reconnects with backoff and sends again whatever was not acknowledged.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "worker/job_runner.h"
#include "worker/link_transport.h"

namespace boost::asio {
class io_context;
}

namespace grove {

struct LinkOptions {
  std::string master_url;  // http://host:port
  // Several masters: connected to one at a time, the next in turn each time the link is lost
  // (the outbox goes to whichever it reaches). Empty means master_url alone.
  std::vector<std::string> master_urls;
  std::string name;
  std::string secret;
  int capacity = 0;  // 0: as configured on the master
  size_t congestion_bytes = 8 << 20;
};

class LinkHandler {
 public:
  virtual ~LinkHandler() = default;
  virtual Json RunningJobs() = 0;  // [{"request","attempt"}] of the jobs being run
  virtual void OnJob(const Json& job) = 0;
  virtual void OnCancel(int64_t request, int attempt) = 0;
  virtual void OnDrained() = 0;  // the outbox is no longer congested
  virtual void OnRefused(const std::string& why) = 0;
};

class MasterLink : public EventSink {
 public:
  MasterLink(boost::asio::io_context& io, LinkOptions opts, LinkHandler& handler);
  ~MasterLink() override;

  void Start();
  void Stop();
  void Emit(Json event) override;
  bool Congested() const override;
  bool MergesEvents() const override;
  // True when every event emitted so far has been acknowledged.
  bool Drained() const;
  // The master connected to (or being tried).
  std::string CurrentUrl() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace grove
