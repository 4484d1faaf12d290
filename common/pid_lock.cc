#include "common/pid_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace duplex {

namespace {
struct flock WholeFile(short type) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  return l;
}
}  // namespace

StatusOr<PidLock> PidLock::Acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IOError("open " + path + ": " + std::strerror(errno));
  struct flock l = WholeFile(F_WRLCK);
  if (::fcntl(fd, F_SETLK, &l) != 0) {
    int err = errno;
    ::close(fd);
    pid_t holder = Holder(path);
    if (err == EAGAIN || err == EACCES) {
      return FailedPrecondition(path + " is held by pid " + std::to_string(holder) +
                                ": another process runs on this directory");
    }
    return IOError("lock " + path + ": " + std::strerror(err));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return IOError("write " + path + ": " + std::strerror(err));
  }
  return PidLock(fd);
}

pid_t PidLock::Holder(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock l = WholeFile(F_WRLCK);
  pid_t holder = ::fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK ? l.l_pid : 0;
  ::close(fd);
  return holder;
}

PidLock::PidLock(PidLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

PidLock& PidLock::operator=(PidLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

PidLock::~PidLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace duplex
