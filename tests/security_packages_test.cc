// End to end: signed packages against a running coordinator with security.package_keys and
// security.package_dir configured. Unsigned, untrusted, tampered and ".." packages, and a
// path outside package_dir, are refused with their reasons and counted on /metrics; a signed
// package is accepted and an upgrade to it completes. Addresses 127.0.91.1, ports 44000-44999.
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "chaos/workload.h"
#include "tests/test_support.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/package.h"
#include "upgrade_coordinator/package_signature.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

constexpr char kAddress[] = "127.0.91.1";

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return env != nullptr ? env : "build";
}

// A copy of the kv 2.0.0 package the build made, as `name` under `parent`.
fs::path CopyPackage(const fs::path& parent, const std::string& name) {
  const fs::path to = parent / name;
  fs::create_directories(parent);
  fs::copy(fs::path(BuildDir()) / "packages" / "kv-2.0.0", to, fs::copy_options::recursive);
  return to;
}

struct Key {
  std::string public_hex;
  std::string file;
};

Key MakeKey(const fs::path& dir) {
  StatusOr<std::string> public_hex = WritePackageKeyPair(dir.string());
  EXPECT_TRUE(public_hex.ok()) << public_hex.status().ToString();
  return {public_hex.ok() ? *public_hex : "", (dir / kPackageSecretKeyFile).string()};
}

void Sign(const fs::path& package, const Key& key) {
  StatusOr<std::string> signer = SignPackageDir(package.string(), key.file);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class SecurityPackages : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = ScratchDir();
    fs::remove_all(scratch_);
    trusted_ = MakeKey(fs::path(scratch_ + "-keys") / "trusted");
    stranger_ = MakeKey(fs::path(scratch_ + "-keys") / "stranger");
    incoming_ = fs::path(scratch_ + "-keys") / "incoming";
    fs::create_directories(incoming_);
    FixtureOptions options;
    options.dir = scratch_;
    options.port_first = 44000;
    options.port_last = 44999;
    options.configure = [this](ClusterConfig* c) {
      c->host = kAddress;
      for (ReplicaConfig& r : c->replicas) r.host = kAddress;
      c->security.package_keys = {trusted_.public_hex};
      c->security.package_dir = incoming_.string();
      if (package_bytes_max_ > 0) c->limits.package_bytes_max = package_bytes_max_;
    };
    auto started = ClusterFixture::Start(options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    cluster_ = std::move(started).value();
  }

  void TearDown() override {
    if (cluster_) cluster_->Stop();
    std::error_code ec;
    fs::remove_all(scratch_ + "-keys", ec);
  }

  // The coordinator's refusal of an upload of `package`; fails the test when it is accepted.
  std::string Refusal(const fs::path& package) {
    StatusOr<nlohmann::json> added = UploadPackage(cluster_->config(), package.string(), 120000);
    EXPECT_FALSE(added.ok()) << "accepted: " << (added.ok() ? added->dump() : "");
    return added.ok() ? "" : added.status().message();
  }

  // duplex_package_refused_total{reason="<reason>"} once it reaches `expected` (the
  // coordinator publishes /metrics from its loop: polled, with a deadline); else the last.
  uint64_t Refused(const std::string& reason, uint64_t expected) {
    return Sample("duplex_package_refused_total{reason=\"" + reason + "\"} ", expected);
  }

  // The value of `series` ("name{labels} ") on /metrics once it reaches `expected` (it is
  // published from the coordinator's loop), or what it shows after 5 s.
  uint64_t Sample(const std::string& series, uint64_t expected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    uint64_t seen = SampleNow(series);
    while (seen < expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      seen = SampleNow(series);
    }
    return seen;
  }

  uint64_t SampleNow(const std::string& series) {
    httplib::Client http(kAddress, cluster_->config().admin_port);
    http.set_read_timeout(std::chrono::seconds(5));
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) {
      ADD_FAILURE() << "GET /metrics failed";
      return 0;
    }
    const std::size_t at = res->body.find(series);
    if (at == std::string::npos) {
      ADD_FAILURE() << "no " << series << "in /metrics";
      return 0;
    }
    last_metrics_ = res->body;
    return std::strtoull(res->body.c_str() + at + series.size(), nullptr, 10);
  }

  uint64_t package_bytes_max_ = 0;  // limits.package_bytes_max; 0 = the default
  std::string last_metrics_;        // the last /metrics read, shown when a count is wrong
  std::string scratch_;
  Key trusted_, stranger_;
  fs::path incoming_;
  std::unique_ptr<ClusterFixture> cluster_;
};

