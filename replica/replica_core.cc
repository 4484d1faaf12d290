#include "replica/replica_core.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

namespace duplex {

ReplicaCore::ReplicaCore(ReplicaOptions options, Store* store, Processor* processor)
    : options_(std::move(options)),
      store_(store),
      processor_(processor),
      machine_(this),
      features_(processor->Features(), Version{}) {
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
      needs_resync_ = true;
      spdlog::info("stored state is schema {}, this version speaks {}: full resync needed",
                   meta.schema, processor_->Schema());
    }
  }
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
  features_ = FeatureSet(processor_->Features(), *parsed);
}

StatusOr<StateDigest> ReplicaCore::DigestOf(SnapshotCursor& cursor, uint32_t from,
                                            uint32_t to) const {
  // The same FNV-1a as Store::Digest, over entries converted to `to`, in key order
  // (conversion keeps keys, so the order is the same).
  StateDigest out;
  out.applied_seq = cursor.seq();
  out.digest = 14695981039346656037ULL;
  auto fnv = [&](std::string_view bytes) {
    for (char c : bytes) {
      out.digest ^= static_cast<uint8_t>(c);
      out.digest *= 1099511628211ULL;
    }
  };
  while (!cursor.done()) {
    auto entries = cursor.Next(1 << 20);
    if (!entries.ok()) return entries.status();
    for (Mutation& m : *entries) {
      if (from != to && m.key.rfind(AppKey(""), 0) == 0) {
        std::string key = m.key.substr(AppKey("").size());
        auto converted = converters_.Convert({{key, m.value, false}}, from, to);
        if (!converted.ok()) return converted.status();
        m.value = converted->front().value;
      }
      fnv(m.key);
      fnv(std::string_view("\0", 1));
      fnv(m.value);
      ++out.keys;
    }
  }
  return out;
}

StatusOr<std::vector<Mutation>> ReplicaCore::ConvertEntries(std::vector<Mutation> entries,
                                                            uint32_t from, uint32_t to) const {
  if (from == to) return entries;
  return converters_.Convert(entries, from, to);
}

StatusOr<std::vector<Delta>> ReplicaCore::ConvertDeltas(std::vector<Delta> deltas,
                                                        uint32_t to) const {
  for (Delta& d : deltas) {
    if (d.schema == to) continue;
    auto converted = converters_.Convert(d.mutations, d.schema, to);
    if (!converted.ok()) {
      return Status(converted.status().code(),
                    "delta " + std::to_string(d.seq) + ": " + converted.status().message());
    }
    d.mutations = std::move(converted).value();
    d.schema = to;
  }
  return deltas;
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
  if (sink_ != nullptr) sink_->Flush();
  Status s = store_->Append(deltas);
  if (!s.ok()) Fatal(s);
  counters_.deltas_committed += deltas.size();
  ++counters_.group_commits;
}

std::vector<Action> ReplicaCore::TakeActions() {
  std::vector<Action> out;
  out.swap(actions_);
  return out;
}

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

void ReplicaCore::Refuse(const std::string& why) {
  uint64_t n = ++counters_.refused_frames;
  if (n <= 100 || n % 1000 == 0) spdlog::warn("refused frame #{}: {}", n, why);
}

void ReplicaCore::Adopt(uint64_t epoch) {
  Status s = store_->AdoptEpoch(epoch);
  if (!s.ok()) Fatal(s);
}

bool ReplicaCore::Serving(int64_t now_us) const {
  return IsActive(role()) && now_us < lease_until_us_ && !assignment_.drain;
}

bool ReplicaCore::SoloGranted() const {
  return assignment_.role == WireRole::kActive && assignment_.epoch == epoch() &&
         !assignment_.standby_in_sync && assignment_.solo_grant_id == solo_request_id_;
}

