#include "common/fatal.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/assert.h"

namespace duplex {
namespace {

FatalHandler& Handler() {
  static FatalHandler handler;
  return handler;
}

}  // namespace

void SetFatalHandler(FatalHandler handler) { Handler() = std::move(handler); }

void Fatal(const Status& status) {
  if (Handler()) Handler()(FatalKind::kDurability, status.ToString());
  spdlog::critical("fatal: {}", status.ToString());
  std::fflush(nullptr);
  ::_exit(70);
}

namespace internal {

void AssertFailed(const char* file, int line, const char* cond, const std::string& detail) {
  std::string what = std::string(file) + ":" + std::to_string(line) +
                     ": assertion failed: " + cond + "; " + detail;
  if (Handler()) Handler()(FatalKind::kAssertion, what);
  std::fprintf(stderr, "%s\n", what.c_str());
  std::fflush(nullptr);
  std::abort();
}

}  // namespace internal
}  // namespace duplex
