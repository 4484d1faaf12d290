// For tests: passes a /metrics page through `promtool check metrics` (Debian's prometheus
// package), the exposition format's own checker and linter. Header-only; runs promtool as a
// child process for at most 10 s. Any thread.
#pragma once

#include <unistd.h>

#include <string>

#include "common/subprocess.h"

namespace duplex {

inline constexpr const char* kPromtoolPath = "/usr/bin/promtool";

struct PromtoolVerdict {
  bool ran = false;  // false: promtool is not installed (the caller skips, saying so)
  bool passed = false;
  std::string said;  // promtool's complaints, or why it could not be run
};

inline PromtoolVerdict PromtoolCheckMetrics(const std::string& page) {
  PromtoolVerdict v;
  if (::access(kPromtoolPath, X_OK) != 0) {
    v.said = std::string(kPromtoolPath) + " not found (install Debian's prometheus package)";
    return v;
  }
  v.ran = true;
  if (page.size() >= kStdinBytesMax) {
    v.said = "page of " + std::to_string(page.size()) + " bytes: too large for stdin_text";
    return v;
  }
  SpawnOptions run;
  run.argv = {kPromtoolPath, "check", "metrics"};
  run.stdin_text = page;
  run.stdout_to = ChildOutput::kCapture;
  run.stderr_to = ChildOutput::kCapture;
  StatusOr<RunResult> r = RunProgram(run, 10000);
  if (!r.ok()) {
    v.said = r.status().ToString();
    return v;
  }
  v.passed = r->exit.code == 0 && r->exit.signal == 0;
  v.said = r->output;
  return v;
}

}  // namespace duplex
