#include "core/job_parse.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "core/json_capture.h"
#include "core/json_fields.h"

namespace grove {

namespace {

// The fields JobFromJson and StepFromJson read; kOther is any other key (skipped, any type).
enum class JobKey {
  kOther,
  // a job's
  kV,
  kRequest,
  kAttempt,
  kBuilder,
  kSource,
  kProperties,
  kSecrets,
  kBuild,
  kToken,
  kApiToken,
  kSteps,
  // a step's
  kName,
  kType,
  kCommand,
  kArgv,
  kEnv,
  kWorkdir,
  kTimeout,
  kHaltOnFailure,
  kOptions,
};

JobKey JobField(std::string_view k) {
  if (k == "v") return JobKey::kV;
  if (k == "request") return JobKey::kRequest;
  if (k == "attempt") return JobKey::kAttempt;
  if (k == "builder") return JobKey::kBuilder;
  if (k == "source") return JobKey::kSource;
  if (k == "properties") return JobKey::kProperties;
  if (k == "secrets") return JobKey::kSecrets;
  if (k == "build") return JobKey::kBuild;
  if (k == "token") return JobKey::kToken;
  if (k == "api_token") return JobKey::kApiToken;
  if (k == "steps") return JobKey::kSteps;
  return JobKey::kOther;
}

JobKey StepField(std::string_view k) {
  if (k == "name") return JobKey::kName;
  if (k == "type") return JobKey::kType;
  if (k == "command") return JobKey::kCommand;
  if (k == "argv") return JobKey::kArgv;
  if (k == "env") return JobKey::kEnv;
  if (k == "workdir") return JobKey::kWorkdir;
  if (k == "timeout") return JobKey::kTimeout;
  if (k == "halt_on_failure") return JobKey::kHaltOnFailure;
  if (k == "options") return JobKey::kOptions;
  return JobKey::kOther;
}

constexpr uint32_t Bit(JobKey f) {
  return 1u << static_cast<int>(f);
}

// nlohmann's SAX interface: each call returns false to stop the parse (the message then goes
// the checked way). Strings and keys are copied, not moved, out of the lexer's buffer: moved, the
// buffer would grow again from nothing, a few reallocations for each of a job's long tokens.
class JobsHandler {
 public:
  explicit JobsHandler(std::vector<JobSpec>* out) : out_(out) {}

  bool null() {
    if (capture_.active()) return capture_.Put(key_, Json());
    if (skip_) return true;
    // As JsonFields: a null field is an absent one (a required one is missing: the checked
    // way says so). Null anywhere else (an element of argv, a value of env) is a wrong type.
    if (!InObject()) return false;
    return !Required(field_);
  }
  bool boolean(bool v) {
    if (capture_.active()) return capture_.Put(key_, Json(v));
    if (skip_) return true;
    if (Top() == State::kStep && field_ == JobKey::kHaltOnFailure) {
      Set(JobKey::kHaltOnFailure);
      step().halt_on_failure = v;
      return true;
    }
    return OtherField();
  }
  bool number_integer(Json::number_integer_t v) {
    if (capture_.active()) return capture_.Put(key_, Json(v));
    if (skip_) return true;
    return Int(v);
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    if (capture_.active()) return capture_.Put(key_, Json(v));
    if (skip_) return true;
    // Above INT64_MAX fits no field (out of range, as JsonFields says): an unknown field's only.
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return OtherField();
    return Int(static_cast<int64_t>(v));
  }
  bool number_float(Json::number_float_t v, const std::string&) {
    if (capture_.active()) return capture_.Put(key_, Json(v));
    if (skip_) return true;
    return OtherField();
  }
  bool string(std::string& v) {
    if (capture_.active()) return capture_.Put(key_, Json(v));
    if (skip_) return true;
    switch (Top()) {
      case State::kSecrets:
        job().secrets.insert_or_assign(key_, v);
        return true;
      case State::kEnv:
        step().env.insert_or_assign(key_, v);
        return true;
      case State::kArgv:
        step().argv.push_back(v);
        return true;
      case State::kJob:
        switch (field_) {
          case JobKey::kBuilder:
            return Take(&job().builder, v);
          case JobKey::kToken:
            return Take(&job().token, v);
          case JobKey::kApiToken:
            return Take(&job().api_token, v);
          default:
            return OtherField();
        }
      case State::kStep:
        switch (field_) {
          case JobKey::kName:
            return Take(&step().name, v);
          case JobKey::kType:
            return Take(&step().type, v);
          case JobKey::kCommand:
            return Take(&step().command, v);
          case JobKey::kWorkdir:
            return Take(&step().workdir, v);
          default:
            return OtherField();
        }
      default:
        return false;  // a top level or an element of the arrays that must hold objects
    }
  }
  bool binary(Json::binary_t&) { return false; }  // JSON text has none

