// The on-demand pools' decisions (src/pool/pool_decide.h): snapshot in, commands out.
#include "pool/pool.h"

#include <gtest/gtest.h>

#include <atomic>

#include "pool/pool_command.h"
#include "pool/pool_decide.h"

namespace grove::pool {
namespace {

OnDemandConfig Cfg(int max, int min = 0, int64_t idle_s = 60, int64_t timeout_s = 30) {
  OnDemandConfig c;
  c.enabled = true;
  c.start = {"start"};
  c.stop = {"stop"};
  c.max = max;
  c.min = min;
  c.idle_s = idle_s;
  c.start_timeout_s = timeout_s;
  return c;
}

Snapshot Snap(int64_t now, int waiting, std::map<std::string, Seen> connected = {}) {
  Snapshot s;
  s.now = now;
  s.waiting = waiting;
  s.connected = std::move(connected);
  s.reconnect_grace_ms = 5000;
  return s;
}

int Count(const std::vector<Action>& actions, ActionKind kind) {
  int n = 0;
  for (const auto& a : actions) n += a.kind == kind;
  return n;
}

InstanceState StateOf(const PoolState& s, const std::string& name) {
  const Instance* i = FindInstance(s, name);
  EXPECT_NE(i, nullptr) << name;
  return i ? i->state : InstanceState::kFailed;
}

TEST(PoolDecide, StartsForWaitingRequestsUpToMax) {
  PoolState s;
  auto a = Decide("burst", Cfg(4), 2, Snap(1000, 200), &s);
  EXPECT_EQ(Count(a, ActionKind::kStart), 4);
  ASSERT_EQ(s.instances.size(), 4u);
  EXPECT_EQ(s.instances[0].name, "burst-1");
  EXPECT_EQ(s.instances[3].name, "burst-4");
  // Still 200 waiting, none connected yet: nothing more (max reached).
  a = Decide("burst", Cfg(4), 2, Snap(2000, 200), &s);
  EXPECT_TRUE(a.empty());
}

TEST(PoolDecide, StartingInstancesCoverTheirCapacity) {
  PoolState s;
  auto a = Decide("burst", Cfg(8), 4, Snap(1000, 5), &s);
  EXPECT_EQ(Count(a, ActionKind::kStart), 2);  // ceil(5 / 4)
  a = Decide("burst", Cfg(8), 4, Snap(1500, 8), &s);
  EXPECT_TRUE(a.empty());  // 2 starting x 4 cover 8
  a = Decide("burst", Cfg(8), 4, Snap(1600, 9), &s);
  EXPECT_EQ(Count(a, ActionKind::kStart), 1);
}

TEST(PoolDecide, NothingWaitingStartsNothing) {
  PoolState s;
  EXPECT_TRUE(Decide("burst", Cfg(4), 1, Snap(1000, 0), &s).empty());
}

TEST(PoolDecide, KeepsMinWarm) {
  PoolState s;
  auto a = Decide("burst", Cfg(4, 1, 2), 1, Snap(1000, 0), &s);
  ASSERT_EQ(Count(a, ActionKind::kStart), 1);
  // Connected and idle for long: it is the min, so it stays.
  Decide("burst", Cfg(4, 1, 2), 1, Snap(2000, 0, {{"burst-1", {}}}), &s);
  a = Decide("burst", Cfg(4, 1, 2), 1, Snap(60000, 0, {{"burst-1", {}}}), &s);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(StateOf(s, "burst-1"), InstanceState::kIdle);
}

TEST(PoolDecide, IdleInstanceIsStoppedAfterIdle) {
  PoolState s;
  Decide("burst", Cfg(4, 0, 2), 1, Snap(1000, 1), &s);
  Decide("burst", Cfg(4, 0, 2), 1, Snap(1500, 0, {{"burst-1", {1, 1500}}}), &s);
  EXPECT_EQ(StateOf(s, "burst-1"), InstanceState::kBusy);
  // Its job ended at 3000.
  auto a = Decide("burst", Cfg(4, 0, 2), 1, Snap(3000, 0, {{"burst-1", {0, 1500}}}), &s);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(StateOf(s, "burst-1"), InstanceState::kIdle);
  a = Decide("burst", Cfg(4, 0, 2), 1, Snap(4999, 0, {{"burst-1", {0, 1500}}}), &s);
  EXPECT_TRUE(a.empty());
  a = Decide("burst", Cfg(4, 0, 2), 1, Snap(5000, 0, {{"burst-1", {0, 1500}}}), &s);
  ASSERT_EQ(Count(a, ActionKind::kStop), 1);
  EXPECT_EQ(StateOf(s, "burst-1"), InstanceState::kStopping);
  EXPECT_TRUE(TakesNoJob(InstanceState::kStopping));
  OnStopDone(&s, "burst-1");
  EXPECT_TRUE(s.instances.empty());
}

TEST(PoolDecide, NeverStopsABusyInstance) {
  PoolState s;
  Decide("burst", Cfg(1, 0, 1), 1, Snap(1000, 1), &s);
  for (int64_t t = 2000; t < 100000; t += 1000) {
    auto a = Decide("burst", Cfg(1, 0, 1), 1, Snap(t, 0, {{"burst-1", {1, 1500}}}), &s);
    EXPECT_EQ(Count(a, ActionKind::kStop), 0) << t;
  }
}

TEST(PoolDecide, IdleInstanceStaysWhileRequestsWait) {
  PoolState s;
  Decide("burst", Cfg(2, 0, 1), 1, Snap(1000, 1), &s);
  Decide("burst", Cfg(2, 0, 1), 1, Snap(1100, 0, {{"burst-1", {}}}), &s);
  // A request it cannot take waits (another instance will): the idle one is not stopped.
  auto a = Decide("burst", Cfg(2, 0, 1), 1, Snap(9000, 1, {{"burst-1", {}}}), &s);
  EXPECT_EQ(Count(a, ActionKind::kStop), 0);
}

TEST(PoolDecide, StartTimeoutIsAFailedStartWithBackoff) {
  PoolState s;
  Decide("burst", Cfg(4, 0, 60, 10), 1, Snap(1000, 1), &s);
  auto a = Decide("burst", Cfg(4, 0, 60, 10), 1, Snap(11000, 1), &s);
  ASSERT_EQ(Count(a, ActionKind::kStop), 1);
  EXPECT_EQ(Count(a, ActionKind::kStart), 0);  // backing off
  EXPECT_EQ(StateOf(s, "burst-1"), InstanceState::kFailed);
  EXPECT_EQ(s.failures, 1);
  EXPECT_EQ(s.backoff_until, 11000 + BackoffMs(1));
  EXPECT_NE(s.last_error.find("did not connect within 10s"), std::string::npos);
  // The failed one still counts toward max until its stop ends; after the backoff one probe.
  OnStopDone(&s, "burst-1");
  a = Decide("burst", Cfg(4, 0, 60, 10), 1, Snap(11000 + BackoffMs(1), 5), &s);
  EXPECT_EQ(Count(a, ActionKind::kStart), 1);
  // It connects: the failures are forgotten and the pool grows again.
  a = Decide("burst", Cfg(4, 0, 60, 10), 1, Snap(20000, 5, {{"burst-1", {1, 20000}}}), &s);
  EXPECT_EQ(s.failures, 0);
  EXPECT_EQ(Count(a, ActionKind::kStart), 3);
}

TEST(PoolDecide, BackoffDoublesUpToFiveMinutes) {
  EXPECT_EQ(BackoffMs(1), 5000);
  EXPECT_EQ(BackoffMs(2), 10000);
  EXPECT_EQ(BackoffMs(3), 20000);
  EXPECT_EQ(BackoffMs(20), 300000);
}

TEST(PoolDecide, FailedStartCommandStopsAndBacksOff) {
  PoolState s;
  Decide("burst", Cfg(4), 1, Snap(1000, 2), &s);
  auto a = OnStartDone(&s, "burst-2", false, "start command exited with code 3", 1200);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, ActionKind::kStop);
  EXPECT_EQ(StateOf(s, "burst-2"), InstanceState::kFailed);
  EXPECT_EQ(s.failures, 1);
  EXPECT_NE(s.last_error.find("exited with code 3"), std::string::npos);
  // burst-1 came up and serves; no new start during the backoff.
  a = Decide("burst", Cfg(4), 1, Snap(1300, 5, {{"burst-1", {1, 1300}}}), &s);
  EXPECT_EQ(Count(a, ActionKind::kStart), 0);
  EXPECT_EQ(StateOf(s, "burst-1"), InstanceState::kBusy);
}

TEST(PoolDecide, DisconnectedInstanceIsStoppedAfterTheGrace) {
  PoolState s;
  Decide("burst", Cfg(2), 1, Snap(1000, 1), &s);
  Decide("burst", Cfg(2), 1, Snap(2000, 0, {{"burst-1", {1, 2000}}}), &s);
  auto a = Decide("burst", Cfg(2), 1, Snap(3000, 0), &s);  // killed
  EXPECT_EQ(StateOf(s, "burst-1"), InstanceState::kDisconnected);
  EXPECT_TRUE(a.empty());
  // Its job is queued again: a second instance is started for it meanwhile.
  a = Decide("burst", Cfg(2), 1, Snap(4000, 1), &s);
  EXPECT_EQ(Count(a, ActionKind::kStart), 1);
  a = Decide("burst", Cfg(2), 1, Snap(8000, 1), &s);
  ASSERT_EQ(Count(a, ActionKind::kStop), 1);
  EXPECT_EQ(a[0].name, "burst-1");
  EXPECT_EQ(s.failures, 0);  // not a failed start
}

TEST(PoolDecide, RecoveredInstanceIsAdoptedOrStopped) {
  Pool p([] {
    WorkerConfig wc;
    wc.name = "burst";
    wc.secret = "s";
    wc.on_demand = Cfg(4, 0, 60, 10);
    return wc;
  }());
  std::vector<PoolInstanceRecord> recs = {{"burst-1", "burst", "burst-1-5-1", "connected", 5, 5},
                                          {"burst-2", "burst", "burst-2-5-2", "connected", 5, 5},
                                          {"other-1", "other", "x", "connected", 5, 5}};
  EXPECT_TRUE(p.Recover(recs, 1000).empty());
  ASSERT_EQ(p.state().instances.size(), 2u);
  EXPECT_TRUE(p.Admit("burst-1").ok());
  EXPECT_FALSE(p.Admit("burst-3").ok());  // never started
  // burst-1 is back (idle: it takes what it can); one request waits, which burst-2 will take
  // when it is back: no duplicate is started.
  auto a = p.Tick(Snap(1500, 1, {{"burst-1", {}}}));
  EXPECT_EQ(Count(a, ActionKind::kStart), 0);
  // burst-2 never comes back: stopped, not counted as a failed start.
  a = p.Tick(Snap(11000, 0, {{"burst-1", {}}}));
  ASSERT_EQ(Count(a, ActionKind::kStop), 1);
  EXPECT_EQ(a[0].name, "burst-2");
  EXPECT_EQ(a[0].id, "burst-2-5-2");
  EXPECT_EQ(p.state().failures, 0);
}

TEST(PoolDecide, LoweredMaxDrainsTheInstancesAbove) {
  WorkerConfig wc;
  wc.name = "burst";
  wc.secret = "s";
  wc.on_demand = Cfg(3);
  Pool p(wc);
  p.Tick(Snap(1000, 3));
  p.Tick(Snap(1100, 0, {{"burst-1", {}}, {"burst-2", {}}, {"burst-3", {1, 1100}}}));
  wc.on_demand.max = 1;
  p.Reconfigure(wc, 1200);
  EXPECT_EQ(StateOf(p.state(), "burst-3"), InstanceState::kDraining);
  EXPECT_EQ(StateOf(p.state(), "burst-2"), InstanceState::kDraining);
  EXPECT_EQ(StateOf(p.state(), "burst-1"), InstanceState::kIdle);
  // burst-2 is idle: stopped now; burst-3 is busy: not stopped until its job ends.
  auto a = p.Tick(Snap(1300, 0, {{"burst-1", {}}, {"burst-2", {}}, {"burst-3", {1, 1100}}}));
  ASSERT_EQ(Count(a, ActionKind::kStop), 1);
  EXPECT_EQ(a[0].name, "burst-2");
  EXPECT_EQ(Count(a, ActionKind::kStart), 0);
  a = p.Tick(Snap(1400, 0, {{"burst-1", {}}, {"burst-3", {0, 1100}}}));
  ASSERT_EQ(Count(a, ActionKind::kStop), 1);
  EXPECT_EQ(a[0].name, "burst-3");
}

TEST(PoolCommand, OutputIsBoundedAndFailuresSaySo) {
  std::atomic<bool> cancel{false};
  BoundedCommand cmd;
  cmd.argv = {"/bin/sh", "-c", "head -c 20000 /dev/zero | tr '\\\\0' x; echo END; exit 3"};
  cmd.env = {"PATH=/usr/bin:/bin"};
  cmd.limit_s = 20;
  CommandOutcome out = RunCommand(cmd, cancel);
  EXPECT_FALSE(out.status.ok());
  EXPECT_NE(out.status.message().find("exited with code 3"), std::string::npos);
  EXPECT_LE(out.output.size(), kMaxCommandOutput);
  EXPECT_NE(out.output.find("END"), std::string::npos);
}

TEST(PoolCommand, ABackgroundChildDoesNotHoldTheCommand) {
  std::atomic<bool> cancel{false};
  BoundedCommand cmd;
  // The background sleep keeps stdout open; the command is over when the shell exits.
  cmd.argv = {"/bin/sh", "-c", "echo started; sleep 8 & exit 0"};
  cmd.env = {"PATH=/usr/bin:/bin"};
  cmd.limit_s = 60;
  CommandOutcome out = RunCommand(cmd, cancel);
  EXPECT_TRUE(out.status.ok()) << out.status.message();
  EXPECT_NE(out.output.find("started"), std::string::npos);
  EXPECT_LT(out.duration_ms, 6000);
}

}  // namespace
}  // namespace grove::pool
