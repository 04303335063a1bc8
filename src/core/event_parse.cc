#include "core/event_parse.h"

#include <cstdint>
#include <limits>

#include "core/json_capture.h"
#include "core/json_fields.h"

namespace grove {

WorkerEvent::WorkerEvent(Json ev) : tree(std::move(ev)), id(IntOr(tree, "id", -1)) {}

namespace {

// The fields of docs/protocol.md's events; kOther is any other key (skipped, any type).
enum class Field {
  kOther,
  kType,
  kId,
  kRequest,
  kAttempt,
  kStep,
  kSeq,
  kLogChunks,
  kData,
  kName,
  kResult,
  kStepResult,
  kBuilddir,
  kDescription,
  kProperties,
  kTests,
  kResultJson,
  kWorker,
  kInstance,
};

Field FieldOf(std::string_view k) {
  switch (k.empty() ? '\0' : k[0]) {
    case 'a':
      if (k == "attempt") return Field::kAttempt;
      break;
    case 'b':
      if (k == "builddir") return Field::kBuilddir;
      break;
    case 'd':
      if (k == "data") return Field::kData;
      if (k == "description") return Field::kDescription;
      break;
    case 'i':
      if (k == "id") return Field::kId;
      if (k == "instance") return Field::kInstance;
      break;
    case 'l':
      if (k == "log_chunks") return Field::kLogChunks;
      break;
    case 'n':
      if (k == "name") return Field::kName;
      break;
    case 'p':
      if (k == "properties") return Field::kProperties;
      break;
    case 'r':
      if (k == "request") return Field::kRequest;
      if (k == "result") return Field::kResult;
      if (k == "result_json") return Field::kResultJson;
      break;
    case 's':
      if (k == "step") return Field::kStep;
      if (k == "seq") return Field::kSeq;
      if (k == "step_result") return Field::kStepResult;
      break;
    case 't':
      if (k == "type") return Field::kType;
      if (k == "tests") return Field::kTests;
      break;
    case 'w':
      if (k == "worker") return Field::kWorker;
      break;
    default:
      break;
  }
  return Field::kOther;
}

bool FastType(std::string_view t) {
  return t == event::kJobStarted || t == event::kStepStarted || t == event::kStepFinished ||
         t == event::kJobFinished || t == event::kHeartbeat;
}

// nlohmann's SAX interface: each call returns false to stop the parse (the message then goes
// the tree's way).
class EventsHandler {
 public:
  explicit EventsHandler(std::vector<WorkerEvent>* out) : out_(out) {}

  std::string worker, instance;  // of the first event

