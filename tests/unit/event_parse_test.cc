// The master's one-pass read of AMQP event messages (core/event_parse.h): what it takes it reads
// exactly as the tree's way (ParseUntrusted + CheckEvent) would, and everything else — anything
// malformed included — it leaves to the tree's way, which refuses it with its message.
#include "core/event_parse.h"

#include <gtest/gtest.h>

#include <random>

#include "core/json_fields.h"
#include "core/worker_messages.h"

namespace grove {
namespace {

bool Fast(std::string_view body, std::vector<WorkerEvent>* out = nullptr) {
  std::vector<WorkerEvent> events;
  std::string worker, instance;
  const bool ok = ParseEventsFast(body, &events, &worker, &instance);
  if (out) *out = std::move(events);
  return ok;
}

// The tree's way, as the AMQP broker runs it: true when it takes the message.
bool TreeTakes(std::string_view body, std::vector<Json>* out) {
  Json j = ParseUntrusted(body);
  if (j.is_discarded()) return false;
  std::vector<Json> events;
  if (j.is_array())
    for (auto& e : j) events.push_back(e);
  else
    events.push_back(j);
  if (events.empty()) return false;
  for (const Json& e : events) {
    if (!CheckEvent(e).ok() || !e.contains("worker") || !e["worker"].is_string()) return false;
    if (e["worker"] != events.front()["worker"]) return false;
  }
  *out = std::move(events);
  return true;
}

// What the fast read took equals what the tree's way reads of the same message.
void ExpectSameAsTree(std::string_view body) {
  SCOPED_TRACE(std::string(body));
  std::vector<WorkerEvent> fast;
  std::string worker, instance;
  if (!ParseEventsFast(body, &fast, &worker, &instance)) return;  // left to the tree's way
  std::vector<Json> tree;
  ASSERT_TRUE(TreeTakes(body, &tree)) << "taken by the fast read, refused by the tree's way";
  ASSERT_EQ(fast.size(), tree.size());
  EXPECT_EQ(worker, tree.front()["worker"].get<std::string>());
  EXPECT_EQ(instance, StringOr(tree.front(), "instance"));
  for (size_t i = 0; i < fast.size(); ++i) {
    const WorkerEvent& f = fast[i];
    const Json& t = tree[i];
    EXPECT_TRUE(f.tree.is_null());
    EXPECT_EQ(f.id, IntOr(t, "id", -1));
    EXPECT_EQ(f.type, StringOr(t, "type"));
    EXPECT_EQ(f.request, IntOr(t, "request", 0));
    EXPECT_EQ(f.attempt, IntOr(t, "attempt", 0));
    EXPECT_EQ(f.has_step, t.contains("step") && t["step"].is_number_integer());
    EXPECT_EQ(f.step, IntOr(t, "step", 0));
    EXPECT_EQ(f.log_chunks, IntOr(t, "log_chunks", 0));
    EXPECT_EQ(f.name, StringOr(t, "name"));
    EXPECT_EQ(f.result, StringOr(t, "result"));
    EXPECT_EQ(f.has_step_result, t.contains("step_result") && t["step_result"].is_string());
    EXPECT_EQ(f.step_result, StringOr(t, "step_result"));
    EXPECT_EQ(f.has_builddir, t.contains("builddir") && t["builddir"].is_string());
    EXPECT_EQ(f.builddir, StringOr(t, "builddir"));
    const Json props =
        t.contains("properties") && t["properties"].is_object() ? t["properties"] : Json();
    EXPECT_EQ(f.properties, props);
    EXPECT_EQ(f.result_json, t.value("result_json", Json()));
  }
}

const char* kMerged =
    R"([{"type":"job.started","request":7,"attempt":1,"step":0,"name":"consume",)"
    R"("builddir":"/w/b","id":3,"worker":"w1","instance":"i-1"},)"
    R"({"type":"job.finished","request":7,"attempt":1,"step":0,"step_result":"success",)"
    R"("result":"success","log_chunks":0,"result_json":{"n":7,"list":[1,[2,{"x":null}]]},)"
    R"("properties":{"a":"b","nested":{"c":[true,false,1.5]}},"id":4,"worker":"w1",)"
    R"("instance":"i-1"}])";

TEST(EventParse, ReadsAConsumerJobsMergedEvents) {
  std::vector<WorkerEvent> ev;
  std::string worker, instance;
  ASSERT_TRUE(ParseEventsFast(kMerged, &ev, &worker, &instance));
  EXPECT_EQ(worker, "w1");
  EXPECT_EQ(instance, "i-1");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "job.started");
  EXPECT_EQ(ev[0].id, 3);
  EXPECT_EQ(ev[0].request, 7);
  EXPECT_EQ(ev[0].attempt, 1);
  EXPECT_TRUE(ev[0].has_step);
  EXPECT_EQ(ev[0].name, "consume");
  EXPECT_TRUE(ev[0].has_builddir);
  EXPECT_EQ(ev[0].builddir, "/w/b");
  EXPECT_TRUE(ev[0].result_json.is_null());
  EXPECT_EQ(ev[1].type, "job.finished");
  EXPECT_EQ(ev[1].id, 4);
  EXPECT_TRUE(ev[1].has_step_result);
  EXPECT_EQ(ev[1].step_result, "success");
  EXPECT_EQ(ev[1].result, "success");
  EXPECT_EQ(ev[1].result_json, Json::parse(R"({"n":7,"list":[1,[2,{"x":null}]]})"));
  EXPECT_EQ(ev[1].properties, Json::parse(R"({"a":"b","nested":{"c":[true,false,1.5]}})"));
  ExpectSameAsTree(kMerged);
}

TEST(EventParse, ReadsOneEventObjectAndSkipsUnknownFields) {
  const char* one =
      R"({"type":"step.finished","step":2,"result":"failure","id":9,"worker":"w2",)"
      R"("future":{"a":[1,{"b":[]}],"c":"x"},"also":[[],[{}]],"n":-5,"f":2.5,"z":null,)"
      R"("u":18446744073709551615,"t":true,"description":"d","seq":3,"data":"x",)"
      R"("result_json":"text","properties":null,"tests":null})";
  std::vector<WorkerEvent> ev;
  ASSERT_TRUE(Fast(one, &ev));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "step.finished");
  EXPECT_EQ(ev[0].step, 2);
  EXPECT_EQ(ev[0].result, "failure");
  EXPECT_EQ(ev[0].result_json, Json("text"));
  EXPECT_TRUE(ev[0].properties.is_null());
  ExpectSameAsTree(one);
  // Scalars as result_json, and null (absent).
  for (const char* rj : {"5", "-5", "1.5", "true", "null", "[]", "{}", "18446744073709551615"}) {
    const std::string body =
        std::string(R"({"type":"job.finished","worker":"w","result_json":)") + rj + "}";
    ASSERT_TRUE(Fast(body, &ev)) << body;
    EXPECT_EQ(ev[0].result_json, std::string(rj) == "null" ? Json() : Json::parse(rj)) << body;
    ExpectSameAsTree(body);
  }
}

