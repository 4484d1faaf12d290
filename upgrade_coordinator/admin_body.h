// The admin API's POST bodies (admin_api.md), decoded from the bytes a client sent into plain
// values. The bytes are hostile: every error is a value naming the field and what was wrong,
// never an exception. Pure functions; thread-safe. fuzz/admin_body_fuzz.cc fuzzes them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace duplex {

// POST /packages: {"path": "/abs/dir-or-tarball"}.
struct AddPackageBody {
  std::string path;
};

// POST /upgrade/start: {"to","package","soak_ms","auto_finalize","force"}.
struct UpgradeStartBody {
  std::string to;
  std::string package;  // "": the one stored package of version `to`
  int64_t soak_ms = 5000;
  bool auto_finalize = false;
  bool force = false;
};

// The body as a JSON object; an empty body is {}. InvalidArgument when it is not JSON or
// not an object ("body: a JSON object is required").
StatusOr<nlohmann::json> ParseAdminBody(std::string_view body);

// InvalidArgument naming the field: "path: required", "soak_ms: must be an integer".
StatusOr<AddPackageBody> DecodeAddPackage(const nlohmann::json& body);
StatusOr<UpgradeStartBody> DecodeUpgradeStart(const nlohmann::json& body);

}  // namespace duplex
