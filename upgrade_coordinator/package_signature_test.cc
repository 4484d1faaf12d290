// Signed packages: keys, manifest.sig, and every place a package is verified (reading one,
// the coordinator's store, an agent's receiver, and an agent's check before it starts one).
#include "upgrade_coordinator/package_signature.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/sha256.h"
#include "upgrade_coordinator/agent/package_receiver.h"
#include "upgrade_coordinator/package.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr char kBinary[] = "#!/bin/sh\nexit 0\n";

std::string Manifest(std::string_view binary) {
  return "name: kv\nversion: 2.0.0\nbinary: kv-2.0.0\nsha256: " + Sha256Hex(binary) +
         "\nupgrade_from: \">=1.0.0 <2.0.0\"\nschema: 2\n";
}

fs::path FreshDir(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::path(::testing::TempDir()) /
                       (std::string("package_signature_test_") + info->name() + "_" + suffix);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteFile(const fs::path& path, std::string_view contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path MakePackage(const std::string& suffix, std::string_view binary = kBinary) {
  const fs::path dir = FreshDir(suffix);
  WriteFile(dir / "manifest.yaml", Manifest(binary));
  WriteFile(dir / "kv-2.0.0", binary);
  fs::permissions(dir / "kv-2.0.0", fs::perms(0755));
  return dir;
}

struct Signer {
  std::string public_key;
  std::string key_file;
};

Signer MakeKeys(const std::string& suffix) {
  const fs::path dir = FreshDir("keys-" + suffix);
  StatusOr<std::string> public_key = WritePackageKeyPair(dir.string());
  EXPECT_TRUE(public_key.ok()) << public_key.status().ToString();
  return {public_key.ok() ? *public_key : "", (dir / kPackageSecretKeyFile).string()};
}

fs::path SignedPackage(const std::string& suffix, const Signer& signer) {
  const fs::path dir = MakePackage(suffix);
  StatusOr<std::string> signed_by = SignPackageDir(dir.string(), signer.key_file);
  EXPECT_TRUE(signed_by.ok()) << signed_by.status().ToString();
  EXPECT_EQ(signed_by.ok() ? *signed_by : "", signer.public_key);
  return dir;
}

PackagePolicy Trusting(const Signer& signer) {
  PackagePolicy policy;
  policy.trusted_keys = {signer.public_key};
  return policy;
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(PackageKeys, KeygenWritesASecretKeyOnlyItsOwnerReadsAndRefusesToOverwrite) {
  const fs::path dir = FreshDir("keys");
  StatusOr<std::string> public_key = WritePackageKeyPair(dir.string());
  ASSERT_TRUE(public_key.ok()) << public_key.status().ToString();
  EXPECT_EQ(public_key->size(), 64u);
  EXPECT_EQ(ReadFile(dir / kPackagePublicKeyFile), *public_key + "\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir / kPackageSecretKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  StatusOr<std::string> again = WritePackageKeyPair(dir.string());
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(Contains(again.status().message(), "exists")) << again.status().message();
}

TEST(PackageKeys, SigningRefusesAKeyFileOthersCanReadOrThatIsNotASecretKey) {
  Signer signer = MakeKeys("a");
  const fs::path dir = MakePackage("pkg");
  ::chmod(signer.key_file.c_str(), 0644);
  StatusOr<std::string> refused = SignPackageDir(dir.string(), signer.key_file);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(Contains(refused.status().message(), "chmod 600")) << refused.status().message();
  const fs::path public_as_secret = FreshDir("pub") / "package.key";
  WriteFile(public_as_secret, signer.public_key + "\n");
  ::chmod(public_as_secret.c_str(), 0600);
  refused = SignPackageDir(dir.string(), public_as_secret.string());
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(Contains(refused.status().message(), "not a package secret key"));
  EXPECT_FALSE(fs::exists(dir / kSignatureFile));
}

TEST(PackageSignature, TheFileIsOneLineThatParsesBack) {
  Signer signer = MakeKeys("a");
  StatusOr<std::string> text = SignManifest("name: kv\n", ReadFile(signer.key_file).substr(0, 128));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  StatusOr<PackageSignature> parsed = ParseSignature(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->key_hex, signer.public_key);
  EXPECT_EQ(FormatSignature(*parsed), *text);
  EXPECT_FALSE(ParseSignature("ed25519 abc def").ok());
  EXPECT_FALSE(ParseSignature(*text + " extra").ok());
  EXPECT_FALSE(ParseSignature("rsa " + text->substr(8)).ok());
}

TEST(SignedPackage, SignedByATrustedKeyIsReadAndNamesItsSigner) {
  Signer signer = MakeKeys("a");
  const fs::path dir = SignedPackage("pkg", signer);
  StatusOr<PackageManifest> m = ReadPackage(dir.string(), Trusting(signer));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->signer, signer.public_key);
}

TEST(SignedPackage, UnsignedIsRefusedWhenKeysAreConfiguredAndCounted) {
  Signer signer = MakeKeys("a");
  const fs::path dir = MakePackage("pkg");
  auto store = PackageStore::Open((FreshDir("store") / "s").string(), Trusting(signer));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  StatusOr<PackageManifest> m = (*store)->Add(dir.string());
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status().message(), "package kv-2.0.0: manifest is not signed"))
      << m.status().message();
  EXPECT_EQ((*store)->refusals().Get(PackageRefusal::kUnsigned), 1u);
  EXPECT_TRUE((*store)->List().empty());
}

TEST(SignedPackage, SignedByAnUntrustedKeyIsRefusedNamingTheKey) {
  Signer trusted = MakeKeys("trusted");
  Signer stranger = MakeKeys("stranger");
  const fs::path dir = SignedPackage("pkg", stranger);
  auto store = PackageStore::Open((FreshDir("store") / "s").string(), Trusting(trusted));
  ASSERT_TRUE(store.ok());
  StatusOr<PackageManifest> m = (*store)->Add(dir.string());
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status().message(),
                       "package kv-2.0.0: manifest signature made by an untrusted key " +
                           stranger.public_key.substr(0, 16) + "..."))
      << m.status().message();
  EXPECT_EQ((*store)->refusals().Get(PackageRefusal::kUntrustedKey), 1u);
}

