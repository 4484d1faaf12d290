#include "replica/replica_core.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "common/assert.h"

namespace duplex {
namespace {

// The replicated key space as the processor sees it, for its self-check.
class StoreReader final : public StateReader {
 public:
  explicit StoreReader(const Store* store) : store_(store) {}
  StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    return store_->Get(key);
  }

 private:
  const Store* store_;
};

}  // namespace

ReplicaCore::ReplicaCore(ReplicaOptions options, Store* store, Processor* processor)
    : options_(std::move(options)),
      store_(store),
      processor_(processor),
      machine_(this),
      features_(processor->Features(), Version{}) {
  CheckStoreMeta();
  processor_->RegisterConverters(converters_);
  // Features are on only up to the cluster version the coordinator announced; a replica
  // never turns one on by itself, so a fresh replica starts with none.
  ApplyClusterVersion(store_->meta().cluster_version);
  const StoreMeta& meta = store_->meta();
  if (meta.schema != processor_->Schema()) {
    if (meta.applied_seq == 0 && !meta.snapshot_incomplete) {
      Status s = store_->SetSchema(processor_->Schema());
      if (!s.ok()) Fatal(s);
    } else {
      // Reloaded with another version on the same data: resync (converted) before serving.
      follower_.NeedResync();
      spdlog::info("stored state is schema {}, this version speaks {}: full resync needed",
                   meta.schema, processor_->Schema());
    }
  }
}

void ReplicaCore::CheckStoreMeta() const {
  // What a replica starts from: the stored metadata agrees with itself.
  const StoreMeta& meta = store_->meta();
  DUPLEX_ASSERT(meta.applied_epoch <= meta.epoch, "applied epoch", meta.applied_epoch, "epoch",
                meta.epoch);
  DUPLEX_ASSERT(!meta.snapshot_incomplete || meta.applied_seq == 0,
                "a half-installed snapshot has no applied seq", meta.applied_seq);
}

void ReplicaCore::ApplyClusterVersion(const std::string& version) {
  if (version.empty()) return;
  auto parsed = ParseVersion(version);
  if (!parsed.ok()) {
    Refuse("cluster version: " + parsed.status().message());
    return;
  }
  if (*parsed < features_.cluster_version()) {
    // After finalize the cluster never goes back: an older announcement is stale.
    Refuse("cluster version " + version + " is below " + features_.cluster_version().ToString());
    return;
  }
  if (version != store_->meta().cluster_version) {
    Status s = store_->SetClusterVersion(version);
    if (!s.ok()) Fatal(s);
    spdlog::info("cluster version {}", version);
  }
  DUPLEX_ASSERT(store_->meta().cluster_version == version,
                "the cluster version is durable before features follow it", version);
  features_ = FeatureSet(processor_->Features(), *parsed);
}

void ReplicaCore::Emit(Action action) {
  if (sink_ != nullptr) {
    sink_->Do(std::move(action));
  } else if (auto* offload = std::get_if<Offload>(&action)) {
    actions_.push_back(offload->work());  // no I/O layer, no other thread: now
  } else {
    actions_.push_back(std::move(action));
  }
}

void ReplicaCore::Commit(const std::vector<Delta>& deltas) {
  DUPLEX_ASSERT(!deltas.empty(), "a commit has deltas");
  DUPLEX_ASSERT(deltas.front().seq == store_->meta().applied_seq + 1,
                "a committed delta's seq is the last plus one", deltas.front().seq,
                store_->meta().applied_seq);
  DUPLEX_ASSERT(deltas.back().epoch <= epoch(), "deltas committed carry an epoch we adopted",
                deltas.back().epoch, epoch());
  if (sink_ != nullptr) sink_->Flush();
  Status s = store_->Append(deltas);
  if (!s.ok()) Fatal(s);
  DUPLEX_ASSERT(store_->meta().applied_seq == deltas.back().seq, "the store applied them all",
                store_->meta().applied_seq, deltas.back().seq);
  counters_.deltas_committed += deltas.size();
  ++counters_.group_commits;
}

std::vector<Action> ReplicaCore::TakeActions() {
  std::vector<Action> out;
  out.swap(actions_);
  return out;
}

