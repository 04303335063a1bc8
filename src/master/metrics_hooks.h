// Recording a metric from a core-loop task: only once the task's batch is committed, so that a
// batch rolled back and run again (core_loop.h) never counts its builds twice.
#pragma once

#include <functional>

#include "master/core_loop.h"

namespace grove {

inline void RecordOnCommit(Txn& txn, std::function<void()> record) {
  txn.AfterCommit([record = std::move(record)](const Status& st) {
    if (st.ok()) record();
  });
}

}  // namespace grove
