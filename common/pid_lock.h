// PidLock: a process's claim on a directory, held for its lifetime. The holder keeps an
// fcntl write lock on a small file that also holds its pid; the kernel drops the lock
// when the process dies, however it dies, so a stale file never claims anything.
// Anyone can ask who holds it (fcntl F_GETLK reports the holder's pid).
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace duplex {

class PidLock {
 public:
  // Locks path (created if missing) and writes our pid into it. Fails, naming the
  // holder's pid, when another process holds it.
  static StatusOr<PidLock> Acquire(const std::string& path);
  // The pid of the process holding path, 0 when none does (or the file is missing).
  static pid_t Holder(const std::string& path);

  PidLock(PidLock&& other) noexcept;
  PidLock& operator=(PidLock&& other) noexcept;
  PidLock(const PidLock&) = delete;
  PidLock& operator=(const PidLock&) = delete;
  ~PidLock();

  // The file a daemon locks inside the directory it owns.
  static std::string FileIn(const std::string& dir) { return dir + "/owner.pid"; }

 private:
  explicit PidLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace duplex
