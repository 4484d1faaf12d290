// Helpers shared by the end-to-end tests: a scratch directory per test and
// assertions that print the status table when a wait fails.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "chaos/cluster_fixture.h"

namespace duplex::testing {

inline std::string ScratchDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::path(::testing::TempDir()) /
          (std::string("duplex_") + info->test_suite_name() + "_" + info->name() + "_" +
           std::to_string(::getpid())))
      .string();
}

// Polls `cond` every 10 ms until it holds (true) or timeout_ms has passed (false): every wait
// of a test is on a condition, with a bound.
inline bool Eventually(const std::function<bool()>& cond, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

#define DUPLEX_ASSERT_OK(expr)                              \
  do {                                                      \
    const ::duplex::Status _s = (expr);                     \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

}  // namespace duplex::testing
