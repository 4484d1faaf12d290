// Helpers shared by the end-to-end tests: a scratch directory per test and
// assertions that print the status table when a wait fails.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "chaos/cluster_fixture.h"

namespace duplex::testing {

inline std::string ScratchDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::path(::testing::TempDir()) /
          (std::string("duplex_") + info->test_suite_name() + "_" + info->name() + "_" +
           std::to_string(::getpid())))
      .string();
}

#define DUPLEX_ASSERT_OK(expr)                              \
  do {                                                      \
    const ::duplex::Status _s = (expr);                     \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

}  // namespace duplex::testing
