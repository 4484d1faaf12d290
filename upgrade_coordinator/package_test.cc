#include "upgrade_coordinator/package.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "common/sha256.h"
#include "upgrade_coordinator/agent/package_receiver.h"
#include "upgrade_coordinator/upgrades.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr char kScript[] = "#!/bin/sh\nexit 0\n";

// The manifest of the issue's example; {SHA} is replaced by the binary's digest.
constexpr char kManifest[] = R"(name: kv
version: 2.0.0
binary: kv-2.0.0          # file name inside the package directory
sha256: {SHA}
upgrade_from: ">=1.0.0 <2.0.0"
schema: 2                 # state schema this version reads and writes
platform: {arch: x86_64, min_memory_mb: 64, min_disk_mb: 64}
features:
  - {name: expiry, introduced_in: 2.0.0}
)";

// `text` with the one occurrence of `from` replaced; a test edit must not match twice.
std::string Edit(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no \"" << from << "\" in the manifest";
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "\"" << from << "\" occurs twice";
  return text.replace(at, from.size(), to);
}

std::string ManifestFor(std::string_view binary_contents) {
  return Edit(kManifest, "{SHA}", Sha256Hex(binary_contents));
}

// A fresh directory named after the running test, so tests never see each other's files.
fs::path FreshDir(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir =
      fs::path(::testing::TempDir()) /
      (std::string("package_test_") + info->test_suite_name() + "_" + info->name() + "_" + suffix);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteFile(const fs::path& path, std::string_view contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// A package directory holding `manifest` and an executable binary kv-2.0.0.
fs::path MakePackage(const std::string& suffix, const std::string& manifest,
                     std::string_view binary = kScript) {
  const fs::path dir = FreshDir(suffix);
  WriteFile(dir / "manifest.yaml", manifest);
  WriteFile(dir / "kv-2.0.0", binary);
  fs::permissions(dir / "kv-2.0.0", fs::perms(0755));
  return dir;
}

// Runs tar in `from` over `what`; the test builds tarballs as an operator would.
void Tar(const std::string& flags, const fs::path& tarball, const fs::path& from,
         const std::string& what) {
  const std::string command =
      "tar " + flags + " '" + tarball.string() + "' -C '" + from.string() + "' " + what;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Passes when `result` failed with `code` and a message containing `part`.
template <typename T>
::testing::AssertionResult FailsWith(const StatusOr<T>& result, Code code, std::string_view part) {
  if (result.ok()) return ::testing::AssertionFailure() << "succeeded; expected " << part;
  const Status& s = result.status();
  if (s.code() == code && Contains(s.message(), part)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << s.ToString() << "; expected " << CodeName(code) << " containing " << part;
}

::testing::AssertionResult ManifestFails(const std::string& text, std::string_view message) {
  StatusOr<PackageManifest> m = ParseManifest(text);
  if (m.ok()) return ::testing::AssertionFailure() << "parsed; expected " << message;
  if (m.status().message() == message) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got \"" << m.status().message() << "\"; expected \"" << message << "\"";
}

Version V(uint32_t major, uint32_t minor, uint32_t patch) { return {major, minor, patch}; }

// ---- VersionRange ----

TEST(VersionRange, ContainsRespectsInclusiveAndExclusiveBounds) {
  StatusOr<VersionRange> r = ParseVersionRange(">=1.0.0 <2.0.0");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->Contains(V(0, 9, 9)));
  EXPECT_TRUE(r->Contains(V(1, 0, 0)));
  EXPECT_TRUE(r->Contains(V(1, 99, 99)));
  EXPECT_FALSE(r->Contains(V(2, 0, 0)));
  StatusOr<VersionRange> open = ParseVersionRange(">1.0.0 <=2.0.0");
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_FALSE(open->Contains(V(1, 0, 0)));
  EXPECT_TRUE(open->Contains(V(1, 0, 1)));
  EXPECT_TRUE(open->Contains(V(2, 0, 0)));
  EXPECT_FALSE(open->Contains(V(2, 0, 1)));
}

TEST(VersionRange, EqualsClauseContainsExactlyOneVersion) {
  StatusOr<VersionRange> r = ParseVersionRange("=1.2.3");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->Contains(V(1, 2, 3)));
  EXPECT_FALSE(r->Contains(V(1, 2, 4)));
  EXPECT_FALSE(r->Contains(V(1, 2, 2)));
}

TEST(VersionRange, ToStringParsesBackAndSpacesAfterOperatorsAreAccepted) {
  StatusOr<VersionRange> r = ParseVersionRange("  >= 1.0.0\t< 2.0.0 ");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ToString(), ">=1.0.0 <2.0.0");
  StatusOr<VersionRange> again = ParseVersionRange(r->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *r);
}

TEST(VersionRange, EmptyRangeBuiltInCodeContainsNothing) {
  EXPECT_FALSE(VersionRange{}.Contains(V(1, 0, 0)));
  EXPECT_FALSE(VersionRange{}.Contains(V(0, 0, 0)));
}

TEST(VersionRange, MalformedTextIsRefusedWithTheReason) {
  EXPECT_TRUE(FailsWith(ParseVersionRange(""), Code::kInvalidArgument, "needs a clause"));
  EXPECT_TRUE(FailsWith(ParseVersionRange("1.0.0"), Code::kInvalidArgument,
                        "\"1.0.0\" has no operator (one of >=, >, <=, <, =)"));
  EXPECT_TRUE(FailsWith(ParseVersionRange(">=1.x"), Code::kInvalidArgument,
                        "\"1.x\" is not a version (MAJOR.MINOR.PATCH)"));
  EXPECT_TRUE(FailsWith(ParseVersionRange(">=1.0.0 <"), Code::kInvalidArgument,
                        "\"<\" has no version after it"));
  EXPECT_TRUE(FailsWith(ParseVersionRange("==1.0.0"), Code::kInvalidArgument, "not a version"));
}

TEST(VersionRange, RangeThatContainsNoVersionIsRefused) {
  EXPECT_TRUE(FailsWith(ParseVersionRange(">=2.0.0 <1.0.0"), Code::kInvalidArgument,
                        "contains no version"));
  EXPECT_TRUE(
      FailsWith(ParseVersionRange(">1.0.0 <1.0.1"), Code::kInvalidArgument, "contains no version"));
  EXPECT_TRUE(ParseVersionRange(">1.0.0 <1.0.2").ok());
  EXPECT_TRUE(ParseVersionRange("<0.0.1").ok());
}

// ---- Platform ----

TEST(Platform, CheckSucceedsWithZeroRequirements) {
  const Status s = CheckPlatform(PlatformRequirements{}, FreshDir("data").string());
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(Platform, AbsurdMemoryRequirementFailsNamingBothValues) {
  PlatformRequirements required;
  required.memory_mb_min = uint64_t{1} << 40;  // a million terabytes
  const Status s = CheckPlatform(required, FreshDir("data").string());
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(
      Contains(s.message(), "platform.min_memory_mb: needs 1099511627776, this machine has "))
      << s.message();
  EXPECT_TRUE(s.message().ends_with(" available")) << s.message();
}

TEST(Platform, ArchAndDiskMismatchesNameTheRequirementAndBothValues) {
  const PlatformFacts facts{"x86_64", 2048, "/data", 10};
  EXPECT_EQ(CheckPlatform({"aarch64", 0, 0}, facts).message(),
            "platform.arch: needs aarch64, this machine is x86_64");
  EXPECT_EQ(CheckPlatform({"", 4096, 0}, facts).message(),
            "platform.min_memory_mb: needs 4096, this machine has 2048 available");
  EXPECT_EQ(CheckPlatform({"", 0, 64}, facts).message(),
            "platform.min_disk_mb: needs 64, /data has 10 available");
  EXPECT_TRUE(CheckPlatform({"amd64", 2048, 10}, facts).ok()) << "Debian's name for x86_64";
}

TEST(Platform, DataDirNotCreatedYetIsMeasuredOnItsParent) {
  const fs::path parent = FreshDir("data");
  StatusOr<PlatformFacts> facts = ReadPlatformFacts((parent / "not" / "yet").string());
  ASSERT_TRUE(facts.ok()) << facts.status().ToString();
  EXPECT_EQ(facts->disk_path, parent.string());
  EXPECT_FALSE(facts->arch.empty());
}

// ---- Manifest ----

TEST(PackageManifest, ParsesEveryField) {
  StatusOr<PackageManifest> m = ParseManifest(ManifestFor(kScript));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->name, "kv");
  EXPECT_EQ(m->version, V(2, 0, 0));
  EXPECT_EQ(m->binary, "kv-2.0.0");
  EXPECT_EQ(m->sha256, Sha256Hex(kScript));
  EXPECT_EQ(m->upgrade_from.ToString(), ">=1.0.0 <2.0.0");
  EXPECT_EQ(m->schema, 2u);
  EXPECT_EQ(m->platform, (PlatformRequirements{"x86_64", 64, 64}));
  ASSERT_EQ(m->features.size(), 1u);
  EXPECT_EQ(m->features[0].name, "expiry");
  EXPECT_EQ(m->features[0].introduced_in, V(2, 0, 0));
  EXPECT_TRUE(m->dir.empty());
}

TEST(PackageManifest, OptionalFieldsDefaultToSchemaOneAnyPlatformAndNoFeatures) {
  const std::string text = "name: kv\nversion: 1.0.0\nbinary: kv\nsha256: " + Sha256Hex("x") +
                           "\nupgrade_from: \"<1.0.0\"\n";
  StatusOr<PackageManifest> m = ParseManifest(text);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->schema, 1u);
  EXPECT_EQ(m->platform, PlatformRequirements{});
  EXPECT_TRUE(m->features.empty());
}

