#include "upgrade_coordinator/upgrades.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "common/clock.h"
#include "common/fatal.h"
#include "replica/client.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/admin_http.h"
#include "upgrade_coordinator/digest_comparison.h"

namespace duplex {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCampaignKey = "campaign";

}  // namespace

Upgrades::Upgrades(const ClusterConfig& config, Arbiter* arbiter, RecordStore* store,
                   const AgentLinks* agents, FeaturesOnReload features_on_reload)
    : config_(config),
      arbiter_(arbiter),
      store_(store),
      features_on_reload_(features_on_reload),
      agents_(agents),
      distributor_(config_, agents),
      progress_(config_, this) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

Upgrades::~Upgrades() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  jobs_cv_.notify_one();
  worker_.join();
}

Status Upgrades::Open() {
  auto packages = PackageStore::Open(config_.data_dir + "/packages", PackagePolicyOf(config_));
  if (!packages.ok()) return packages.status();
  std::lock_guard lock(packages_mu_);
  packages_ = std::move(packages).value();
  for (const auto& why : packages_->damaged()) spdlog::error("package store: {}", why);
  auto saved = store_->Get(kCampaignKey);
  if (!saved.ok()) return saved.status();
  if (saved->has_value()) {
    auto record = CampaignFromJson(**saved);
    if (!record.ok()) return record.status();
    if (!record->Done())
      spdlog::info("resuming campaign {} in {}", record->id, Name(record->phase));
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
  std::deque<Done> done;
  {
    std::lock_guard lock(mu_);
    done.swap(done_);
  }
  for (Done& d : done) {
    // Work of an earlier campaign that ended while it ran answers nobody now.
    if (d.campaign_id != campaign_->record().id) {
      spdlog::info("ignoring the {} result of campaign {}", Name(d.kind), d.campaign_id);
      continue;
    }
    campaign_->OnWorkDone(d.kind, d.status);
  }
  if (!campaign_->record().Done()) {
    campaign_->Tick(now_ms);
    progress_.Observe(campaign_->record(), now_us_);
  }
}

void Upgrades::StartCampaign(const CampaignRecord& record) {
  DUPLEX_ASSERT(!campaign_ || campaign_->record().Done(), "campaign", campaign_->record().id,
                "still", Name(campaign_->record().state));
  DUPLEX_ASSERT(record.phase == CampaignPhase::kNew && record.steps.empty(), "campaign", record.id);
  Persist(record);
  campaign_ = std::make_unique<Campaign>(record, this);
}

std::string Upgrades::BinaryFor(const std::string& replica) const {
  std::string version = arbiter_->VersionOf(replica);
  if (version == config_.processor.version) return config_.processor.binary;
  auto package = PackageFor(version);
  return package.ok() ? package->BinaryPath() : config_.processor.binary;
}

std::pair<std::string, std::string> Upgrades::PackageRefFor(const std::string& replica) const {
  std::string version = arbiter_->VersionOf(replica);
  if (version == config_.processor.version) return {"", version};
  auto package = PackageFor(version);
  if (!package.ok()) return {"", config_.processor.version};  // as BinaryFor: the configured one
  return {package->name, version};
}

StatusOr<PackageManifest> Upgrades::AddPackage(const std::string& dir) {
  std::lock_guard lock(packages_mu_);
  return packages_->Add(dir);
}

std::string Upgrades::PackageStoreDir() const {
  std::lock_guard lock(packages_mu_);
  return packages_->dir();
}

std::map<std::string, uint64_t> Upgrades::PackageRefusals() const {
  std::lock_guard lock(packages_mu_);
  std::map<std::string, uint64_t> counts;
  for (std::size_t i = 0; i < kPackageRefusalCount; ++i) {
    const auto reason = static_cast<PackageRefusal>(i);
    counts[std::string(Name(reason))] = packages_ ? packages_->refusals().Get(reason) : 0;
  }
  return counts;
}

void Upgrades::CountPackageRefusal(PackageRefusal reason) {
  std::lock_guard lock(packages_mu_);
  if (packages_) packages_->CountRefusal(reason);
}

std::vector<PackageManifest> Upgrades::Packages() const {
  std::lock_guard lock(packages_mu_);
  return packages_->List();
}

StatusOr<PackageManifest> Upgrades::PackageFor(const std::string& name,
                                               const std::string& version) const {
  auto v = ParseVersion(version);
  if (!v.ok()) return v.status();
  std::lock_guard lock(packages_mu_);
  if (!name.empty()) return packages_->Get(name, *v);
  std::vector<PackageManifest> found;
  std::string names;
  for (const auto& m : packages_->List()) {
    if (m.version != *v) continue;
    found.push_back(m);
    names += (names.empty() ? "" : ", ") + m.name;
  }
  if (found.size() == 1) return found[0];
  if (found.empty()) {
    return NotFound("no stored package has version " + version + " (duplex package add <dir>)");
  }
  return FailedPrecondition("several stored packages have version " + version + " (" + names +
                            "): name one (--package NAME)");
}

StatusOr<PackageManifest> Upgrades::PackageFor(const std::string& version) const {
  const std::string name =
      campaign_ && (campaign_->record().to == version || campaign_->record().from == version)
          ? campaign_->record().package
          : "";
  return PackageFor(name, version);
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

Distribution Upgrades::DistributePackage(const std::string& version) {
  auto m = PackageFor(version);
  if (!m.ok()) return {false, m.status().message(), ""};
  return distributor_.Want(*m, now_us_);
}

std::string Upgrades::CheckCompatibility(const std::string& from, const std::string& to) const {
  auto target = PackageFor(to);
  if (!target.ok()) return target.status().message();
  auto running = ParseVersion(from);
  if (!running.ok()) return running.status().message();
  if (!target->upgrade_from.Contains(*running)) {
    return "kv " + to + " upgrades from " + target->upgrade_from.ToString() + ", not from " + from;
  }
  // Each host that runs a replica, as its agent measured it.
  for (const auto& r : config_.replicas) {
    const AgentReport* agent = agents_->LastReport(r.host_name);
    if (agent == nullptr) return "host " + r.host_name + ": its agent has not reported";
    const HostFacts& f = agent->facts;
    Status platform = CheckPlatform(
        target->platform, {f.arch, f.memory_available_mb, f.disk_path, f.disk_available_mb});
    if (!platform.ok()) return "host " + r.host_name + ": " + platform.message();
  }
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
  // Resume from the last persisted step when restarted.
  if (!s.ok()) Fatal(Status(s.code(), "cannot persist the campaign: " + s.message()));
}

void Upgrades::Isolate(const std::string& replica, bool isolated) {
  arbiter_->SetIsolated(replica, isolated);
}

void Upgrades::Reload(const std::string& replica, const std::string& version) {
  arbiter_->SetReplicaVersion(replica, version);
  if (features_on_reload_(version)) arbiter_->SetClusterVersion(version);
}

Status Upgrades::Switchover() { return arbiter_->RequestSwitchover(now_us_, /*by_campaign=*/true); }

void Upgrades::SetClusterVersion(const std::string& version) {
  arbiter_->SetClusterVersion(version);
}

void Upgrades::SetLock(bool held) { arbiter_->SetLock(held); }

void Upgrades::StartWork(WorkKind kind) {
  DUPLEX_ASSERT(campaign_ && !campaign_->record().Done(), "work", Name(kind),
                "started without a running campaign");
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
  for (size_t i = 0; i < config_.replicas.size(); ++i) {
    auto report = Report(config_.replicas[i].name);
    if (report) schema = std::min(schema, report->schema);
    job.marks = job.marks && report && report->marks;
    // Unknown (no recent report): this release's path, the only one it takes.
    if (i < 2) job.legacy_ops[i] = report && !report->admin_frames;
  }
  job.schema = schema == UINT32_MAX ? 1 : schema;
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  jobs_cv_.notify_one();
}

// --- blocking work on the worker thread -----------------------------------------------

void Upgrades::WorkerLoop() {
  for (;;) {
    std::optional<Job> job;
    {
      // Waits for a job; it polled every 5 ms, the whole time a coordinator ran.
      std::unique_lock lock(mu_);
      jobs_cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = jobs_.front();
      jobs_.pop_front();
    }
    Status result;
    switch (job->kind) {
      case WorkKind::kBackup:
        result = RunBackup(*job);
        break;
      case WorkKind::kVerify: {
        auto package = PackageFor(job->version);  // the stored copy, checked again now
        result =
            package.ok() ? VerifyPackage(*package, PackagePolicyOf(config_)) : package.status();
        break;
      }
      case WorkKind::kDigests:
        result = CompareDigests(*job);
        break;
    }
    std::lock_guard lock(mu_);
    done_.push_back({job->kind, job->campaign_id, result});
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
  auto options = ReplicaClientOptions(config_);  // TLS and the password, as configured
  if (!options.ok()) return options.status();
  options->source_address = config_.host;  // the coordinator's host
  Client client(*options);
  AdminRequest checkpoint;
  checkpoint.op = AdminOp::kCheckpoint;
  // The active writes its checkpoint on its own host, below the archive directory its agent
  // gave it (<host dir>/archive): on named hosts that is not the coordinator's data_dir.
  const ReplicaConfig& active = config_.replicas.at(job.active);
  const HostConfig* host = FindHost(config_, active.host_name);
  DUPLEX_ASSERT(host != nullptr, "a replica is placed on a host", active.name, active.host_name);
  checkpoint.path = (fs::path(HostDataDir(config_, *host)) / "archive" /
                     ("campaign-" + std::to_string(job.campaign_id)) / "state")
                        .string();
  auto answer = client.Admin(job.active, checkpoint, 30000, job.legacy_ops[job.active]);
  if (!answer.ok()) return answer.status();
  if (answer->code != Code::kOk) return Status(answer->code, "checkpoint: " + answer->message);
  spdlog::info("migration archive: {}", dir.string());
  return Status::Ok();
}

Status Upgrades::CompareDigests(const Job& job) {
  // The comparison says what to ask; each question blocks this thread (not the loop), and
  // the loop applies the hold it may want (Tick).
  auto options = ReplicaClientOptions(config_);  // TLS and the password, as configured
  if (!options.ok()) return options.status();
  options->source_address = config_.host;  // the coordinator's host
  Client client(*options);
  DigestComparison comparison(job.active, job.schema, job.marks);
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag = false; }
  } release{quiesce_wanted_};
  auto now_ms = [] { return NowUs() / 1000; };
  // Bounded by the comparison itself (attempts, deadlines); this is a backstop.
  for (int turn = 0; turn < 1000000 && !comparison.verdict(); ++turn) {
    auto questions = comparison.Next(now_ms());
    quiesce_wanted_ = comparison.holding();
    for (const auto& q : questions) {
      if (!comparison.Awaits(q)) continue;
      comparison.OnAnswer(
          q, client.Admin(q.replica, q.request, q.timeout_ms, job.legacy_ops[q.replica]), now_ms());
    }
    if (questions.empty() && !comparison.verdict()) {
      int64_t wait = std::clamp<int64_t>(comparison.wake_ms() - now_ms(), 1, 20);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }
  if (!comparison.verdict()) return Unavailable("digest comparison: did not end");
  return *comparison.verdict();
}

}  // namespace duplex
