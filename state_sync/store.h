// Store: a replica's durable state in RocksDB — the replicated key space, the
// session table, the delta log tail and the metadata (epoch, applied seq,
// schema). Every commit writes all of them in one WriteBatch, so a replica
// never has state without the seq that produced it. Owned by one replica's
// event loop; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "state_sync/delta.h"
#include "state_sync/state_digest.h"

namespace rocksdb {
class Env;
}

namespace duplex {

struct StoreOptions {
  std::string path;
  bool sync = true;                  // fsync every commit
  uint64_t log_retain_ops = 200000;  // delta log entries kept for catch-up by tail
  rocksdb::Env* env = nullptr;       // seam for fault injection and simulation; null = default
  // RocksDB tuning, per column family. Small memtables by default: an insert walks a
  // skiplist whose size is the memtable's, and with random keys every level is a cache
  // miss (at RocksDB's 64 MB, memtable inserts took a quarter of a replica's CPU under
  // load); they also bound resident memory, and flushes of a few MB are cheap. A full
  // memtable is flushed, and compactions run, on RocksDB's own threads: a caller that
  // needs RocksDB to start no work by itself (the simulator, whose runs must replay)
  // turns compactions off, sets memtables its writes never fill and calls FlushAndCompact
  // when it chooses. Flushes still happen inside Open (recovery) and Checkpoint, on the
  // caller's thread.
  uint64_t memtable_bytes = 4 << 20;
  bool auto_compaction = true;
  // Read every block of every SST file and check its checksum when the store opens. Open
  // itself checks the WAL records it replays, the MANIFEST and each SST's footer and index,
  // but a data block only when it is read: a bit flipped at rest in a key nobody reads
  // would be served (or shipped to a standby in a snapshot) much later, or never noticed.
  // Costs one sequential read of the store per open.
  bool verify_on_open = true;
  // RocksDB's info LOG in the store's directory. The simulator's stores, in memory where
  // nobody reads them, keep none: formatting it took 5% of a simulated run.
  bool info_log = true;
  // Snappy-compress table blocks. The simulator's stores, in memory and never measured,
  // skip it: compressing each flushed and compacted block took 2% of a simulated run.
  bool compress = true;
  // Threads that open the table files at Open (RocksDB's max_file_opening_threads). RocksDB
  // starts them, and ends them, at every open; the simulator, which opens small stores
  // often, opens their files on its own thread (1).
  int file_opening_threads_max = 16;
};

struct StoreMeta {
  uint64_t epoch = 0;          // highest epoch adopted (durable fence)
  uint64_t applied_epoch = 0;  // epoch of the last applied delta
  uint64_t applied_seq = 0;    // last applied delta; the state reflects exactly 1..applied_seq
  uint32_t schema = 1;
  uint64_t oldest_log_seq = 1;       // first seq still in the log (if applied_seq >= it)
  bool snapshot_incomplete = false;  // a snapshot install was cut off: state is not usable
  std::string cluster_version;       // features are on up to this version ("" = none yet)
};

// The metadata record as the store writes it and reads it back (one value: a format byte,
// six big-endian words, the cluster version). DecodeMeta treats the bytes as hostile
// (fuzz/stored_fuzz.cc): a short or unknown record is a Corruption naming what was wrong.
std::string EncodeMeta(const StoreMeta& meta);
StatusOr<StoreMeta> DecodeMeta(std::string_view bytes);

// Reads a consistent snapshot of the state in chunks (for a standby's full resync).
class SnapshotCursor {
 public:
  virtual ~SnapshotCursor() = default;
  virtual uint64_t epoch() const = 0;
  virtual uint64_t seq() const = 0;
  virtual uint32_t schema() const = 0;
  // Up to bytes_max of raw state entries; empty when done.
  virtual StatusOr<std::vector<Mutation>> Next(size_t bytes_max) = 0;
  virtual bool done() const = 0;
};

class Store {
 public:
  static StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  virtual const StoreMeta& meta() const = 0;

  // The application's key space.
  virtual StatusOr<std::optional<std::string>> Get(std::string_view key) const = 0;
  virtual StatusOr<std::optional<SessionEntry>> GetSession(uint64_t client_id) const = 0;
  // At most `limit` session entries of clients above `after`, in client id order.
  virtual StatusOr<std::vector<std::pair<uint64_t, SessionEntry>>> ListSessions(
      uint64_t after, size_t limit) const = 0;

  // Commits deltas that continue the history (first seq == applied_seq + 1,
  // consecutive, epochs non-decreasing and not above meta().epoch) in one batch.
  // A gap, a duplicate or a stale epoch is refused and nothing is written.
  virtual Status Append(const std::vector<Delta>& deltas) = 0;
  // Durably raises the epoch fence; lowering it is refused.
  virtual Status AdoptEpoch(uint64_t epoch) = 0;
  virtual Status SetSchema(uint32_t schema) = 0;
  // Durably records the cluster version the coordinator announced (feature flags).
  virtual Status SetClusterVersion(const std::string& version) = 0;

  // Deltas from_seq.. (at most count_max); NotFound when from_seq is no longer retained.
  virtual StatusOr<std::vector<Delta>> ReadLog(uint64_t from_seq, size_t count_max) const = 0;
  // Epoch of the delta at seq; NotFound when not retained.
  virtual StatusOr<uint64_t> LogEpochAt(uint64_t seq) const = 0;

  virtual std::unique_ptr<SnapshotCursor> OpenSnapshot() const = 0;
  // Full resync: Begin wipes state and log and marks the store incomplete;
  // Finish records (epoch, seq) and clears the mark, atomically with the last entries.
  virtual Status BeginSnapshotInstall() = 0;
  virtual Status InstallChunk(const std::vector<Mutation>& entries) = 0;
  virtual Status FinishSnapshotInstall(uint64_t epoch, uint64_t seq, uint32_t schema) = 0;

  // A consistent copy of the whole store in `dir` (which must not exist yet).
  virtual Status Checkpoint(const std::string& dir) const = 0;
  // Writes the memtables out to table files and, when `compact`, compacts each column
  // family down to one level; returns when RocksDB's work for it is over, obsolete files
  // deleted. For a caller that turned auto_compaction off and decides itself when this
  // happens: the simulator, whose runs must replay.
  virtual Status FlushAndCompact(bool compact) = 0;

  // The StateDigester digest of every state entry in key order, at a consistent point.
  virtual StatusOr<StateDigest> Digest() const = 0;
};

// Opens a store that no process has open with the WAL replayed into memtables, writes the
// state column family to an SST file and closes it, leaving the delta log and metadata in
// the WAL. For the chaos harness's corruption at rest (a store killed under load holds
// everything in its WAL, and an SST to corrupt is wanted beside it).
Status FlushClosedStoreState(const std::string& path);

// The metadata of a store found corrupt at rest, as far as a checksum-verified copy of it can
// be read: opened read-only, recovering the WAL only up to its first bad record. What it
// gives is a lower bound of the store's true metadata (the last record before the damage);
// the epoch fence is what a quarantine keeps of it (state_sync/store_quarantine.h).
StatusOr<StoreMeta> SalvageMeta(const std::string& path, rocksdb::Env* env);

// Raw key layout of the state column family (shared with snapshot chunks).
std::string AppKey(std::string_view key);
std::string SessionKey(uint64_t client_id);

}  // namespace duplex
