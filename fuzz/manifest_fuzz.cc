// Fuzzes ParseManifest (upgrade_coordinator/manifest.h): a package's manifest.yaml, which
// comes with the package from whoever built it. The manifest's version range must survive a
// round trip through its text (ParseVersionRange(range.ToString()) == range).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "upgrade_coordinator/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto manifest = duplex::ParseManifest(text);
  if (manifest.ok()) {
    DUPLEX_ASSERT(duplex::SameContent(*manifest, *manifest), "a manifest differs from itself");
    const std::string range = manifest->upgrade_from.ToString();
    auto again = duplex::ParseVersionRange(range);
    DUPLEX_ASSERT(again.ok(), "the written range does not parse:", range);
    DUPLEX_ASSERT(*again == manifest->upgrade_from, "the round trip changed the range", range);
  }
  // The range parser alone, on the whole input: it is also read from the command line.
  auto range = duplex::ParseVersionRange(text);
  if (range.ok()) {
    auto again = duplex::ParseVersionRange(range->ToString());
    DUPLEX_ASSERT(again.ok() && *again == *range, "the round trip changed the range",
                  range->ToString());
  }
  return 0;
}