TEST(SignedPackage, AManifestChangedAfterSigningIsRefused) {
  Signer signer = MakeKeys("a");
  const fs::path dir = SignedPackage("pkg", signer);
  std::string manifest = ReadFile(dir / "manifest.yaml");
  manifest.replace(manifest.find("schema: 2"), 9, "schema: 3");
  WriteFile(dir / "manifest.yaml", manifest);
  auto store = PackageStore::Open((FreshDir("store") / "s").string(), Trusting(signer));
  ASSERT_TRUE(store.ok());
  StatusOr<PackageManifest> m = (*store)->Add(dir.string());
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status().message(), "does not verify")) << m.status().message();
  EXPECT_EQ((*store)->refusals().Get(PackageRefusal::kBadSignature), 1u);
  // Without trusted keys a signature that is there must still verify.
  EXPECT_FALSE(ReadPackage(dir.string()).ok());
}

TEST(SignedPackage, ABinaryChangedAfterSigningIsRefusedAgainstTheSignedSha256) {
  Signer signer = MakeKeys("a");
  const fs::path dir = SignedPackage("pkg", signer);
  WriteFile(dir / "kv-2.0.0", "#!/bin/sh\nrm -rf /data\n");
  auto store = PackageStore::Open((FreshDir("store") / "s").string(), Trusting(signer));
  ASSERT_TRUE(store.ok());
  StatusOr<PackageManifest> m = (*store)->Add(dir.string());
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status().message(), "binary sha256 does not match the signed manifest"))
      << m.status().message();
  EXPECT_EQ((*store)->refusals().Get(PackageRefusal::kChecksum), 1u);
}

TEST(SignedPackage, WithoutTrustedKeysAnUnsignedPackageIsStoredAsBefore) {
  auto store = PackageStore::Open((FreshDir("store") / "s").string());
  ASSERT_TRUE(store.ok());
  StatusOr<PackageManifest> m = (*store)->Add(MakePackage("pkg").string());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->signer, "");
}

