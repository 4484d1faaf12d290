#include "upgrade_coordinator/upgrades.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "common/mutants.h"
#include "replica/client.h"
#include "upgrade_coordinator/admin_client.h"

namespace duplex {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCampaignKey = "campaign";

// A replica's answer as a status: not answering, or its error, named after `what`.
std::optional<Status> Failed(const StatusOr<Response>& r, const char* what) {
  if (!r.ok()) return Unavailable(std::string(what) + ": a replica does not answer");
  if (r->code != Code::kOk) return Status(r->code, std::string(what) + ": " + r->message);
  return std::nullopt;
}

// The words of a "token seq" answer.
std::string FirstWord(const std::string& s) { return s.substr(0, s.find(' ')); }
std::string SecondWord(const std::string& s) { return s.substr(s.find(' ') + 1); }

}  // namespace

Upgrades::Upgrades(const ClusterConfig& config, Arbiter* arbiter, RecordStore* store)
    : config_(config), arbiter_(arbiter), store_(store) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

Upgrades::~Upgrades() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  worker_.join();
}

Status Upgrades::Open() {
  auto packages = PackageStore::Open(config_.data_dir + "/packages");
  if (!packages.ok()) return packages.status();
  std::lock_guard lock(packages_mu_);
  packages_ = std::move(packages).value();
  for (const auto& why : packages_->damaged()) spdlog::error("package store: {}", why);
  auto saved = store_->Get(kCampaignKey);
  if (!saved.ok()) return saved.status();
  if (saved->has_value()) {
    auto record = CampaignFromJson(**saved);
    if (!record.ok()) return record.status();
    if (!record->Done()) spdlog::info("resuming campaign {} in {}", record->id, record->phase);
    campaign_ = std::make_unique<Campaign>(std::move(record).value(), this);
  }
  return Status::Ok();
}

void Upgrades::Tick(int64_t now_ms, int64_t now_us) {
  now_us_ = now_us;
  bool quiesce = quiesce_wanted_.load();
  if (quiesce != quiesce_applied_) {
    arbiter_->SetQuiesce(quiesce);
    quiesce_applied_ = quiesce;
  }
  if (!campaign_) return;
  std::deque<std::pair<std::string, Status>> results;
  {
    std::lock_guard lock(mu_);
    results.swap(results_);
  }
  for (auto& [kind, status] : results) campaign_->OnWorkDone(kind, status);
  if (!campaign_->record().Done()) {
    campaign_->Tick(now_ms);
    Observe();
  }
}

std::string Upgrades::BinaryFor(const std::string& replica) const {
  std::string version = arbiter_->VersionOf(replica);
  if (version == config_.processor.version) return config_.processor.binary;
  auto package = PackageFor(version);
  return package.ok() ? package->BinaryPath() : config_.processor.binary;
}

StatusOr<PackageManifest> Upgrades::PackageFor(const std::string& version) const {
  auto v = ParseVersion(version);
  if (!v.ok()) return v.status();
  std::lock_guard lock(packages_mu_);
  for (const auto& m : packages_->List()) {
    if (m.version == *v) return m;
  }
  return NotFound("no stored package has version " + version + " (duplex package add <dir>)");
}

// --- CampaignHost -----------------------------------------------------------------------

std::string Upgrades::ActiveName() const { return arbiter_->record().active; }

std::string Upgrades::OtherName(const std::string& replica) const {
  for (const auto& r : config_.replicas) {
    if (r.name != replica) return r.name;
  }
  return "";
}

std::optional<StatusReport> Upgrades::Report(const std::string& replica) const {
  return arbiter_->RecentReport(replica, now_us_);
}

bool Upgrades::InSync(const std::string& replica) const {
  return arbiter_->StandbyInSync(replica, now_us_);
}

std::string Upgrades::AssignedVersion(const std::string& replica) const {
  return arbiter_->VersionOf(replica);
}

uint64_t Upgrades::Starts(const std::string& replica) const {
  auto it = arbiter_->replicas().find(replica);
  return it == arbiter_->replicas().end() ? 0 : it->second.starts;
}