TEST(EventParse, LeavesEverythingElseToTheTreesWay) {
  const char* w = R"("worker":"w1")";
  auto ev = [&](const std::string& fields) { return "{" + fields + "," + w + "}"; };
  const std::vector<std::string> others = {
      // Events of other paths: the tree's way reads them.
      ev(R"("type":"hello","v":4)"),
      ev(R"("type":"bye","instance":"i")"),
      ev(R"("type":"log","step":0,"seq":0,"data":"x")"),
      ev(R"("type":"something.new")"),
      ev(R"("type":"step.finished","step":0,"result":"success","tests":{"passed":1})"),
      "[" + ev(R"("type":"job.started")") + "," + ev(R"("type":"log","data":"x")") + "]",
      // Malformed: refused by the tree's way with its message.
      ev(R"("type":5)"),
      ev(R"("id":"seven","type":"job.started")"),
      ev(R"("id":-1,"type":"job.started")"),
      ev(R"("id":18446744073709551615,"type":"job.started")"),
      ev(R"("id":1.0,"type":"job.started")"),
      ev(R"("type":"step.started","step":"x")"),
      ev(R"("type":"step.started","step":-1)"),
      ev(R"("type":"step.started","step":2147483648)"),
      ev(R"("type":"job.started","attempt":[])"),
      ev(R"("type":"job.started","request":"a")"),
      ev(R"("type":"job.started","request":true)"),
      ev(R"("type":"step.finished","result":7)"),
      ev(R"("type":"step.finished","step_result":{})"),
      ev(R"("type":"step.finished","properties":[1])"),
      ev(R"("type":"step.finished","properties":"x")"),
      ev(R"("type":"step.started","name":{"a":1})"),
      ev(R"("type":"job.started","builddir":5)"),
      ev(R"("type":"job.started","log_chunks":-2)"),
      ev(R"("type":"job.started","seq":"1")"),
      ev(R"("type":"job.started","data":5)"),
      ev(R"("type":"job.started","description":[])"),
      ev(R"("type":"job.started","instance":7)"),
      ev(R"("type":"job.started","type":"job.finished")"),  // a field twice
      R"({"type":"job.started"})",                          // no worker
      R"({"type":"job.started","worker":null})",
      R"({"type":"job.started","worker":5})",
      R"([{"type":"job.started","worker":"a"},{"type":"job.started","worker":"b"}])",
      R"([{"type":"job.started","worker":"a"},{"type":"job.started"}])",
      R"({"worker":"w1"})",  // no type
      R"({"worker":"w1","type":null})",
      "{not json",
      ev(R"("type":"job.started")") + " trailing",
      ev(R"("type":"job.started","name":"\xff")"),  // not UTF-8
      "[]",
      "[1]",
      "[" + ev(R"("type":"job.started")") + ",1]",
      "[" + ev(R"("type":"job.started")") + ",null]",
      "[" + ev(R"("type":"job.started")") + ",[]]",
      "[[" + ev(R"("type":"job.started")") + "]]",
      R"("job.started")",
      "5",
      "null",
      "",
  };
  for (const std::string& body : others) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(Fast(body));
  }
  // Nested deeper than the limit, in an unknown field, in properties, in result_json.
  for (const char* field : {"x", "properties", "result_json"}) {
    std::string deep;
    for (int i = 0; i < kMaxJsonDepth; ++i) deep += "{\"a\":";
    deep += "1";
    for (int i = 0; i < kMaxJsonDepth; ++i) deep += "}";
    const std::string body = ev(R"("type":"job.started",")" + std::string(field) + "\":" + deep);
    EXPECT_FALSE(Fast(body)) << field;
    EXPECT_TRUE(ParseUntrusted(body).is_discarded());
  }
}