  bool null() {
    switch (Where()) {
      case At::kCapture:
        return capture_.Put(key_, Json());
      case At::kSkip:
        return true;
      case At::kField:
        // As CheckEvent: a null field is an absent one; but "worker" must be a string (the
        // tree's way throws on it).
        return field_ != Field::kWorker;
      default:
        return false;  // a top level or an array element that is null
    }
  }
  bool boolean(bool v) { return Scalar(Json(v)); }
  bool number_integer(Json::number_integer_t v) {
    return Where() == At::kField ? Int(v) : Scalar(Json(v));
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    // Above INT64_MAX fits no field (out of range, as CheckEvent says): any value only.
    if (Where() == At::kField && v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Int(static_cast<int64_t>(v));
    return Scalar(Json(v));
  }
  bool number_float(Json::number_float_t v, const std::string&) { return Scalar(Json(v)); }
  bool string(std::string& v) {
    if (Where() != At::kField) return Scalar(Json(std::move(v)));
    WorkerEvent& e = out_->back();
    switch (field_) {
      case Field::kType:
        e.type = std::move(v);
        return true;
      case Field::kName:
        e.name = std::move(v);
        return true;
      case Field::kResult:
        e.result = std::move(v);
        return true;
      case Field::kStepResult:
        e.has_step_result = true;
        e.step_result = std::move(v);
        return true;
      case Field::kBuilddir:
        e.has_builddir = true;
        e.builddir = std::move(v);
        return true;
      case Field::kData:
      case Field::kDescription:
        return true;  // checked; the master does not read them on this path
      case Field::kWorker:
        if (out_->size() == 1) {
          worker = std::move(v);
          return true;
        }
        return v == worker;  // events of more than one worker: the tree's way refuses them
      case Field::kInstance:
        if (out_->size() == 1) instance = std::move(v);
        return true;
      case Field::kResultJson:
        e.result_json = std::move(v);
        return true;
      case Field::kOther:
        return true;
      default:
        return false;  // a string where an integer or an object belongs
    }
  }
  bool binary(Json::binary_t&) { return false; }  // JSON text has none

  bool start_object(std::size_t) {
    if (++depth_ > kMaxJsonDepth) return false;
    if (capturing()) return capture_.Open(key_, Json::object());
    if (skip_from_) return true;
    if (depth_ == 1 || (depth_ == 2 && top_is_array_)) {
      event_depth_ = depth_;
      out_->emplace_back();
      seen_ = 0;
      has_worker_ = false;
      return true;
    }
    if (depth_ != event_depth_ + 1) return false;  // an array element that is an object
    switch (field_) {
      case Field::kProperties:
      case Field::kResultJson:
        return Capture(Json::object());
      case Field::kOther:
        skip_from_ = depth_;
        return true;
      default:
        return false;  // "tests" (checked in depth by the tree's way) or the wrong type
    }
  }
  bool end_object() {
    if (capturing()) return Close();
    if (skip_from_) return EndSkipped();
    // The end of an event: it must be one of this path's, of a known worker.
    --depth_;
    const WorkerEvent& e = out_->back();
    return has_worker_ && FastType(e.type);
  }
  bool start_array(std::size_t) {
    if (++depth_ > kMaxJsonDepth) return false;
    if (capturing()) return capture_.Open(key_, Json::array());
    if (skip_from_) return true;
    if (depth_ == 1) {
      top_is_array_ = true;
      return true;
    }
    if (depth_ != event_depth_ + 1) return false;  // an array where an event belongs
    if (field_ == Field::kResultJson) return Capture(Json::array());
    if (field_ == Field::kOther) {
      skip_from_ = depth_;
      return true;
    }
    return false;
  }
  bool end_array() {
    if (capturing()) return Close();
    if (skip_from_) return EndSkipped();
    --depth_;
    return !out_->empty();  // the top level array: at least one event
  }
  bool key(std::string& k) {
    if (capturing()) {
      key_ = std::move(k);
      return true;
    }
    if (skip_from_) return true;
    field_ = FieldOf(k);
    if (field_ == Field::kOther) return true;
    // A field twice: the tree keeps the last one; this path leaves it to the tree.
    const uint32_t bit = 1u << static_cast<int>(field_);
    if (seen_ & bit) return false;
    seen_ |= bit;
    if (field_ == Field::kWorker) has_worker_ = true;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  // Where a value is: inside a captured one, inside a skipped one, right under an event
  // object (a field's), or anywhere else (a top level or array element that is no object).
  enum class At { kCapture, kSkip, kField, kElsewhere };
  At Where() const {
    if (capturing()) return At::kCapture;
    if (skip_from_) return At::kSkip;
    return depth_ > 0 && depth_ == event_depth_ ? At::kField : At::kElsewhere;
  }
  // A value that is no integer field's nor a string field's.
  bool Scalar(Json v) {
    switch (Where()) {
      case At::kCapture:
        return capture_.Put(key_, std::move(v));
      case At::kSkip:
        return true;
      case At::kField:
        return Any(std::move(v));
      default:
        return false;
    }
  }
  bool EndSkipped() {
    if (depth_-- == skip_from_) skip_from_ = 0;
    return true;
  }
  bool capturing() const { return capture_.active(); }
  // Fields whose type is not checked: any value goes.
  bool Typeless() const { return field_ == Field::kOther || field_ == Field::kResultJson; }
  bool Any(Json v) {
    if (field_ == Field::kResultJson) out_->back().result_json = std::move(v);
    return Typeless();
  }
  bool Int(int64_t v) {
    WorkerEvent& e = out_->back();
    constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
    switch (field_) {
      case Field::kId:
        if (v < 0) return false;
        e.id = v;
        return true;
      case Field::kRequest:
        if (v < 0) return false;
        e.request = v;
        return true;
      case Field::kAttempt:
        if (v < 0 || v > kInt32Max) return false;
        e.attempt = static_cast<int>(v);
        return true;
      case Field::kStep:
        if (v < 0 || v > kInt32Max) return false;
        e.has_step = true;
        e.step = static_cast<int>(v);
        return true;
      case Field::kSeq:
        return v >= 0;  // checked; read only with a log chunk (the tree's way)
      case Field::kLogChunks:
        if (v < 0) return false;
        e.log_chunks = v;
        return true;
      default:
        return Any(Json(v));
    }
  }
  // A nested value of "properties" or "result_json", built as a tree of its own.
  bool Capture(Json root) {
    WorkerEvent& e = out_->back();
    return capture_.Begin(field_ == Field::kProperties ? &e.properties : &e.result_json,
                          std::move(root));
  }
  bool Close() {
    --depth_;
    return capture_.Close();
  }

  std::vector<WorkerEvent>* out_;
  int depth_ = 0;
  int event_depth_ = -1;  // 1: the message is one event; 2: an array of them
  bool top_is_array_ = false;
  Field field_ = Field::kOther;  // the key of the event's field being read
  uint32_t seen_ = 0;            // the event's fields read so far
  bool has_worker_ = false;
  int skip_from_ = 0;    // the depth of a value of an unknown field being skipped (0: none)
  JsonCapture capture_;  // a "properties" or "result_json" value, built as a tree
  std::string key_;      // the key of a captured object's next value
};

}  // namespace

bool ParseEventsFast(std::string_view body, std::vector<WorkerEvent>* out, std::string* worker,
                     std::string* instance) {
  out->clear();
  EventsHandler h(out);
  if (!Json::sax_parse(body.begin(), body.end(), &h) || out->empty()) return false;
  *worker = std::move(h.worker);
  *instance = std::move(h.instance);
  return true;
}

}  // namespace grove
