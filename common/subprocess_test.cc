#include "common/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr int kWaitMaxMs = 10000;  // for programs that end at once; generous for a loaded CI

fs::path FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("subprocess_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

SpawnOptions Shell(const std::string& script) {
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", script};
  return options;
}

TEST(Subprocess, RunReportsTheExitCodeAndTheCapturedOutput) {
  SpawnOptions options = Shell("echo out; echo err >&2; exit 3");
  options.stdout_to = ChildOutput::kCapture;
  options.stderr_to = ChildOutput::kCapture;
  StatusOr<RunResult> result = RunProgram(options, kWaitMaxMs);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->exit.code, 3);
  EXPECT_FALSE(result->exit.success());
  EXPECT_EQ(result->exit.Describe(), "exited with 3");
  EXPECT_EQ(result->output, "out\nerr\n");
}

TEST(Subprocess, RunKeepsOnlyTheFirstBytesOfALongOutput) {
  SpawnOptions options = Shell("i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done");
  options.stdout_to = ChildOutput::kCapture;
  StatusOr<RunResult> result = RunProgram(options, kWaitMaxMs, 100);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->exit.success());
  EXPECT_EQ(result->output.size(), 100u);
}

TEST(Subprocess, RunPassesTheEnvironmentAndTheWorkingDirectory) {
  const fs::path dir = FreshDir("env");
  SpawnOptions options = Shell("echo \"$DUPLEX_TEST_WORD\"; pwd");
  options.env = {"DUPLEX_TEST_WORD=hello"};
  options.working_dir = dir.string();
  options.stdout_to = ChildOutput::kCapture;
  StatusOr<RunResult> result = RunProgram(options, kWaitMaxMs);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->output, "hello\n" + fs::canonical(dir).string() + "\n");
}

TEST(Subprocess, RunHandsTheStdinTextToTheProgramThenEndOfFile) {
  SpawnOptions options = Shell("cat; echo end");
  options.stdin_text = "add rule\nsecond line\n";
  options.stdout_to = ChildOutput::kCapture;
  StatusOr<RunResult> result = RunProgram(options, kWaitMaxMs);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->exit.success()) << result->exit.Describe();
  EXPECT_EQ(result->output, "add rule\nsecond line\nend\n");
  options.stdin_text.assign(kStdinBytesMax + 1, 'x');
  EXPECT_EQ(RunProgram(options, kWaitMaxMs).status().code(), Code::kInvalidArgument);
}

TEST(Subprocess, RunKillsAProgramThatDoesNotEndWithinItsBound) {
  SpawnOptions options = Shell("exec sleep 1000");
  options.group = ChildGroup::kOwn;
  StatusOr<RunResult> result = RunProgram(options, 50);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnavailable);
  EXPECT_EQ(result.status().message(), "/bin/sh did not finish within 50 ms");
}

TEST(Subprocess, ASpawnedProgramIsWaitedForBoundedAndKilledByItsPid) {
  StatusOr<pid_t> pid = Spawn(Shell("exec sleep 1000"));
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  EXPECT_FALSE(WaitExited(*pid, 0).has_value());
  EXPECT_FALSE(WaitExited(*pid, 30).has_value()) << "sleep 1000 ended early";
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);
  std::optional<ExitStatus> exit = WaitExited(*pid, kWaitMaxMs);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_EQ(exit->Describe(), "was killed by signal 9");
  EXPECT_TRUE(WaitExited(*pid, 0)->lost) << "reaped already";
}

TEST(Subprocess, SpawnAppendsBothStreamsToTheLogFile) {
  const fs::path log = FreshDir("log") / "child.log";
  std::ofstream(log) << "before\n";
  SpawnOptions options = Shell("echo out; echo err >&2");
  options.stdout_to = ChildOutput::kLogFile;
  options.stderr_to = ChildOutput::kLogFile;
  options.log_path = log.string();
  options.stdin_null = true;
  StatusOr<pid_t> pid = Spawn(options);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  std::optional<ExitStatus> exit = WaitExited(*pid, kWaitMaxMs);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_EQ(text.str(), "before\nout\nerr\n");
}

TEST(Subprocess, AProgramThatCannotRunIsAnErrorNamingIt) {
  SpawnOptions options;
  options.argv = {"/nonexistent/program", "x"};
  StatusOr<pid_t> pid = Spawn(options);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().message(), "/nonexistent/program: cannot run: No such file or directory");
  SpawnOptions in_missing_dir = Shell("true");
  in_missing_dir.working_dir = "/nonexistent/dir";
  StatusOr<RunResult> result = RunProgram(in_missing_dir, kWaitMaxMs);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "/bin/sh: cannot start in /nonexistent/dir: No such file or directory");
  SpawnOptions unwritable_log = Shell("true");
  unwritable_log.stdout_to = ChildOutput::kLogFile;
  unwritable_log.log_path = "/nonexistent/dir/x.log";
  EXPECT_EQ(Spawn(unwritable_log).status().message(),
            "/bin/sh: cannot open its log /nonexistent/dir/x.log: No such file or directory");
}

TEST(Subprocess, OnlyRunProgramCapturesOutput) {
  SpawnOptions options = Shell("true");
  options.stdout_to = ChildOutput::kCapture;
  EXPECT_EQ(Spawn(options).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace duplex
