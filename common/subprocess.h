// Subprocess: starts programs with fork and execve, and waits for them. The one place that
// forks to run a program: the supervisor's replicas, `duplex up`'s coordinator, the chaos
// fixture's coordinator, tar for packages, the Redis peer's servers, apt-get and the lab's nft.
// Everything the child needs is prepared before fork, so between fork and exec it calls only
// async-signal-safe functions (another thread may hold malloc's lock). Stateless functions.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace duplex {

// Where a standard output stream of the child goes.
enum class ChildOutput {
  kInherit,  // ours
  kNull,     // /dev/null
  kLogFile,  // appended to SpawnOptions::log_path (created 0644)
  kCapture,  // a pipe that RunProgram reads (RunProgram only)
  kStderr,   // our stderr (stdout only): a program whose stdout would mix with ours
};

// Which process group the child is in.
enum class ChildGroup {
  kInherit,     // ours: a Ctrl-C at the terminal reaches it too
  kOwn,         // its own (setpgid): a signal meant for us does not reach it; kill(-pid) stops
                // it with its own children
  kNewSession,  // its own session (setsid): it outlives our terminal, as a daemon does
};

// What SpawnOptions::stdin_text may hold: less than a pipe's default capacity (64 KiB), so it
// is written before fork without waiting for a reader.
inline constexpr std::size_t kStdinBytesMax = 60 << 10;

struct SpawnOptions {
  // argv[0] is the program's path: PATH is not searched, and a relative path is taken from
  // working_dir when one is set.
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value", ahead of our environment (the first one wins)
  std::string working_dir;       // "" = ours
  bool stdin_null = false;       // stdin from /dev/null, else ours
  // When not empty: the child's stdin is a pipe holding this text, then end of file (nft -f -
  // reads its rules so). Written whole before the child starts, so at most kStdinBytesMax.
  std::string stdin_text;
  ChildOutput stdout_to = ChildOutput::kInherit;
  ChildOutput stderr_to = ChildOutput::kInherit;
  std::string log_path;  // for ChildOutput::kLogFile
  ChildGroup group = ChildGroup::kInherit;
  bool unblock_signals = false;  // start with no signal blocked, whatever our mask is
  // SIGKILL when the thread that started it ends (prctl(PR_SET_PDEATHSIG)): a benchmark's
  // servers die with it, even when it is killed.
  bool die_with_parent = false;
  bool close_other_fds = false;  // close every fd above stderr: our sockets and files stay ours
};

// How a child ended.
struct ExitStatus {
  int code = 0;    // exit code, when signal == 0
  int signal = 0;  // the signal that killed it, or 0
  // Another waitpid in this process (a reaper waiting for any child) took the status first.
  bool lost = false;

  bool success() const { return !lost && signal == 0 && code == 0; }
  // "exited with 2", "was killed by signal 9", "exited (status taken by another waitpid)".
  std::string Describe() const;
};

// Starts the program and returns its pid (which the caller must reap, e.g. with WaitExited).
// Errors name the program: "/usr/bin/tar: cannot run: No such file or directory" when exec
// fails, or a log file that cannot be opened.
StatusOr<pid_t> Spawn(const SpawnOptions& options);

struct RunResult {
  ExitStatus exit;
  std::string output;  // what the captured streams said, at most output_bytes_max
};

// Runs the program to its end: the captured streams are read (their first output_bytes_max
// bytes kept) while it runs, for at most timeout_ms. A program still running then is killed
// (with its group when it has its own) and the error is Unavailable "<program> did not finish
// within <timeout_ms> ms".
StatusOr<RunResult> RunProgram(const SpawnOptions& options, int timeout_ms,
                               std::size_t output_bytes_max = 64 << 10);

// Waits at most timeout_ms (0: only looks) for the child `pid` to exit, and reaps it; nullopt
// while it still runs. A child already reaped by another waitpid is ExitStatus::lost.
std::optional<ExitStatus> WaitExited(pid_t pid, int timeout_ms);

// SIGKILL to the child `pid`, then reaps it: for a child that has to be gone now.
void KillAndReap(pid_t pid);

}  // namespace duplex
