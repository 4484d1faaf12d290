// DigestService: the whole-state operations a coordinator asks a replica for — digests of
// its state (now, or at a seq both replicas reach, through marks in the delta stream) and
// checkpoints for upgrade backups. Requests arrive as client ops ("_digest*",
// "_checkpoint"); the work itself is offloaded and reads only a store snapshot or RocksDB's
// checkpoint. Owned by ReplicaCore; single-threaded, except the offloaded work.
#pragma once

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

  // A "_digest..." op. `active` sends marks; `reached_seq` is how far a standby has
  // applied (committed or not yet), which a "_digest_at" for a later seq waits for.
  void OnRequest(const std::string& route, const Request& request, int64_t now_us,
                 ActiveTerm& active, uint64_t reached_seq);
  // "_checkpoint dir", only into the archive directory the coordinator gave us.
  void OnCheckpoint(const std::string& route, const Request& request);

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
  void Open(const std::string& route, const Request& request, int64_t now_us, ActiveTerm& active);
  void Compute(const std::string& route, const Request& request, uint64_t reached_seq);
  // The offloaded computation of one digest, answering `request`.
  Offload Work(const std::string& route, const Request& request, OpenDigest open) const;
  uint32_t SchemaArg(const Request& request, size_t i) const;

  static constexpr size_t kOpenDigestsMax = 4;

  CoreContext& ctx_;
  std::map<uint64_t, OpenDigest> open_;    // by token, oldest first
  std::map<uint64_t, OpenDigest> marked_;  // standby: by the seq the active marked
  uint64_t tokens_ = 0;
};

}  // namespace duplex
