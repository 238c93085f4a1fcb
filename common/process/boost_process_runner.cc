// Boost 1.74's Asio misses <utility> under C++20.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
#include <boost/process.hpp>
// clang-format on
#include <sys/wait.h>

#include <algorithm>
#include <future>
#include <thread>

#include "common/process/process_runner.h"

namespace mlb::common {
namespace {

namespace bp = boost::process;

class BoostProcessRunner : public ProcessRunner {
 public:
  Result<ProcessResult> run(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) override {
    if (argv.empty()) {
      return Error::invalidArgument("run: empty command");
    }
    ProcessResult r;
    try {
      boost::asio::io_context io;
      std::future<std::string> out, err;
      std::vector<std::string> args(argv.begin() + 1, argv.end());
      bool exited = false;
      // With an io_context, Boost reaps the child itself (SIGCHLD service): learn of
      // the exit through on_exit, never through wait()/wait_for().
      bp::child child(argv[0], bp::args(args), bp::std_in.close(), bp::std_out > out,
                      bp::std_err > err, io,
                      bp::on_exit([&exited](int, const std::error_code&) { exited = true; }));
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      while (!exited && std::chrono::steady_clock::now() < deadline) {
        io.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()));
        if (io.stopped()) {
          io.restart();
          if (!exited) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        }
      }
      if (!exited) {
        r.timed_out = true;
        std::error_code ec;
        child.terminate(ec);
        io.restart();
        io.run_for(std::chrono::milliseconds(500));
      } else {
        int status = child.native_exit_code();
        if (WIFSIGNALED(status)) {
          r.term_signal = WTERMSIG(status);
        } else if (WIFEXITED(status)) {
          r.exit_code = WEXITSTATUS(status);
        }
      }
      if (out.wait_for(std::chrono::seconds(1)) == std::future_status::ready) {
        r.out = out.get();
      }
      if (err.wait_for(std::chrono::seconds(1)) == std::future_status::ready) {
        r.err = err.get();
      }
    } catch (const std::exception& e) {
      return Error::io("run " + argv[0] + ": " + e.what());
    }
    return r;
  }
};

}  // namespace

ProcessRunnerPtr makeBoostProcessRunner() { return std::make_unique<BoostProcessRunner>(); }

}  // namespace mlb::common
