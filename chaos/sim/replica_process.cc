#include "chaos/sim/replica_process.h"

#include <algorithm>
#include <variant>

#include "chaos/sim/fatal_handler.h"
#include "examples/kv/kv_processor.h"

namespace duplex::sim {
namespace {

constexpr int64_t kWallEpochMs = 1'800'000'000'000;       // the processors' wall clock at t=0
constexpr uint64_t kCompactionStream = 0x636f6d70616374;  // "compact": its Rng's seed salt

}  // namespace

FaultSettings HealthyDisk() {
  FaultSettings healthy;
  healthy.power_loss = true;
  return healthy;
}

Processes::Processes(SimContext& sim, Network& network, ProcessListener* listener)
    : sim_(sim),
      network_(network),
      listener_(listener),
      compaction_rng_(sim.options.seed ^ kCompactionStream) {
  env_.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
  for (const char* name : {"a", "b"}) {
    Replica& r = replicas_[name];
    r.name = name;
    r.fs = std::make_shared<FaultFileSystem>(env_->GetFileSystem(), "");
    r.fs->Set(HealthyDisk());
    r.trip = std::make_shared<PowerTrip>(r.fs);
    r.env = rocksdb::NewCompositeEnv(r.trip);
    network_.Place(name, HostOf(name));
  }
}

Processes::~Processes() {
  for (auto& [name, r] : replicas_) Down(r);
}

bool Processes::Running(const std::string& name) const {
  const Replica& r = replicas_.at(name);
  return r.up || r.booting;
}

int32_t Processes::Spawn(const std::string& name, const std::string& version) {
  Replica& r = replicas_.at(name);
  r.booting = true;
  r.pid = ++next_pid_;
  r.version = version;
  sim_.queue.After(sim_.rng.Uniform(5, 40) * kMs,
                   [this, name, pid = r.pid] { Boot(replicas_.at(name), pid); });
  return r.pid;
}

void Processes::Boot(Replica& r, int32_t pid) {
  if (r.pid != pid || !r.booting) return;    // stopped while it started
  if (frozen_until_[r.name] > sim_.now()) {  // its host is frozen: it starts at the thaw
    sim_.queue.At(frozen_until_[r.name], [this, name = r.name, pid] { Boot(at(name), pid); });
    return;
  }
  r.booting = false;
  std::string variant = r.version == kNewVersion ? sim_.profile.variant : "";
  sim_.trace.Line("start " + r.name + " " + r.version + (variant.empty() ? "" : "-" + variant) +
                  " pid " + std::to_string(r.pid));
  if (variant == "crash") {  // the release exits at start
    ExitLater(r);
    return;
  }
  if (!OpenStore(r)) return;
  r.processor = kv::MakeKvProcessor(r.version, variant);
  ReplicaOptions ro;
  ro.name = ro.endpoint = r.name;
  ro.async = sim_.Has(Mutant::kAckBeforeReplication);
  ro.pid = r.pid;
  if (sim_.Has(Mutant::kSkipEpochCheck)) ro.tail_resumes = &TailResumesInAnyEpoch;
  ApplyReadMutants(sim_.options.mutants, &ro);
  if (sim_.profile.session_expiry_ms > 0) ro.session_expiry_ms = sim_.profile.session_expiry_ms;
  r.core = std::make_unique<ReplicaCore>(ro, r.store.get(), r.processor.get());
  r.up = true;
  r.paused_until = 0;
  r.connected.clear();
  Flush(r);
  ScheduleCompaction(r);
}

// Opens the replica's store on its disk; a store that does not open ends the process.
bool Processes::OpenStore(Replica& r) {
  StoreOptions so;
  so.path = "/sim/" + r.name;
  so.sync = !sim_.Has(Mutant::kSkipFsync);
  so.env = r.env.get();
  // RocksDB starts no work on its own threads, whose timing the simulator does not
  // control (a compaction racing an injected write error or power cut made runs differ
  // between two tries): no automatic compactions, and memtables no simulated run fills.
  // The simulator flushes and compacts itself, at times drawn from the seed (Compact).
  so.auto_compaction = false;
  so.memtable_bytes = 64 << 20;
  so.info_log = false;
  // Cheaper where nothing under test depends on it (StoreOptions says why each).
  so.compress = false;
  so.file_opening_threads_max = 1;
  auto store = Store::Open(so);
  r.open_error = store.ok() ? "" : store.status().message();
  if (!store.ok()) {
    sim_.trace.Line("store " + r.name + ": " + r.open_error);
    ExitLater(r);
    return false;
  }
  r.store = std::move(store).value();
  return true;
}

void Processes::Down(Replica& r) {
  if (r.core) sessions_expired_ += r.core->counters().sessions_expired;
  r.core.reset();
  r.store.reset();
  r.processor.reset();
  r.up = false;
}

// The process's exit reaches its supervisor a moment later.
void Processes::ExitLater(const Replica& r) {
  sim_.queue.After(kMs, [this, name = r.name, pid = r.pid] { listener_->OnExited(name, pid); });
}

void Processes::Stop(const std::string& name) {
  Replica& r = replicas_.at(name);
  if (!r.up && !r.booting) return;  // a SIGTERM stops a process that is still starting, too
  sim_.trace.Line("stop " + r.name + " (reload)");
  Down(r);
  r.booting = false;
  ExitLater(r);
}

void Processes::Crash(Replica& r, const std::string& why) {
  if (!r.up) return;
  sim_.trace.Line("crash " + r.name + ": " + why);
  Down(r);
  Observe(r);
  ExitLater(r);
}

void Processes::Kill(Replica& r, const std::string& why) {
  if (r.up) return Crash(r, why);
  if (!r.booting) return;
  sim_.trace.Line("crash " + r.name + " while starting: " + why);
  r.booting = false;
  ExitLater(r);
}

void Processes::Freeze(Replica& r, int64_t until_us) {
  frozen_until_[r.name] = std::max(frozen_until_[r.name], until_us);
  if (r.up) r.paused_until = std::max(r.paused_until, until_us);
}

void Processes::Thaw(Replica& r) {
  frozen_until_.erase(r.name);
  r.paused_until = 0;
}

void Processes::OnReplica(const std::string& name, const std::function<void(ReplicaCore&)>& fn) {
  Replica& r = replicas_.at(name);
  if (!r.up) return;
  if (r.paused_until > sim_.now()) {  // SIGSTOPped: the kernel queues it until SIGCONT
    sim_.queue.At(r.paused_until, [this, name, fn] { OnReplica(name, fn); });
    return;
  }
  try {
    fn(*r.core);
    r.core->OnTick(sim_.now());
    Flush(r);
  } catch (const ProcessDied& died) {
    Crash(r, died.why);
  }
}

void Processes::Tick() {
  for (auto& [name, r] : replicas_) {
    if (r.up && r.paused_until <= sim_.now()) {
      OnReplica(name, [](ReplicaCore&) {});
    }
    Observe(r);
  }
}

void Processes::HealAll() {
  faults_stopped_ = true;
  frozen_until_.clear();
  for (auto& [name, r] : replicas_) {
    r.paused_until = 0;
    r.fs->Set(HealthyDisk());
  }
}

int64_t Processes::WallMs(const std::string& replica) const {
  return kWallEpochMs + sim_.now() / kMs + replicas_.at(replica).clock_offset_ms;
}

uint64_t Processes::SessionsExpired() const {
  uint64_t out = sessions_expired_;
  for (const auto& [name, r] : replicas_) {
    if (r.core) out += r.core->counters().sessions_expired;
  }
  return out;
}

// Sampled each loop turn and at each crash; an event only when something changed. The
// sample reads the core's fields directly: BuildStatus, each turn for each replica, took a
// tenth of a run (its latency percentile sorts the recent samples).
void Processes::Observe(const Replica& r) {
  Observed now;
  now.alive = r.up;
  if (r.up) {
    now.role = RoleStatePath(r.core->role());
    now.epoch = r.core->epoch();
    now.version = r.processor->Version();
    now.cluster_version = r.core->features().cluster_version();
  }
  std::optional<Observed>& last = replica_state_[r.name];
  if (last == now) return;
  last = now;
  nlohmann::json event = {{"kind", "replica"}, {"replica", r.name}, {"alive", r.up}};
  if (r.up) {
    event["role"] = now.role;
    event["epoch"] = now.epoch;
    event["version"] = now.version;
    event["cluster_version"] = now.cluster_version.ToString();
  }
  event["t_us"] = sim_.now();
  replica_events_.push_back(std::move(event));
}

// A store's flushes and compactions, which RocksDB would run on its own threads at times
// of its choosing, run here as events at times drawn from the seed, and the simulator
// waits for each to end: so a crash, a power cut or a disk error may follow any of them,
// a write error may hit one, and in a run with power cuts some fall inside one, at one of
// its first disk changes. A flush or compaction that fails ends the process, as the
// failed background job would end a replica at its next write (ending it at once keeps
// RocksDB's own error recovery, on a thread of its own, out of the run).
void Processes::ScheduleCompaction(const Replica& r) {
  sim_.queue.After(compaction_rng_.Uniform(100, 400) * kMs,
                   [this, name = r.name, pid = r.pid] { Compact(name, pid); });
}

void Processes::Compact(const std::string& name, int32_t pid) {
  // The chance a power cut falls inside a flush or compaction: a twentieth of them at one
  // power cut a second (the most a profile draws is 0.3), none in runs without power cuts.
  // (At a fifth, the regression seeds of simulation_test lost the events they test.)
  const double power_cut_chance = 0.05 * std::min(1.0, sim_.profile.power_loss_per_s);
  Replica& r = replicas_.at(name);
  if (!r.up || r.pid != pid) return;  // that process ended; its successor has its own
  if (r.paused_until > sim_.now()) {  // stopped: so are RocksDB's threads
    sim_.queue.At(r.paused_until, [this, name, pid] { Compact(name, pid); });
    return;
  }
  const bool full = compaction_rng_.Chance(0.25);
  const std::string what = full ? "compaction" : "flush";
  sim_.trace.Line("store " + name + ": " + what);
  if (!faults_stopped_ && power_cut_chance > 0 && compaction_rng_.Chance(power_cut_chance)) {
    r.trip->Arm(compaction_rng_.Uniform(1, 40));
  }
  Status s = r.store->FlushAndCompact(full);
  if (r.trip->Disarm()) {
    sim_.trace.Line("power cut during the " + what + " of " + name);
    ++compaction_power_cuts_;
    Crash(r, "power loss");
    r.fs->RestorePower();
    return;
  }
  if (!s.ok()) return Crash(r, "store: " + s.message());
  ScheduleCompaction(r);
}

// --- what a core asks for ----------------------------------------------------------------

void Processes::Flush(Replica& r) {
  if (!r.up) return;
  for (auto& action : r.core->TakeActions()) {
    std::visit([&](auto& a) { Do(r, a); }, action);
  }
}

void Processes::Do(Replica& r, Offload& a) {  // TakeActions already ran it; for completeness
  ToClient reply = a.work();
  Do(r, reply);
}

void Processes::Do(Replica& r, ToClient& a) {
  if (auto* admin = std::get_if<AdminReply>(&a.reply)) {
    AdminReply reply = *admin;
    return network_.Send(r.name, a.route, "reply " + std::to_string(reply.id),
                         [this, route = a.route, reply] { listener_->OnAdminReply(route, reply); });
  }
  ClientReply reply = std::get<ClientReply>(a.reply);
  network_.Send(r.name, a.route, "reply " + std::to_string(reply.request_seq),
                [this, route = a.route, reply] { listener_->OnReply(route, reply); });
}

void Processes::Do(Replica& r, ToStandby& a) {
  auto message = std::make_shared<PeerMessage>(std::move(a.message));
  network_.Send(r.name, a.route, "to-standby", [this, to = a.route, message] {
    OnReplica(to, [this, message](ReplicaCore& c) { c.OnFromActive(*message, sim_.now()); });
  });
}

void Processes::Do(Replica& r, ToActive& a) {
  if (r.connected.empty()) return;
  auto message = std::make_shared<PeerMessage>(std::move(a.message));
  network_.Send(r.name, r.connected, "to-active", [this, to = r.connected, from = r.name, message] {
    OnReplica(
        to, [this, from, message](ReplicaCore& c) { c.OnFromStandby(from, *message, sim_.now()); });
  });
}

void Processes::Do(Replica& r, ToCoordinator& a) {
  StatusReport status = a.status;
  for (const std::string& host : sim_.coordinator_hosts) {
    const std::string node = CoordinatorNode(host);
    network_.Send(r.name, node, "status",
                  [this, node, status] { listener_->OnStatus(node, status); });
  }
}

void Processes::Do(Replica& r, ConnectActive& a) { r.connected = a.endpoint; }

}  // namespace duplex::sim
