#include "upgrade_coordinator/internal/config_fields.h"

#include <algorithm>
#include <array>

namespace duplex::config_fields {
namespace {
constexpr std::size_t kNameCharsMax = 32;
constexpr std::size_t kHostCharsMax = 253;
constexpr std::array<std::string_view, 6> kLogLevels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};
}  // namespace

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// ---- Value checks ----

bool IsName(std::string_view name) {
  if (name.empty() || name.size() > kNameCharsMax) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

Status CheckName(const YamlField& field, const std::string& name) {
  if (IsName(name)) return Status::Ok();
  return field.Error(Quote(name) + " is not a name ([a-z0-9_-]{1,32})");
}

Status CheckHost(const YamlField& field, const std::string& host) {
  const bool ok = !host.empty() && host.size() <= kHostCharsMax &&
                  std::all_of(host.begin(), host.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == ':';
                  });
  if (ok) return Status::Ok();
  return field.Error(Quote(host) + " is not a host name or address");
}

Status CheckVersion(const YamlField& field, const std::string& version) {
  int parts = 0;
  std::size_t digits = 0;
  bool ok = true;
  for (char c : version) {
    if (c == '.') {
      ok = ok && digits > 0;
      ++parts;
      digits = 0;
    } else {
      ok = ok && c >= '0' && c <= '9';
      ++digits;
    }
  }
  if (ok && digits > 0 && parts == 2) return Status::Ok();
  return field.Error(Quote(version) + " is not a version (MAJOR.MINOR.PATCH)");
}

Status CheckLogLevel(const YamlField& field, const std::string& level) {
  if (std::find(kLogLevels.begin(), kLogLevels.end(), level) != kLogLevels.end()) {
    return Status::Ok();
  }
  return field.Error("must be one of trace|debug|info|warn|error|off, got " + Quote(level));
}

// ---- Field readers: an absent optional key leaves the default in place ----

Status ParseInteger(const YamlField& field, const std::string& expected, int64_t* out) {
  if (!field.IsScalar()) return field.WrongKind(expected);
  switch (field.ToInteger(out)) {
    case YamlField::Decimal::kOk:
      return Status::Ok();
    case YamlField::Decimal::kOutOfRange:
      return field.Error(field.text() + " is too large");
    case YamlField::Decimal::kNotDecimal:
      break;
  }
  return field.Error("must be " + expected + ", got " + Quote(field.text()));
}

Status ReadPort(const YamlField& field, bool required, int* out) {
  if (required && field.missing()) return field.Error("required");
  if (!field.written()) return Status::Ok();
  int64_t port = 0;
  DUPLEX_RETURN_IF_ERROR(ParseInteger(field, "a port number (1..65535)", &port));
  if (port < 1 || port > 65535) {
    return field.Error(std::to_string(port) + " is not a port (1..65535)");
  }
  *out = static_cast<int>(port);
  return Status::Ok();
}

StatusOr<YamlField> Section(const YamlField& root, const char* key, bool required,
                            YamlField::Keys known) {
  const YamlField section = root[key];
  if (section.missing()) {
    if (required) return section.Error("required");
    return section;
  }
  if (!section.IsMap()) return section.WrongKind("a map of fields");
  DUPLEX_RETURN_IF_ERROR(section.CheckKeys(known));
  return section;
}

}  // namespace duplex::config_fields
