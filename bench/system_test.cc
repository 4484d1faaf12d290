#include "bench/system.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

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

TEST(StatTicks, AddsUtimeAndStimeCountedFromTheLastParenthesis) {
  // A real line's shape (kernel 6.x, 52 fields) with a command name holding spaces and
  // parentheses: utime 1234 and stime 56 are fields 14 and 15.
  const std::string line =
      "4242 (kv) 1.0 (a b)) S 1 4242 4242 0 -1 4194560 2101 0 0 0 1234 56 0 0 20 0 16 0 "
      "918273 1073741824 5120 18446744073709551615 1 1 0 0 0 0 0 4096 17642 0 0 0 17 1 0 0 0 "
      "0 0 0 0 0 0 0 0 0 0";
  auto ticks = StatTicks(line);
  ASSERT_TRUE(ticks.ok()) << ticks.status().ToString();
  EXPECT_EQ(*ticks, 1290u);
  auto plain = StatTicks("7 (duplex) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(*plain, 7u);
}

TEST(StatTicks, RefusesALineCutShortOrWithoutAName) {
  auto no_name = StatTicks("4242 kv S 1 4242 4242 0 -1 4194560 2101 0 0 0 1234 56");
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("')'"), std::string::npos);
  auto short_line = StatTicks("4242 (kv) S 1 4242 4242");
  ASSERT_FALSE(short_line.ok());
  EXPECT_NE(short_line.status().message().find("utime"), std::string::npos);
  EXPECT_FALSE(StatTicks("4242 (kv) S 1 4242 4242 0 -1 4194560 2101 0 0 0 x 56").ok());
}

TEST(CpuPercentOver, MeasuresASleepingProcessAsNearlyNothingAndNoProcessAsNothing) {
  pid_t idle = ::fork();
  if (idle == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(idle, 0);
  std::vector<double> percent = CpuPercentOver({{idle}, {}}, 0.3);
  ::kill(idle, SIGKILL);
  ::waitpid(idle, nullptr, 0);
  ASSERT_EQ(percent.size(), 2u);
  EXPECT_LE(percent[0], 10.0);  // at most one 10 ms tick over 0.3 s (its start)
  EXPECT_EQ(percent[1], 0);
}

}  // namespace
}  // namespace duplex::bench
