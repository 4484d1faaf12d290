// Package signatures: `manifest.sig` beside a package's manifest.yaml holds one line,
//   ed25519 <signer's public key: 64 hex> <signature: 128 hex>
// the Ed25519 signature of kSignedPrefix followed by manifest.yaml's exact bytes. The manifest
// names the binary's sha256, so the one signature covers the binary too. Pure functions over
// texts, plus the key files of `duplex package keygen|sign`; thread-compatible.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace duplex {

// The signature's file name inside a package directory.
inline constexpr char kSignatureFile[] = "manifest.sig";
// Signed ahead of the manifest, so a signature made for anything else never passes for one.
inline constexpr char kSignedPrefix[] = "duplex-package-manifest/1\n";
// The files `duplex package keygen --out DIR` writes.
inline constexpr char kPackageSecretKeyFile[] = "package.key";
inline constexpr char kPackagePublicKeyFile[] = "package.pub";

// Why a package was refused: the label of duplex_package_refused_total{reason=...}.
enum class PackageRefusal {
  kUnsigned,       // no manifest.sig while security.package_keys is set
  kUntrustedKey,   // signed by a key not in security.package_keys
  kBadSignature,   // manifest.sig malformed, or the signature does not verify
  kChecksum,       // the binary does not match the (signed) manifest's sha256
  kUnsafeTarball,  // absolute path, "..", a link or a device in the tarball
  kTooLarge,       // over limits.package_bytes_max
  kOutsideDir,     // POST /packages {"path"} not under security.package_dir
  kInvalid,        // anything else: a bad manifest, a missing file, an I/O error
};
inline constexpr std::size_t kPackageRefusalCount = 8;
std::string_view Name(PackageRefusal reason);  // "unsigned", "untrusted_key", ...

struct PackageSignature {
  std::string key_hex;        // 64 lowercase hex characters
  std::string signature_hex;  // 128 lowercase hex characters
};

// Parses manifest.sig's text; InvalidArgument names what is wrong with it.
StatusOr<PackageSignature> ParseSignature(std::string_view text);
std::string FormatSignature(const PackageSignature& signature);  // the file's text, one line

// manifest.sig's text for `manifest_text` signed with `secret_hex` (a package.key's contents).
StatusOr<std::string> SignManifest(std::string_view manifest_text, const std::string& secret_hex);

// Decides whether a manifest may be used. With `trusted_keys` (lowercase hex): it must carry
// a valid signature by one of them. Without: an unsigned manifest passes (the caller warns),
// and a signed one must still verify under its own key (a changed manifest is refused).
// `signature_text` is manifest.sig's text, nullopt when the package has none. On a refusal,
// `*reason` says which and the message says it in words, e.g. "manifest signature made by an
// untrusted key 3f2a...".
Status CheckManifestSignature(std::string_view manifest_text,
                              const std::optional<std::string>& signature_text,
                              const std::vector<std::string>& trusted_keys, PackageRefusal* reason);

// `duplex package keygen`: writes DIR/package.key (mode 0600, the secret key as hex) and
// DIR/package.pub (the public key as hex); refuses to overwrite either. Returns the public key.
StatusOr<std::string> WritePackageKeyPair(const std::string& dir);
// `duplex package sign`: signs DIR/manifest.yaml with the secret key in `key_file`, writing
// DIR/manifest.sig. Returns the signer's public key.
StatusOr<std::string> SignPackageDir(const std::string& dir, const std::string& key_file);

}  // namespace duplex
