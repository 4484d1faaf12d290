#include "chaos/simulation.h"

#include <rocksdb/env.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <set>

#include "chaos/checker.h"
#include "chaos/hooks/fault_fs.h"
#include "chaos/hooks/mutants.h"
#include "common/fatal.h"
#include "examples/kv/kv_processor.h"
#include "examples/kv/kv_record.h"
#include "replica/replica_core.h"
#include "state_sync/store.h"
#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/campaign/campaign.h"
#include "upgrade_coordinator/digest_comparison.h"
#include "upgrade_coordinator/event_log.h"
#include "upgrade_coordinator/record_store.h"

namespace duplex::sim {
namespace {

constexpr int64_t kMs = 1000;
constexpr int64_t kTickUs = 2 * kMs;                 // each process's loop turn
constexpr int64_t kWallEpochMs = 1'800'000'000'000;  // the processors' wall clock at t=0
constexpr const char* kOldVersion = "1.0.0";
constexpr const char* kNewVersion = "2.0.0";

// Every random choice of a run. Own arithmetic on the raw generator output, so a seed
// means the same run whatever the standard library's distributions do.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t Next() { return g_(); }
  int64_t Uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return hi <= lo ? lo : lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Unit() { return static_cast<double>(Next() >> 11) / 9007199254740992.0; }
  bool Chance(double p) { return Unit() < p; }

 private:
  std::mt19937_64 g_;
};

// The faults of one run, drawn from its seed (BUGGIFY-style: each knob on or off, and
// how hard, per run).
struct Profile {
  double drop = 0, duplicate = 0;
  int64_t delay_min_us = 50, delay_max_us = 300;
  double crash_per_s = 0, pause_per_s = 0, partition_per_s = 0, coordinator_restart_per_s = 0;
  double write_error_per_s = 0, power_loss_per_s = 0, clock_jump_per_s = 0;
  bool swizzle = false;
  bool upgrade = false;
  std::string variant;  // of the 2.0.0 release: "", crash, unhealthy, corrupt
  double abort = 0;     // chance the operator aborts the campaign midway
  bool auto_finalize = true;
  bool digest_by_hold = false;  // compare digests as with a release older than marks
  // Client churn: the chance, after each operation, that a client goes on under a new
  // client id, leaving its old session idle for the replicas to expire. A client retrying
  // keeps its session (a retry re-dates it once it is half the expiry old), so the expiry
  // only has to be twice the longest silence of a retrying client: a paused active
  // (600 ms) and the retries in between (100 ms apart, to alternating replicas).
  double churn = 0;
  int64_t session_expiry_ms = 0;  // 0: the replicas' default (an hour)

  // Knobs added later draw from `later`, a stream of their own, so that adding one leaves
  // the earlier draws, and so the traces of the seeds that do not use it, as they were.
  static Profile Draw(Rng& rng, Rng& later) {
    Profile p;
    bool hostile = rng.Chance(0.6);
    if (hostile) {
      if (rng.Chance(0.5)) p.drop = rng.Unit() * 0.05;
      if (rng.Chance(0.3)) p.duplicate = rng.Unit() * 0.05;
      if (rng.Chance(0.5)) p.delay_max_us = rng.Uniform(300, 20 * kMs);
      if (rng.Chance(0.5)) p.crash_per_s = rng.Unit() * 1.0;
      if (rng.Chance(0.3)) p.pause_per_s = rng.Unit() * 0.5;
      if (rng.Chance(0.4)) p.partition_per_s = rng.Unit() * 0.7;
      if (rng.Chance(0.3)) p.coordinator_restart_per_s = rng.Unit() * 0.7;
      if (rng.Chance(0.2)) p.write_error_per_s = rng.Unit() * 0.3;
      if (rng.Chance(0.2)) p.power_loss_per_s = rng.Unit() * 0.3;
      if (rng.Chance(0.2)) p.clock_jump_per_s = rng.Unit() * 0.5;
      p.swizzle = rng.Chance(0.2);
    }
    p.upgrade = rng.Chance(0.7);
    if (p.upgrade) {
      static const char* kVariants[] = {"", "", "", "", "crash", "unhealthy", "corrupt"};
      p.variant = kVariants[rng.Uniform(0, 6)];
      p.abort = rng.Chance(0.15) ? 1.0 : 0.0;
      p.auto_finalize = rng.Chance(0.8);
      p.digest_by_hold = rng.Chance(0.25);
    }
    if (later.Chance(0.3)) {
      p.churn = 0.02;
      p.session_expiry_ms = later.Uniform(1600, 2400);
    }
    return p;
  }

  std::string Describe() const {
    char text[512];
    std::snprintf(text, sizeof(text),
                  "drop %.3f dup %.3f delay %lld-%lld us crash/s %.2f pause/s %.2f "
                  "partition/s %.2f coordinator-restart/s %.2f write-error/s %.2f "
                  "power-loss/s %.2f clock-jump/s %.2f swizzle %d upgrade %d%s%s abort %d "
                  "auto-finalize %d digest-by-hold %d churn %.2f session-expiry %lld ms",
                  drop, duplicate, static_cast<long long>(delay_min_us),
                  static_cast<long long>(delay_max_us), crash_per_s, pause_per_s, partition_per_s,
                  coordinator_restart_per_s, write_error_per_s, power_loss_per_s, clock_jump_per_s,
                  swizzle, upgrade, variant.empty() ? "" : " variant ", variant.c_str(), abort > 0,
                  auto_finalize, digest_by_hold, churn, static_cast<long long>(session_expiry_ms));
    return text;
  }
};

// The coordinator's durable record, kept by the simulated machine across restarts.
class MemoryRecordStore final : public RecordStore {
 public:
  StatusOr<std::optional<ClusterRecord>> Load() override { return record_; }
  Status Save(const ClusterRecord& record) override {
    record_ = record;
    ++writes_;
    return Status::Ok();
  }
  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    auto it = docs_.find(key);
    if (it == docs_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Put(const std::string& key, const std::string& value) override {
    docs_[key] = value;
    ++writes_;
    return Status::Ok();
  }
  uint64_t writes() const { return writes_; }

 private:
  uint64_t writes_ = 0;
  std::optional<ClusterRecord> record_;
  std::map<std::string, std::string> docs_;
};

// Thrown by the fatal handler the simulator installs (common/fatal.h). A durable write
// that failed kills one simulated process and the run goes on; a failed assertion is a bug
// and fails the seed.
struct ProcessDied {
  std::string why;
};
struct AssertionFailed {
  std::string what;
};

void InstallFatalHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    SetFatalHandler([](FatalKind kind, const std::string& what) {
      if (kind == FatalKind::kDurability) throw ProcessDied{what};
      throw AssertionFailed{what};
    });
  });
}

