#include "upgrade_coordinator/control_link.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <string_view>

#include "replica/zmq_util.h"

namespace duplex {

ControlLink::ControlLink(uint64_t frame_bytes_max, size_t parts_max, uint64_t* parts_refused)
    : frame_bytes_max_(frame_bytes_max),
      parts_max_(parts_max),
      parts_refused_(parts_refused),
      ctx_(zmq_ctx_new()),
      router_(zmq_socket(ctx_, ZMQ_ROUTER)) {
  int zero = 0;
  int64_t msg_max = static_cast<int64_t>(frame_bytes_max);
  zmq_setsockopt(router_, ZMQ_LINGER, &zero, sizeof(zero));
  zmq_setsockopt(router_, ZMQ_MAXMSGSIZE, &msg_max, sizeof(msg_max));
}

ControlLink::~ControlLink() {
  zmq_close(router_);
  curve_.reset();  // its ZAP socket, before the context ends
  zmq_ctx_term(ctx_);
}

Status ControlLink::Start(const std::string& bind, CurveSettings curve,
                          std::shared_ptr<AuthCounters> counters) {
  auto auth = CurveAuth::Start(ctx_, std::move(curve), std::move(counters));
  if (!auth.ok()) return auth.status();
  curve_ = std::move(auth).value();
  DUPLEX_RETURN_IF_ERROR(curve_->Serve(router_));
  return ZmqBind(router_, bind);
}

bool ControlLink::Receive(const OnStatus& on_status, const OnReport& on_report) {
  std::vector<std::string> parts = RecvParts(router_, &sender_, parts_max_, parts_refused_);
  if (parts.empty()) return false;
  const std::string why = Dispatch(parts, on_status, on_report);
  if (!why.empty()) Refused(why);
  return true;
}

std::string ControlLink::Dispatch(const std::vector<std::string>& parts, const OnStatus& on_status,
                                  const OnReport& on_report) {
  if (parts.size() == 3 && parts[1] == kAgentTag) {
    auto frame = DecodeAgentFrame(parts[2], frame_bytes_max_);
    if (!frame.ok()) return "agent frame: " + frame.status().message();
    auto* report = std::get_if<AgentReport>(&*frame);
    if (report == nullptr) return "agent frame: not an agent report";
    if (curve_->on() &&
        !curve_->Admit(sender_, AgentMember(report->host), AuthRefusal::kClaimMismatch,
                       "a report for host '" + report->host + "'")) {
      return "";  // counted and logged by Admit
    }
    return on_report(parts[0], *report);
  }
  if (parts.size() != 2) return "expected 2 parts, got " + std::to_string(parts.size());
  auto frame = DecodeFrame(parts[1], frame_bytes_max_);
  if (!frame.ok()) return frame.status().message();
  auto* status = std::get_if<StatusReport>(&*frame);
  if (status == nullptr) return "not a status report";
  if (curve_->on() &&
      !curve_->Admit(sender_, ReplicaMember(status->replica), AuthRefusal::kClaimMismatch,
                     "a status for replica '" + status->replica + "'")) {
    return "";
  }
  return on_status(parts[0], *status);
}

void ControlLink::Refused(const std::string& why) {
  if (++refused_ <= 100 || refused_ % 1000 == 0) spdlog::warn("refused control frame: {}", why);
}

void ControlLink::Send(const std::string& route, const std::vector<std::string>& parts) {
  std::vector<std::string_view> all = {route};
  all.insert(all.end(), parts.begin(), parts.end());
  SendMultipart(router_, all);
}

}  // namespace duplex
