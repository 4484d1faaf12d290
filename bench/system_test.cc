#include "bench/system.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

namespace duplex::bench {
namespace {

// A child that burns `cpu_s` of its own CPU (bounded by 10 s of wall time), says so on
// `done` and waits to be killed. Its name holds ") " so that the stat line's comm field
// cannot be split on spaces or on the first parenthesis.
pid_t BurnCpu(double cpu_s, int done) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_NAME, "burn) x (y");
  auto wall_end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (static_cast<double>(std::clock()) < cpu_s * CLOCKS_PER_SEC &&
         std::chrono::steady_clock::now() < wall_end) {
  }
  char c = 'x';
  (void)!::write(done, &c, 1);
  ::pause();
  ::_exit(0);
}

TEST(CpuSeconds, CountsWhatAProcessSpentAndNothingForOneThatIsGone) {
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  pid_t pid = BurnCpu(0.3, done[1]);
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(::read(done[0], &c, 1), 1);
  double spent = CpuSeconds({pid});
  double twice = CpuSeconds({pid, pid});
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(done[0]);
  ::close(done[1]);
  EXPECT_GE(spent, 0.25);  // clock ticks are 10 ms
  EXPECT_LT(spent, 5.0);
  EXPECT_DOUBLE_EQ(twice, 2 * spent);
  EXPECT_EQ(CpuSeconds({pid}), 0);  // reaped: no /proc entry
  EXPECT_EQ(CpuSeconds({}), 0);
}

}  // namespace
}  // namespace duplex::bench
