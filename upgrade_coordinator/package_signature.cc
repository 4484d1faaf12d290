#include "upgrade_coordinator/package_signature.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/assert.h"
#include "common/ed25519.h"
#include "common/files.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr char kScheme[] = "ed25519";
// A key file or a signature is one short line; anything larger is the wrong file.
constexpr std::size_t kKeyFileBytesMax = 4096;
// Enough of a key to tell keys apart in a message, as git abbreviates commits.
constexpr std::size_t kShortKeyChars = 16;

std::string Short(const std::string& key_hex) {
  return key_hex.size() <= kShortKeyChars ? key_hex : key_hex.substr(0, kShortKeyChars) + "...";
}

std::string Trimmed(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return InvalidArgument(path + ": cannot read: " + ec.message());
  if (size > kKeyFileBytesMax) return InvalidArgument(path + ": too large for a key file");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return IOError(path + ": cannot read: " + std::strerror(errno));
  return Trimmed(text.str());
}

// Creates `path` with `mode` and `text`; an existing file is refused (a key is never replaced
// by accident: the old one may still sign packages a cluster trusts).
Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return FailedPrecondition(path + ": exists; remove it to make a new key");
    return IOError(path + ": cannot create: " + std::strerror(errno));
  }
  const ssize_t written = ::write(fd, text.data(), text.size());
  const int write_errno = errno;
  const int synced = ::fsync(fd);
  ::close(fd);
  if (written != static_cast<ssize_t>(text.size()) || synced != 0) {
    return IOError(path + ": cannot write: " + std::strerror(write_errno));
  }
  return Status::Ok();
}

Status Refuse(PackageRefusal why, PackageRefusal* reason, Status status) {
  if (reason != nullptr) *reason = why;
  return status;
}

}  // namespace

std::string_view Name(PackageRefusal reason) {
  static constexpr std::array<std::string_view, kPackageRefusalCount> kNames = {
      "unsigned",       "untrusted_key", "bad_signature", "checksum",
      "unsafe_tarball", "too_large",     "outside_dir",   "invalid"};
  const auto index = static_cast<std::size_t>(reason);
  DUPLEX_ASSERT(index < kNames.size(), "every refusal has a name", index);
  return kNames[index];
}

StatusOr<PackageSignature> ParseSignature(std::string_view text) {
  std::istringstream fields{Trimmed(text)};
  std::string scheme;
  PackageSignature s;
  std::string extra;
  fields >> scheme >> s.key_hex >> s.signature_hex >> extra;
  const std::string expected = std::string(kSignatureFile) + ": expected one line \"" + kScheme +
                               " <public key: 64 hex> <signature: 128 hex>\"";
  if (scheme != kScheme || !extra.empty()) return InvalidArgument(expected);
  if (!IsLowerHex(s.key_hex, kEd25519PublicKeyHexChars))
    return InvalidArgument(expected + "; the key is not 64 lowercase hex characters");
  if (!IsLowerHex(s.signature_hex, kEd25519SignatureHexChars))
    return InvalidArgument(expected + "; the signature is not 128 lowercase hex characters");
  return s;
}

std::string FormatSignature(const PackageSignature& signature) {
  return std::string(kScheme) + " " + signature.key_hex + " " + signature.signature_hex + "\n";
}

StatusOr<std::string> SignManifest(std::string_view manifest_text, const std::string& secret_hex) {
  StatusOr<std::string> signature =
      Ed25519Sign(std::string(kSignedPrefix) + std::string(manifest_text), secret_hex);
  if (!signature.ok()) return signature.status();
  return FormatSignature({Ed25519PublicOfSecret(secret_hex), *signature});
}

Status CheckManifestSignature(std::string_view manifest_text,
                              const std::optional<std::string>& signature_text,
                              const std::vector<std::string>& trusted_keys,
                              PackageRefusal* reason) {
  if (!signature_text.has_value()) {
    if (trusted_keys.empty()) return Status::Ok();
    return Refuse(PackageRefusal::kUnsigned, reason,
                  InvalidArgument(std::string("manifest is not signed (no ") + kSignatureFile +
                                  ") and security.package_keys requires a signature; sign it "
                                  "with: duplex package sign --key package.key <dir>"));
  }
  StatusOr<PackageSignature> signature = ParseSignature(*signature_text);
  if (!signature.ok()) {
    return Refuse(PackageRefusal::kBadSignature, reason,
                  InvalidArgument("manifest signature: " + signature.status().message()));
  }
  const bool trusted =
      std::find(trusted_keys.begin(), trusted_keys.end(), signature->key_hex) != trusted_keys.end();
  if (!trusted_keys.empty() && !trusted) {
    return Refuse(PackageRefusal::kUntrustedKey, reason,
                  InvalidArgument("manifest signature made by an untrusted key " +
                                  Short(signature->key_hex) + " (not in security.package_keys)"));
  }
  const std::string signed_text = std::string(kSignedPrefix) + std::string(manifest_text);
  if (!Ed25519Verify(signed_text, signature->signature_hex, signature->key_hex)) {
    return Refuse(PackageRefusal::kBadSignature, reason,
                  InvalidArgument("manifest signature by key " + Short(signature->key_hex) +
                                  " does not verify: the manifest was changed after signing, "
                                  "or the signature is corrupt"));
  }
  return Status::Ok();
}

StatusOr<std::string> WritePackageKeyPair(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IOError(dir + ": cannot create: " + ec.message());
  StatusOr<Ed25519KeyPair> pair = GenerateEd25519KeyPair();
  if (!pair.ok()) return pair.status();
  const std::string secret = (fs::path(dir) / kPackageSecretKeyFile).string();
  const std::string public_file = (fs::path(dir) / kPackagePublicKeyFile).string();
  if (fs::exists(public_file, ec)) {
    return FailedPrecondition(public_file + ": exists; remove it to make a new key");
  }
  DUPLEX_RETURN_IF_ERROR(WriteNewFile(secret, pair->secret_hex + "\n", 0600));
  DUPLEX_RETURN_IF_ERROR(WriteNewFile(public_file, pair->public_hex + "\n", 0644));
  return pair->public_hex;
}

StatusOr<std::string> SignPackageDir(const std::string& dir, const std::string& key_file) {
  StatusOr<std::string> secret = ReadKeyFile(key_file);
  if (!secret.ok()) return secret.status();
  if (!IsLowerHex(*secret, kEd25519SecretKeyHexChars)) {
    return InvalidArgument(key_file + ": not a package secret key (" +
                           std::to_string(kEd25519SecretKeyHexChars) +
                           " hex characters, as duplex package keygen writes)");
  }
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0) {
    return InvalidArgument(key_file + ": cannot read: " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return FailedPrecondition(key_file +
                              ": a secret key readable by group or others; chmod 600 it");
  }
  const fs::path manifest_path = fs::path(dir) / "manifest.yaml";
  std::ifstream in(manifest_path, std::ios::binary);
  if (!in) return InvalidArgument(manifest_path.string() + ": cannot read");
  std::ostringstream manifest;
  manifest << in.rdbuf();
  StatusOr<std::string> signature = SignManifest(manifest.str(), *secret);
  if (!signature.ok())
    return Status(signature.status().code(), key_file + ": " + signature.status().message());
  DUPLEX_RETURN_IF_ERROR(
      WriteFileAtomically((fs::path(dir) / kSignatureFile).string(), *signature));
  return Ed25519PublicOfSecret(*secret);
}

}  // namespace duplex
