// The registry and thread pool behind in-process consumers (C++ SDK).
#include "worker/in_process_consumers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
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

// A burst of calls wakes one thread, which runs them in turn while they return at once; but a
// call that blocks must not hold back those queued behind it: another thread takes them.
TEST(InProcessConsumers, CallsQueuedBehindABlockingOneStillRun) {
  InProcessConsumers c;
  c.set_max_threads(4);
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<int> quick_done{0};
  std::atomic<bool> blocked_done{false};
  for (int round = 0; round < 3; ++round) {
    // The blocking call first, the quick ones right behind it, in one burst.
    if (round == 0)
      c.Submit([&, go] {
        go.wait();
        blocked_done = true;
      });
    for (int i = 0; i < 20; ++i) c.Submit([&] { ++quick_done; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (quick_done < 20 * (round + 1) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(quick_done.load(), 20 * (round + 1)) << "round " << round;
    EXPECT_FALSE(blocked_done.load());
  }
  release.set_value();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!blocked_done && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_TRUE(blocked_done.load());
}

// With the limit reached by blocking calls, the next waits; it runs as soon as one returns.
TEST(InProcessConsumers, AQueuedCallRunsWhenAThreadFreesUp) {
  InProcessConsumers c;
  c.set_max_threads(1);
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<bool> second{false};
  c.Submit([go] { go.wait(); });
  c.Submit([&] { second = true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(second.load());
  release.set_value();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!second && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_TRUE(second.load());
}

// Submitted from an io_context's thread, a call's wake-up waits for that context's ready
// handlers; the calls still all run, a blocking one holding back none, and a wake-up dropped with
// its io_context (stopped, destroyed) does not stop the next call from waking a thread.
TEST(InProcessConsumers, WakeUpsDeferredToTheIoContextStillRunEveryCall) {
  InProcessConsumers c;
  c.set_max_threads(4);
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<int> quick_done{0};
  auto wait_quick = [&](int n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (quick_done < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return quick_done.load();
  };
  {
    boost::asio::io_context io;
    boost::asio::post(io, [&] {
      c.Submit([go] { go.wait(); }, &io);
      for (int i = 0; i < 10; ++i) c.Submit([&] { ++quick_done; }, &io);
    });
    io.run();
    EXPECT_EQ(wait_quick(10), 10);
  }
  // The pool threads idle (one blocked), so the next call needs a wake-up.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    // Its wake-up posted, never run: the io_context goes first.
    boost::asio::io_context io;
    boost::asio::post(io, [&] {
      c.Submit([&] { ++quick_done; }, &io);
      io.stop();
    });
    io.run();
  }
  boost::asio::io_context io;
  boost::asio::post(io, [&] { c.Submit([&] { ++quick_done; }, &io); });
  io.run();
  EXPECT_EQ(wait_quick(12), 12);
  release.set_value();
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