TEST(PackageManifest, EachMissingRequiredFieldIsNamed) {
  const std::string valid = ManifestFor(kScript);
  for (const char* line : {"name: kv\n", "version: 2.0.0\n",
                           "binary: kv-2.0.0          # file name inside the package directory\n",
                           "upgrade_from: \">=1.0.0 <2.0.0\"\n"}) {
    const std::string field(line, std::string_view(line).find(':'));
    EXPECT_TRUE(ManifestFails(Edit(valid, line, ""), field + ": required")) << field;
  }
  EXPECT_TRUE(
      ManifestFails(Edit(valid, "sha256: " + Sha256Hex(kScript) + "\n", ""), "sha256: required"));
  EXPECT_TRUE(ManifestFails("", "name: required"));
  EXPECT_TRUE(ManifestFails(Edit(valid, "{name: expiry, ", "{"), "features[0].name: required"));
}

TEST(PackageManifest, UnknownFieldsAreErrorsNamedByPath) {
  const std::string valid = ManifestFor(kScript);
  EXPECT_TRUE(ManifestFails(valid + "upgrade_form: \">=1.0.0\"\n", "upgrade_form: unknown field"));
  EXPECT_TRUE(ManifestFails(Edit(valid, "min_disk_mb", "min_disc_mb"),
                            "platform.min_disc_mb: unknown field"));
  EXPECT_TRUE(ManifestFails(Edit(valid, "introduced_in: 2.0.0", "introduced_in: 2.0.0, on: true"),
                            "features[0].on: unknown field"));
  EXPECT_TRUE(ManifestFails(valid + "name: kv2\n", "name: appears twice"));
}

