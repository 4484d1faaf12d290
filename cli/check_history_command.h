// `duplex check-history FILE --model cas-register|kv-append|duplex-kv [--timeout-ms N]
// [--json]`: reads a recorded history (chaos/history_formats.h) and checks it for
// linearizability (chaos/linearizability.h). The text form ends with the verdict on its own
// last line; the exit status is 0 linearizable, 1 not linearizable, 3 unknown, 2 for a usage
// or parse error (naming the line). Single-threaded but for the checker's own threads.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace duplex::cli {

struct CheckHistoryOptions {
  std::string file;
  std::string model;
  int64_t timeout_ms = 10000;  // 0: no bound
  bool json = false;           // one JSON object (one line) instead of the text
};

// The exit status; the report to `out`, errors to `err`.
int RunCheckHistory(const CheckHistoryOptions& options, std::ostream& out, std::ostream& err);

class CheckHistoryCommand {
 public:
  explicit CheckHistoryCommand(CLI::App& app);
  CheckHistoryCommand(const CheckHistoryCommand&) = delete;
  CheckHistoryCommand& operator=(const CheckHistoryCommand&) = delete;

  bool parsed() const;
  int Run() const;

 private:
  CLI::App* command_ = nullptr;
  CheckHistoryOptions options_;
};

}  // namespace duplex::cli
