// Frames on a replica's data-plane sockets as plain values, and their
// Cap'n Proto encoding (replica.capnp). Decoding treats bytes as hostile:
// oversized, truncated or garbage frames become a Status naming what was
// wrong. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"
#include "replica/processor.h"
#include "state_sync/delta.h"

namespace duplex {

enum class WireRole : uint8_t { kOutOfService = 0, kStandby = 1, kActive = 2 };
const char* WireRoleName(WireRole role);

struct ClientReply {
  uint64_t client_id = 0;
  uint64_t request_seq = 0;
  Response response;
  uint64_t epoch = 0;
  std::string active_hint;
};

// Replica -> coordinator (see replica.capnp Status for the meaning of each field).
struct StatusReport {
  std::string replica;
  int32_t pid = 0;
  std::string version;
  uint32_t schema = 1;
  WireRole role = WireRole::kOutOfService;
  std::string role_path;  // "Standby/CatchingUp"
  uint64_t epoch = 0;
  uint64_t applied_epoch = 0;
  uint64_t applied_seq = 0;
  int64_t sent_us = 0;
  bool in_sync = false;
  bool healthy = true;
  std::string health_detail;
  uint64_t peer_acked_seq = 0;
  uint64_t solo_request_id = 0;
  bool want_solo = false;
  bool peer_caught_up = false;
  bool promoted_ready = false;
  bool demoted = false;
  bool holds = false;  // understands Assignment.hold
  bool marks = false;  // understands digest marks (digestMark, digestAt): digests without a hold
  bool admin_frames = false;    // takes AdminRequest frames; older releases took "_digest..." ops
  uint64_t lease_lost_ms = 0;   // active: serving nothing for want of a lease this long
  bool follows_active = false;  // standby: heard its active within the ack timeout
  uint64_t peer_silent_ms = 0;  // active: heard nothing from its standby this long
  uint64_t stale_term_assignments = 0;  // refused: of a coordinator term below the highest seen
  uint64_t coordinator_term = 0;        // the highest coordinator term it has followed
  uint64_t lag_ops = 0;
  uint64_t refused_frames = 0;
  uint64_t stale_epoch_frames = 0;
  std::string veto_reason;
  std::string cluster_version;
  bool needs_resync = false;
  uint64_t requests_total = 0;
  uint64_t server_errors_total = 0;
  uint64_t latency_p99_us = 0;
  uint64_t catchup_keys = 0;  // active: snapshot entries sent to the standby this session
  uint64_t catchup_bytes = 0;
  std::string store_corrupt;  // found corrupt at rest; "" once resynced, or never
};

// Coordinator -> replica: what it should be (level-triggered).
struct Assignment {
  uint64_t epoch = 0;
  WireRole role = WireRole::kOutOfService;
  std::string peer_endpoint;
  std::string peer_name;
  int64_t lease_echo_us = 0;
  bool skip_lease_wait = false;
  bool standby_in_sync = false;
  uint64_t solo_grant_id = 0;
  bool drain = false;
  std::string cluster_version;  // empty: unchanged
  uint64_t sync_id = 0;         // highest solo request id the coordinator has recorded
  bool standby_out = false;     // active: the standby is isolated or failed; do not wait for it
  // Active: keep taking requests, commit none until released. A digest comparison needs
  // both replicas at one seq for a moment; held requests wait instead of being refused
  // (drain), so clients do not back off and retry.
  bool hold = false;
  // The sending coordinator's leadership term (the etcd leader key's create revision): a
  // replica refuses assignments of a term below the highest it has seen, so a deposed
  // leader that has not noticed yet cannot steer it. 0: the embedded single coordinator.
  uint64_t coordinator_term = 0;
};

// The admin path (replica.capnp AdminRequest): whole-state operations asked of one replica
// on its client port, as typed frames; a client Request whose op starts with "_" is refused.
enum class AdminOp : uint8_t {
  kDigest = 0,      // the digest of the state now
  kDigestOpen = 1,  // open a snapshot now -> token, seq
  kDigestMark = 2,  // active: open one and mark its seq in the delta stream -> token, seq
  kDigestAt = 3,    // standby: the digest of the snapshot opened at the marked `seq`
  kDigestOf = 4,    // the digest of the snapshot opened as `token`
  kCheckpoint = 5,  // a RocksDB checkpoint into `path`, below the archive directory
};
constexpr AdminOp kAdminOpLast = AdminOp::kCheckpoint;
// The op's name as a client op of the releases before AdminRequest ("_digest_mark"); also
// how logs and the simulator's trace name it.
const char* AdminOpName(AdminOp op);

struct AdminRequest {
  uint64_t id = 0;  // echoed in the reply
  AdminOp op = AdminOp::kDigest;
  uint32_t schema = 0;  // digests: read the state in this schema (0: the replica's own)
  uint64_t seq = 0;     // kDigestAt
  uint64_t token = 0;   // kDigestOf
  std::string path;     // kCheckpoint
};

struct AdminReply {
  uint64_t id = 0;
  Code code = Code::kOk;
  std::string message;
  uint64_t digest = 0;  // the digest ops: the state digest ...
  uint64_t keys = 0;    // ... of this many keys ...
  uint64_t seq = 0;     // ... at this seq; kDigestOpen, kDigestMark: the snapshot's seq
  uint64_t token = 0;   // kDigestOpen, kDigestMark
  std::string path;     // kCheckpoint: the directory written
};
// The answer to admin request `id`, its results still to be filled in.
AdminReply AdminAnswer(uint64_t id, Code code = Code::kOk, std::string message = "");
// A digest as "digest keys seq", the text the releases before AdminReply answered.
std::string DigestText(const AdminReply& reply);

// Releases older than AdminRequest frames (StatusReport.admin_frames false) took admin
// requests as client ops: `request` as that op (request seq 0: not deduplicated), and that
// op's answer ("token seq", "digest keys seq" or the checkpoint's directory) read back.
Request AdminAsClientOp(const AdminRequest& request, uint64_t client_id);
StatusOr<AdminReply> AdminFromClientAnswer(const AdminRequest& request, const Response& answer);

// A client's credentials (replica.capnp Auth): the first frame of a connection to a replica
// that requires a password or client certificates.
struct Auth {
  uint64_t client_id = 0;
  std::string password;
};

using Frame = std::variant<Request, ClientReply, PeerMessage, StatusReport, Assignment,
                           AdminRequest, AdminReply, Auth>;

std::string EncodeFrame(const Frame& frame);
// bytes_max bounds the frame; the Cap'n Proto traversal limit follows from it.
StatusOr<Frame> DecodeFrame(std::string_view bytes, size_t bytes_max);

}  // namespace duplex