TEST(PackageManifest, BadVersionsNameTheFieldAndTheText) {
  const std::string valid = ManifestFor(kScript);
  EXPECT_TRUE(ManifestFails(Edit(valid, "introduced_in: 2.0.0", "introduced_in: 2.x"),
                            "features[0].introduced_in: \"2.x\" is not a version "
                            "(MAJOR.MINOR.PATCH)"));
  EXPECT_TRUE(ManifestFails(Edit(valid, "version: 2.0.0", "version: 2.0"),
                            "version: \"2.0\" is not a version (MAJOR.MINOR.PATCH)"));
  EXPECT_TRUE(ManifestFails(Edit(valid, "introduced_in: 2.0.0", "introduced_in: 2.1.0"),
                            "features[0].introduced_in: 2.1.0 is later than the package "
                            "version 2.0.0"));
}

TEST(PackageManifest, BadUpgradeRangeIsNamed) {
  const std::string valid = ManifestFor(kScript);
  EXPECT_TRUE(ManifestFails(Edit(valid, ">=1.0.0 <2.0.0", "1.0.0"),
                            "upgrade_from: \"1.0.0\": \"1.0.0\" has no operator (one of >=, >, "
                            "<=, <, =)"));
  EXPECT_TRUE(ManifestFails(Edit(valid, ">=1.0.0 <2.0.0", ">=2.0.0 <1.0.0"),
                            "upgrade_from: \">=2.0.0 <1.0.0\": contains no version"));
}