void ReplicaCore::Refuse(const std::string& why) {
  uint64_t n = ++counters_.refused_frames;
  if (n <= 100 || n % 1000 == 0) spdlog::warn("refused frame #{}: {}", n, why);
}

void ReplicaCore::Adopt(uint64_t epoch) {
  DUPLEX_ASSERT(epoch >= this->epoch(), "epochs only grow", epoch, this->epoch());
  Status s = store_->AdoptEpoch(epoch);
  if (!s.ok()) Fatal(s);
  DUPLEX_ASSERT(this->epoch() == epoch, "the fence is raised", this->epoch(), epoch);
}

bool ReplicaCore::EpochWithinStep(uint64_t seen, const char* what, uint64_t* refused) {
  if (!BeyondStep(seen, epoch(), options_.epoch_step_max)) return true;
  uint64_t n = ++*refused;
  if (n <= 100 || n % 1000 == 0) {
    spdlog::warn("{}: epoch {} refused, more than {} above ours ({}); not adopted", what, seen,
                 options_.epoch_step_max, epoch());
  }
  return false;
}

bool ReplicaCore::AssignmentWithinStep(const Assignment& a) {
  if (!EpochWithinStep(a.epoch, "assignment", &counters_.epochs_refused_assignment)) return false;
  // The coordinator's sync id is the highest solo request of ours it processed in this
  // epoch (0 in a new one): at most a step above our own latest request. A restarted active
  // takes it as its own (ActiveTerm::BeginTerm), and a wrapped id would end the protocol.
  const uint64_t known = a.epoch == epoch() ? active_.solo_request_id() : 0;
  if (!BeyondStep(a.sync_id, known, options_.epoch_step_max) &&
      !BeyondStep(a.solo_grant_id, known, options_.epoch_step_max)) {
    return true;
  }
  uint64_t n = ++counters_.ids_refused_assignment;
  if (n <= 100 || n % 1000 == 0) {
    spdlog::warn("assignment: sync id {} (solo grant {}) refused, more than {} above {}", a.sync_id,
                 a.solo_grant_id, options_.epoch_step_max, known);
  }
  return false;
}

void ReplicaCore::LearnEpoch(uint64_t seen) {
  if (seen <= epoch()) return;
  // Someone knows a newer history. An active (or promoting replica) of an older epoch is
  // deposed; anyone else only remembers the epoch and waits for its own assignment.
  ++counters_.stale_epoch_frames;
  Adopt(seen);
  if (IsActive(role()) || role() == RoleState::kPromoting) machine_.TakeOutOfService();
  DUPLEX_ASSERT(!IsActive(role()), "an active of an older epoch is deposed", RoleStatePath(role()));
}

ToClient ReplicaCore::MakeReply(const std::string& route, const Request& request,
                                Response response) const {
  std::string hint = IsActive(role()) ? options_.endpoint : assignment_.peer_endpoint;
  return ToClient{route, ClientReply{request.client_id, request.request_seq, std::move(response),
                                     epoch(), std::move(hint)}};
}

void ReplicaCore::ReplyNotActive(const std::string& route, const Request& request) {
  Emit(MakeReply(route, request,
                 {Code::kNotActive,
                  std::string("replica ") + options_.name + " is " + RoleStatePath(role()), ""}));
}

void ReplicaCore::OnClientRequest(std::string route, Request request, int64_t now_us) {
  now_us_ = now_us;
  if (request.op.starts_with("_")) {
    return Emit(MakeReply(route, request,
                          {Code::kInvalidArgument,
                           "'" + request.op +
                               "': admin operations are taken only as AdminRequest frames "
                               "(the admin path)",
                           ""}));
  }
  if (!IsActive(role()) || assignment_.drain) {
    if (active_.AnswerUnleasedRead(route, request)) return;
    return ReplyNotActive(route, request);
  }
  active_.Enqueue(std::move(route), std::move(request));
}