Offload ReplicaCore::DigestWork(const std::string& route, const Request& request,
                                OpenDigest open) const {
  return Offload{[this, reply = MakeReply(route, request, {}), open = std::move(open)] {
    ToClient out = reply;
    auto digest = DigestOf(*open.cursor, open.from, open.to);
    out.reply.response =
        digest.ok() ? Response{Code::kOk, "",
                               std::to_string(digest->digest) + " " + std::to_string(digest->keys) +
                                   " " + std::to_string(digest->applied_seq)}
                    : Response{digest.status().code(), digest.status().message(), ""};
    return out;
  }};
}

ToClient ReplicaCore::MakeReply(const std::string& route, const Request& request,
                                Response response) const {
  std::string hint = IsActive(role()) ? options_.endpoint : assignment_.peer_endpoint;
  return ToClient{route, ClientReply{request.client_id, request.request_seq, std::move(response),
                                     epoch(), std::move(hint)}};
}

void ReplicaCore::Reply(const std::string& route, const Request& request, Response response) {
  Emit(MakeReply(route, request, std::move(response)));
}

void ReplicaCore::ReplyNotActive(const std::string& route, const Request& request) {
  Reply(route, request,
        {Code::kNotActive, std::string("replica ") + options_.name + " is " + RoleStatePath(role()),
         ""});
}

void ReplicaCore::FailPending(const char* why) {
  // Committed here but never acknowledged: the outcome is unknown to the client,
  // which retries with the same request seq and gets exactly-once from the session table.
  for (auto& p : pending_) {
    p.reply.response = {Code::kUnavailable, std::string("outcome unknown: ") + why, ""};
    Emit(ToClient{p.route, p.reply});
  }
  pending_.clear();
  for (auto& [route, request] : queue_) ReplyNotActive(route, request);
  queue_.clear();
}

void ReplicaCore::DigestRequest(const std::string& route, const Request& request, int64_t now_us) {
  // "_digest [schema]" answers "digest keys seq" of the state now, optionally read in another
  // schema so that replicas of two versions compare like for like. Comparing two replicas
  // needs both at one seq, under load too, and without making writes wait:
  // - "_digest_mark [schema]" (the active) opens a snapshot at its seq S, answers "token S",
  //   and marks S in the delta stream; the standby opens its own snapshot when it has applied
  //   exactly S (OnDigestMark), and "_digest_at S [schema]" computes that one's digest.
  // - "_digest_of token" computes the digest of a snapshot opened by "_digest_mark" or by
  //   "_digest_open [schema]" (a snapshot now: releases without marks compare that way, the
  //   active holding writes until both replicas opened theirs).
  auto arg = [&request](size_t i) {
    return i < request.args.size() ? std::strtoull(request.args[i].c_str(), nullptr, 10) : 0;
  };
  auto schema_arg = [&](size_t i) {
    return i < request.args.size() ? static_cast<uint32_t>(arg(i)) : processor_->Schema();
  };
  const std::string& op = request.op;
  if (op == "_digest" || op == "_digest_open" || op == "_digest_mark") {
    if (op == "_digest_mark" &&
        !(IsActive(role()) && standby_ && standby_->live && standby_->next_send > last_seq())) {
      return Reply(route, request,
                   {Code::kUnavailable, "_digest_mark: no standby follows the live stream", ""});
    }
    OpenDigest open{store_->OpenSnapshot(), store_->meta().schema, schema_arg(0)};
    if (op == "_digest") return Emit(DigestWork(route, request, std::move(open)));
    uint64_t seq = open.cursor->seq();
    uint64_t token = ++digest_tokens_;
    open_digests_[token] = std::move(open);
    // Each holds a RocksDB snapshot: abandoned ones (a retried comparison) are released.
    while (open_digests_.size() > kMaxOpenDigests) open_digests_.erase(open_digests_.begin());
    if (op == "_digest_mark") {
      DeltaBatch mark = MakeBatch({}, now_us);  // after every delta up to seq, before the next
      mark.digest_at = seq;
      SendToStandby(std::move(mark), now_us);
    }
    return Reply(route, request,
                 {Code::kOk, "", std::to_string(token) + " " + std::to_string(seq)});
  }
  bool at = op == "_digest_at";
  if (!at && op != "_digest_of") {
    return Reply(route, request, {Code::kInvalidArgument, "unknown operation " + op, ""});
  }
  std::map<uint64_t, OpenDigest>& opened = at ? marked_digests_ : open_digests_;
  auto it = opened.find(arg(0));
  if (it == opened.end()) {
    std::string what = op + " '" + (request.args.empty() ? "" : request.args[0]) + "': ";
    uint64_t reached = last_seq() + incoming_.size();
    std::string where = " (at seq " + std::to_string(reached) + ")";
    if (!at) return Reply(route, request, {Code::kNotFound, what + "no open digest", ""});
    if (reached < arg(0)) {
      return Reply(route, request, {Code::kUnavailable, what + "not applied yet" + where, ""});
    }
    return Reply(route, request, {Code::kNotFound, what + "no digest mark met there" + where, ""});
  }
  OpenDigest open = std::move(it->second);
  opened.erase(it);
  if (at) open.to = schema_arg(1);
  Emit(DigestWork(route, request, std::move(open)));
}

