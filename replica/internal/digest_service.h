// DigestService: the whole-state operations a coordinator asks a replica for — digests of
// its state (now, or at a seq both replicas reach, through marks in the delta stream) and
// checkpoints for upgrade backups. Requests arrive on the admin path (AdminRequest frames)
// and are answered with AdminReply; the work itself is offloaded and reads only a store
// snapshot or RocksDB's checkpoint. Owned by ReplicaCore; single-threaded, except the
// offloaded work.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "replica/internal/active_term.h"
#include "replica/internal/core_context.h"

namespace duplex {

class DigestService {
 public:
  explicit DigestService(CoreContext& ctx) : ctx_(ctx) {}

  // A digest op. `active` sends marks; `reached_seq` is how far a standby has applied
  // (committed or not yet), which a kDigestAt for a later seq waits for.
  void OnRequest(const std::string& route, const AdminRequest& request, int64_t now_us,
                 ActiveTerm& active, uint64_t reached_seq);
  // kCheckpoint, only into the archive directory the coordinator gave us.
  void OnCheckpoint(const std::string& route, const AdminRequest& request);

  // Standby: the active marked `seq`, and our committed state is exactly there.
  void OpenMarked(uint64_t seq);
  // A new standby session: marks of the old one may name another history's seqs.
  void ForgetMarks() { marked_.clear(); }

 private:
  // A snapshot taken for a digest, and the schemas it is read from and in.
  struct OpenDigest {
    std::shared_ptr<SnapshotCursor> cursor;
    uint32_t from = 0, to = 0;
  };
  void Open(const std::string& route, const AdminRequest& request, int64_t now_us,
            ActiveTerm& active);
  void Compute(const std::string& route, const AdminRequest& request, uint64_t reached_seq);
  // The offloaded computation of one digest, answering `request`.
  Offload Work(const std::string& route, const AdminRequest& request, OpenDigest open) const;
  // The schema a digest is read in: the one asked for, or our own.
  uint32_t SchemaOf(const AdminRequest& request) const;
  void Reply(const std::string& route, AdminReply reply) { ctx_.Emit(ToClient{route, reply}); }

  // Offloaded work is bounded (options().admin_jobs_max, running or queued): true when one
  // more may go, else the request is answered kUnavailable and counted.
  bool JobSlotFree(const std::string& route, const AdminRequest& request);
  // Emits the work, counted in jobs_ until the worker thread has run it.
  void EmitJob(Offload work);

  static constexpr size_t kOpenDigestsMax = 4;

  CoreContext& ctx_;
  // Jobs emitted and not yet run to their end; decremented on the worker thread.
  std::shared_ptr<std::atomic<uint64_t>> jobs_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::map<uint64_t, OpenDigest> open_;    // by token, oldest first
  std::map<uint64_t, OpenDigest> marked_;  // standby: by the seq the active marked
  uint64_t tokens_ = 0;
};

}  // namespace duplex