TEST(PackageManifest, BadSha256FormatIsNamed) {
  const std::string valid = ManifestFor(kScript);
  const std::string digest = Sha256Hex(kScript);
  EXPECT_TRUE(ManifestFails(Edit(valid, digest, "abc123"),
                            "sha256: \"abc123\" is not a SHA-256 digest (64 hex characters)"));
  const std::string not_hex = "g" + digest.substr(1);
  EXPECT_TRUE(
      ManifestFails(Edit(valid, digest, not_hex),
                    "sha256: \"" + not_hex + "\" is not a SHA-256 digest (64 hex characters)"));
}

TEST(PackageManifest, UppercaseDigestIsAcceptedAndStoredLowercase) {
  std::string upper = Sha256Hex(kScript);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  StatusOr<PackageManifest> m =
      ParseManifest(Edit(ManifestFor(kScript), Sha256Hex(kScript), upper));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->sha256, Sha256Hex(kScript));
}

TEST(PackageManifest, OtherBadValuesAreNamed) {
  const std::string valid = ManifestFor(kScript);
  EXPECT_TRUE(ManifestFails(Edit(valid, "schema: 2", "schema: 0"),
                            "schema: must be a whole number in 1..4294967295, got \"0\""));
  EXPECT_TRUE(ManifestFails(Edit(valid, "min_memory_mb: 64", "min_memory_mb: -1"),
                            "platform.min_memory_mb: must be a whole number in "
                            "0..18446744073709551615, got \"-1\""));
  EXPECT_TRUE(ManifestFails(Edit(valid, "binary: kv-2.0.0", "binary: ../bin/kv"),
                            "binary: \"../bin/kv\" must be a file name inside the package "
                            "directory"));
  EXPECT_TRUE(ManifestFails(Edit(valid, "name: kv", "name: Key Value"),
                            "name: \"Key Value\" is not a name ([a-z0-9_-]{1,32})"));
  EXPECT_TRUE(ManifestFails(valid + "  - {name: expiry, introduced_in: 1.0.0}\n",
                            "features[1].name: \"expiry\" appears twice"));
  EXPECT_TRUE(ManifestFails(
      Edit(valid, "features:\n  - {name: expiry, introduced_in: 2.0.0}\n", "features: expiry\n"),
      "features: must be a list, got a single value"));
}

TEST(PackageManifest, MalformedYamlNamesTheLine) {
  StatusOr<PackageManifest> m = ParseManifest("name: kv\nversion: [1.0.0\n");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(m.status().message().starts_with("line ")) << m.status().message();
}

// ---- ReadPackage ----

TEST(PackageRead, ValidDirectoryIsReadWithItsAbsolutePath) {
  const fs::path dir = MakePackage("pkg", ManifestFor(kScript));
  StatusOr<PackageManifest> m = ReadPackage(dir.string());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->dir, fs::canonical(dir).string());
  EXPECT_EQ(m->BinaryPath(), (fs::canonical(dir) / "kv-2.0.0").string());
  EXPECT_EQ(m->version, V(2, 0, 0));
}

TEST(PackageRead, GzippedTarballWithATopLevelDirectoryIsRead) {
  const fs::path dir = MakePackage("kv-2.0.0", ManifestFor(kScript));
  const fs::path tarball = FreshDir("out") / "kv-2.0.0.tgz";
  Tar("-czf", tarball, dir.parent_path(), dir.filename().string());
  StatusOr<PackageManifest> m = ReadPackage(tarball.string());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->name, "kv");
  EXPECT_EQ(m->sha256, Sha256Hex(kScript));
  EXPECT_TRUE(m->dir.empty()) << "the extracted copy is gone";
}

TEST(PackageRead, PlainTarballWithFilesAtTheTopIsRead) {
  const fs::path dir = MakePackage("pkg", ManifestFor(kScript));
  const fs::path tarball = FreshDir("out") / "kv.tar";
  Tar("-cf", tarball, dir, "manifest.yaml kv-2.0.0");
  StatusOr<PackageManifest> m = ReadPackage(tarball.string());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->binary, "kv-2.0.0");
}

TEST(PackageRead, BrokenTarballIsRefusedBeforeTarRuns) {
  const fs::path tarball = FreshDir("out") / "kv.tgz";
  WriteFile(tarball, "this is not gzip");
  StatusOr<PackageManifest> m = ReadPackage(tarball.string());
  EXPECT_TRUE(FailsWith(m, Code::kInvalidArgument, tarball.string() + ": truncated or not a tar"));
}

