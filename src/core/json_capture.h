// JsonCapture: builds one JSON value from a SAX parser's calls, for the few fields a one-pass
// reader keeps whole (a job's source, properties and step options; an event's properties and
// result). The reader hands its calls here while active().
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace grove {

class JsonCapture {
 public:
  using Json = nlohmann::json;

  bool active() const { return !open_.empty(); }
  // Starts the value in |slot| with |root| (an empty object or array).
  bool Begin(Json* slot, Json root) {
    *slot = std::move(root);
    open_.push_back(slot);
    return true;
  }
  // A value in the innermost open container: under |key| in an object, appended to an array.
  bool Put(const std::string& key, Json v) {
    Slot(key, std::move(v));
    return true;
  }
  bool Open(const std::string& key, Json container) {
    open_.push_back(&Slot(key, std::move(container)));
    return true;
  }
  bool Close() {
    open_.pop_back();
    return true;
  }

 private:
  Json& Slot(const std::string& key, Json v) {
    Json& parent = *open_.back();
    if (parent.is_object()) return parent[key] = std::move(v);
    parent.push_back(std::move(v));
    return parent.back();
  }

  std::vector<Json*> open_;  // the containers open in the captured value, innermost last
};

}  // namespace grove
