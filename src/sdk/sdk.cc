// The C++ consumer SDK (include/grove/sdk.h) over the worker engine: each registered Consumer
// becomes an in-process consumer (worker/in_process_consumers.h), and Worker::Run is the
// `grove worker` command line (worker/worker_flags.h).
#include "grove/sdk.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "worker/in_process_consumers.h"
#include "worker/worker_flags.h"

namespace grove::sdk {

namespace internal {
struct Call {
  const InProcessCall& in;
};
}  // namespace internal

Outcome::Outcome(bool ok, nlohmann::json result, std::string message)
    : ok_(ok), result_(std::move(result)), message_(std::move(message)) {}

Outcome Outcome::Success(nlohmann::json result, std::string message) {
  return Outcome(true, std::move(result), std::move(message));
}

Outcome Outcome::Failure(std::string message, nlohmann::json result) {
  return Outcome(false, std::move(result), std::move(message));
}

Context::Context(const internal::Call& call) : call_(call) {}

void Context::Log(std::string_view line) {
  std::string text(line);
  if (text.empty() || text.back() != '\n') text += '\n';
  call_.in.log(text);
}

bool Context::cancelled() const {
  return call_.in.cancelled && call_.in.cancelled->load();
}
int64_t Context::request_id() const {
  return call_.in.request_id;
}
int Context::attempt() const {
  return call_.in.attempt;
}
const std::string& Context::consumer() const {
  return call_.in.consumer;
}

Consumer::~Consumer() = default;

struct Worker::Impl {
  std::shared_ptr<InProcessConsumers> consumers = std::make_shared<InProcessConsumers>();
};

Worker::Worker() : impl_(std::make_unique<Impl>()) {}
Worker::~Worker() = default;

void Worker::Add(std::string name, std::unique_ptr<Consumer> consumer) {
  // Shared by every call of this consumer (and kept alive by the registry, which may outlive
  // the Worker's own references while a call finishes).
  std::shared_ptr<Consumer> c = std::move(consumer);
  impl_->consumers->Add(std::move(name), [c](const InProcessCall& in) {
    internal::Call call{in};
    Context ctx(call);
    // An exception thrown here is caught by the engine: the step ends `exception`.
    Outcome out = c->Consume(in.payload, ctx);
    InProcessReply reply;
    reply.result = out.ok() ? Result::kSuccess : Result::kFailure;
    reply.result_json = out.result();
    reply.message = out.message();
    return reply;
  });
}

int Worker::Run(int argc, char** argv) {
  const std::string program = argc > 0 ? argv[0] : "worker";
  CLI::App app{"A Grove worker serving compiled-in consumers (and any --consumer commands)."};
  app.name(program);
  std::string names;
  for (const std::string& n : impl_->consumers->Names()) names += (names.empty() ? "" : ", ") + n;
  app.footer("Consumers: " + (names.empty() ? std::string("none") : names));
  WorkerFlags flags;
  AddWorkerFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << program << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  bool usage_error = false;
  Status st = RunWorkerWithFlags(flags, impl_->consumers, &usage_error);
  if (st.ok()) return 0;
  std::cerr << program << ": " << st.message() << "\n";
  return usage_error ? 2 : 1;
}

}  // namespace grove::sdk
