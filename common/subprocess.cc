// The child's side is RunChild: system calls on values prepared by the parent, nothing that
// allocates or locks. An exec that fails is reported to the parent through a close-on-exec
// pipe, so Spawn's error names the program instead of the child exiting 127 unseen.
#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

extern char** environ;

namespace duplex {
namespace {

// Between two looks at a child that has not exited yet.
constexpr int kPollMs = 5;
// RunProgram's read of a pipe waits at most this long before it looks whether the child exited.
constexpr int kReadSliceMs = 50;
// Stand-in fd meaning "our stderr" for the child's stdout.
constexpr int kOurStderr = -2;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Closes on destruction: the parent's copies of the fds it hands to a child.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// What the child does, every value ready before fork.
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<char*> envp;  // empty: our environment
  const char* working_dir = nullptr;
  int stdin_fd = -1;  // -1: leave as it is
  int stdout_fd = -1;
  int stderr_fd = -1;
  ChildGroup group = ChildGroup::kInherit;
  bool unblock_signals = false;
  bool die_with_parent = false;
  pid_t parent = 0;
  bool close_other_fds = false;
  int error_fd = -1;  // write end of the close-on-exec error pipe
};

// The failure a child reports before it exits 127.
struct ChildError {
  int stage = 0;  // kStageChdir or kStageExec
  int error = 0;  // errno
};
constexpr int kStageChdir = 1;
constexpr int kStageExec = 2;

[[noreturn]] void ChildFail(int error_fd, int stage) {
  const ChildError report{stage, errno};
  ssize_t ignored = ::write(error_fd, &report, sizeof report);
  (void)ignored;
  ::_exit(127);
}

// dup2 clears close-on-exec on the copy; an fd already in place needs it cleared by hand.
void Redirect(int from, int to) {
  if (from == to) {
    ::fcntl(to, F_SETFD, 0);
  } else {
    ::dup2(from, to);
  }
}

// Async-signal-safe calls only.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  if (plan.group == ChildGroup::kOwn) ::setpgid(0, 0);
  if (plan.group == ChildGroup::kNewSession) ::setsid();
  if (plan.unblock_signals) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
  if (plan.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != plan.parent) ::_exit(1);  // the parent died before prctl took effect
  }
  if (plan.stdin_fd >= 0) Redirect(plan.stdin_fd, STDIN_FILENO);
  if (plan.stdout_fd == kOurStderr) {
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
  } else if (plan.stdout_fd >= 0) {
    Redirect(plan.stdout_fd, STDOUT_FILENO);
  }
  if (plan.stderr_fd >= 0) Redirect(plan.stderr_fd, STDERR_FILENO);
  if (plan.close_other_fds) {
    // Every fd above stderr but the error pipe, which exec closes by itself.
    ::close_range(3, plan.error_fd - 1, 0);
    ::close_range(plan.error_fd + 1, ~0U, 0);
  }
  if (plan.working_dir != nullptr && ::chdir(plan.working_dir) != 0) {
    ChildFail(plan.error_fd, kStageChdir);
  }
  if (plan.envp.empty()) {
    ::execv(plan.argv[0], plan.argv.data());
  } else {
    ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  }
  ChildFail(plan.error_fd, kStageExec);
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus exit;
  if (WIFEXITED(status)) {
    exit.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  return exit;
}

// The fds of the child's standard streams, opened close-on-exec in the parent.
struct ChildFds {
  OwnedFd null;
  OwnedFd stdin_read;  // SpawnOptions::stdin_text, already written
  OwnedFd log;
  OwnedFd capture_read;
  OwnedFd capture_write;
};

// The fd the child's stdout (is_stdout) or stderr is to become; -1 leaves it as it is.
int FdFor(ChildOutput output, bool is_stdout, const ChildFds& fds) {
  switch (output) {
    case ChildOutput::kInherit:
      return -1;
    case ChildOutput::kNull:
      return fds.null.get();
    case ChildOutput::kLogFile:
      return fds.log.get();
    case ChildOutput::kCapture:
      return fds.capture_write.get();
    case ChildOutput::kStderr:
      return is_stdout ? kOurStderr : -1;
  }
  return -1;
}

