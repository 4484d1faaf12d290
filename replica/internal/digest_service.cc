#include "replica/internal/digest_service.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "common/assert.h"
#include "state_sync/state_digest.h"

namespace duplex {
namespace {

uint64_t NumberArg(const Request& request, size_t i) {
  return i < request.args.size() ? std::strtoull(request.args[i].c_str(), nullptr, 10) : 0;
}

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

uint32_t DigestService::SchemaArg(const Request& request, size_t i) const {
  return i < request.args.size() ? static_cast<uint32_t>(NumberArg(request, i))
                                 : ctx_.processor().Schema();
}

void DigestService::OnRequest(const std::string& route, const Request& request, int64_t now_us,
                              ActiveTerm& active, uint64_t reached_seq) {
  // "_digest [schema]" answers "digest keys seq" of the state now, optionally read in another
  // schema so that replicas of two versions compare like for like. Comparing two replicas
  // needs both at one seq, under load too, and without making writes wait:
  // - "_digest_mark [schema]" (the active) opens a snapshot at its seq S, answers "token S",
  //   and marks S in the delta stream; the standby opens its own snapshot when it has applied
  //   exactly S (OpenMarked), and "_digest_at S [schema]" computes that one's digest.
  // - "_digest_of token" computes the digest of a snapshot opened by "_digest_mark" or by
  //   "_digest_open [schema]" (a snapshot now: releases without marks compare that way, the
  //   active holding writes until both replicas opened theirs).
  DUPLEX_ASSERT(request.op.starts_with("_digest"), request.op);
  const std::string& op = request.op;
  if (op == "_digest" || op == "_digest_open" || op == "_digest_mark") {
    return Open(route, request, now_us, active);
  }
  if (op != "_digest_at" && op != "_digest_of") {
    return ctx_.Reply(route, request, {Code::kInvalidArgument, "unknown operation " + op, ""});
  }
  Compute(route, request, reached_seq);
}

void DigestService::Open(const std::string& route, const Request& request, int64_t now_us,
                         ActiveTerm& active) {
  const std::string& op = request.op;
  if (op == "_digest_mark" && !active.StandbyFollowsLive()) {
    return ctx_.Reply(route, request,
                      {Code::kUnavailable, "_digest_mark: no standby follows the live stream", ""});
  }
  OpenDigest open{ctx_.store().OpenSnapshot(), ctx_.store().meta().schema, SchemaArg(request, 0)};
  if (op == "_digest") return ctx_.Emit(Work(route, request, std::move(open)));
  uint64_t seq = open.cursor->seq();
  DUPLEX_ASSERT(seq == ctx_.last_seq(), "a digest snapshot opens at our applied seq", seq,
                ctx_.last_seq());
  uint64_t token = ++tokens_;
  open_[token] = std::move(open);
  // Each holds a RocksDB snapshot: abandoned ones (a retried comparison) are released.
  while (open_.size() > kOpenDigestsMax) open_.erase(open_.begin());
  DUPLEX_ASSERT(open_.size() <= kOpenDigestsMax, "open snapshots are bounded", open_.size());
  if (op == "_digest_mark") active.SendDigestMark(seq, now_us);
  ctx_.Reply(route, request, {Code::kOk, "", std::to_string(token) + " " + std::to_string(seq)});
}

void DigestService::Compute(const std::string& route, const Request& request,
                            uint64_t reached_seq) {
  bool at = request.op == "_digest_at";
  std::map<uint64_t, OpenDigest>& opened = at ? marked_ : open_;
  auto it = opened.find(NumberArg(request, 0));
  if (it == opened.end()) {
    std::string what = request.op + " '" + (request.args.empty() ? "" : request.args[0]) + "': ";
    std::string where = " (at seq " + std::to_string(reached_seq) + ")";
    if (!at) return ctx_.Reply(route, request, {Code::kNotFound, what + "no open digest", ""});
    if (reached_seq < NumberArg(request, 0)) {
      return ctx_.Reply(route, request, {Code::kUnavailable, what + "not applied yet" + where, ""});
    }
    return ctx_.Reply(route, request,
                      {Code::kNotFound, what + "no digest mark met there" + where, ""});
  }
  DUPLEX_ASSERT(!at || it->second.cursor->seq() == it->first,
                "a marked snapshot is at the marked seq", it->second.cursor->seq(), it->first);
  OpenDigest open = std::move(it->second);
  opened.erase(it);
  if (at) open.to = SchemaArg(request, 1);
  ctx_.Emit(Work(route, request, std::move(open)));
}

void DigestService::OpenMarked(uint64_t seq) {
  DUPLEX_ASSERT(IsStandby(ctx_.role()), "marks come to a standby", RoleStatePath(ctx_.role()));
  DUPLEX_ASSERT(seq == ctx_.last_seq(), "a marked snapshot is of the marked seq", seq,
                ctx_.last_seq());
  marked_[seq] = OpenDigest{ctx_.store().OpenSnapshot(), ctx_.store().meta().schema, 0};
  while (marked_.size() > kOpenDigestsMax) marked_.erase(marked_.begin());
  DUPLEX_ASSERT(marked_.size() <= kOpenDigestsMax, "marked snapshots are bounded", marked_.size());
}

Offload DigestService::Work(const std::string& route, const Request& request,
                            OpenDigest open) const {
  // Only the registry (read-only) and the snapshot travel to the other thread.
  return Offload{[&converters = ctx_.converters(), reply = ctx_.MakeReply(route, request, {}),
                  open = std::move(open)] {
    ToClient out = reply;
    auto digest = DigestOf(converters, *open.cursor, open.from, open.to);
    out.reply.response =
        digest.ok() ? Response{Code::kOk, "",
                               std::to_string(digest->digest) + " " + std::to_string(digest->keys) +
                                   " " + std::to_string(digest->applied_seq)}
                    : Response{digest.status().code(), digest.status().message(), ""};
    return out;
  }};
}

void DigestService::OnCheckpoint(const std::string& route, const Request& request) {
  DUPLEX_ASSERT(request.op == "_checkpoint", request.op);
  // Upgrade backups: only into the archive directory the coordinator gave us.
  const std::string& base = ctx_.options().archive_dir;
  bool allowed = !base.empty() && request.args.size() == 1 &&
                 request.args[0].rfind(base + "/", 0) == 0 &&
                 request.args[0].find("..") == std::string::npos;
  if (!allowed) {
    return ctx_.Reply(route, request,
                      {Code::kInvalidArgument, "checkpoint: a directory below " + base, ""});
  }
  ctx_.Emit(Offload{
      [store = &ctx_.store(), dir = request.args[0], reply = ctx_.MakeReply(route, request, {})] {
        ToClient out = reply;
        Status s = store->Checkpoint(dir);
        out.reply.response = {s.code(), s.message(), s.ok() ? dir : ""};
        return out;
      }});
}

}  // namespace duplex
