// Reading the cluster YAML's values: the checks and field readers shared by the parts of
// cluster_config.cc and cluster_hosts.cc. Every error is an InvalidArgument naming the field.
// Stateless.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/yaml_fields.h"

namespace duplex::config_fields {

std::string Quote(std::string_view text);
bool IsName(std::string_view name);
Status CheckName(const YamlField& field, const std::string& name);
// Host names and IPv4/IPv6 literals; rejects spaces, slashes and URLs pasted in by mistake.
Status CheckHost(const YamlField& field, const std::string& host);
Status CheckVersion(const YamlField& field, const std::string& version);
Status CheckLogLevel(const YamlField& field, const std::string& level);

// ---- Field readers: an absent optional key leaves the default in place ----

Status ParseInteger(const YamlField& field, const std::string& expected, int64_t* out);

enum class Zero { kAllowed, kRejected };

template <typename T>
Status ReadCount(const YamlField& field, Zero zero, T* out) {
  if (!field.written()) return Status::Ok();
  const std::string expected =
      zero == Zero::kAllowed ? "a non-negative integer" : "a positive integer";
  int64_t number = 0;
  DUPLEX_RETURN_IF_ERROR(ParseInteger(field, expected, &number));
  if (number < (zero == Zero::kAllowed ? 0 : 1)) {
    return field.Error("must be " + expected + ", got " + std::to_string(number));
  }
  constexpr uint64_t kMax =
      std::min<uint64_t>(std::numeric_limits<T>::max(), std::numeric_limits<int64_t>::max());
  if (static_cast<uint64_t>(number) > kMax) {
    return field.Error("must be at most " + std::to_string(kMax) + ", got " +
                       std::to_string(number));
  }
  *out = static_cast<T>(number);
  return Status::Ok();
}

// Port 0 ("any free port") is for configs built in code by tests; a file names real ports.
Status ReadPort(const YamlField& field, bool required, int* out);
// A section is a map of known fields. An optional one may be absent or empty (`timing:`), which
// keeps every default: reading fields from it finds none.
StatusOr<YamlField> Section(const YamlField& root, const char* key, bool required,
                            YamlField::Keys known);

}  // namespace duplex::config_fields
