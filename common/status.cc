#include "common/status.h"

#include <cstdio>
#include <cstdlib>

namespace duplex {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kNotActive:
      return "NotActive";
    case Code::kStaleEpoch:
      return "StaleEpoch";
    case Code::kFeatureDisabled:
      return "FeatureDisabled";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kCorruption:
      return "Corruption";
    case Code::kIOError:
      return "IOError";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

namespace internal {
void AssertFailed(const char* file, int line, const char* cond, const std::string& detail) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s; %s\n", file, line, cond, detail.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

}  // namespace duplex
