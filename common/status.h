// Status and StatusOr: expected failures as values at module boundaries.
// Plain value types, safe to copy between threads; no exceptions cross a module boundary.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace duplex {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad input from a user, a file or a peer
  kNotFound,
  kNotActive,   // this replica does not serve clients now
  kStaleEpoch,  // the message or request belongs to an older history
  kFeatureDisabled,
  kUnavailable,  // try again later (timeout, no peer, no lease)
  kCorruption,   // malformed frame, bad checksum
  kIOError,
  kFailedPrecondition,
  kInternal,
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: replicas[1].port: must be in 1..65535".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
inline Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {Code::kFailedPrecondition, std::move(m)};
}
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    DUPLEX_ASSERT(!status_.ok(), "StatusOr built from an ok Status without a value");
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & {
    DUPLEX_ASSERT(ok(), status_.ToString());
    return *value_;
  }
  const T& value() const& {
    DUPLEX_ASSERT(ok(), status_.ToString());
    return *value_;
  }
  T&& value() && {
    DUPLEX_ASSERT(ok(), status_.ToString());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

#define DUPLEX_RETURN_IF_ERROR(expr) \
  do {                               \
    ::duplex::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

}  // namespace duplex