// A pipe holding stdin_text and closed behind it: the child reads the text, then end of file.
// The text fits the pipe's buffer, so the write completes before there is a reader.
Status FillStdinPipe(const SpawnOptions& options, OwnedFd* read_end) {
  const std::string& program = options.argv[0];
  const std::string& text = options.stdin_text;
  if (text.size() > kStdinBytesMax) {
    return InvalidArgument(program + ": stdin_text of " + std::to_string(text.size()) +
                           " bytes is over " + std::to_string(kStdinBytesMax));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return IOError(program + ": pipe: " + std::strerror(errno));
  }
  read_end->Reset(pipe_fds[0]);
  OwnedFd write_end(pipe_fds[1]);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(write_end.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IOError(program + ": writing its stdin: " + std::strerror(errno));
    written += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status OpenChildFds(const SpawnOptions& options, bool capture_allowed, ChildFds* fds) {
  const std::string& program = options.argv[0];
  auto wants = [&](ChildOutput o) { return options.stdout_to == o || options.stderr_to == o; };
  if (options.stdin_null || wants(ChildOutput::kNull)) {
    fds->null.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (fds->null.get() < 0) return IOError(program + ": /dev/null: " + std::strerror(errno));
  }
  if (!options.stdin_text.empty()) DUPLEX_RETURN_IF_ERROR(FillStdinPipe(options, &fds->stdin_read));
  if (wants(ChildOutput::kLogFile)) {
    fds->log.Reset(
        ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (fds->log.get() < 0) {
      return IOError(program + ": cannot open its log " + options.log_path + ": " +
                     std::strerror(errno));
    }
  }
  if (wants(ChildOutput::kCapture)) {
    if (!capture_allowed) return InvalidArgument(program + ": only RunProgram captures output");
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return IOError(program + ": pipe: " + std::strerror(errno));
    }
    fds->capture_read.Reset(pipe_fds[0]);
    fds->capture_write.Reset(pipe_fds[1]);
  }
  return Status::Ok();
}

// Waits for the child's exec: EOF on the error pipe means it ran; a report means it did not.
Status AwaitExec(const std::string& program, const SpawnOptions& options, pid_t pid, int fd) {
  ChildError report;
  ssize_t n = 0;
  while ((n = ::read(fd, &report, sizeof report)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof report)) return Status::Ok();
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (report.stage == kStageChdir) {
    return IOError(program + ": cannot start in " + options.working_dir + ": " +
                   std::strerror(report.error));
  }
  return IOError(program + ": cannot run: " + std::strerror(report.error));
}

StatusOr<pid_t> SpawnWith(const SpawnOptions& options, OwnedFd* capture) {
  if (options.argv.empty()) return InvalidArgument("no program to run");
  const std::string& program = options.argv[0];
  ChildFds fds;
  DUPLEX_RETURN_IF_ERROR(OpenChildFds(options, capture != nullptr, &fds));
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    return IOError(program + ": pipe: " + std::strerror(errno));
  }
  OwnedFd error_read(error_pipe[0]);
  OwnedFd error_write(error_pipe[1]);

  ChildPlan plan;
  for (const std::string& arg : options.argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  if (!options.env.empty()) {
    for (const std::string& e : options.env) plan.envp.push_back(const_cast<char*>(e.c_str()));
    for (char** e = environ; *e != nullptr; ++e) plan.envp.push_back(*e);
    plan.envp.push_back(nullptr);
  }
  if (!options.working_dir.empty()) plan.working_dir = options.working_dir.c_str();
  plan.stdin_fd = fds.stdin_read.get() >= 0 ? fds.stdin_read.get()
                  : options.stdin_null      ? fds.null.get()
                                            : -1;
  plan.stdout_fd = FdFor(options.stdout_to, /*is_stdout=*/true, fds);
  plan.stderr_fd = FdFor(options.stderr_to, /*is_stdout=*/false, fds);
  plan.group = options.group;
  plan.unblock_signals = options.unblock_signals;
  plan.die_with_parent = options.die_with_parent;
  plan.parent = ::getpid();
  plan.close_other_fds = options.close_other_fds;
  plan.error_fd = error_write.get();

  const pid_t pid = ::fork();
  if (pid < 0) return IOError(program + ": fork: " + std::strerror(errno));
  if (pid == 0) RunChild(plan);
  // Both sides set the group, so it is in place whichever runs first.
  if (options.group == ChildGroup::kOwn) ::setpgid(pid, pid);
  error_write.Reset();
  fds.capture_write.Reset();
  DUPLEX_RETURN_IF_ERROR(AwaitExec(program, options, pid, error_read.get()));
  if (capture != nullptr) capture->Reset(fds.capture_read.Release());
  return pid;
}

enum class ReadOutcome { kData, kNothingYet, kClosed };

// Reads what the pipe holds, waiting at most wait_ms for something; kClosed at EOF or on an
// error.
ReadOutcome ReadSome(int fd, int wait_ms, std::size_t bytes_max, std::string* output) {
  pollfd p{fd, POLLIN, 0};
  const int ready = ::poll(&p, 1, wait_ms);
  if (ready < 0) return errno == EINTR ? ReadOutcome::kNothingYet : ReadOutcome::kClosed;
  if (ready == 0) return ReadOutcome::kNothingYet;
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0) return errno == EINTR ? ReadOutcome::kNothingYet : ReadOutcome::kClosed;
  if (n == 0) return ReadOutcome::kClosed;
  // Past bytes_max the rest is read and dropped, so the program never blocks on a full pipe.
  const std::size_t room = bytes_max - std::min(bytes_max, output->size());
  output->append(buffer, std::min<std::size_t>(static_cast<std::size_t>(n), room));
  return ReadOutcome::kData;
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (lost) return "exited (status taken by another waitpid)";
  if (signal != 0) return "was killed by signal " + std::to_string(signal);
  return "exited with " + std::to_string(code);
}

StatusOr<pid_t> Spawn(const SpawnOptions& options) { return SpawnWith(options, nullptr); }

StatusOr<RunResult> RunProgram(const SpawnOptions& options, int timeout_ms,
                               std::size_t output_bytes_max) {
  OwnedFd capture;
  StatusOr<pid_t> pid = SpawnWith(options, &capture);
  if (!pid.ok()) return pid.status();
  const int64_t deadline_ms = NowMs() + timeout_ms;
  RunResult result;
  for (;;) {
    const int left_ms = static_cast<int>(std::max<int64_t>(0, deadline_ms - NowMs()));
    if (capture.get() >= 0 && ReadSome(capture.get(), std::min(left_ms, kReadSliceMs),
                                       output_bytes_max, &result.output) == ReadOutcome::kClosed) {
      capture.Reset();  // EOF: the program (and whatever it started) closed the stream
    }
    // While the pipe is open, only look; once it is closed, wait for the exit itself.
    std::optional<ExitStatus> exit = WaitExited(*pid, capture.get() >= 0 ? 0 : left_ms);
    if (exit.has_value()) {
      // What it wrote just before it exited; a child it left behind may keep the pipe open.
      while (capture.get() >= 0 && NowMs() < deadline_ms &&
             ReadSome(capture.get(), 0, output_bytes_max, &result.output) == ReadOutcome::kData) {
      }
      result.exit = *exit;
      return result;
    }
    if (NowMs() >= deadline_ms) break;
  }
  if (options.group != ChildGroup::kInherit) ::kill(-*pid, SIGKILL);  // its children too
  KillAndReap(*pid);
  return Unavailable(options.argv[0] + " did not finish within " + std::to_string(timeout_ms) +
                     " ms");
}

std::optional<ExitStatus> WaitExited(pid_t pid, int timeout_ms) {
  const int64_t deadline_ms = NowMs() + timeout_ms;
  for (;;) {
    int status = 0;
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) return FromWaitStatus(status);
    if (waited < 0 && errno == EINTR) continue;
    if (waited < 0) {  // ECHILD: reaped by another waitpid
      ExitStatus lost;
      lost.lost = true;
      return lost;
    }
    const int64_t left_ms = deadline_ms - NowMs();
    if (left_ms <= 0) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(left_ms, kPollMs)));
  }
}

void KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace duplex