std::string Upgrades::CheckPackage(const std::string& version) const {
  auto m = PackageFor(version);
  return m.ok() ? "" : m.status().message();
}

std::string Upgrades::CheckCompatibility(const std::string& from, const std::string& to) const {
  auto target = PackageFor(to);
  if (!target.ok()) return target.status().message();
  auto running = ParseVersion(from);
  if (!running.ok()) return running.status().message();
  if (!target->upgrade_from.Contains(*running)) {
    return "kv " + to + " upgrades from " + target->upgrade_from.ToString() + ", not from " + from;
  }
  Status platform = CheckPlatform(target->platform, config_.data_dir);
  if (!platform.ok()) return platform.message();
  for (const auto& r : config_.replicas) {
    auto rep = Report(r.name);
    if (!rep) continue;
    uint32_t a = rep->schema, b = target->schema;
    if (a > b + 1 || b > a + 1) {
      return "no converters from state schema " + std::to_string(a) + " to " + std::to_string(b) +
             " (only adjacent schemas convert)";
    }
  }
  return "";
}

void Upgrades::Persist(const CampaignRecord& record) {
  Status s = store_->Put(kCampaignKey, CampaignToJson(record));
  if (!s.ok()) {
    spdlog::critical("cannot persist the campaign: {}", s.ToString());
    std::fflush(nullptr);
    ::_exit(70);  // resume from the last persisted step when restarted
  }
}

void Upgrades::Isolate(const std::string& replica, bool isolated) {
  arbiter_->SetIsolated(replica, isolated);
}

void Upgrades::Reload(const std::string& replica, const std::string& version) {
  arbiter_->SetReplicaVersion(replica, version);
  // The chaos checker's self-test: enable the new features while the other replica still
  // runs the old version.
  if (MutantEnabled("enable-flags-early")) arbiter_->SetClusterVersion(version);
}

Status Upgrades::Switchover() { return arbiter_->RequestSwitchover(now_us_, /*by_campaign=*/true); }

void Upgrades::SetClusterVersion(const std::string& version) {
  arbiter_->SetClusterVersion(version);
}

void Upgrades::SetLock(bool held) { arbiter_->SetLock(held); }

void Upgrades::StartWork(const std::string& kind) {
  Job job;
  job.kind = kind;
  if (campaign_) {
    job.campaign_id = campaign_->record().id;
    job.version = campaign_->record().to;
  }
  std::string active = arbiter_->record().active;
  job.active = active == config_.replicas[0].name ? 0 : 1;
  job.active_binary = BinaryFor(active);
  uint32_t schema = UINT32_MAX;
  job.marks = true;
  for (const auto& r : config_.replicas) {
    auto report = Report(r.name);
    if (report) schema = std::min(schema, report->schema);
    job.marks = job.marks && report && report->marks;
  }
  job.schema = schema == UINT32_MAX ? 1 : schema;
  std::lock_guard lock(mu_);
  jobs_.push_back(std::move(job));
}

// --- blocking work on the worker thread -----------------------------------------------

void Upgrades::WorkerLoop() {
  for (;;) {
    Job job;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      if (!jobs_.empty()) {
        job = jobs_.front();
        jobs_.pop_front();
      }
    }
    if (job.kind.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    Status result;
    if (job.kind == "backup") {
      result = RunBackup(job);
    } else if (job.kind == "verify") {
      auto package = PackageFor(job.version);  // the stored copy, checked again now
      result = package.ok() ? VerifyBinary(*package) : package.status();
    } else {
      result = job.marks ? CompareMarkedDigests(job) : CompareDigests(job);
    }
    std::lock_guard lock(mu_);
    results_.emplace_back(job.kind, result);
  }
}

Status Upgrades::RunBackup(const Job& job) {
  // The migration archive: the running package and a checkpoint of the active's state.
  fs::path dir =
      fs::path(config_.data_dir) / "archive" / ("campaign-" + std::to_string(job.campaign_id));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir / "package", ec);
  if (ec) return IOError("archive " + dir.string() + ": " + ec.message());
  fs::copy_file(job.active_binary, dir / "package" / fs::path(job.active_binary).filename(), ec);
  if (ec) return IOError("archive the running package: " + ec.message());
  ClientOptions options;
  options.endpoints = ReplicaEndpoints(config_);
  Client client(options);
  auto answer = client.Ask(job.active, "_checkpoint", {(dir / "state").string()}, 30000);
  if (!answer.ok()) return answer.status();
  if (answer->code != Code::kOk) return Status(answer->code, "checkpoint: " + answer->message);
  spdlog::info("migration archive: {}", dir.string());
  return Status::Ok();
}