TEST_F(SecurityPackages, UnsignedUntrustedTamperedAndDotDotPackagesAreRefusedAndCounted) {
  const fs::path work = fs::path(scratch_ + "-keys") / "work";
  const std::string unsigned_refusal = Refusal(CopyPackage(work, "unsigned"));
  EXPECT_TRUE(Contains(unsigned_refusal, "package kv-2.0.0: manifest is not signed"))
      << unsigned_refusal;
  EXPECT_EQ(Refused("unsigned", 1), 1u);

  const fs::path untrusted = CopyPackage(work, "untrusted");
  Sign(untrusted, stranger_);
  const std::string untrusted_refusal = Refusal(untrusted);
  EXPECT_TRUE(
      Contains(untrusted_refusal, "package kv-2.0.0: manifest signature made by an untrusted key " +
                                      stranger_.public_hex.substr(0, 16)))
      << untrusted_refusal;
  EXPECT_EQ(Refused("untrusted_key", 1), 1u);

  const fs::path tampered = CopyPackage(work, "tampered");
  Sign(tampered, trusted_);
  {
    std::fstream binary(tampered / "kv-2.0.0", std::ios::in | std::ios::out | std::ios::binary);
    binary.seekp(1000);
    binary.put('\x42');
  }
  const std::string tampered_refusal = Refusal(tampered);
  EXPECT_TRUE(Contains(tampered_refusal, "binary sha256 does not match the signed manifest"))
      << tampered_refusal;
  EXPECT_EQ(Refused("checksum", 1), 1u);

  // A tarball whose entries climb out of the extraction directory: refused before tar runs.
  const fs::path signed_dir = CopyPackage(work, "signed");
  Sign(signed_dir, trusted_);
  const fs::path evil = work / "evil.tar";
  const std::string tar = "tar -cPf '" + evil.string() + "' --transform='s,^,../,' -C '" +
                          signed_dir.string() + "' manifest.yaml manifest.sig kv-2.0.0";
  ASSERT_EQ(std::system(tar.c_str()), 0) << tar;
  const std::string dotdot_refusal = Refusal(evil);
  EXPECT_TRUE(
      Contains(dotdot_refusal, "upload: tarball entry \"../manifest.yaml\": a \"..\" component"))
      << dotdot_refusal;
  EXPECT_EQ(Refused("unsafe_tarball", 1), 1u);

  StatusOr<nlohmann::json> listed = GetJson(cluster_->config(), "/packages", 5000);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_TRUE((*listed)["packages"].empty()) << listed->dump();
}

TEST_F(SecurityPackages, APathOutsidePackageDirIsRefusedEvenThroughASymlinkInside) {
  const fs::path outside = CopyPackage(fs::path(scratch_ + "-keys") / "work", "outside");
  Sign(outside, trusted_);
  StatusOr<nlohmann::json> added =
      PostJson(cluster_->config(), "/packages", {{"path", outside.string()}}, 120000);
  ASSERT_FALSE(added.ok());
  EXPECT_TRUE(Contains(added.status().message(), "is not under security.package_dir"))
      << added.status().message();
  fs::create_directory_symlink(outside, incoming_ / "link");
  added =
      PostJson(cluster_->config(), "/packages", {{"path", (incoming_ / "link").string()}}, 120000);
  ASSERT_FALSE(added.ok());
  EXPECT_TRUE(Contains(added.status().message(), "is not under security.package_dir"))
      << added.status().message();
  added = PostJson(cluster_->config(), "/packages", {{"path", "/etc/passwd"}}, 120000);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(Refused("outside_dir", 3), 3u) << last_metrics_;
  // The same package under package_dir is accepted by path.
  const fs::path inside = CopyPackage(incoming_, "kv-2.0.0");
  Sign(inside, trusted_);
  added = PostJson(cluster_->config(), "/packages", {{"path", inside.string()}}, 120000);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->value("signer", ""), trusted_.public_hex);
}

