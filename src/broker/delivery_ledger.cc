#include "broker/delivery_ledger.h"

namespace grove::amqp {

void DeliveryLedger::Delivered(uint64_t tag) {
  // A channel numbers its deliveries 1, 2, 3...: a gap means one went past this ledger, and a
  // multiple ack could settle it unseen.
  if (tag != last_tag_ + 1) in_sequence_ = false;
  last_tag_ = tag > last_tag_ ? tag : last_tag_;
  unsettled_.emplace(tag, false);
}

void DeliveryLedger::Settled(uint64_t tag) {
  auto it = unsettled_.find(tag);
  if (it == unsettled_.end()) return;
  if (it->second) --queued_;
  unsettled_.erase(it);
}

void DeliveryLedger::AckLater(uint64_t tag) {
  auto it = unsettled_.find(tag);
  if (it == unsettled_.end() || it->second) return;
  it->second = true;
  ++queued_;
}

DeliveryLedger::Acks DeliveryLedger::TakeAcks() {
  Acks out;
  if (queued_ == 0) return out;
  auto it = unsettled_.begin();
  if (in_sequence_) {
    // Every delivery below the first open one is to be acknowledged: one frame for them all.
    while (it != unsettled_.end() && it->second) {
      out.multiple_upto = it->first;
      it = unsettled_.erase(it);
      --queued_;
    }
  }
  for (; queued_ > 0 && it != unsettled_.end();) {
    if (!it->second) {
      ++it;
      continue;
    }
    out.singles.push_back(it->first);
    it = unsettled_.erase(it);
    --queued_;
  }
  return out;
}

}  // namespace grove::amqp
