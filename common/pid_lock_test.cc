#include "common/pid_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace duplex {
namespace {

std::string TempPath() {
  auto dir =
      std::filesystem::temp_directory_path() / ("pid_lock_test." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / "replica.pid").string();
}

TEST(PidLock, HolderIsTheLockingProcessUntilItDies) {
  std::string path = TempPath();
  EXPECT_EQ(PidLock::Holder(path + ".missing"), 0);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = PidLock::Acquire(path);
    char c = lock.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();  // until SIGKILL: the kernel releases the lock
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(PidLock::Holder(path), child);
  pid_t written = 0;
  std::ifstream(path) >> written;
  EXPECT_EQ(written, child);

  auto second = PidLock::Acquire(path);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("held by pid " + std::to_string(child)),
            std::string::npos)
      << second.status().ToString();

  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(PidLock::Holder(path), 0);  // the file stays; the claim does not
  auto mine = PidLock::Acquire(path);
  EXPECT_TRUE(mine.ok()) << mine.status().ToString();
  ::close(ready[0]);
  ::close(ready[1]);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

}  // namespace
}  // namespace duplex