struct OpRecord {
  int client = 0;
  uint64_t seq = 0;
  std::string op, key, value;  // PUT: the value written; INCR: the value returned
  enum class Outcome { kPending, kOk, kFail, kInfo } outcome = Outcome::kPending;
};

class World;

// One replica process slot: the process may be down; its disk (a directory on the
// run's in-memory Env) survives it.
struct Replica {
  // Its disk: the run's in-memory file system seen through a fault layer that holds
  // unsynced writes (dropped by a power cut) and can fail writes. Outlives the process.
  std::shared_ptr<FaultFileSystem> fs;
  std::unique_ptr<rocksdb::Env> env;
  std::string name;
  bool up = false;
  bool booting = false;         // spawned, not yet running
  int64_t clock_offset_ms = 0;  // its machine's wall clock against simulated time
  int32_t pid = 0;
  int64_t paused_until = 0;
  std::string version;
  std::unique_ptr<Processor> processor;
  std::unique_ptr<Store> store;
  std::unique_ptr<ReplicaCore> core;
  std::string connected;   // the active its ToActive messages go to
  std::string open_error;  // why its store last failed to open ("" = it opened)
};

// The campaign's view of the simulated cluster, and its hands.
class Host final : public CampaignHost {
 public:
  explicit Host(World* w) : w_(w) {}
  std::string ActiveName() const override;
  std::string OtherName(const std::string& replica) const override;
  std::optional<StatusReport> Report(const std::string& replica) const override;
  bool InSync(const std::string& replica) const override;
  std::string AssignedVersion(const std::string& replica) const override;
  uint64_t Starts(const std::string& replica) const override;
  std::string CheckPackage(const std::string&) const override { return ""; }
  std::string CheckCompatibility(const std::string&, const std::string&) const override {
    return "";
  }
  void Persist(const CampaignRecord& record) override;
  void Isolate(const std::string& replica, bool isolated) override;
  void Reload(const std::string& replica, const std::string& version) override;
  Status Switchover() override;
  void SetClusterVersion(const std::string& version) override;
  void SetLock(bool held) override;
  void StartWork(const std::string& kind) override;

 private:
  World* w_;
};

class World {
 public:
  World(const SimOptions& o)
      : o_(o),
        rng_(o.seed),
        torn_rng_(o.seed ^ 0x746f726e),
        knob_rng_(o.seed ^ 0x6b6e6f66),
        profile_(Profile::Draw(rng_, knob_rng_)),
        host_(this) {
    env_.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    for (const char* name : {"a", "b"}) {
      Replica& r = replicas_[name];
      r.name = name;
      r.fs = std::make_shared<FaultFileSystem>(env_->GetFileSystem(), "");
      r.fs->Set(Disk());
      r.env = rocksdb::NewCompositeEnv(r.fs);
    }
    events_.KeepInMemory();
    for (int i = 0; i < o.clients; ++i) clients_.push_back(Client{i});
    ack_before_replication_ = Has("ack-before-replication");
    enable_flags_early_ = Has("enable-flags-early");
    // A mutant run leans on the faults that expose its bug (the checker's self-test wants
    // it caught in a few seeds, not one in fifty).
    if (ack_before_replication_ || Has("skip-epoch-check")) {
      profile_.partition_per_s = std::max(profile_.partition_per_s, 1.0);
      profile_.crash_per_s = std::max(profile_.crash_per_s, 1.0);
    }
    if (Has("skip-fsync")) profile_.power_loss_per_s = std::max(profile_.power_loss_per_s, 1.0);
    if (enable_flags_early_) profile_.upgrade = true;
  }

  ~World() {
    for (auto& [name, r] : replicas_) Down(r);
  }

  SimResult Run() {
    Trace("profile " + profile_.Describe());
    StartCoordinator();
    // Load and faults.
    ScheduleFaults();
    for (auto& c : clients_) At(Rng1(1, 5) * kMs + 200 * kMs, [this, &c] { NextOp(c); });
    if (profile_.upgrade) At(rng_.Uniform(300, 1200) * kMs, [this] { StartCampaign(); });
    Every(kTickUs, [this] { return TickAll(); });
    RunUntil(o_.load_ms * kMs);
    // Settle: faults off, every process running, clients finish what they started.
    loading_ = false;
    HealAll();
    int64_t settle_end = now_ + o_.settle_ms * kMs;
    while (now_ < settle_end && !Settled()) RunUntil(now_ + 50 * kMs);
    return Judge();
  }

 private:
  friend class Host;

  // --- time and events -------------------------------------------------------------------

