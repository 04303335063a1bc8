// Grove's RabbitMQ topology (docs/protocol.md, "Distributed mode"), shared by the master's
// AmqpBroker and the AMQP worker so that both declare exactly the same objects.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "broker/amqp_connection.h"

namespace grove::amqp {

inline constexpr char kJobsExchange[] = "grove.jobs";        // direct, durable
inline constexpr char kEventsExchange[] = "grove.events";    // topic, durable
inline constexpr char kControlExchange[] = "grove.control";  // direct, durable
inline constexpr char kDeadExchange[] = "grove.dead";        // fanout, durable
inline constexpr char kDeadQueue[] = "grove.deadletters";
inline constexpr char kMasterEventsQueue[] = "grove.events.master";
inline constexpr char kSubmitExchange[] = "grove.submit";   // fanout, durable: applications
inline constexpr char kSubmitQueue[] = "grove.submit";      // consumed by the master
inline constexpr size_t kMaxSubmissionBytes = 1024 * 1024;  // as POST /api/v1/jobs
inline constexpr size_t kMaxSubmissionBatchBytes = 16 * 1024 * 1024;  // a JSON array of them

// The "v" of the AMQP hello and welcome. 2: the master takes binary log frames
// (core/log_frame.h). 3: a job message may be a JSON array of jobs; a master sends arrays only
// while every worker it knows said 3 in its hello (docs/protocol.md). 4 (kMergedEventsVersion):
// the master takes merged job.started / job.finished events.
inline constexpr int kAmqpProtocolVersion = 4;
inline constexpr int kAmqpJobArraysVersion = 3;

// How many deliveries of a job message may be lost (its worker died or lost its connection
// before acknowledging it) before workers dead-letter it; counted in this header.
inline constexpr char kDeliveriesHeader[] = "x-grove-deliveries";
inline constexpr int64_t kMaxDeliveries = 5;

// A builder's jobs go to the queue of its tag SET: "grove.jobs." + its tags sorted and joined
// with "+", or "grove.jobs._any" when it has none. The routing key is the queue name.
inline std::string JobQueueFor(std::vector<std::string> tags) {
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  if (tags.empty()) return "grove.jobs._any";
  std::string q = "grove.jobs.";
  for (size_t i = 0; i < tags.size(); ++i) q += (i ? "+" : "") + tags[i];
  return q;
}

// A worker can run a builder whose tags are a subset of its own: it consumes the queue of
// every subset of its tags (the empty set included). Capped at 8 tags (256 queues).
inline std::vector<std::string> QueuesForWorker(const std::vector<std::string>& worker_tags) {
  std::vector<std::string> tags(worker_tags);
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  if (tags.size() > 8) tags.resize(8);
  std::set<std::string> out;
  for (unsigned mask = 0; mask < (1u << tags.size()); ++mask) {
    std::vector<std::string> sub;
    for (size_t i = 0; i < tags.size(); ++i)
      if (mask & (1u << i)) sub.push_back(tags[i]);
    out.insert(JobQueueFor(sub));
  }
  return {out.begin(), out.end()};
}

inline std::string ControlQueueFor(const std::string& worker) {
  return "grove.control." + worker;
}

// A job queue, bound to the jobs exchange under its own name, dead-lettering to grove.dead
// (idempotent).
inline Status DeclareJobQueue(AmqpConnection& c, const std::string& queue) {
  QueueOptions jq;
  jq.dead_letter_exchange = kDeadExchange;
  GROVE_RETURN_IF_ERROR(c.DeclareQueue(queue, jq));
  return c.Bind(queue, kJobsExchange, queue);
}

// Exchanges, the dead-letter queue and the job queues |queues| (idempotent).
inline Status DeclareTopology(AmqpConnection& c, const std::vector<std::string>& queues) {
  GROVE_RETURN_IF_ERROR(c.DeclareExchange(kJobsExchange, "direct"));
  GROVE_RETURN_IF_ERROR(c.DeclareExchange(kEventsExchange, "topic"));
  GROVE_RETURN_IF_ERROR(c.DeclareExchange(kControlExchange, "direct"));
  GROVE_RETURN_IF_ERROR(c.DeclareExchange(kDeadExchange, "fanout"));
  GROVE_RETURN_IF_ERROR(c.DeclareQueue(kDeadQueue, {}));
  GROVE_RETURN_IF_ERROR(c.Bind(kDeadQueue, kDeadExchange, ""));
  for (const auto& q : queues) GROVE_RETURN_IF_ERROR(DeclareJobQueue(c, q));
  return Status::Ok();
}

}  // namespace grove::amqp
