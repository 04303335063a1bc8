#include "master/event_view.h"

namespace grove {

namespace {

EventType TypeOf(std::string_view t) {
  if (t == event::kLog) return EventType::kLog;
  if (t == event::kStepStarted) return EventType::kStepStarted;
  if (t == event::kStepFinished) return EventType::kStepFinished;
  if (t == event::kJobStarted) return EventType::kJobStarted;
  if (t == event::kJobFinished) return EventType::kJobFinished;
  if (t == event::kHeartbeat) return EventType::kHeartbeat;
  return EventType::kUnknown;
}

std::string_view Str(const Json& v) {
  return v.is_string() ? std::string_view(v.get_ref<const std::string&>()) : std::string_view();
}

bool Int(const Json& v, int64_t* out) {
  if (!v.is_number_integer()) return false;
  *out = v.get<int64_t>();
  return true;
}

}  // namespace

EventView ReadEvent(const Json& ev) {
  EventView e;
  if (!ev.is_object()) return e;
  int64_t n = 0;
  for (auto it = ev.begin(); it != ev.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    // Dispatch on the first letter: most keys are told apart by it alone.
    switch (k.empty() ? '\0' : k[0]) {
      case 'a':
        if (k == "attempt" && Int(v, &n)) e.attempt = static_cast<int>(n);
        break;
      case 'b':
        if (k == "builddir" && v.is_string()) {
          e.has_builddir = true;
          e.builddir = Str(v);
        }
        break;
      case 'd':
        if (k == "data") e.data = Str(v);
        break;
      case 'l':
        if (k == "log_chunks") Int(v, &e.log_chunks);
        break;
      case 'n':
        if (k == "name") e.name = Str(v);
        break;
      case 'p':
        if (k == "properties" && v.is_object()) e.properties = &v;
        break;
      case 'r':
        if (k == "request")
          Int(v, &e.request);
        else if (k == "result")
          e.result = Str(v);
        else if (k == "result_json" && !v.is_null())
          e.result_json = &v;
        break;
      case 's':
        if (k == "step" && Int(v, &n)) {
          e.has_step = true;
          e.step = static_cast<int>(n);
        } else if (k == "seq") {
          Int(v, &e.seq);
        } else if (k == "step_result" && v.is_string()) {
          e.has_step_result = true;
          e.step_result = Str(v);
        }
        break;
      case 't':
        if (k == "type") {
          e.type_name = Str(v);
          e.type = TypeOf(e.type_name);
        } else if (k == "tests" && v.is_object()) {
          e.tests = &v;
        }
        break;
      default:
        break;
    }
  }
  return e;
}

EventView ReadEvent(const WorkerEvent& ev) {
  if (!ev.tree.is_null()) return ReadEvent(ev.tree);
  EventView e;
  e.type_name = ev.type;
  e.type = TypeOf(e.type_name);
  e.request = ev.request;
  e.attempt = ev.attempt;
  e.has_step = ev.has_step;
  e.step = ev.step;
  e.log_chunks = ev.log_chunks;
  e.name = ev.name;
  e.result = ev.result;
  e.has_step_result = ev.has_step_result;
  e.step_result = ev.step_result;
  e.has_builddir = ev.has_builddir;
  e.builddir = ev.builddir;
  if (ev.properties.is_object()) e.properties = &ev.properties;
  if (!ev.result_json.is_null()) e.result_json = &ev.result_json;
  return e;
}

}  // namespace grove