  struct Event {
    int64_t at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Event& other) const {
      return at != other.at ? at > other.at : seq > other.seq;
    }
  };

  void At(int64_t at_us, std::function<void()> fn) {
    queue_.push(Event{std::max(at_us, now_), next_seq_++, std::move(fn)});
  }
  void After(int64_t delay_us, std::function<void()> fn) { At(now_ + delay_us, std::move(fn)); }
  // Repeats fn every period while it returns true.
  void Every(int64_t period_us, std::function<bool()> fn) {
    After(period_us, [this, period_us, fn] {
      if (fn()) Every(period_us, fn);
    });
  }
  void RunUntil(int64_t until_us) {
    while (!queue_.empty() && queue_.top().at <= until_us) {
      Event e = queue_.top();
      queue_.pop();
      now_ = e.at;
      ++processed_;
      e.fn();
    }
    now_ = std::max(now_, until_us);
  }
  int64_t Rng1(int64_t lo, int64_t hi) { return rng_.Uniform(lo, hi); }

  void Trace(const std::string& line) {
    std::string text = std::to_string(now_) + " " + line + "\n";
    for (unsigned char c : text) {
      trace_hash_ ^= c;
      trace_hash_ *= 1099511628211ull;
    }
    if (o_.trace) trace_ += text;
  }

  bool Has(const std::string& mutant) const {
    return std::find(o_.mutants.begin(), o_.mutants.end(), mutant) != o_.mutants.end();
  }

  // --- the network -----------------------------------------------------------------------

  // Delivers fn at `to` after a link delay, unless the link drops it; may duplicate it.
  // Links are named "from>to"; processes "a", "b", "coordinator", "c0", ....
  void Send(const std::string& from, const std::string& to, const std::string& what,
            const std::function<void()>& fn) {
    if (loading_ &&
        (cut_.count(from + ">" + to) || cut_.count(from + ">*") || cut_.count("*>" + to))) {
      return;
    }
    if (loading_ && rng_.Chance(profile_.drop)) return;
    int copies = loading_ && rng_.Chance(profile_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      int64_t delay = rng_.Uniform(profile_.delay_min_us, loading_ ? profile_.delay_max_us : 300);
      After(delay, [this, from, to, what, fn] {
        if (o_.trace) Trace(from + ">" + to + " " + what);
        fn();
      });
    }
  }

  // --- replica processes -----------------------------------------------------------------

  // The supervisor spawns the process (the coordinator learns its pid at once, as
  // fork+exec tells it); the process boots a moment later.
  // A process that still runs (started by a coordinator that died) is adopted instead,
  // as the daemon finds it by the lock on its directory.
  void Spawn(Replica& r) {
    if (r.up || r.booting) {
      if (arbiter_) arbiter_->OnProcessStarted(r.name, r.pid, now_);
      return;
    }
    r.booting = true;
    r.pid = ++next_pid_;
    // The binary is chosen now, as the daemon's argv[0]; the process runs it even if the
    // coordinator dies before it boots (seed 3204 booted the old one, as no coordinator
    // was there to ask).
    r.version = arbiter_ ? arbiter_->VersionOf(r.name) : kOldVersion;
    if (r.version.empty()) r.version = kOldVersion;
    if (arbiter_) {
      arbiter_->OnProcessStarted(r.name, r.pid, now_);
      children_.insert(r.pid);
    }
    After(Rng1(5, 40) * kMs, [this, name = r.name, pid = r.pid] { Boot(replicas_.at(name), pid); });
  }

  void Boot(Replica& r, int32_t pid) {
    if (r.pid != pid || !r.booting) return;  // stopped while it started
    r.booting = false;
    std::string variant = r.version == kNewVersion ? profile_.variant : "";
    Trace("start " + r.name + " " + r.version + (variant.empty() ? "" : "-" + variant) + " pid " +
          std::to_string(r.pid));
    if (variant == "crash") {  // the release exits at start
      After(kMs, [this, name = r.name, pid] { Exited(name, pid); });
      return;
    }
    StoreOptions so;
    so.path = "/sim/" + r.name;
    so.sync = !Has("skip-fsync");
    so.env = r.env.get();
    // RocksDB starts no work on its own threads, whose timing the simulator does not
    // control (a compaction racing an injected write error or power cut made runs differ
    // between two tries): no compactions, and memtables no simulated run fills.
    so.auto_compaction = false;
    so.memtable_bytes = 64 << 20;
    auto store = Store::Open(so);
    r.open_error = store.ok() ? "" : store.status().message();
    if (!store.ok()) {
      Trace("store " + r.name + ": " + r.open_error);
      After(kMs, [this, name = r.name, pid] { Exited(name, pid); });
      return;
    }
    r.store = std::move(store).value();
    r.processor = kv::MakeKvProcessor(r.version, variant);
    ReplicaOptions ro;
    ro.name = ro.endpoint = r.name;
    ro.async = ack_before_replication_;
    ro.pid = r.pid;
    if (Has("skip-epoch-check")) ro.tail_resumes = &TailResumesInAnyEpoch;
    if (profile_.session_expiry_ms > 0) ro.session_expiry_ms = profile_.session_expiry_ms;
    r.core = std::make_unique<ReplicaCore>(ro, r.store.get(), r.processor.get());
    r.up = true;
    r.paused_until = 0;
    r.connected.clear();
    Flush(r);
  }

  void Down(Replica& r) {
    if (r.core) sessions_expired_ += r.core->counters().sessions_expired;
    r.core.reset();
    r.store.reset();
    r.processor.reset();
    r.up = false;
  }

  void Crash(Replica& r, const std::string& why) {
    if (!r.up) return;
    Trace("crash " + r.name + ": " + why);
    Down(r);
    ObserveReplica(r);
    After(kMs, [this, name = r.name, pid = r.pid] { Exited(name, pid); });
  }

  // The supervisor sees the exit of its own child (only if a coordinator runs).
  void Exited(const std::string& name, int32_t pid) {
    if (!arbiter_ || replicas_.at(name).pid != pid) return;  // reaped before a newer spawn
    arbiter_->OnProcessExited(name, now_);
    ExecuteArbiter();
  }

  // A process the coordinator adopted (started by its previous life) is not its child:
  // the daemon's supervisor polls whether it still runs; so does this, every tick.
  // (Found by seeds 7370 and 7902: adopted from reports sent just before both replicas
  // lost power, they were never seen to exit, so never restarted.)
  void ReapAdopted() {
    for (const auto& [name, view] : arbiter_->replicas()) {
      const Replica& r = replicas_.at(name);
      bool runs = view.pid == r.pid && (r.up || r.booting);
      if (!view.process_alive || children_.count(view.pid) || runs) continue;
      Trace("supervisor: adopted " + name + " pid " + std::to_string(view.pid) + " is gone");
      arbiter_->OnProcessExited(name, now_);
    }
  }

  // Runs fn on the replica's core and carries out what it asked for. A store failure
  // inside kills that process only. fn may run later (a paused process): it must own
  // what it uses, never refer to its caller's locals.
  void OnReplica(const std::string& name, const std::function<void(ReplicaCore&)>& fn) {
    Replica& r = replicas_.at(name);
    if (!r.up) return;
    if (r.paused_until > now_) {  // SIGSTOPped: the kernel queues it until SIGCONT
      At(r.paused_until, [this, name, fn] { OnReplica(name, fn); });
      return;
    }
    try {
      fn(*r.core);
      r.core->OnTick(now_);
      Flush(r);
    } catch (const ProcessDied& died) {
      Crash(r, died.why);
    }
  }

  void Flush(Replica& r) {
    if (!r.up) return;
    for (auto& action : r.core->TakeActions()) {
      std::visit([&](auto& a) { Do(r, a); }, action);
    }
  }

  void Do(Replica& r, Offload& a) {  // TakeActions already ran it; for completeness
    ToClient reply = a.work();
    Do(r, reply);
  }

  void Do(Replica& r, ToClient& a) {
    ClientReply reply = a.reply;
    Send(r.name, a.route, "reply " + std::to_string(reply.request_seq),
         [this, route = a.route, reply] { OnReply(route, reply); });
  }
  void Do(Replica& r, ToStandby& a) {
    auto message = std::make_shared<PeerMessage>(std::move(a.message));
    std::string from = r.name;
    Send(r.name, a.route, "to-standby", [this, to = a.route, message] {
      OnReplica(to, [this, message](ReplicaCore& c) { c.OnFromActive(*message, now_); });
    });
  }
  void Do(Replica& r, ToActive& a) {
    if (r.connected.empty()) return;
    auto message = std::make_shared<PeerMessage>(std::move(a.message));
    Send(r.name, r.connected, "to-active", [this, to = r.connected, from = r.name, message] {
      OnReplica(to,
                [this, from, message](ReplicaCore& c) { c.OnFromStandby(from, *message, now_); });
    });
  }
  void Do(Replica& r, ToCoordinator& a) {
    StatusReport status = a.status;
    Send(r.name, "coordinator", "status", [this, status] {
      if (!arbiter_) return;
      arbiter_->OnStatus(status, now_);
      ExecuteArbiter();
    });
  }
  void Do(Replica& r, ConnectActive& a) { r.connected = a.endpoint; }

  bool TickAll() {
    for (auto& [name, r] : replicas_) {
      if (r.up && r.paused_until <= now_) {
        OnReplica(name, [](ReplicaCore&) {});
      }
      ObserveReplica(r);
    }
    if (arbiter_) {
      ReapAdopted();
      arbiter_->OnTick(now_);
      if (campaign_ && !campaign_->record().Done()) campaign_->Tick(now_ / kMs);
      ExecuteArbiter();
    }
    return true;
  }

  // The replicas' own record of what they were (role, epoch, version, enabled cluster
  // version), sampled each loop turn: unlike the coordinator's view, never stale.
  void ObserveReplica(const Replica& r) {
    nlohmann::json state = {{"kind", "replica"}, {"replica", r.name}, {"alive", r.up}};
    if (r.up) {
      StatusReport s = r.core->BuildStatus(now_);
      state["role"] = s.role_path;
      state["epoch"] = s.epoch;
      state["version"] = s.version;
      state["cluster_version"] = s.cluster_version;
    }
    nlohmann::json& last = replica_state_[r.name];
    if (state == last) return;
    last = state;
    state["t_us"] = now_;
    replica_events_.push_back(std::move(state));
  }

  // Replica events from the replicas, cluster and campaign events from the coordinator.
  std::vector<nlohmann::json> History() const {
    std::vector<nlohmann::json> out = replica_events_;
    for (const auto& e : events_.kept()) {
      if (e.value("kind", "") != "replica") out.push_back(e);
    }
    std::stable_sort(out.begin(), out.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      return a.value("t_us", int64_t{0}) < b.value("t_us", int64_t{0});
    });
    return out;
  }

  // --- the coordinator -------------------------------------------------------------------

  void StartCoordinator() {
    ArbiterOptions ao;
    for (const char* name : {"a", "b"}) ao.replicas.push_back({name, name});
    ao.initial_version = kOldVersion;
    ao.max_restarts = 1000;  // the restart policy is not under test: faults may crash often
    arbiter_ = std::make_unique<Arbiter>(ao, &records_);
    children_.clear();
    Status s = arbiter_->Recover(now_);
    if (!s.ok()) violations_.push_back("coordinator: cannot recover: " + s.message());
    auto saved = records_.Get("campaign");
    if (saved.ok() && saved->has_value()) {
      auto record = CampaignFromJson(**saved);
      if (record.ok()) campaign_ = std::make_unique<Campaign>(*record, &host_, CampaignTimes());
    }
    Trace("coordinator started");
    ExecuteArbiter();
  }

  // A step that waits for something the faults made impossible (the upgraded replica
  // became the active while it synced, say) gives up after its timeout: shorter than the
  // daemons' minute so that a run settles within settle_ms.
  static CampaignOptions CampaignTimes() {
    CampaignOptions o;
    o.step_timeout_ms = 5000;
    return o;
  }

  void StopCoordinator() {
    Trace("coordinator killed");
    campaign_.reset();
    arbiter_.reset();
    for (auto& job : digest_jobs_) job.cancelled = true;
  }

  // Kills the coordinator now and starts a new one on the same record after `delay_us`.
  void RestartCoordinatorAfter(int64_t delay_us) {
    StopCoordinator();
    After(delay_us, [this] {
      if (!arbiter_) StartCoordinator();
    });
  }

  void ExecuteArbiter() {
    if (!arbiter_) return;
    if (kill_coordinator_after_persist_ && records_.writes() != writes_acted_on_) {
      // Killed between recording a decision and carrying it out.
      kill_coordinator_after_persist_ = false;
      Trace("coordinator killed after persisting, before acting");
      RestartCoordinatorAfter(coordinator_down_us_);
      return;
    }
    writes_acted_on_ = records_.writes();
    for (auto& action : arbiter_->TakeActions()) {
      if (auto* send = std::get_if<SendAssignment>(&action)) {
        Assignment a = send->assignment;
        std::string to = send->replica;
        Send("coordinator", to, "assignment e" + std::to_string(a.epoch), [this, to, a] {
          OnReplica(to, [this, a](ReplicaCore& c) { c.OnAssignment(a, now_); });
        });
      } else if (auto* start = std::get_if<StartReplica>(&action)) {
        Spawn(replicas_.at(start->replica));
      } else if (auto* stop = std::get_if<StopReplica>(&action)) {
        Replica& r = replicas_.at(stop->replica);
        if (r.up || r.booting) {  // a SIGTERM stops a process that is still starting, too
          Trace("stop " + r.name + " (reload)");
          Down(r);
          r.booting = false;
          After(kMs, [this, name = r.name, pid = r.pid] { Exited(name, pid); });
        }
      }
    }
    events_.Observe(now_, *arbiter_, campaign_ ? &campaign_->record() : nullptr);
  }

  void StartCampaign() {
    if (!arbiter_ || campaign_) return;
    CampaignRecord r;
    r.id = 1;
    r.from = kOldVersion;
    r.to = kNewVersion;
    r.soak_ms = rng_.Uniform(200, 800);
    r.auto_finalize = profile_.auto_finalize;
    r.state = "running";
    (void)records_.Put("campaign", CampaignToJson(r));
    campaign_ = std::make_unique<Campaign>(r, &host_, CampaignTimes());
    Trace("campaign started" + (profile_.variant.empty() ? "" : " (" + profile_.variant + ")"));
    if (profile_.abort > 0) {
      After(rng_.Uniform(100, 2500) * kMs, [this] {
        if (campaign_) Trace("abort: " + campaign_->Abort("aborted by the operator").message());
      });
    }
    if (!profile_.auto_finalize) {
      Every(100 * kMs, [this] {
        if (!campaign_) return true;  // the coordinator is down: try again later
        if (campaign_->record().Done()) return false;
        if (campaign_->record().state == "awaiting finalize") {
          Trace("finalize: " + campaign_->Finalize().message());
        }
        return true;
      });
    }
  }

  // The digest comparison the coordinator's worker drives (DigestComparison), driven here
  // through the simulated network: its questions and answers may be lost, delayed or
  // duplicated. A comparison without marks holds the active's writes meanwhile.
  struct DigestJob {
    DigestComparison comparison;
    std::map<uint64_t, DigestComparison::Question> asked;  // by request seq
    uint64_t timer = 0;                                    // only the latest scheduled wake-up acts
    bool cancelled = false;
  };
  static std::string ReplicaName(size_t index) { return index == 0 ? "a" : "b"; }
  void AskReplica(const std::string& to, Request q) {
    Send("coordinator", to, q.op + "?", [this, to, q] {
      OnReplica(to, [this, to, q](ReplicaCore& c) { c.OnClientRequest("host-" + to, q, now_); });
    });
  }
  void StartDigests() {
    if (!arbiter_) return;
    uint32_t schema = 2;
    bool marks = !profile_.digest_by_hold;
    for (const auto& [name, r] : replicas_) {
      auto rep = host_.Report(name);
      if (rep) schema = std::min(schema, rep->schema);
      marks = marks && rep && rep->marks;
    }
    size_t active = arbiter_->record().active == "b" ? 1 : 0;
    digest_jobs_.push_back({DigestComparison(active, schema, marks), {}, 0, false});
    PumpDigests(digest_jobs_.size() - 1);
  }
  void PumpDigests(size_t index) {
    DigestJob& job = digest_jobs_[index];
    if (job.cancelled || !arbiter_ || !campaign_) return;
    DigestComparison& c = job.comparison;
    for (auto& q : c.Next(now_ / kMs)) {
      uint64_t seq = ++digest_questions_;
      std::string to = ReplicaName(q.replica);
      AskReplica(to, {0xd16e57, seq, q.op, q.args, 0});
      job.asked.emplace(seq, std::move(q));
    }
    arbiter_->SetQuiesce(c.holding());
    if (c.verdict()) return FinishDigests(index, *c.verdict());
    int64_t delay_ms = std::clamp<int64_t>(c.wake_ms() - now_ / kMs, 1, 1000);
    uint64_t timer = ++job.timer;
    After(delay_ms * kMs, [this, index, timer] {
      if (digest_jobs_[index].timer == timer) PumpDigests(index);
    });
  }
  void OnDigestAnswer(const std::string& from, const ClientReply& reply) {
    if (digest_jobs_.empty() || digest_jobs_.back().cancelled) return;
    DigestJob& job = digest_jobs_.back();
    auto it = job.asked.find(reply.request_seq);
    if (it == job.asked.end() || ReplicaName(it->second.replica) != from) return;
    job.comparison.OnAnswer(it->second, reply.response, now_ / kMs);
    PumpDigests(digest_jobs_.size() - 1);
  }
  void FinishDigests(size_t index, const Status& result) {
    digest_jobs_[index].cancelled = true;
    if (arbiter_) arbiter_->SetQuiesce(false);
    if (campaign_) campaign_->OnWorkDone("digests", result);
  }

  // --- clients ---------------------------------------------------------------------------

  struct Client {
    int index;
    uint64_t id = 1000 + static_cast<uint64_t>(index);  // the client id its sessions are under
    uint64_t seq = 0;
    int target = 0;
    int64_t deadline = 0;
    size_t record = 0;  // index in history_ of the request in flight
    bool busy = false;
    uint64_t attempt = 0;  // bumps on each send, so a stale timeout is ignored
    uint64_t puts = 0;
  };

  std::string ClientName(const Client& c) const { return "c" + std::to_string(c.index); }

  void NextOp(Client& c) {
    if (!loading_) return;
    OpRecord op;
    op.client = c.index;
    op.seq = ++c.seq;
    if (c.seq % 2 == 1) {
      op.op = "PUT";
      op.key = "k-" + std::to_string(c.index) + "-" + std::to_string(++c.puts);
      op.value = "v" + std::to_string(c.seq);
    } else {
      op.op = "INCR";
      op.key = "ctr-" + std::to_string(c.index);
    }
    history_.push_back(op);
    c.record = history_.size() - 1;
    c.busy = true;
    c.deadline = now_ + 3000 * kMs;
    SendRequest(c);
  }

  void SendRequest(Client& c) {
    const OpRecord& op = history_[c.record];
    Request q{c.id, op.seq, op.op, {}, 0};
    q.args = op.op == "PUT" ? std::vector<std::string>{op.key, op.value}
                            : std::vector<std::string>{op.key, "1"};
    std::string to = c.target == 0 ? "a" : "b";
    std::string name = ClientName(c);
    uint64_t attempt = ++c.attempt;
    Send(name, to, op.op + " " + std::to_string(op.seq), [this, to, name, q] {
      OnReplica(to, [this, name, q, to](ReplicaCore& core) {
        Request stamped = q;
        stamped.now_ms = WallMs(to);  // the daemon stamps requests with its own wall clock
        core.OnClientRequest(name, stamped, now_);
      });
    });
    After(100 * kMs, [this, &c, attempt] {
      if (!c.busy || c.attempt != attempt) return;
      c.target = 1 - c.target;  // no answer: try the other replica, same seq
      Retry(c);
    });
  }

  void Retry(Client& c) {
    if (now_ >= c.deadline) {
      history_[c.record].outcome = OpRecord::Outcome::kInfo;
      Done(c, Rng1(1, 3));
      return;
    }
    SendRequest(c);
  }

  // The operation in flight has its outcome: the next one starts after `pause_ms`,
  // sometimes under a new client id (churn).
  void Done(Client& c, int64_t pause_ms) {
    c.busy = false;
    if (profile_.churn > 0 && rng_.Chance(profile_.churn)) {
      c.id += 1000;
      Trace(ClientName(c) + " goes on as client " + std::to_string(c.id));
    }
    After(pause_ms * kMs, [this, &c] { NextOp(c); });
  }

  void OnReply(const std::string& route, const ClientReply& reply) {
    if (route.starts_with("host-")) {  // a digest answer, routed by the replica asked
      return OnDigestAnswer(route.substr(5), reply);
    }
    if (route.empty() || route[0] != 'c') return;
    Client& c = clients_.at(std::stoi(route.substr(1)));
    if (!c.busy || reply.request_seq != history_[c.record].seq) return;
    Code code = reply.response.code;
    if (code == Code::kNotActive || code == Code::kUnavailable) {
      c.target = 1 - c.target;
      uint64_t attempt = ++c.attempt;
      After(Rng1(1, 5) * kMs, [this, &c, attempt] {
        if (c.busy && c.attempt == attempt) Retry(c);
      });
      return;
    }
    OpRecord& op = history_[c.record];
    if (code == Code::kOk) {
      op.outcome = OpRecord::Outcome::kOk;
      if (op.op == "INCR") op.value = reply.response.value;
    } else {
      op.outcome = OpRecord::Outcome::kFail;
    }
    Done(c, Rng1(0, 3));
  }

  // A replica machine's wall clock: simulated time, plus its skew and any jumps. Leases
  // and timeouts use the monotonic clock (now_), so only what processors read moves.
  int64_t WallMs(const std::string& replica) const {
    return kWallEpochMs + now_ / kMs + replicas_.at(replica).clock_offset_ms;
  }

  // --- faults ----------------------------------------------------------------------------

  // Poisson-ish: each kind of fault fires with its rate, checked every 50 ms.
  void ScheduleFaults() {
    Every(50 * kMs, [this] {
      if (!loading_) return false;
      auto roll = [&](double per_s) { return per_s > 0 && rng_.Chance(per_s * 0.05); };
      const char* victim = rng_.Chance(0.5) ? "a" : "b";
      if (roll(profile_.crash_per_s)) Crash(replicas_.at(victim), "killed (SIGKILL)");
      if (roll(profile_.pause_per_s)) {
        Replica& r = replicas_.at(victim);
        if (r.up) {
          r.paused_until = now_ + rng_.Uniform(50, 600) * kMs;
          Trace("pause " + r.name + " until " + std::to_string(r.paused_until));
        }
      }
      if (roll(profile_.partition_per_s)) Partition();
      if (roll(profile_.clock_jump_per_s)) {
        Replica& r = replicas_.at(victim);
        r.clock_offset_ms += rng_.Uniform(-3600 * 1000, 3600 * 1000);  // NTP step, either way
        Trace("clock of " + r.name + " jumps to offset " + std::to_string(r.clock_offset_ms));
      }
      if (roll(profile_.coordinator_restart_per_s) && arbiter_) {
        coordinator_down_us_ = rng_.Uniform(0, 500) * kMs;
        if (torn_rng_.Chance(0.5)) {
          kill_coordinator_after_persist_ = true;  // at its next decision, torn
        } else {
          RestartCoordinatorAfter(coordinator_down_us_);
        }
      }
      if (roll(profile_.write_error_per_s)) {
        // The disk fails writes for a while: the store's next write fails and the process
        // stops (ReplicaCore's fatal handler), as a real one does; restarts fail meanwhile.
        Replica& r = replicas_.at(victim);
        FaultSettings failing = Disk();
        failing.write_error = rng_.Chance(0.5) ? FaultSettings::WriteError::kIoError
                                               : FaultSettings::WriteError::kNoSpace;
        r.fs->Set(failing);
        Trace("disk errors on " + r.name);
        After(rng_.Uniform(20, 300) * kMs, [this, name = r.name] {
          replicas_.at(name).fs->Set(Disk());
          Trace("disk of " + name + " healed");
        });
      }
      if (roll(profile_.power_loss_per_s)) {
        // A power cut: unsynced writes are lost. Sometimes both machines at once.
        std::vector<std::string> cut = {victim};
        if (rng_.Chance(0.5)) cut = {"a", "b"};
        for (const auto& name : cut) {
          Replica& r = replicas_.at(name);
          r.fs->CutPower();
          Crash(r, "power loss");
          r.fs->RestorePower();
        }
      }
      return true;
    });
  }

  // A link (or, swizzling, several, healed in another order) cut for a while.
  void Partition() {
    static const std::vector<std::string> kLinks = {
        "a>b", "b>a", "a>coordinator", "coordinator>a", "b>coordinator", "coordinator>b"};
    int n = profile_.swizzle ? static_cast<int>(rng_.Uniform(2, 4)) : 1;
    std::vector<std::string> cut;
    for (int i = 0; i < n; ++i) {
      cut.push_back(kLinks[rng_.Uniform(0, static_cast<int64_t>(kLinks.size()) - 1)]);
      cut_.insert(cut.back());
      Trace("cut " + cut.back());
    }
    // Restored one by one, in random order.
    for (size_t i = cut.size(); i > 1; --i) std::swap(cut[i - 1], cut[rng_.Uniform(0, i - 1)]);
    int64_t at = now_;
    for (const auto& link : cut) {
      at += rng_.Uniform(50, 700) * kMs;
      At(at, [this, link] {
        cut_.erase(link);
        Trace("restore " + link);
      });
    }
  }

  // A healthy disk: unsynced writes are held in memory (a power cut drops them).
  static FaultSettings Disk() {
    FaultSettings healthy;
    healthy.power_loss = true;
    return healthy;
  }

  void HealAll() {
    Trace("heal");
    cut_.clear();
    for (auto& [name, r] : replicas_) {
      r.paused_until = 0;
      r.fs->Set(Disk());
    }
    if (!arbiter_) StartCoordinator();
  }

  // --- the end ---------------------------------------------------------------------------

  bool Busy() const {
    return std::any_of(clients_.begin(), clients_.end(), [](const Client& c) { return c.busy; });
  }

  bool Settled() {
    if (Busy() || !arbiter_) return false;
    if (campaign_ && !campaign_->record().Done()) return false;
    const ClusterRecord& rec = arbiter_->record();
    if (rec.active.empty()) return false;
    Replica& a = replicas_.at(rec.active);
    Replica& b = replicas_.at(rec.active == "a" ? "b" : "a");
    if (!a.up || !b.up || !a.core->Serving(now_)) return false;
    return b.core->role() == RoleState::kInSync &&
           a.store->meta().applied_seq == b.store->meta().applied_seq;
  }

  SimResult Judge() {
    SimResult out;
    out.seed = o_.seed;
    out.profile = profile_.Describe();
    out.simulated_us = now_;
    out.events = processed_;
    out.sessions_expired = sessions_expired_;
    for (const auto& [name, r] : replicas_) {
      if (r.core) out.sessions_expired += r.core->counters().sessions_expired;
    }
    out.violations = violations_;
    auto violation = [&](const std::string& invariant, const std::string& detail) {
      if (out.violations.size() < 20) out.violations.push_back(invariant + ": " + detail);
    };
    if (!Settled()) {
      std::string why = !arbiter_ ? "no coordinator" : "";
      if (arbiter_) {
        why = "active '" + arbiter_->record().active + "'";
        for (const auto& [name, r] : replicas_) {
          why += ", " + name +
                 (r.up ? " " + std::string(RoleStatePath(r.core->role())) + " seq " +
                             std::to_string(r.store->meta().applied_seq)
                       : " down" + (r.open_error.empty() ? "" : " (" + r.open_error + ")"));
        }
        if (campaign_) why += ", campaign " + campaign_->record().state;
        if (Busy()) why += ", clients still waiting";
      }
      violation("replicas-converge", "did not settle within " + std::to_string(o_.settle_ms) +
                                         " ms after the faults: " + why);
    }
    // Final state, straight from the active's store through its processor's schema. With
    // no serving active the data cannot be judged: the settle violation says why.
    std::map<std::string, std::string> state;
    bool judged = false;
    if (arbiter_ && !arbiter_->record().active.empty()) {
      Replica& active = replicas_.at(arbiter_->record().active);
      if (active.up) {
        judged = true;
        for (const auto& op : history_) {
          auto v = active.store->Get(op.key);
          if (v.ok() && v->has_value())
            state[op.key] = Decode(op.key, **v, active.store->meta().schema);
        }
      }
      Replica& other = replicas_.at(arbiter_->record().active == "a" ? "b" : "a");
      if (Settled()) {
        auto da = active.store->Digest();
        auto db = other.store->Digest();
        if (da.ok() && db.ok() && (da->digest != db->digest || da->keys != db->keys)) {
          violation("replicas-converge",
                    "digests differ at seq " + std::to_string(da->applied_seq));
        }
      }
    }
    std::map<int, std::pair<uint64_t, uint64_t>> counters;  // client -> (ok, unknown)
    std::map<int, int64_t> last_returned;
    for (const auto& op : history_) {
      using O = OpRecord::Outcome;
      if (op.outcome == O::kOk) ++out.ops_ok;
      if (op.outcome == O::kFail) ++out.ops_fail;
      if (op.outcome == O::kInfo || op.outcome == O::kPending) ++out.ops_info;
      if (!judged) continue;
      if (op.op == "INCR") {
        auto& [ok, unknown] = counters[op.client];
        if (op.outcome == O::kInfo || op.outcome == O::kPending) ++unknown;
        if (op.outcome != O::kOk) continue;
        ++ok;
        int64_t v = std::stoll(op.value);
        if (v - last_returned[op.client] > 1 + static_cast<int64_t>(unknown)) {
          violation("double-applied", "client " + std::to_string(op.client) + " INCR returned " +
                                          op.value + " after " +
                                          std::to_string(last_returned[op.client]));
        }
        last_returned[op.client] = v;
        continue;
      }
      auto it = state.find(op.key);
      bool visible = it != state.end() && it->second == op.value;
      if (op.outcome == O::kOk && !visible) violation("lost-writes", "acknowledged PUT " + op.key);
      if (op.outcome == O::kFail && it != state.end()) {
        violation("phantom-writes", "failed PUT " + op.key + " is visible");
      }
    }
    for (const auto& [client, c] : counters) {
      auto it = state.find("ctr-" + std::to_string(client));
      int64_t v = it == state.end() ? 0 : std::stoll(it->second);
      if (v < static_cast<int64_t>(c.first)) {
        violation("lost-writes", "counter of client " + std::to_string(client) + " is " +
                                     std::to_string(v) + " after " + std::to_string(c.first) +
                                     " acknowledged increments");
      }
      if (v > static_cast<int64_t>(c.first + c.second)) {
        violation("double-applied",
                  "counter of client " + std::to_string(client) + " is " + std::to_string(v));
      }
    }
    std::vector<nlohmann::json> history = History();
    for (const auto& v : CheckEpochs(history)) violation("one-active-per-epoch", v);
    for (const auto& v : CheckFeatureGate(history)) violation("feature-gate", v);
    out.campaign = "none";
    if (campaign_) {
      out.campaign = campaign_->record().state;
      if (!campaign_->record().Done()) violation("campaign-outcome", "never ended");
    }
    Trace("end: " + std::to_string(out.violations.size()) + " violation(s)");
    out.trace_hash = trace_hash_;
    out.trace = std::move(trace_);
    return out;
  }

  // A stored value as the client wrote it: schema 2 records carry an expiry first.
  static std::string Decode(const std::string& key, const std::string& raw, uint32_t schema) {
    if (schema < 2) return raw;
    auto record = kv::DecodeRecord(key, raw);
    return record.ok() ? record->value : "<undecodable: " + record.status().message() + ">";
  }

  const SimOptions& o_;
  Rng rng_;
  // Whether a coordinator restart is torn (killed between persisting and acting): its own
  // stream, so that the seeds draw everything else as they did before it existed.
  Rng torn_rng_;
  // The profile's later knobs (Profile::Draw). Its seed's constant is one under which the
  // regression seeds of simulation_test draw none of them, and so keep their traces.
  Rng knob_rng_;
  Profile profile_;
  Host host_;
  std::unique_ptr<rocksdb::Env> env_;
  std::map<std::string, Replica> replicas_;
  MemoryRecordStore records_;
  std::unique_ptr<Arbiter> arbiter_;
  std::set<int32_t> children_;  // pids the running coordinator spawned (the rest: adopted)
  bool kill_coordinator_after_persist_ = false;
  uint64_t writes_acted_on_ = 0;  // records_.writes() when the coordinator last acted
  int64_t coordinator_down_us_ = 0;
  std::unique_ptr<Campaign> campaign_;
  EventLog events_;
  std::map<std::string, nlohmann::json> replica_state_;
  std::vector<nlohmann::json> replica_events_;
  std::vector<DigestJob> digest_jobs_;
  uint64_t digest_questions_ = 0;
  std::vector<Client> clients_;
  uint64_t sessions_expired_ = 0;  // by processes gone; Judge adds the live ones
  std::vector<OpRecord> history_;
  std::set<std::string> cut_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  int64_t now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t processed_ = 0;
  int32_t next_pid_ = 100;
  bool loading_ = true;
  bool ack_before_replication_ = false;
  bool enable_flags_early_ = false;
  uint64_t trace_hash_ = 14695981039346656037ull;
  std::string trace_;
  std::vector<std::string> violations_;
};