TEST_F(SecurityPackages, ASignedPackageIsAcceptedAndAnUpgradeToItCompletes) {
  const fs::path package = CopyPackage(fs::path(scratch_ + "-keys") / "work", "kv-2.0.0");
  Sign(package, trusted_);
  WorkloadOptions w;
  w.endpoints = cluster_->Endpoints();
  w.clients = 2;
  Workload workload(w);
  workload.Start();
  DUPLEX_ASSERT_OK(workload.WaitAcked(50, 10000));
  StatusOr<nlohmann::json> added = UploadPackage(cluster_->config(), package.string(), 120000);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->value("signer", ""), trusted_.public_hex);
  StatusOr<nlohmann::json> started =
      PostJson(cluster_->config(), "/upgrade/start",
               {{"to", "2.0.0"}, {"soak_ms", 500}, {"auto_finalize", true}}, 10000);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  // Bounded poll until the campaign ends; it must complete (every agent verified the
  // signature again before it started 2.0.0).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string state;
  nlohmann::json last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto shown = GetJson(cluster_->config(), "/upgrade");
    if (shown.ok() && (*shown)["campaign"].is_object()) {
      last = (*shown)["campaign"];
      state = last.value("state", "");
      if (state == "completed" || state == "rolled back") break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(state, "completed") << last.dump();
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 50, 10000));
  workload.Stop();
  CheckResult check = workload.Check();
  EXPECT_EQ(check.lost, 0u) << ::testing::PrintToString(check.problems);
  auto st = cluster_->Status();
  ASSERT_TRUE(st.ok());
  for (const auto& r : (*st)["replicas"]) EXPECT_EQ(r.value("version", ""), "2.0.0") << st->dump();
}

// A bound smaller than the kv binary (17 MB optimized).
class SecurityPackagesSmallBound : public SecurityPackages {
 protected:
  void SetUp() override {
    package_bytes_max_ = 1 << 20;
    SecurityPackages::SetUp();
  }
};

TEST_F(SecurityPackagesSmallBound, AnUploadLargerThanPackageBytesMaxIsRefusedAndCounted) {
  const fs::path package = CopyPackage(fs::path(scratch_ + "-keys") / "work", "kv-2.0.0");
  Sign(package, trusted_);
  // The client knows the bound from the same config and does not send.
  const std::string local = Refusal(package);
  EXPECT_TRUE(Contains(local, "larger than limits.package_bytes_max (1048576)")) << local;
  // Sent anyway: the coordinator refuses it on its declared length and counts it. It may
  // close the connection before the body is written (then the client sees a write error).
  const fs::path tarball = fs::path(scratch_ + "-keys") / "work" / "kv-2.0.0.tar";
  ASSERT_TRUE(PackPackageDir(package.string(), tarball.string()).ok());
  std::ifstream in(tarball, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  ::signal(SIGPIPE, SIG_IGN);  // this test process writes to a socket the server may close
  httplib::Client http(kAddress, cluster_->config().admin_port);
  http.set_write_timeout(std::chrono::seconds(10));
  http.set_read_timeout(std::chrono::seconds(10));
  auto res = http.Post("/packages", bytes.str(), "application/octet-stream");
  if (res) {
    EXPECT_EQ(res->status, 413) << res->body;
  }
  // Refused on its declared length before a byte of it is read (limits.package_bytes_max
  // on the /packages route of the admin API's body bounds), so the package store never sees it.
  EXPECT_EQ(Sample("\nduplex_http_bodies_refused_total ", 1), 1u) << last_metrics_;
  // By path under package_dir: the tarball's size is checked before anything is read.
  const fs::path inside = incoming_ / "kv-2.0.0.tar";
  fs::copy_file(tarball, inside);
  StatusOr<nlohmann::json> added =
      PostJson(cluster_->config(), "/packages", {{"path", inside.string()}}, 120000);
  ASSERT_FALSE(added.ok());
  EXPECT_TRUE(Contains(added.status().message(), "larger than limits.package_bytes_max"))
      << added.status().message();
  EXPECT_EQ(Refused("too_large", 1), 1u);
}

}  // namespace
}  // namespace duplex