Status Upgrades::CompareMarkedDigests(const Job& job) {
  // The active opens its snapshot at its seq S and marks S in its delta stream; the standby
  // opens its own when it meets the mark. Both digests read the state at S, in the older
  // schema, and no write waits for them.
  ClientOptions options;
  options.endpoints = ReplicaEndpoints(config_);
  Client client(options);
  std::string schema = std::to_string(job.schema);
  size_t active = job.active, standby = 1 - job.active;
  std::string last = "no attempt";
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto mark = client.Ask(active, "_digest_mark", {schema}, 5000);
    if (auto bad = Failed(mark, "digest mark")) {
      if (mark.ok() && mark->code == Code::kUnavailable) {  // no standby follows (yet)
        last = mark->message;
        continue;
      }
      return *bad;
    }
    std::string token = FirstWord(mark->value), seq = SecondWord(mark->value);
    // The standby meets the mark a batch or two later, or misses it (a resync): try again.
    auto theirs = client.Ask(standby, "_digest_at", {seq, schema}, 120000);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (theirs.ok() && theirs->code == Code::kUnavailable &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      theirs = client.Ask(standby, "_digest_at", {seq, schema}, 120000);
    }
    if (auto bad = Failed(theirs, "digest")) {
      if (theirs.ok() && (theirs->code == Code::kNotFound || theirs->code == Code::kUnavailable)) {
        last = theirs->message;
        continue;
      }
      return *bad;
    }
    auto ours = client.Ask(active, "_digest_of", {token}, 120000);
    if (auto bad = Failed(ours, "digest")) return *bad;
    if (ours->value == theirs->value) return Status::Ok();
    return Corruption("state digests differ at seq " + seq + ": " + ours->value + " vs " +
                      theirs->value);
  }
  return Unavailable("digests never compared at one seq: " + last);
}

Status Upgrades::CompareDigests(const Job& job) {
  // A replica without digest marks: writes pause (the active holds its requests:
  // Assignment.hold) until both replicas took a snapshot at one seq; the digests are
  // computed after writes resume, so the pause lasts round trips, not scans.
  ClientOptions options;
  options.endpoints = ReplicaEndpoints(config_);
  Client client(options);
  std::string last;
  std::string arg = std::to_string(job.schema);
  quiesce_wanted_ = true;
  struct Resume {
    std::atomic<bool>& flag;
    ~Resume() { flag = false; }
  } resume{quiesce_wanted_};
  // Writes wait meanwhile: retry soon (the standby is a batch behind, a millisecond or two).
  for (int attempt = 0; attempt < 2000; ++attempt) {
    auto a = client.Ask(0, "_digest_open", {arg}, 5000);
    auto b = client.Ask(1, "_digest_open", {arg}, 5000);
    if (auto bad = Failed(a, "digest")) return *bad;
    if (auto bad = Failed(b, "digest")) return *bad;
    if (SecondWord(a->value) == SecondWord(b->value)) {
      quiesce_wanted_ = false;
      std::string seq = SecondWord(a->value);
      auto da = client.Ask(0, "_digest_of", {FirstWord(a->value)}, 120000);
      auto db = client.Ask(1, "_digest_of", {FirstWord(b->value)}, 120000);
      if (auto bad = Failed(da, "digest")) return *bad;
      if (auto bad = Failed(db, "digest")) return *bad;
      if (da->value == db->value) return Status::Ok();
      return Corruption("state digests differ at seq " + seq + ": " + da->value + " vs " +
                        db->value);
    }
    last = "seq " + SecondWord(a->value) + " vs " + SecondWord(b->value);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Unavailable("digests never compared at the same seq under load (last: " + last + ")");
}

}  // namespace duplex