void ReplicaCore::OnAdminRequest(std::string route, AdminRequest request, int64_t now_us) {
  now_us_ = now_us;
  // Whole-state work leaves the event loop (Offload): on a million keys it takes longer
  // than a lease. What it reads is fixed here: a snapshot, or RocksDB's own checkpoint.
  if (request.op == AdminOp::kCheckpoint) return digests_.OnCheckpoint(route, request);
  digests_.OnRequest(route, request, now_us, active_, follower_.reached_seq());
}

void ReplicaCore::OnFromStandby(std::string route, PeerMessage message, int64_t now_us) {
  now_us_ = now_us;
  active_.OnFromStandby(route, message, now_us);
}

void ReplicaCore::OnFromActive(PeerMessage message, int64_t now_us) {
  now_us_ = now_us;
  if (!IsStandby(role())) {
    Refuse("a message for the standby while " + std::string(RoleStatePath(role())));
    return;
  }
  follower_.OnFromActive(message, now_us);
}

bool ReplicaCore::FollowsCoordinatorTerm(const Assignment& a) {
  // Term 0 is the embedded coordinator, which has no rival to be deposed by: always taken.
  if (a.coordinator_term == 0) return true;
  if (a.coordinator_term >= coordinator_term_) {
    if (a.coordinator_term > coordinator_term_ && coordinator_term_ != 0) {
      spdlog::info("coordinator term {} (was {})", a.coordinator_term, coordinator_term_);
    }
    coordinator_term_ = a.coordinator_term;
    return true;
  }
  // A deposed leader that has not noticed yet: its view of the pair is older than the one
  // the new leader acts on, so nothing it says is taken.
  ++counters_.stale_term_assignments;
  if (refused_term_logged_ != a.coordinator_term) {
    refused_term_logged_ = a.coordinator_term;
    spdlog::warn("ignoring assignments of coordinator term {}: term {} leads", a.coordinator_term,
                 coordinator_term_);
  }
  return false;
}

void ReplicaCore::OnAssignment(const Assignment& a, int64_t now_us) {
  now_us_ = now_us;
  if (!AssignmentWithinStep(a) || !FollowsCoordinatorTerm(a)) return;
  DUPLEX_ASSERT(a.coordinator_term == 0 || a.coordinator_term == coordinator_term_,
                "an assignment taken is of the highest term", a.coordinator_term,
                coordinator_term_);
  if (a.epoch < epoch()) {
    ++counters_.stale_epoch_frames;
    return;
  }
  bool new_epoch = a.epoch > epoch();
  std::string old_peer = assignment_.peer_endpoint;
  assignment_ = a;
  if (new_epoch) Adopt(a.epoch);
  ApplyClusterVersion(a.cluster_version);  // flags travel with the coordinator's epoch
  switch (a.role) {
    case WireRole::kOutOfService:
      machine_.TakeOutOfService();
      break;
    case WireRole::kStandby:
      if (IsActive(role()) && !new_epoch) {
        // Only a higher epoch deposes an active.
        Refuse("assignment: standby at the epoch I am active in (" + std::to_string(a.epoch) + ")");
      } else if (new_epoch || !IsStandby(role()) || old_peer != a.peer_endpoint) {
        machine_.BecomeStandby();
      }
      break;
    case WireRole::kActive:
      if (store_->meta().snapshot_incomplete) {
        // No state of its own (a snapshot cut off, or a store found corrupt at rest): as
        // the active it would serve an empty or partial key space as if it were the data.
        // The coordinator promotes only a healthy replica; this is the last line.
        Refuse("assignment: active refused: the stored state is incomplete until a resync");
        return;
      }
      if (!active_.OnAssignment(a, now_us, follower_.last_renewal_us())) return;
      break;
  }
  if (new_epoch) SendStatus();
}

void ReplicaCore::OnRoleEntered(RoleState state) {
  DUPLEX_ASSERT(state == role(), "the machine entered the state it reports", RoleStatePath(state),
                RoleStatePath(role()));
  if (!IsStandby(state)) follower_.Leave(now_us_);
  switch (state) {
    case RoleState::kOutOfService:
    case RoleState::kPromoting:
      active_.End("this replica stopped being active");
      Emit(ConnectActive{"", ""});
      break;
    case RoleState::kCatchingUp:
      active_.End("this replica became a standby");
      follower_.SayHello(now_us_);
      break;
    case RoleState::kInSync:
    case RoleState::kReplicating:
    case RoleState::kSolo:
      break;
  }
  SendStatus();
}