// Random events built from the fields of docs/protocol.md, each of a random type, some with
// fields of the wrong type: whatever the fast read takes, it reads as the tree's way does, and
// it takes the well-formed ones of its types.
TEST(EventParse, AgreesWithTheTreesWayOnRandomEvents) {
  std::mt19937 rng(14);
  const std::vector<std::string> keys = {
      "type",  "id",          "request", "attempt",     "step",     "seq",         "log_chunks",
      "data",  "name",        "result",  "step_result", "builddir", "description", "properties",
      "tests", "result_json", "worker",  "instance",    "other"};
  const std::vector<Json> values = {"job.started",
                                    "job.finished",
                                    "step.started",
                                    "step.finished",
                                    "heartbeat",
                                    "log",
                                    "hello",
                                    0,
                                    1,
                                    42,
                                    -1,
                                    2147483648LL,
                                    1.5,
                                    true,
                                    nullptr,
                                    "w1",
                                    Json::object(),
                                    Json{{"k", "v"}, {"n", Json::array({1, "x"})}},
                                    Json::array({1, 2}),
                                    Json::parse("18446744073709551615")};
  int taken = 0;
  for (int round = 0; round < 4000; ++round) {
    Json msg = Json::array();
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
      Json e = Json::object();
      e["type"] = values[rng() % 5];
      e["worker"] = "w1";
      const int fields = static_cast<int>(rng() % 6);
      for (int f = 0; f < fields; ++f) {
        const std::string& k = keys[rng() % keys.size()];
        // Mostly a value of the right type, sometimes any value.
        if (rng() % 4) {
          if (k == "type" || k == "worker") continue;
          if (k == "properties" || k == "tests")
            e[k] = Json{{"k", 1}};
          else if (k == "data" || k == "name" || k == "result" || k == "step_result" ||
                   k == "builddir" || k == "description" || k == "instance")
            e[k] = "s" + std::to_string(rng() % 10);
          else if (k == "result_json" || k == "other")
            e[k] = values[rng() % values.size()];
          else
            e[k] = static_cast<int64_t>(rng() % 1000);
        } else {
          e[k] = values[rng() % values.size()];
        }
      }
      msg.push_back(std::move(e));
    }
    const std::string body = n == 1 && rng() % 2 ? msg[0].dump() : msg.dump();
    ExpectSameAsTree(body);
    std::vector<Json> tree;
    bool all_fast_types = true;
    for (const Json& e : msg) {
      const std::string t = StringOr(e, "type");
      const bool fast_type = t == "job.started" || t == "job.finished" || t == "step.started" ||
                             t == "step.finished" || t == "heartbeat";
      all_fast_types = all_fast_types && fast_type && !e.contains("tests");
    }
    if (TreeTakes(body, &tree) && all_fast_types) {
      EXPECT_TRUE(Fast(body)) << body;
      ++taken;
    }
  }
  EXPECT_GT(taken, 500);
}

}  // namespace
}  // namespace grove
