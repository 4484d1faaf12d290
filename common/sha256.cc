// SHA-256 by libsodium's crypto_hash_sha256 (streaming for files). One of the two files that
// include <sodium.h> (ed25519.cc is the other).
#include "common/sha256.h"

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/assert.h"
#include "common/ed25519.h"

namespace duplex {
namespace {

constexpr std::size_t kFileReadBytes = 64 * 1024;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string DigestHex(const unsigned char (&digest)[crypto_hash_sha256_BYTES]) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return DigestHex(digest);
}

StatusOr<std::string> Sha256HexOfFile(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return IOError(path + ": cannot open: " + std::strerror(errno));
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::vector<unsigned char> buffer(kFileReadBytes);
  for (;;) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    DUPLEX_ASSERT(n <= buffer.size(), "fread returns at most what was asked", n);
    crypto_hash_sha256_update(&state, buffer.data(), n);
    if (n < buffer.size()) break;
  }
  if (std::ferror(file.get())) return IOError(path + ": cannot read: " + std::strerror(errno));
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  return DigestHex(digest);
}

}  // namespace duplex