TEST(PackageRead, TamperedBinaryIsRejectedNamingTheFileAndBothDigests) {
  const std::string tampered = "#!/bin/sh\nrm -rf /data\n";
  const fs::path dir = MakePackage("pkg", ManifestFor(kScript), tampered);
  StatusOr<PackageManifest> m = ReadPackage(dir.string());
  EXPECT_TRUE(FailsWith(m, Code::kInvalidArgument,
                        "kv-2.0.0: checksum mismatch: binary sha256 does not match the manifest "
                        "(manifest says " +
                            Sha256Hex(kScript) + ", file has " + Sha256Hex(tampered) +
                            "): tampered or corrupt package"));
}

TEST(PackageRead, BinaryThatIsNotExecutableIsRejected) {
  const fs::path dir = MakePackage("pkg", ManifestFor(kScript));
  fs::permissions(dir / "kv-2.0.0", fs::perms(0644));
  EXPECT_TRUE(
      FailsWith(ReadPackage(dir.string()), Code::kInvalidArgument, "kv-2.0.0: not executable"));
}

TEST(PackageRead, MissingBinaryAndManifestErrorsNameTheFile) {
  const fs::path dir = MakePackage("pkg", ManifestFor(kScript));
  fs::remove(dir / "kv-2.0.0");
  EXPECT_TRUE(FailsWith(ReadPackage(dir.string()), Code::kInvalidArgument,
                        dir.string() + ": kv-2.0.0: missing from the package"));
  WriteFile(dir / "manifest.yaml", Edit(ManifestFor(kScript), "schema: 2", "schema: two"));
  EXPECT_TRUE(FailsWith(ReadPackage(dir.string()), Code::kInvalidArgument,
                        dir.string() + ": manifest.yaml: schema: must be a whole number"));
}

TEST(PackageRead, PathThatIsNeitherDirectoryNorTarballIsRefused) {
  const fs::path dir = FreshDir("out");
  EXPECT_TRUE(FailsWith(ReadPackage((dir / "nothing").string()), Code::kNotFound, "no such"));
  WriteFile(dir / "kv.zip", "zip");
  EXPECT_TRUE(
      FailsWith(ReadPackage((dir / "kv.zip").string()), Code::kInvalidArgument, "not a package"));
}

// ---- PackageStore ----

std::unique_ptr<PackageStore> OpenStore(const fs::path& dir) {
  StatusOr<std::unique_ptr<PackageStore>> store = PackageStore::Open(dir.string());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

TEST(PackageStore, AddStoresAVerifiedCopyThatSurvivesReopening) {
  const fs::path source = MakePackage("pkg", ManifestFor(kScript));
  const fs::path store_dir = FreshDir("store");
  auto store = OpenStore(store_dir);
  ASSERT_NE(store, nullptr);
  StatusOr<PackageManifest> added = store->Add(source.string());
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->dir, (fs::canonical(store_dir) / "kv-2.0.0").string());
  EXPECT_TRUE(VerifyBinary(*added).ok());
  fs::remove_all(source);  // the store keeps its own copy
  auto reopened = OpenStore(store_dir);
  ASSERT_NE(reopened, nullptr);
  ASSERT_EQ(reopened->List().size(), 1u);
  EXPECT_TRUE(SameContent(reopened->List()[0], *added));
}

TEST(PackageStore, AddingTheSamePackageTwiceIsHarmless) {
  const fs::path source = MakePackage("pkg", ManifestFor(kScript));
  auto store = OpenStore(FreshDir("store"));
  ASSERT_NE(store, nullptr);
  StatusOr<PackageManifest> first = store->Add(source.string());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // Same content, different comments: still the same package.
  WriteFile(source / "manifest.yaml", "# again\n" + ManifestFor(kScript));
  StatusOr<PackageManifest> second = store->Add(source.string());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->dir, first->dir);
  EXPECT_EQ(store->List().size(), 1u);
}

