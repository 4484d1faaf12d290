#include "replica/frame.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <sstream>

#include "replica/frame_envelope.h"
#include "replica/replica.capnp.h"
#include "state_sync/wire_codec.h"

namespace duplex {
namespace {

void ToWire(const Request& r, wire::ClientRequest::Builder b) {
  b.setClientId(r.client_id);
  b.setRequestSeq(r.request_seq);
  b.setOp(r.op);
  auto args = b.initArgs(static_cast<unsigned>(r.args.size()));
  for (size_t i = 0; i < r.args.size(); ++i)
    args.set(static_cast<unsigned>(i), CapnpBytes(r.args[i]));
}

void ToWire(const ClientReply& r, wire::ClientResponse::Builder b) {
  b.setClientId(r.client_id);
  b.setRequestSeq(r.request_seq);
  b.setCode(static_cast<uint16_t>(r.response.code));
  b.setMessage(r.response.message);
  b.setValue(CapnpBytes(r.response.value));
  b.setEpoch(r.epoch);
  b.setActiveHint(r.active_hint);
}

void ToWire(const StatusReport& s, wire::Status::Builder b) {
  b.setReplica(s.replica);
  b.setPid(s.pid);
  b.setVersion(s.version);
  b.setSchema(s.schema);
  b.setRole(static_cast<wire::Role>(s.role));
  b.setEpoch(s.epoch);
  b.setAppliedEpoch(s.applied_epoch);
  b.setAppliedSeq(s.applied_seq);
  b.setSentUs(s.sent_us);
  b.setInSync(s.in_sync);
  b.setHealthy(s.healthy);
  b.setHealthDetail(s.health_detail);
  b.setPeerAckedSeq(s.peer_acked_seq);
  b.setSoloRequestId(s.solo_request_id);
  b.setWantSolo(s.want_solo);
  b.setPeerCaughtUp(s.peer_caught_up);
  b.setPromotedReady(s.promoted_ready);
  b.setDemoted(s.demoted);
  b.setHolds(s.holds);
  b.setMarks(s.marks);
  b.setAdminFrames(s.admin_frames);
  b.setLeaseLostMs(s.lease_lost_ms);
  b.setPeerSilentMs(s.peer_silent_ms);
  b.setStoreCorrupt(s.store_corrupt);
  b.setFollowsActive(s.follows_active);
  b.setStaleTermAssignments(s.stale_term_assignments);
  b.setCoordinatorTerm(s.coordinator_term);
  b.setLagOps(s.lag_ops);
  b.setRefusedFrames(s.refused_frames);
  b.setRolePath(s.role_path);
  b.setStaleEpochFrames(s.stale_epoch_frames);
  b.setVetoReason(s.veto_reason);
  b.setClusterVersion(s.cluster_version);
  b.setNeedsResync(s.needs_resync);
  b.setRequestsTotal(s.requests_total);
  b.setServerErrorsTotal(s.server_errors_total);
  b.setLatencyP99Us(s.latency_p99_us);
  b.setCatchupKeys(s.catchup_keys);
  b.setCatchupBytes(s.catchup_bytes);
}

void ToWire(const Assignment& a, wire::Assignment::Builder b) {
  b.setEpoch(a.epoch);
  b.setRole(static_cast<wire::Role>(a.role));
  b.setPeerEndpoint(a.peer_endpoint);
  b.setPeerName(a.peer_name);
  b.setLeaseEchoUs(a.lease_echo_us);
  b.setSkipLeaseWait(a.skip_lease_wait);
  b.setStandbyInSync(a.standby_in_sync);
  b.setSoloGrantId(a.solo_grant_id);
  b.setSyncId(a.sync_id);
  b.setStandbyOut(a.standby_out);
  b.setDrain(a.drain);
  b.setHold(a.hold);
  b.setClusterVersion(a.cluster_version);
  b.setCoordinatorTerm(a.coordinator_term);
}

void ToWire(const AdminRequest& r, wire::AdminRequest::Builder b) {
  b.setId(r.id);
  b.setOp(static_cast<wire::AdminOp>(r.op));
  b.setSchema(r.schema);
  b.setSeq(r.seq);
  b.setToken(r.token);
  b.setPath(r.path);
}

void ToWire(const AdminReply& r, wire::AdminReply::Builder b) {
  b.setId(r.id);
  b.setCode(static_cast<uint16_t>(r.code));
  b.setMessage(r.message);
  b.setDigest(r.digest);
  b.setKeys(r.keys);
  b.setSeq(r.seq);
  b.setToken(r.token);
  b.setPath(r.path);
}

StatusOr<Frame> AdminRequestFromWire(wire::AdminRequest::Reader r) {
  auto op = static_cast<uint16_t>(r.getOp());
  if (op > static_cast<uint16_t>(kAdminOpLast)) {
    return Corruption("admin request: unknown op " + std::to_string(op));
  }
  return Frame(AdminRequest{r.getId(), static_cast<AdminOp>(op), r.getSchema(), r.getSeq(),
                            r.getToken(), r.getPath()});
}

StatusOr<Frame> AdminReplyFromWire(wire::AdminReply::Reader r) {
  if (r.getCode() > static_cast<uint16_t>(Code::kInternal)) {
    return Corruption("admin reply: unknown code " + std::to_string(r.getCode()));
  }
  return Frame(AdminReply{r.getId(), static_cast<Code>(r.getCode()), r.getMessage(), r.getDigest(),
                          r.getKeys(), r.getSeq(), r.getToken(), r.getPath()});
}

StatusOr<WireRole> RoleFromWire(wire::Role role) {
  auto value = static_cast<uint16_t>(role);
  if (value > static_cast<uint16_t>(WireRole::kActive)) {
    return Corruption("unknown role " + std::to_string(value));
  }
  return static_cast<WireRole>(value);
}

StatusOr<Frame> StatusFromWire(wire::Status::Reader s) {
  auto role = RoleFromWire(s.getRole());
  if (!role.ok()) return role.status();
  StatusReport out;
  out.replica = s.getReplica();
  out.pid = s.getPid();
  out.version = s.getVersion();
  out.schema = s.getSchema();
  out.role = *role;
  out.epoch = s.getEpoch();
  out.applied_epoch = s.getAppliedEpoch();
  out.applied_seq = s.getAppliedSeq();
  out.sent_us = s.getSentUs();
  out.in_sync = s.getInSync();
  out.healthy = s.getHealthy();
  out.health_detail = s.getHealthDetail();
  out.peer_acked_seq = s.getPeerAckedSeq();
  out.solo_request_id = s.getSoloRequestId();
  out.want_solo = s.getWantSolo();
  out.peer_caught_up = s.getPeerCaughtUp();
  out.promoted_ready = s.getPromotedReady();
  out.demoted = s.getDemoted();
  out.holds = s.getHolds();
  out.marks = s.getMarks();
  out.admin_frames = s.getAdminFrames();
  out.lease_lost_ms = s.getLeaseLostMs();
  out.peer_silent_ms = s.getPeerSilentMs();
  out.store_corrupt = s.getStoreCorrupt();
  out.follows_active = s.getFollowsActive();
  out.stale_term_assignments = s.getStaleTermAssignments();
  out.coordinator_term = s.getCoordinatorTerm();
  out.lag_ops = s.getLagOps();
  out.refused_frames = s.getRefusedFrames();
  out.role_path = s.getRolePath();
  out.stale_epoch_frames = s.getStaleEpochFrames();
  out.veto_reason = s.getVetoReason();
  out.cluster_version = s.getClusterVersion();
  out.needs_resync = s.getNeedsResync();
  out.requests_total = s.getRequestsTotal();
  out.server_errors_total = s.getServerErrorsTotal();
  out.latency_p99_us = s.getLatencyP99Us();
  out.catchup_keys = s.getCatchupKeys();
  out.catchup_bytes = s.getCatchupBytes();
  return Frame(std::move(out));
}

StatusOr<Frame> FrameFromWire(wire::Frame::Reader f) {
  switch (f.which()) {
    case wire::Frame::CLIENT_REQUEST: {
      auto r = f.getClientRequest();
      Request out{r.getClientId(), r.getRequestSeq(), r.getOp(), {}};
      for (auto a : r.getArgs()) out.args.push_back(FromCapnpData(a));
      return Frame(std::move(out));
    }
    case wire::Frame::CLIENT_RESPONSE: {
      auto r = f.getClientResponse();
      if (r.getCode() > static_cast<uint16_t>(Code::kInternal)) {
        return Corruption("client response: unknown code " + std::to_string(r.getCode()));
      }
      return Frame(
          ClientReply{r.getClientId(),
                      r.getRequestSeq(),
                      {static_cast<Code>(r.getCode()), r.getMessage(), FromCapnpData(r.getValue())},
                      r.getEpoch(),
                      r.getActiveHint()});
    }
    case wire::Frame::PEER: {
      auto m = FromWire(f.getPeer());
      if (!m.ok()) return m.status();
      return Frame(std::move(m).value());
    }
    case wire::Frame::STATUS:
      return StatusFromWire(f.getStatus());
    case wire::Frame::ASSIGNMENT: {
      auto a = f.getAssignment();
      auto role = RoleFromWire(a.getRole());
      if (!role.ok()) return role.status();
      return Frame(Assignment{a.getEpoch(), *role, a.getPeerEndpoint(), a.getPeerName(),
                              a.getLeaseEchoUs(), a.getSkipLeaseWait(), a.getStandbyInSync(),
                              a.getSoloGrantId(), a.getDrain(), a.getClusterVersion(),
                              a.getSyncId(), a.getStandbyOut(), a.getHold(),
                              a.getCoordinatorTerm()});
    }
    case wire::Frame::ADMIN_REQUEST:
      return AdminRequestFromWire(f.getAdminRequest());
    case wire::Frame::ADMIN_REPLY:
      return AdminReplyFromWire(f.getAdminReply());
    case wire::Frame::AUTH:
      return Frame(Auth{f.getAuth().getClientId(), f.getAuth().getPassword()});
  }
  return Corruption("frame: unknown kind " + std::to_string(static_cast<int>(f.which())));
}

}  // namespace

const char* WireRoleName(WireRole role) {
  switch (role) {
    case WireRole::kOutOfService:
      return "out-of-service";
    case WireRole::kStandby:
      return "standby";
    case WireRole::kActive:
      return "active";
  }
  return "?";
}

const char* AdminOpName(AdminOp op) {
  switch (op) {
    case AdminOp::kDigest:
      return "_digest";
    case AdminOp::kDigestOpen:
      return "_digest_open";
    case AdminOp::kDigestMark:
      return "_digest_mark";
    case AdminOp::kDigestAt:
      return "_digest_at";
    case AdminOp::kDigestOf:
      return "_digest_of";
    case AdminOp::kCheckpoint:
      return "_checkpoint";
  }
  return "?";
}

AdminReply AdminAnswer(uint64_t id, Code code, std::string message) {
  AdminReply reply;
  reply.id = id;
  reply.code = code;
  reply.message = std::move(message);
  return reply;
}

std::string DigestText(const AdminReply& reply) {
  return std::to_string(reply.digest) + " " + std::to_string(reply.keys) + " " +
         std::to_string(reply.seq);
}

Request AdminAsClientOp(const AdminRequest& r, uint64_t client_id) {
  std::vector<std::string> args;
  switch (r.op) {
    case AdminOp::kDigest:
    case AdminOp::kDigestOpen:
    case AdminOp::kDigestMark:
      break;
    case AdminOp::kDigestAt:
      args.push_back(std::to_string(r.seq));
      break;
    case AdminOp::kDigestOf:
      args.push_back(std::to_string(r.token));
      break;
    case AdminOp::kCheckpoint:
      args.push_back(r.path);
      break;
  }
  bool reads = r.op != AdminOp::kDigestOf && r.op != AdminOp::kCheckpoint;
  if (reads && r.schema != 0) args.push_back(std::to_string(r.schema));
  return Request{client_id, 0, AdminOpName(r.op), std::move(args)};
}

StatusOr<AdminReply> AdminFromClientAnswer(const AdminRequest& r, const Response& response) {
  AdminReply out = AdminAnswer(r.id, response.code, response.message);
  if (response.code != Code::kOk) return out;
  if (r.op == AdminOp::kCheckpoint) {
    out.path = response.value;
    return out;
  }
  std::istringstream words(response.value);
  bool opened = r.op == AdminOp::kDigestOpen || r.op == AdminOp::kDigestMark;
  bool read = opened ? static_cast<bool>(words >> out.token >> out.seq)
                     : static_cast<bool>(words >> out.digest >> out.keys >> out.seq);
  if (!read) {
    return Corruption(std::string(AdminOpName(r.op)) + ": unreadable answer '" + response.value +
                      "'");
  }
  return out;
}

std::string EncodeFrame(const Frame& frame) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::Frame>();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Request>) ToWire(v, root.initClientRequest());
        if constexpr (std::is_same_v<T, ClientReply>) ToWire(v, root.initClientResponse());
        if constexpr (std::is_same_v<T, PeerMessage>) ToWire(v, root.initPeer());
        if constexpr (std::is_same_v<T, StatusReport>) ToWire(v, root.initStatus());
        if constexpr (std::is_same_v<T, Assignment>) ToWire(v, root.initAssignment());
        if constexpr (std::is_same_v<T, AdminRequest>) ToWire(v, root.initAdminRequest());
        if constexpr (std::is_same_v<T, AdminReply>) ToWire(v, root.initAdminReply());
        if constexpr (std::is_same_v<T, Auth>) {
          auto auth = root.initAuth();
          auth.setClientId(v.client_id);
          auth.setPassword(v.password);
        }
      },
      frame);
  return SealEnvelope(message);
}

StatusOr<Frame> DecodeFrame(std::string_view bytes, size_t bytes_max) {
  StatusOr<Frame> frame = Corruption("no frame");
  Status opened = OpenEnvelope(bytes, bytes_max, "frame", [&](capnp::MessageReader& reader) {
    frame = FrameFromWire(reader.getRoot<wire::Frame>());
    return frame.status();
  });
  if (!opened.ok()) return opened;
  return frame;
}

}  // namespace duplex
