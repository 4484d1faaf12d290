// The exit codes every `duplex` command returns, which scripts read (README "Scripting"):
// 0 success, 1 failure, 2 usage. Pure functions of what ended the command; main() and the
// command classes own the exits. No state, no threads.
#pragma once

#include "common/status.h"

namespace duplex::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the command ran and failed, or the cluster said no
constexpr int kExitUsage = 2;    // the command line or an input named on it is wrong

// A CLI11 parse outcome (`CLI::App::exit`'s code): help and --version are successes (0);
// every parse error (unknown option, missing argument, bad value) is a usage error, where
// CLI11 alone would return its own codes from 100 up.
inline int ExitCodeOfParse(int cli11_exit_code) {
  return cli11_exit_code == 0 ? kExitOk : kExitUsage;
}

// A command's Status: bad input is a usage error, anything else that is not ok a failure.
inline int ExitCodeOf(const Status& status) {
  if (status.ok()) return kExitOk;
  return status.code() == Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace duplex::cli
