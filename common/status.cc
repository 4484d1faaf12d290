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

}  // namespace duplex