TEST(SignedPackage, TheStoreKeepsTheSignatureAndLeavesOutUnsignedOnesOnceKeysAreTrusted) {
  Signer signer = MakeKeys("a");
  const std::string store_dir = (FreshDir("store") / "s").string();
  {
    auto store = PackageStore::Open(store_dir);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Add(MakePackage("unsigned").string()).ok());
  }
  auto reopened = PackageStore::Open(store_dir, Trusting(signer));
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->List().empty());
  ASSERT_EQ((*reopened)->damaged().size(), 1u);
  EXPECT_TRUE(Contains((*reopened)->damaged()[0], "manifest is not signed"));

  const std::string signed_store = (FreshDir("store2") / "s").string();
  auto store = PackageStore::Open(signed_store, Trusting(signer));
  ASSERT_TRUE(store.ok());
  StatusOr<PackageManifest> added = (*store)->Add(SignedPackage("pkg", signer).string());
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_TRUE(fs::exists(fs::path(added->dir) / kSignatureFile));
  EXPECT_TRUE(VerifyPackage(*added, Trusting(signer)).ok());
  // A stored binary replaced on disk is caught before an agent starts it.
  WriteFile(fs::path(added->dir) / "kv-2.0.0", "#!/bin/sh\nexit 1\n");
  PackageRefusal reason = PackageRefusal::kInvalid;
  Status changed = VerifyPackage(*added, Trusting(signer), &reason);
  EXPECT_TRUE(Contains(changed.message(), "binary sha256 does not match the signed manifest"))
      << changed.message();
  EXPECT_EQ(reason, PackageRefusal::kChecksum);
}

TEST(SignedPackage, AnAgentStoresASignedPackageFromItsPartsAndRefusesAnUnsignedOne) {
  Signer signer = MakeKeys("a");
  const fs::path dir = FreshDir("agent");
  auto store = PackageStore::Open((dir / "store").string(), Trusting(signer));
  ASSERT_TRUE(store.ok());
  PackageReceiver receiver(store->get(), (dir / "incoming").string());
  const fs::path package = SignedPackage("pkg", signer);
  const std::string manifest = ReadFile(package / "manifest.yaml");
  const std::string signature = ReadFile(package / kSignatureFile);
  Status unsigned_part =
      receiver.OnPart({"kv", "2.0.0", manifest, 0, sizeof kBinary - 1, kBinary, ""});
  EXPECT_TRUE(
      unsigned_part.message().starts_with("kv-2.0.0: package kv-2.0.0: manifest is not "
                                          "signed"))
      << unsigned_part.message();
  Status signed_part =
      receiver.OnPart({"kv", "2.0.0", manifest, 0, sizeof kBinary - 1, kBinary, signature});
  ASSERT_TRUE(signed_part.ok()) << signed_part.ToString();
  ASSERT_EQ((*store)->List().size(), 1u);
  EXPECT_EQ((*store)->List()[0].signer, signer.public_key);
}

TEST(SignedPackage, AnAgentRefusesAPackageLargerThanTheBoundAtItsFirstPart) {
  const fs::path dir = FreshDir("agent");
  PackagePolicy policy;
  policy.bytes_max = 1000;
  auto store = PackageStore::Open((dir / "store").string(), policy);
  ASSERT_TRUE(store.ok());
  PackageReceiver receiver(store->get(), (dir / "incoming").string());
  Status refused = receiver.OnPart({"kv", "2.0.0", Manifest(kBinary), 0, 1001, "x", ""});
  EXPECT_TRUE(Contains(refused.message(), "larger than limits.package_bytes_max (1000)"))
      << refused.message();
}

TEST(SignedPackage, ASignedTarballIsCheckedThenReadWithItsSignature) {
  Signer signer = MakeKeys("a");
  const fs::path dir = SignedPackage("pkg", signer);
  const fs::path tarball = FreshDir("out") / "kv.tar";
  ASSERT_TRUE(PackPackageDir(dir.string(), tarball.string()).ok());
  StatusOr<PackageManifest> m = ReadPackage(tarball.string(), Trusting(signer));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->signer, signer.public_key);
  PackagePolicy small = Trusting(signer);
  small.bytes_max = 100;
  StatusOr<PackageManifest> big = ReadPackage(tarball.string(), small);
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(Contains(big.status().message(), "limits.package_bytes_max"))
      << big.status().message();
}

}  // namespace
}  // namespace duplex
