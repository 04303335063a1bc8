// DeliveryLedger: the deliveries of one AMQP channel not settled yet, so that acknowledgements
// queued during a round go out as one basic.ack with multiple=true where that is exact.
//
// basic.ack multiple=true settles EVERY outstanding delivery up to its tag, so it may only
// cover tags this ledger saw delivered and that are all to be acknowledged: it stops below the
// first delivery still open (a job running, events not yet stored, a message peeked), and it is
// never used again once a tag came out of sequence (a delivery this ledger might not know of).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace grove::amqp {

class DeliveryLedger {
 public:
  // A delivery (basic.deliver or basic.get-ok) with |tag|, in the order the channel gave them.
  void Delivered(uint64_t tag);
  // Acknowledged or rejected now, one by one.
  void Settled(uint64_t tag);
  // To be acknowledged at the next TakeAcks. A tag not delivered (or settled) is ignored.
  void AckLater(uint64_t tag);

  struct Acks {
    uint64_t multiple_upto = 0;     // 0: none; else basic.ack(tag, multiple=true)
    std::vector<uint64_t> singles;  // basic.ack(tag) each, beyond an open delivery
  };
  // The acknowledgements queued by AckLater, as few frames as is exact; they count as settled.
  Acks TakeAcks();

  size_t open() const { return unsettled_.size(); }

 private:
  std::map<uint64_t, bool> unsettled_;  // tag -> acknowledgement queued
  uint64_t last_tag_ = 0;               // the highest tag delivered
  bool in_sequence_ = true;             // every tag was last_tag_ + 1
  size_t queued_ = 0;
};

}  // namespace grove::amqp