void ReplicaCore::OnTick(int64_t now_us) {
  now_us_ = now_us;
  follower_.CommitIncoming(now_us);
  if (role() == RoleState::kPromoting) active_.OnPromotingTick(now_us);
  if (IsActive(role())) {
    active_.OnTick(now_us);
    // A drained active tells the coordinator at once, not at its next heartbeat: a planned
    // switchover waits for this report (it took 0-20 ms more, one heartbeat at random).
    if (active_.Demoted() != reported_demoted_) SendStatus();
  } else if (IsStandby(role())) {
    follower_.OnTick(now_us);
  }
  if (now_us - last_status_us_ >= options_.heartbeat_ms * 1000) {
    StoreReader reader(store_);
    Status check = processor_->SelfCheck(reader);
    self_check_ = check.ok() ? "" : "self-check: " + check.message();
    SendStatus();
  }
}

void ReplicaCore::SendStatus() {
  StatusReport status = BuildStatus(now_us_);
  reported_demoted_ = status.demoted;
  Emit(ToCoordinator{std::move(status)});
  last_status_us_ = now_us_;
}

StatusReport ReplicaCore::BuildStatus(int64_t now_us) const {
  StatusReport s;
  s.replica = options_.name;
  s.pid = options_.pid != 0 ? options_.pid : static_cast<int32_t>(::getpid());
  s.version = processor_->Version();
  s.schema = processor_->Schema();
  RoleState r = role();
  s.role = IsStandby(r)                                  ? WireRole::kStandby
           : (IsActive(r) || r == RoleState::kPromoting) ? WireRole::kActive
                                                         : WireRole::kOutOfService;
  s.role_path = RoleStatePath(r);
  const StoreMeta& meta = store_->meta();
  s.epoch = meta.epoch;
  s.applied_epoch = meta.applied_epoch;
  s.applied_seq = meta.applied_seq;
  s.sent_us = now_us;
  s.in_sync = r == RoleState::kInSync;
  s.follows_active = IsStandby(r) && follower_.FollowsActive(now_us);
  Health h = processor_->CheckHealth();
  bool needs_resync = follower_.needs_resync();
  s.healthy = h.healthy && !meta.snapshot_incomplete && !needs_resync && self_check_.empty();
  if (meta.snapshot_incomplete && !options_.store_corrupt.empty()) {
    s.store_corrupt = options_.store_corrupt;
    s.health_detail = "store corrupt at rest (" + options_.store_corrupt +
                      "): no state until a full resync from the peer";
  } else if (meta.snapshot_incomplete) {
    s.health_detail = "snapshot install incomplete";
  } else if (needs_resync) {
    s.health_detail = "state in schema " + std::to_string(meta.schema) + ", resync needed";
  } else {
    s.health_detail = self_check_.empty() ? h.detail : self_check_;
  }
  s.requests_total = counters_.requests_answered;
  s.server_errors_total = counters_.server_errors;
  s.latency_p99_us = active_.LatencyP99Us(now_us);
  s.needs_resync = needs_resync;
  s.veto_reason = processor_->VetoUpgrade();
  s.cluster_version = features_.cluster_version().ToString();
  s.promoted_ready = IsActive(r);
  if (IsActive(r)) {
    active_.FillStatus(s);
    s.lease_lost_ms = static_cast<uint64_t>(active_.LeaseLostUs(now_us) / 1000);
    s.peer_silent_ms = static_cast<uint64_t>(active_.PeerSilentUs(now_us) / 1000);
  }
  s.holds = true;  // capabilities of this release, whatever the role
  s.marks = true;
  s.admin_frames = true;
  s.refused_frames = counters_.refused_frames;
  s.stale_epoch_frames = counters_.stale_epoch_frames;
  s.stale_term_assignments = counters_.stale_term_assignments;
  s.coordinator_term = coordinator_term_;
  return s;
}

}  // namespace duplex