void ReplicaCore::OnClientRequest(std::string route, Request request, int64_t now_us) {
  now_us_ = now_us;
  // Whole-state work leaves the event loop (Offload): on a million keys it takes longer
  // than a lease. What it reads is fixed here: a snapshot, or RocksDB's own checkpoint.
  if (request.op.starts_with("_digest")) return DigestRequest(route, request, now_us);
  if (request.op == "_checkpoint") {
    // Upgrade backups: only into the archive directory the coordinator gave us.
    const std::string& base = options_.archive_dir;
    bool allowed = !base.empty() && request.args.size() == 1 &&
                   request.args[0].rfind(base + "/", 0) == 0 &&
                   request.args[0].find("..") == std::string::npos;
    if (!allowed) {
      return Reply(route, request,
                   {Code::kInvalidArgument, "checkpoint: a directory below " + base, ""});
    }
    return Emit(
        Offload{[store = store_, dir = request.args[0], reply = MakeReply(route, request, {})] {
          ToClient out = reply;
          Status s = store->Checkpoint(dir);
          out.reply.response = {s.code(), s.message(), s.ok() ? dir : ""};
          return out;
        }});
  }
  if (!IsActive(role()) || assignment_.drain) return ReplyNotActive(route, request);
  if (queue_.size() >= options_.max_queue) {
    return Reply(route, request, {Code::kUnavailable, "request queue is full", ""});
  }
  queue_.emplace_back(std::move(route), std::move(request));
}

void ReplicaCore::OnAssignment(const Assignment& a, int64_t now_us) {
  now_us_ = now_us;
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
      if (a.epoch > active_term_) {
        // A new term for this replica (its epoch may already have been raised by a peer).
        active_term_ = a.epoch;
        promote_wait_until_us_ =
            a.skip_lease_wait ? now_us
                              : std::max(now_us, last_renewal_us_ + options_.lease_ms * 1000);
        lease_until_us_ = 0;
        machine_.Promote();
      } else if (!IsActive(role()) && role() != RoleState::kPromoting) {
        ++counters_.refused_frames;  // a promotion always opens a new term
        spdlog::warn("assignment: active at my current epoch {} without promotion refused",
                     a.epoch);
        return;
      }
      if (a.lease_echo_us > 0 && a.lease_echo_us <= now_us) {
        lease_until_us_ = std::max(lease_until_us_, a.lease_echo_us + options_.lease_ms * 1000);
      }
      if (role() == RoleState::kReplicating && want_solo_ && SoloGranted()) {
        want_solo_ = false;
        machine_.SoloGranted();
      }
      break;
  }
  if (new_epoch) SendStatus();
}

