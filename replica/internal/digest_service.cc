#include "replica/internal/digest_service.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "common/assert.h"
#include "state_sync/state_digest.h"

namespace duplex {
namespace {

// The digest of a snapshot's entries as they read in schema `to`, in key order (conversion
// keeps keys, so the order is the same). Thread-safe: the registry is read-only.
StatusOr<StateDigest> DigestOf(const ConverterRegistry& converters, SnapshotCursor& cursor,
                               uint32_t from, uint32_t to) {
  StateDigester digester;
  while (!cursor.done()) {
    auto entries = cursor.Next(1 << 20);
    if (!entries.ok()) return entries.status();
    for (Mutation& m : *entries) {
      if (from != to && m.key.rfind(AppKey(""), 0) == 0) {
        std::string key = m.key.substr(AppKey("").size());
        auto converted = converters.Convert({{key, m.value, false}}, from, to);
        if (!converted.ok()) return converted.status();
        m.value = converted->front().value;
      }
      digester.Add(m.key, m.value);
    }
  }
  return digester.Finish(cursor.seq());
}

}  // namespace

uint32_t DigestService::SchemaOf(const AdminRequest& request) const {
  return request.schema != 0 ? request.schema : ctx_.processor().Schema();
}

void DigestService::OnRequest(const std::string& route, const AdminRequest& request, int64_t now_us,
                              ActiveTerm& active, uint64_t reached_seq) {
  // kDigest answers the digest of the state now, optionally read in another schema so that
  // replicas of two versions compare like for like. Comparing two replicas needs both at
  // one seq, under load too, and without making writes wait:
  // - kDigestMark (the active) opens a snapshot at its seq S, answers its token and S, and
  //   marks S in the delta stream; the standby opens its own snapshot when it has applied
  //   exactly S (OpenMarked), and kDigestAt S computes that one's digest.
  // - kDigestOf token computes the digest of a snapshot opened by kDigestMark or by
  //   kDigestOpen (a snapshot now: releases without marks compare that way, the active
  //   holding writes until both replicas opened theirs).
  DUPLEX_ASSERT(request.op != AdminOp::kCheckpoint, AdminOpName(request.op));
  if (request.op == AdminOp::kDigestAt || request.op == AdminOp::kDigestOf) {
    if (!JobSlotFree(route, request)) return;
    return Compute(route, request, reached_seq);
  }
  if (request.op == AdminOp::kDigest && !JobSlotFree(route, request)) return;
  Open(route, request, now_us, active);
}

bool DigestService::JobSlotFree(const std::string& route, const AdminRequest& request) {
  const uint64_t jobs = jobs_->load();
  if (jobs < ctx_.options().admin_jobs_max) return true;
  uint64_t n = ++ctx_.counters().admin_jobs_refused;
  if (n <= 100 || n % 1000 == 0) {
    spdlog::warn("{} refused: {} admin jobs under way (limits.admin_jobs_max)",
                 AdminOpName(request.op), jobs);
  }
  Reply(route, AdminAnswer(request.id, Code::kUnavailable,
                           std::string(AdminOpName(request.op)) + ": " + std::to_string(jobs) +
                               " admin jobs are under way, the most limits.admin_jobs_max (" +
                               std::to_string(ctx_.options().admin_jobs_max) +
                               ") allows; try again later"));
  return false;
}

void DigestService::EmitJob(Offload work) {
  jobs_->fetch_add(1);
  // The count goes down when the job has run, on whichever thread runs it (at once, without
  // an I/O layer).
  ctx_.Emit(Offload{[jobs = jobs_, run = std::move(work.work)] {
    ToClient reply = run();
    jobs->fetch_sub(1);
    return reply;
  }});
}

void DigestService::Open(const std::string& route, const AdminRequest& request, int64_t now_us,
                         ActiveTerm& active) {
  AdminOp op = request.op;
  if (op == AdminOp::kDigestMark && !active.StandbyFollowsLive()) {
    return Reply(route, AdminAnswer(request.id, Code::kUnavailable,
                                    "_digest_mark: no standby follows the live stream"));
  }
  OpenDigest open{ctx_.store().OpenSnapshot(), ctx_.store().meta().schema, SchemaOf(request)};
  if (op == AdminOp::kDigest) return EmitJob(Work(route, request, std::move(open)));
  uint64_t seq = open.cursor->seq();
  DUPLEX_ASSERT(seq == ctx_.last_seq(), "a digest snapshot opens at our applied seq", seq,
                ctx_.last_seq());
  uint64_t token = ++tokens_;
  open_[token] = std::move(open);
  // Each holds a RocksDB snapshot: abandoned ones (a retried comparison) are released.
  while (open_.size() > kOpenDigestsMax) open_.erase(open_.begin());
  DUPLEX_ASSERT(open_.size() <= kOpenDigestsMax, "open snapshots are bounded", open_.size());
  if (op == AdminOp::kDigestMark) active.SendDigestMark(seq, now_us);
  AdminReply reply = AdminAnswer(request.id);
  reply.seq = seq;
  reply.token = token;
  Reply(route, std::move(reply));
}

void DigestService::Compute(const std::string& route, const AdminRequest& request,
                            uint64_t reached_seq) {
  bool at = request.op == AdminOp::kDigestAt;
  std::map<uint64_t, OpenDigest>& opened = at ? marked_ : open_;
  uint64_t key = at ? request.seq : request.token;
  auto it = opened.find(key);
  if (it == opened.end()) {
    std::string what = std::string(AdminOpName(request.op)) + " '" + std::to_string(key) + "': ";
    std::string where = " (at seq " + std::to_string(reached_seq) + ")";
    if (!at) return Reply(route, AdminAnswer(request.id, Code::kNotFound, what + "no open digest"));
    if (reached_seq < key) {
      return Reply(route,
                   AdminAnswer(request.id, Code::kUnavailable, what + "not applied yet" + where));
    }
    return Reply(
        route, AdminAnswer(request.id, Code::kNotFound, what + "no digest mark met there" + where));
  }
  DUPLEX_ASSERT(!at || it->second.cursor->seq() == it->first,
                "a marked snapshot is at the marked seq", it->second.cursor->seq(), it->first);
  OpenDigest open = std::move(it->second);
  opened.erase(it);
  if (at) open.to = SchemaOf(request);
  EmitJob(Work(route, request, std::move(open)));
}

void DigestService::OpenMarked(uint64_t seq) {
  DUPLEX_ASSERT(IsStandby(ctx_.role()), "marks come to a standby", RoleStatePath(ctx_.role()));
  DUPLEX_ASSERT(seq == ctx_.last_seq(), "a marked snapshot is of the marked seq", seq,
                ctx_.last_seq());
  marked_[seq] = OpenDigest{ctx_.store().OpenSnapshot(), ctx_.store().meta().schema, 0};
  while (marked_.size() > kOpenDigestsMax) marked_.erase(marked_.begin());
  DUPLEX_ASSERT(marked_.size() <= kOpenDigestsMax, "marked snapshots are bounded", marked_.size());
}

Offload DigestService::Work(const std::string& route, const AdminRequest& request,
                            OpenDigest open) const {
  // Only the registry (read-only) and the snapshot travel to the other thread.
  return Offload{[&converters = ctx_.converters(), route, id = request.id, open = std::move(open)] {
    AdminReply reply = AdminAnswer(id);
    auto digest = DigestOf(converters, *open.cursor, open.from, open.to);
    if (digest.ok()) {
      reply.digest = digest->digest;
      reply.keys = digest->keys;
      reply.seq = digest->applied_seq;
    } else {
      reply.code = digest.status().code();
      reply.message = digest.status().message();
    }
    return ToClient{route, std::move(reply)};
  }};
}

void DigestService::OnCheckpoint(const std::string& route, const AdminRequest& request) {
  DUPLEX_ASSERT(request.op == AdminOp::kCheckpoint, AdminOpName(request.op));
  // Upgrade backups: only into the archive directory the coordinator gave us.
  const std::string& base = ctx_.options().archive_dir;
  const std::string& dir = request.path;
  bool allowed =
      !base.empty() && dir.rfind(base + "/", 0) == 0 && dir.find("..") == std::string::npos;
  if (!allowed) {
    return Reply(route, AdminAnswer(request.id, Code::kInvalidArgument,
                                    "checkpoint: a directory below " + base));
  }
  if (!JobSlotFree(route, request)) return;
  EmitJob(Offload{[store = &ctx_.store(), route, id = request.id, dir] {
    // The campaign's directory below the archive may not exist on this host yet (on one
    // host the coordinator made it; across hosts only this replica's host can).
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    Status s = ec ? IOError("checkpoint: cannot create the parent of " + dir + ": " + ec.message())
                  : store->Checkpoint(dir);
    AdminReply reply = AdminAnswer(id, s.code(), s.message());
    if (s.ok()) reply.path = dir;
    return ToClient{route, std::move(reply)};
  }});
}

}  // namespace duplex