  bool start_object(std::size_t) {
    if (++depth_ > kMaxJsonDepth) return false;
    if (capture_.active()) return capture_.Open(key_, Json::object());
    if (skip_) return ++skip_ > 0;
    switch (Top()) {
      case State::kNone:
      case State::kJobs:
        out_->emplace_back();
        return Push(State::kJob);
      case State::kSteps:
        job().steps.emplace_back();
        return Push(State::kStep);
      case State::kJob:
        switch (field_) {
          case JobKey::kSource:
            Set(JobKey::kSource);
            return capture_.Begin(&job().source, Json::object());
          case JobKey::kProperties:
            Set(JobKey::kProperties);
            return capture_.Begin(&job().properties, Json::object());
          case JobKey::kSecrets:
            Set(JobKey::kSecrets);
            return Push(State::kSecrets);
          default:
            return SkipOther();
        }
      case State::kStep:
        switch (field_) {
          case JobKey::kOptions:
            Set(JobKey::kOptions);
            return capture_.Begin(&step().options, Json::object());
          case JobKey::kEnv:
            Set(JobKey::kEnv);
            return Push(State::kEnv);
          default:
            return SkipOther();
        }
      default:
        return false;  // an object where a string belongs
    }
  }
  bool end_object() {
    --depth_;
    if (capture_.active()) return capture_.Close();
    if (skip_) return --skip_, true;
    const State s = Top();
    stack_.pop_back();
    if (s == State::kStep) {
      // The checks StepFromJson makes after the fields; its message is the checked way's.
      return CheckStep(step()).ok();
    }
    if (s == State::kJob) {
      constexpr uint32_t kRequired = Bit(JobKey::kV) | Bit(JobKey::kRequest) | Bit(JobKey::kSteps);
      return (have_job_ & kRequired) == kRequired;
    }
    return true;  // secrets, env
  }
  bool start_array(std::size_t) {
    if (++depth_ > kMaxJsonDepth) return false;
    if (capture_.active()) return capture_.Open(key_, Json::array());
    if (skip_) return ++skip_ > 0;
    switch (Top()) {
      case State::kNone:
        return Push(State::kJobs);
      case State::kJob:
        if (field_ == JobKey::kSteps) {
          Set(JobKey::kSteps);
          return Push(State::kSteps);
        }
        return SkipOther();
      case State::kStep:
        if (field_ == JobKey::kArgv) {
          Set(JobKey::kArgv);
          return Push(State::kArgv);
        }
        return SkipOther();
      default:
        return false;  // an array where an object or a string belongs
    }
  }
  bool end_array() {
    --depth_;
    if (capture_.active()) return capture_.Close();
    if (skip_) return --skip_, true;
    const State s = Top();
    stack_.pop_back();
    return s != State::kJobs || !out_->empty();  // the top level array: at least one job
  }
  bool key(std::string& k) {
    if (capture_.active() || Top() == State::kSecrets || Top() == State::kEnv) {
      key_ = k;
      return true;
    }
    if (skip_) return true;
    const bool job_level = Top() == State::kJob;
    field_ = job_level ? JobField(k) : StepField(k);
    if (field_ == JobKey::kOther) return true;
    // A field twice: the tree keeps the last one; this read leaves it to the checked way.
    uint32_t& seen = job_level ? seen_job_ : seen_step_;
    if (seen & Bit(field_)) return false;
    seen |= Bit(field_);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  // What the value being read belongs to: the innermost container outside captured and
  // skipped values.
  enum class State { kNone, kJobs, kJob, kSecrets, kSteps, kStep, kArgv, kEnv };

  State Top() const { return stack_.empty() ? State::kNone : stack_.back(); }
  bool InObject() const { return Top() == State::kJob || Top() == State::kStep; }
  bool Push(State s) {
    if (s == State::kJob) seen_job_ = have_job_ = 0;
    if (s == State::kStep) seen_step_ = 0;
    stack_.push_back(s);
    return true;
  }
  JobSpec& job() { return out_->back(); }
  StepSpec& step() { return out_->back().steps.back(); }

  static bool Required(JobKey f) {
    return f == JobKey::kV || f == JobKey::kRequest || f == JobKey::kSteps;
  }
  // A field of the job with a value (not null): the required ones must have one.
  void Set(JobKey f) {
    if (Top() == State::kJob) have_job_ |= Bit(f);
  }
  bool Take(std::string* to, std::string& v) {
    Set(field_);
    *to = v;
    return true;
  }
  // A scalar of a type no known field takes: fine for an unknown field of a job or step only.
  bool OtherField() const { return InObject() && field_ == JobKey::kOther; }
  // A container as the value of an unknown field: skipped whole.
  bool SkipOther() {
    if (!OtherField()) return false;
    skip_ = 1;
    return true;
  }
  bool Int(int64_t v) {
    constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
    if (Top() == State::kStep) {
      if (field_ != JobKey::kTimeout) return OtherField();
      if (v < 0 || v > kInt32Max) return false;
      step().timeout_s = v;
      return true;
    }
    if (Top() != State::kJob) return false;
    switch (field_) {
      case JobKey::kV:
        Set(JobKey::kV);
        return v == kProtocolVersion;  // another version: the checked way names it
      case JobKey::kRequest:
        if (v < 0) return false;
        Set(JobKey::kRequest);
        job().request_id = v;
        return true;
      case JobKey::kAttempt:
        if (v < 0 || v > kInt32Max) return false;
        job().attempt = static_cast<int>(v);
        return true;
      case JobKey::kBuild:
        if (v < 0) return false;
        job().build_id = v;
        return true;
      default:
        return OtherField();
    }
  }

  std::vector<JobSpec>* out_;
  std::vector<State> stack_;
  int depth_ = 0;
  int skip_ = 0;  // the nesting of a value of an unknown field being skipped (0: none)
  JobKey field_ = JobKey::kOther;          // the key of the job's or step's field being read
  uint32_t seen_job_ = 0, seen_step_ = 0;  // the fields read so far
  uint32_t have_job_ = 0;                  // the job's fields read with a value (not null)
  JsonCapture capture_;  // a "source", "properties" or "options" value, built as a tree
  std::string key_;      // the key of a captured object's, secrets' or env's next value
};

}  // namespace

bool ParseJobsFast(std::string_view body, std::vector<JobSpec>* out) {
  out->clear();
  JobsHandler h(out);
  return Json::sax_parse(body.begin(), body.end(), &h) && !out->empty();
}

Status JobsFromText(std::string_view body, std::vector<JobSpec>* out) {
  if (ParseJobsFast(body, out)) return Status::Ok();
  out->clear();
  Json msg = ParseUntrusted(body);
  std::vector<Json> raw;
  if (msg.is_array()) {
    for (auto& j : msg) raw.push_back(std::move(j));
  } else if (!msg.is_discarded()) {
    raw.push_back(std::move(msg));
  }
  if (raw.empty()) return Status::Invalid("not a job object or a non-empty array of them");
  out->resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) GROVE_RETURN_IF_ERROR(JobFromJson(raw[i], &(*out)[i]));
  return Status::Ok();
}

}  // namespace grove
