// SpawnPool: a few threads that start child processes for the worker's io thread.
//
// Why: glibc's posix_spawn blocks its caller (CLONE_VFORK) until the child has run its file
// actions and exec'ed: 0.2-0.9 ms per spawn on a loaded machine. Run on the io thread, that
// was a time in which the worker read no job, sent no event and noticed no exit: with four
// slots busy, a job message waited 0.9 ms on average behind another job's spawn.
// The pool belongs to the io_context (an Asio service): its threads start on the context's
// first spawn and are joined when the context is destroyed. They block every signal, so
// signals keep going to the threads that wait for them.
#pragma once

#include <functional>

namespace boost::asio {
class io_context;
}

namespace grove {

// Runs |task| on one of |io|'s spawn threads, soon (tasks wait in order when all are busy).
void RunOnSpawnThread(boost::asio::io_context& io, std::function<void()> task);

}  // namespace grove
