// Fuzzes what a package brings before anything of it is trusted: the tar headers of an
// uploaded or added tarball, read before extraction (CheckTarArchive,
// upgrade_coordinator/tarball.h), and the manifest's signature file (ParseSignature,
// upgrade_coordinator/package_signature.h), which must survive a round trip through
// FormatSignature. The first byte picks the decoder (even: tar, odd: signature).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/assert.h"
#include "upgrade_coordinator/package_signature.h"
#include "upgrade_coordinator/tarball.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    duplex::PackageRefusal reason{};
    (void)duplex::CheckTarArchive(bytes, /*bytes_max=*/1 << 20, &reason);
    return 0;
  }
  auto signature = duplex::ParseSignature(bytes);
  if (!signature.ok()) return 0;
  auto again = duplex::ParseSignature(duplex::FormatSignature(*signature));
  DUPLEX_ASSERT(again.ok(), "a formatted signature does not parse:", again.status().ToString());
  DUPLEX_ASSERT(
      again->key_hex == signature->key_hex && again->signature_hex == signature->signature_hex,
      "the round trip changed the signature");
  return 0;
}
