// SHA-256 through libsodium (crypto_hash_sha256), hex-encoded at this edge so callers never
// see libsodium. Pure functions; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace duplex {

// The digest of `data` as 64 lowercase hex characters.
std::string Sha256Hex(std::string_view data);

// The digest of the file at `path`, read in 64 KiB pieces so a large binary is never held in
// memory. IOError names the path and the reason when it cannot be opened or read.
StatusOr<std::string> Sha256HexOfFile(const std::string& path);

}  // namespace duplex