TEST(PackageStore, AnotherPackageWithTheSameNameAndVersionIsRefused) {
  auto store = OpenStore(FreshDir("store"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add(MakePackage("a", ManifestFor(kScript)).string()).ok());
  const std::string other = "#!/bin/sh\nexit 1\n";
  EXPECT_TRUE(FailsWith(store->Add(MakePackage("b", ManifestFor(other), other).string()),
                        Code::kFailedPrecondition,
                        "kv 2.0.0 is already stored with another checksum"));
  const std::string schema3 = Edit(ManifestFor(kScript), "schema: 2", "schema: 3");
  EXPECT_TRUE(FailsWith(store->Add(MakePackage("c", schema3).string()), Code::kFailedPrecondition,
                        "kv 2.0.0 is already stored with another manifest"));
  ASSERT_EQ(store->List().size(), 1u);
  EXPECT_EQ(store->List()[0].sha256, Sha256Hex(kScript));
}

TEST(PackageStore, TamperedPackageIsRefusedAndNothingIsStored) {
  const fs::path store_dir = FreshDir("store");
  auto store = OpenStore(store_dir);
  ASSERT_NE(store, nullptr);
  const fs::path source = MakePackage("pkg", ManifestFor(kScript), "#!/bin/sh\nexit 3\n");
  EXPECT_TRUE(FailsWith(store->Add(source.string()), Code::kInvalidArgument, "checksum mismatch"));
  EXPECT_TRUE(store->List().empty());
  EXPECT_TRUE(fs::is_empty(store_dir));
}

TEST(PackageStore, ListIsSortedByNameThenVersionAndGetNamesWhatExists) {
  auto store = OpenStore(FreshDir("store"));
  ASSERT_NE(store, nullptr);
  const std::string base = ManifestFor(kScript);
  const std::string v10 = Edit(Edit(base, "version: 2.0.0", "version: 1.10.0"), "2.0.0}", "1.0.0}");
  const std::string v9 = Edit(Edit(base, "version: 2.0.0", "version: 1.9.0"), "2.0.0}", "1.0.0}");
  const std::string app = Edit(base, "name: kv", "name: app");
  for (const auto& [dir, text] : {std::pair{"v10", v10}, {"v2", base}, {"v9", v9}, {"app", app}}) {
    ASSERT_TRUE(store->Add(MakePackage(dir, text).string()).ok()) << dir;
  }
  std::vector<std::string> listed;
  for (const PackageManifest& m : store->List())
    listed.push_back(m.name + " " + m.version.ToString());
  EXPECT_EQ(listed, (std::vector<std::string>{"app 2.0.0", "kv 1.9.0", "kv 1.10.0", "kv 2.0.0"}));
  StatusOr<PackageManifest> got = store->Get("kv", V(1, 10, 0));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->version, V(1, 10, 0));
  EXPECT_TRUE(FailsWith(store->Get("kv", V(3, 0, 0)), Code::kNotFound,
                        "no package kv 3.0.0 in the store; stored: app 2.0.0, kv 1.9.0, "
                        "kv 1.10.0, kv 2.0.0"));
}

TEST(PackageStore, GetOnAnEmptyStoreSaysSo) {
  auto store = OpenStore(FreshDir("store"));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(FailsWith(store->Get("kv", V(2, 0, 0)), Code::kNotFound, "the store is empty"));
}

TEST(PackageStore, AddAcceptsATarball) {
  const fs::path dir = MakePackage("kv-2.0.0", ManifestFor(kScript));
  const fs::path tarball = FreshDir("out") / "kv-2.0.0.tar.gz";
  Tar("-czf", tarball, dir.parent_path(), dir.filename().string());
  const fs::path store_dir = FreshDir("store");
  auto store = OpenStore(store_dir);
  ASSERT_NE(store, nullptr);
  StatusOr<PackageManifest> added = store->Add(tarball.string());
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_TRUE(VerifyBinary(*added).ok());
  // Only the package itself remains: the extraction directory is gone.
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(store_dir)) entries.push_back(e.path().filename());
  EXPECT_EQ(entries, std::vector<std::string>{"kv-2.0.0"});
}

TEST(PackageStore, OpenRemovesScrapsOfAnInterruptedAdd) {
  const fs::path store_dir = FreshDir("store");
  fs::create_directories(store_dir / ".tmp-abc123");
  WriteFile(store_dir / ".tmp-abc123" / "manifest.yaml", "half");
  auto store = OpenStore(store_dir);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->List().empty());
  EXPECT_FALSE(fs::exists(store_dir / ".tmp-abc123"));
}

TEST(PackageStore, OpenLeavesOutAndNamesAStoredBinaryThatChangedOnDisk) {
  const fs::path store_dir = FreshDir("store");
  {
    auto store = OpenStore(store_dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Add(MakePackage("pkg", ManifestFor(kScript)).string()).ok());
  }
  WriteFile(store_dir / "kv-2.0.0" / "kv-2.0.0", "#!/bin/sh\nexit 9\n");
  StatusOr<std::unique_ptr<PackageStore>> store = PackageStore::Open(store_dir.string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->List().empty());
  ASSERT_EQ((*store)->damaged().size(), 1u);
  EXPECT_NE((*store)->damaged()[0].find("kv-2.0.0: checksum mismatch"), std::string::npos)
      << (*store)->damaged()[0];
}

