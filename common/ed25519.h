// Ed25519 signatures through libsodium (crypto_sign_*), with keys and signatures as lowercase
// hex at this edge: package signing (upgrade_coordinator/package_signature.h) uses them.
// Pure functions; safe to call from any thread (libsodium is initialised once, thread-safely).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace duplex {

// Lengths in hex characters.
inline constexpr std::size_t kEd25519PublicKeyHexChars = 64;
inline constexpr std::size_t kEd25519SecretKeyHexChars = 128;
inline constexpr std::size_t kEd25519SignatureHexChars = 128;

struct Ed25519KeyPair {
  std::string public_hex;  // 64 hex characters
  std::string secret_hex;  // 128 hex characters (libsodium's seed and public key)
};

// A fresh key pair from the system's random source.
StatusOr<Ed25519KeyPair> GenerateEd25519KeyPair();

// The detached signature of `message` (128 hex characters); InvalidArgument when `secret_hex`
// is not 128 hex characters.
StatusOr<std::string> Ed25519Sign(std::string_view message, const std::string& secret_hex);

// True only when `signature_hex` is a valid signature of `message` by `public_hex`; malformed
// keys or signatures are simply not valid.
bool Ed25519Verify(std::string_view message, const std::string& signature_hex,
                   const std::string& public_hex);

// The public key inside a secret key (its last 32 bytes), as hex; "" when malformed.
std::string Ed25519PublicOfSecret(const std::string& secret_hex);

// Lowercase hex of `bytes`; and true when `text` is exactly `chars` hex digits (lowercase).
std::string HexEncode(std::string_view bytes);
bool IsLowerHex(std::string_view text, std::size_t chars);

}  // namespace duplex
