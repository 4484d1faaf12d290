#include "upgrade_coordinator/admin_body.h"

namespace duplex {
namespace {

// The optional field `name` of `body` into *out when present; the error names it when it is
// of another type. nlohmann's value() would throw a type_error instead.
Status OptionalString(const nlohmann::json& body, const char* name, std::string* out) {
  auto it = body.find(name);
  if (it == body.end()) return Status::Ok();
  if (!it->is_string()) return InvalidArgument(std::string(name) + ": must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status OptionalBool(const nlohmann::json& body, const char* name, bool* out) {
  auto it = body.find(name);
  if (it == body.end()) return Status::Ok();
  if (!it->is_boolean()) return InvalidArgument(std::string(name) + ": must be true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

Status OptionalInt(const nlohmann::json& body, const char* name, int64_t* out) {
  auto it = body.find(name);
  if (it == body.end()) return Status::Ok();
  // An unsigned above INT64_MAX is an integer nlohmann keeps as unsigned: out of range here.
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})) {
    return InvalidArgument(std::string(name) + ": must be an integer");
  }
  *out = it->get<int64_t>();
  return Status::Ok();
}

}  // namespace

StatusOr<nlohmann::json> ParseAdminBody(std::string_view body) {
  if (body.empty()) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgument("body: a JSON object is required");
  }
  return parsed;
}

StatusOr<AddPackageBody> DecodeAddPackage(const nlohmann::json& body) {
  AddPackageBody out;
  DUPLEX_RETURN_IF_ERROR(OptionalString(body, "path", &out.path));
  if (out.path.empty()) return InvalidArgument("path: required");
  return out;
}

StatusOr<UpgradeStartBody> DecodeUpgradeStart(const nlohmann::json& body) {
  UpgradeStartBody out;
  if (!body.contains("to")) return InvalidArgument("to: required");
  DUPLEX_RETURN_IF_ERROR(OptionalString(body, "to", &out.to));
  DUPLEX_RETURN_IF_ERROR(OptionalString(body, "package", &out.package));
  DUPLEX_RETURN_IF_ERROR(OptionalInt(body, "soak_ms", &out.soak_ms));
  DUPLEX_RETURN_IF_ERROR(OptionalBool(body, "auto_finalize", &out.auto_finalize));
  DUPLEX_RETURN_IF_ERROR(OptionalBool(body, "force", &out.force));
  if (out.soak_ms < 0) return InvalidArgument("soak_ms: must not be negative");
  return out;
}

}  // namespace duplex
