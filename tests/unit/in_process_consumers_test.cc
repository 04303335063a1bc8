// The registry and thread pool behind in-process consumers (C++ SDK).
#include "worker/in_process_consumers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace grove {
namespace {

TEST(InProcessConsumers, FindsWhatWasAdded) {
  InProcessConsumers c;
  c.Add("echo", [](const InProcessCall& call) {
    return InProcessReply{Result::kSuccess, call.payload, ""};
  });
  c.Add("fail", [](const InProcessCall&) {
    return InProcessReply{Result::kFailure, nullptr, "no"};
  });
  ASSERT_NE(c.Find("echo"), nullptr);
  EXPECT_EQ(c.Find("nope"), nullptr);
  EXPECT_EQ(c.Names(), (std::vector<std::string>{"echo", "fail"}));
  InProcessCall call;
  call.payload = {{"n", 1}};
  EXPECT_EQ((*c.Find("echo"))(call).result_json, call.payload);
}

// Blocking consumers must not wait behind each other while the capacity allows both.
TEST(InProcessConsumers, RunsBlockingCallsSideBySideUpToTheLimit) {
  InProcessConsumers c;
  c.set_max_threads(2);
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<int> running{0}, done{0};
  for (int i = 0; i < 3; ++i)
    c.Submit([&, go] {
      ++running;
      go.wait();
      ++done;
    });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (running < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(running.load(), 2);  // the third waits for a thread: the limit is 2
  release.set_value();
  while (done < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(done.load(), 3);
}

TEST(InProcessConsumers, DestructionWaitsForRunningCalls) {
  std::atomic<bool> finished{false};
  {
    InProcessConsumers c;
    c.Submit([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      finished = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace grove