void ReplicaCore::OnRoleEntered(RoleState state) {
  if (!IsStandby(state)) {
    caught_up_due_ = false;
    CommitIncoming(now_us_);  // deltas received as a standby stay part of the history
  }
  switch (state) {
    case RoleState::kOutOfService:
    case RoleState::kPromoting:
      FailPending("this replica stopped being active");
      standby_.reset();
      Emit(ConnectActive{""});
      break;
    case RoleState::kCatchingUp:
      FailPending("this replica became a standby");
      standby_.reset();
      SayHello(now_us_);
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
  CommitIncoming(now_us);
  if (role() == RoleState::kPromoting && now_us >= promote_wait_until_us_) {
    BeginActiveTerm();
    machine_.LeaseWaitOver(SoloGranted());
  }
  if (IsActive(role())) {
    // Answer what the standby acked before the next group commit's fsync delays it.
    ReleaseReplies(now_us);
    FlushQueue(now_us);
    ExpireSessions(now_us);
    StreamToStandby(now_us);
    CheckStandbyProgress(now_us);
    ReleaseReplies(now_us);
    // A drained active tells the coordinator at once, not at its next heartbeat: a planned
    // switchover waits for this report (it took 0-20 ms more, one heartbeat at random).
    if (Demoted() != reported_demoted_) SendStatus();
  } else if (IsStandby(role())) {
    // What arrived in this round was heard now, at its end: installing a snapshot chunk can
    // take longer than the quiet timeout (30-130 ms each on a million keys), and measured
    // from the round's start that time passed for silence and restarted the snapshot.
    if (heard_this_round_) last_from_active_us_ = std::max(last_from_active_us_, now_us);
    heard_this_round_ = false;
    int64_t quiet_us = now_us - std::max(last_from_active_us_, hello_sent_us_);
    if (quiet_us > std::max(options_.ack_timeout_ms, 5 * options_.heartbeat_ms) * 1000) {
      Resync(now_us);  // the active is gone or the session was lost: start again
    }
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

bool ReplicaCore::Demoted() const {
  return IsActive(role()) && assignment_.drain && standby_ &&
         standby_->acked_seq == store_->meta().applied_seq && pending_.empty() && queue_.empty();
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
  Health h = processor_->CheckHealth();
  s.healthy = h.healthy && !meta.snapshot_incomplete && !needs_resync_ && self_check_.empty();
  if (meta.snapshot_incomplete) {
    s.health_detail = "snapshot install incomplete";
  } else if (needs_resync_) {
    s.health_detail = "state in schema " + std::to_string(meta.schema) + ", resync needed";
  } else {
    s.health_detail = self_check_.empty() ? h.detail : self_check_;
  }
  s.requests_total = counters_.requests_answered;
  s.server_errors_total = counters_.server_errors;
  std::vector<int64_t> recent;
  for (const auto& [at, latency] : latency_samples_us_) {
    if (now_us - at <= kLatencyWindowUs) recent.push_back(latency);
  }
  if (!recent.empty()) {
    auto p99 = recent.begin() + static_cast<long>(recent.size() * 99 / 100);
    std::nth_element(recent.begin(), p99, recent.end());
    s.latency_p99_us = static_cast<uint64_t>(*p99);
  }
  s.needs_resync = needs_resync_;
  s.veto_reason = processor_->VetoUpgrade();
  s.cluster_version = features_.cluster_version().ToString();
  s.promoted_ready = IsActive(r);
  if (IsActive(r)) {
    s.peer_acked_seq = standby_ ? standby_->acked_seq : 0;
    s.lag_ops = meta.applied_seq - s.peer_acked_seq;
    s.catchup_keys = standby_ ? standby_->catchup_keys : 0;
    s.catchup_bytes = standby_ ? standby_->catchup_bytes : 0;
    s.solo_request_id = solo_request_id_;
    s.want_solo = want_solo_;
    s.peer_caught_up = peer_caught_up_;
    s.demoted = Demoted();
  }
  s.holds = true;  // capabilities of this release, whatever the role
  s.marks = true;
  s.refused_frames = counters_.refused_frames;
  s.stale_epoch_frames = counters_.stale_epoch_frames;
  return s;
}

}  // namespace duplex
