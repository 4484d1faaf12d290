// DUPLEX_ASSERT: an always-on check that turns a correctness bug into a crash
// (in a pair, a crash is only a failover). Prints the condition and its operands.
#pragma once

#include <sstream>
#include <string>

namespace duplex::internal {

[[noreturn]] void AssertFailed(const char* file, int line, const char* cond,
                               const std::string& detail);

template <typename... Args>
std::string Describe(const Args&... args) {
  std::ostringstream out;
  ((out << args << ' '), ...);
  return out.str();
}

}  // namespace duplex::internal

#define DUPLEX_ASSERT(cond, ...)                                                   \
  do {                                                                             \
    if (!(cond)) [[unlikely]] {                                                    \
      ::duplex::internal::AssertFailed(__FILE__, __LINE__, #cond,                  \
                                       ::duplex::internal::Describe(__VA_ARGS__)); \
    }                                                                              \
  } while (0)
