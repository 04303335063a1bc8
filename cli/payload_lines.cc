#include "payload_lines.h"

#include <nlohmann/json.hpp>

namespace grove {

namespace {
constexpr size_t kMaxJobBytes = 1024 * 1024;  // as the master's limit for one job
constexpr char kEnvelopeHead[] = "{\"jobs\":[";
constexpr char kEnvelopeTail[] = "]}";
}  // namespace

Status ReadPayloadLines(std::istream& in, const std::string& consumer, const std::string& reason,
                        std::vector<std::string>* jobs) {
  std::vector<std::string> out;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json payload = nlohmann::json::parse(line, nullptr, false);
    if (payload.is_discarded())
      return Status::Invalid("line " + std::to_string(n) + ": not valid JSON");
    nlohmann::json job = {{"consumer", consumer}, {"payload", std::move(payload)}};
    if (!reason.empty()) job["reason"] = reason;
    std::string s = job.dump();
    if (s.size() > kMaxJobBytes)
      return Status::Invalid("line " + std::to_string(n) + ": the job is larger than 1 MiB");
    out.push_back(std::move(s));
  }
  if (in.bad()) return Status::IoError("cannot read the payloads");
  *jobs = std::move(out);
  return Status::Ok();
}

std::vector<std::string> BatchBodies(const std::vector<std::string>& jobs, size_t max_jobs,
                                     size_t max_bytes) {
  std::vector<std::string> bodies;
  std::string body;
  size_t count = 0;
  auto close = [&] {
    if (count == 0) return;
    body += kEnvelopeTail;
    bodies.push_back(std::move(body));
    body.clear();
    count = 0;
  };
  for (const std::string& job : jobs) {
    // body holds the head and the jobs so far: with ",job]}" it must still fit.
    if (count > 0 &&
        (count >= max_jobs || body.size() + 1 + job.size() + sizeof(kEnvelopeTail) - 1 > max_bytes))
      close();
    body += count == 0 ? kEnvelopeHead : ",";
    body += job;
    ++count;
  }
  close();
  return bodies;
}

}  // namespace grove