// An agent assembles a distributed package from its parts; its store checks the sha256.
TEST(PackageReceiver, StoresAVerifiedPackageAndRefusesATamperedOne) {
  const fs::path dir = FreshDir("receiver");
  auto store = PackageStore::Open((dir / "store").string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  PackageReceiver receiver(store->get(), (dir / "incoming").string());
  const std::string binary = std::string(kScript) + std::string(1000, '#');
  auto send = [&](const std::string& manifest, const std::string& bytes, size_t part_bytes) {
    Status last = Status::Ok();
    for (size_t at = 0; at < bytes.size(); at += part_bytes) {
      last = receiver.OnPart(
          {"kv", "2.0.0", manifest, at, bytes.size(), bytes.substr(at, part_bytes), ""});
      if (!last.ok()) return last;
    }
    return last;
  };
  std::string tampered = binary;
  tampered[tampered.size() - 1] = '!';
  Status refused = send(ManifestFor(binary), tampered, 300);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(Contains(refused.message(), "checksum mismatch")) << refused.message();
  EXPECT_TRUE((*store)->List().empty());
  // A lost part: the receiver says so and starts over.
  Status gap = receiver.OnPart({"kv", "2.0.0", ManifestFor(binary), 600, binary.size(), "x", ""});
  EXPECT_TRUE(Contains(gap.message(), "a part was lost")) << gap.message();
  ASSERT_TRUE(send(ManifestFor(binary), binary, 300).ok());
  ASSERT_EQ((*store)->List().size(), 1u);
  EXPECT_EQ((*store)->List()[0].sha256, Sha256Hex(binary));
  EXPECT_TRUE(VerifyBinary((*store)->List()[0]).ok());
}

// Packages are chosen by name and version: two names at one version need the name.
TEST(PackageChoice, AVersionAloneChoosesOnlyWhenOnePackageHasIt) {
  const fs::path dir = FreshDir("choice");
  ClusterConfig config;
  config.name = "choice";
  config.data_dir = dir.string();
  config.processor = {"/bin/true", "1.0.0"};
  config.replicas = {ReplicaConfig{}, ReplicaConfig{}};
  config.replicas[0].name = "a";
  config.replicas[1].name = "b";
  config.hosts = {HostConfig{"local", "127.0.0.1", ""}};
  struct NoRecords : RecordStore {
    StatusOr<std::optional<ClusterRecord>> Load() override {
      return std::optional<ClusterRecord>();
    }
    Status Save(const ClusterRecord&) override { return Status::Ok(); }
    StatusOr<std::optional<std::string>> Get(const std::string&) override {
      return std::optional<std::string>();
    }
    Status Put(const std::string&, const std::string&) override { return Status::Ok(); }
  } records;
  ArbiterOptions options;
  options.replicas = {{"a", "tcp://127.0.0.1:1"}, {"b", "tcp://127.0.0.1:2"}};
  options.initial_version = "1.0.0";
  Arbiter arbiter(options, &records);
  AgentLinks agents(config);
  Upgrades upgrades(config, &arbiter, &records, &agents);
  ASSERT_TRUE(upgrades.Open().ok());
  const std::string binary(kScript);
  ASSERT_TRUE(upgrades.AddPackage(MakePackage("kv", ManifestFor(binary), binary).string()).ok());
  EXPECT_EQ(upgrades.PackageFor("", "2.0.0")->name, "kv");
  const std::string other = Edit(ManifestFor(binary), "name: kv", "name: orders");
  ASSERT_TRUE(upgrades.AddPackage(MakePackage("orders", other, binary).string()).ok());
  auto ambiguous = upgrades.PackageFor("", "2.0.0");
  EXPECT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.status().message(),
            "several stored packages have version 2.0.0 (kv, orders): name one (--package NAME)");
  EXPECT_EQ(upgrades.PackageFor("orders", "2.0.0")->name, "orders");
  EXPECT_FALSE(upgrades.PackageFor("billing", "2.0.0").ok());
}

}  // namespace
}  // namespace duplex
