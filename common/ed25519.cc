// Ed25519 by libsodium; one of the two files that include <sodium.h> (sha256.cc is the other).
#include "common/ed25519.h"

#include <sodium.h>

#include <string>

#include "common/assert.h"

namespace duplex {
namespace {

static_assert(crypto_sign_PUBLICKEYBYTES * 2 == kEd25519PublicKeyHexChars);
static_assert(crypto_sign_SECRETKEYBYTES * 2 == kEd25519SecretKeyHexChars);
static_assert(crypto_sign_BYTES * 2 == kEd25519SignatureHexChars);

// sodium_init is idempotent and thread-safe; it fails only when no random source exists.
Status InitSodium() {
  if (sodium_init() < 0) return Internal("libsodium: cannot initialise (no random source?)");
  return Status::Ok();
}

// Decodes exactly `bytes` bytes of lowercase hex; false on anything else.
bool HexDecode(std::string_view hex, unsigned char* out, std::size_t bytes) {
  if (!IsLowerHex(hex, bytes * 2)) return false;
  std::size_t decoded = 0;
  const int rc = sodium_hex2bin(out, bytes, hex.data(), hex.size(), nullptr, &decoded, nullptr);
  return rc == 0 && decoded == bytes;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string hex(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  hex.pop_back();  // the terminating NUL
  return hex;
}

bool IsLowerHex(std::string_view text, std::size_t chars) {
  if (text.size() != chars) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

StatusOr<Ed25519KeyPair> GenerateEd25519KeyPair() {
  DUPLEX_RETURN_IF_ERROR(InitSodium());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  Ed25519KeyPair pair;
  pair.public_hex = HexEncode(std::string_view(reinterpret_cast<char*>(pk), sizeof pk));
  pair.secret_hex = HexEncode(std::string_view(reinterpret_cast<char*>(sk), sizeof sk));
  sodium_memzero(sk, sizeof sk);
  DUPLEX_ASSERT(Ed25519PublicOfSecret(pair.secret_hex) == pair.public_hex,
                "a secret key carries its public key", pair.public_hex);
  return pair;
}

StatusOr<std::string> Ed25519Sign(std::string_view message, const std::string& secret_hex) {
  DUPLEX_RETURN_IF_ERROR(InitSodium());
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  if (!HexDecode(secret_hex, sk, sizeof sk)) {
    return InvalidArgument("not an Ed25519 secret key: expected " +
                           std::to_string(kEd25519SecretKeyHexChars) + " lowercase hex characters");
  }
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk);
  sodium_memzero(sk, sizeof sk);
  return HexEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
}

bool Ed25519Verify(std::string_view message, const std::string& signature_hex,
                   const std::string& public_hex) {
  if (!InitSodium().ok()) return false;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sig[crypto_sign_BYTES];
  if (!HexDecode(public_hex, pk, sizeof pk) || !HexDecode(signature_hex, sig, sizeof sig)) {
    return false;
  }
  return crypto_sign_verify_detached(sig, reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), pk) == 0;
}

std::string Ed25519PublicOfSecret(const std::string& secret_hex) {
  if (!IsLowerHex(secret_hex, kEd25519SecretKeyHexChars)) return "";
  return secret_hex.substr(kEd25519SecretKeyHexChars - kEd25519PublicKeyHexChars);
}

}  // namespace duplex