// --- Host --------------------------------------------------------------------------------

std::string Host::ActiveName() const { return w_->arbiter_->record().active; }
std::string Host::OtherName(const std::string& replica) const { return replica == "a" ? "b" : "a"; }
std::optional<StatusReport> Host::Report(const std::string& replica) const {
  return w_->arbiter_->RecentReport(replica, w_->now_);
}
bool Host::InSync(const std::string& replica) const {
  return w_->arbiter_->StandbyInSync(replica, w_->now_);
}
std::string Host::AssignedVersion(const std::string& replica) const {
  return w_->arbiter_->VersionOf(replica);
}
uint64_t Host::Starts(const std::string& replica) const {
  const auto& views = w_->arbiter_->replicas();
  auto it = views.find(replica);
  return it == views.end() ? 0 : it->second.starts;
}
void Host::Persist(const CampaignRecord& record) {
  (void)w_->records_.Put("campaign", CampaignToJson(record));
  w_->Trace("campaign " + record.state + " " + record.phase);
}
void Host::Isolate(const std::string& replica, bool isolated) {
  w_->arbiter_->SetIsolated(replica, isolated);
}
void Host::Reload(const std::string& replica, const std::string& version) {
  w_->arbiter_->SetReplicaVersion(replica, version);
  if (w_->enable_flags_early_) w_->arbiter_->SetClusterVersion(version);
}
Status Host::Switchover() { return w_->arbiter_->RequestSwitchover(w_->now_, true); }
void Host::SetClusterVersion(const std::string& version) {
  w_->arbiter_->SetClusterVersion(version);
}
void Host::SetLock(bool held) { w_->arbiter_->SetLock(held); }
void Host::StartWork(const std::string& kind) {
  if (kind == "digests") return w_->StartDigests();
  // Verify and backup touch files the simulation does not have: they succeed.
  w_->After(kMs, [w = w_, kind] {
    if (w->campaign_) w->campaign_->OnWorkDone(kind, Status::Ok());
  });
}

}  // namespace

SimResult Simulate(const SimOptions& options) {
  InstallFatalHandler();
  World world(options);
  try {
    return world.Run();
  } catch (const AssertionFailed& failed) {
    SimResult out;
    out.seed = options.seed;
    out.violations.push_back("assertion: " + failed.what);
    return out;
  }
}

std::string ReplayCommand(uint64_t seed) {
  return "build/duplex sim --seed " + std::to_string(seed) + " --trace";
}

}  // namespace duplex::sim
