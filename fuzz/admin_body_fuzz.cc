// Fuzzes the admin API's POST bodies (upgrade_coordinator/admin_body.h), as the coordinator's
// HTTP handlers decode them: the text as a JSON object, then each call's fields.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/assert.h"
#include "upgrade_coordinator/admin_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = duplex::ParseAdminBody(text);
  if (!body.ok()) return 0;
  DUPLEX_ASSERT(body->is_object(), "a body that is not an object was taken");
  auto add = duplex::DecodeAddPackage(*body);
  DUPLEX_ASSERT(!add.ok() || !add->path.empty(), "an empty path was taken");
  auto start = duplex::DecodeUpgradeStart(*body);
  DUPLEX_ASSERT(!start.ok() || start->soak_ms >= 0, "a negative soak was taken", start->soak_ms);
  return 0;
}
