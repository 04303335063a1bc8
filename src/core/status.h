// Status: the outcome of an operation that can fail, in the style of LevelDB.
// Errors carry a code (what kind of failure) and a one-line message for the user.
#pragma once

#include <string>
#include <utility>

namespace grove {

class Status {
 public:
  enum class Code { kOk, kNotFound, kInvalid, kIo, kConflict, kUnauthorized, kUnavailable };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Invalid(std::string msg) { return Status(Code::kInvalid, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIo, std::move(msg)); }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  static Status Unauthorized(std::string msg) {
    return Status(Code::kUnauthorized, std::move(msg));
  }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalid() const { return code_ == Code::kInvalid; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace grove

// Returns early from the calling function when |expr| is not ok.
#define GROVE_RETURN_IF_ERROR(expr) \
  do {                              \
    ::grove::Status _st = (expr);   \
    if (!_st.ok()) return _st;      \
  } while (0)
