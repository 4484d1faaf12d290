// ControlLink: the coordinator's control socket, a ZeroMQ ROUTER on control_port. Replicas'
// statuses and agents' reports come in, assignments and desired states go out. With CURVE it is
// a CURVE server behind the process's ZAP handler, and a key binds what its holder may say: a
// status for replica `a` is taken only from replica.a's key, a report for host h only from
// agent.h's. Owned by the coordinator's loop and used on its thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "replica/curve_auth.h"
#include "replica/frame.h"
#include "replica/zmq_util.h"
#include "upgrade_coordinator/agent/agent_protocol.h"

namespace duplex {

class ControlLink {
 public:
  // Each returns "" when it took the message, else why not (counted and logged as a refusal).
  // route: the connection it came on, to answer there.
  using OnStatus = std::function<std::string(const std::string& route, const StatusReport&)>;
  using OnReport = std::function<std::string(const std::string& route, const AgentReport&)>;

  // A message of more than parts_max parts (limits.zmq_parts_max) is dropped unread and
  // counted in *parts_refused (when given; it must outlive the link).
  explicit ControlLink(uint64_t frame_bytes_max, size_t parts_max = kZmqPartsMaxDefault,
                       uint64_t* parts_refused = nullptr);
  ~ControlLink();
  ControlLink(const ControlLink&) = delete;
  ControlLink& operator=(const ControlLink&) = delete;

  // The ZAP handler (with curve.on()), then the bind: no handshake goes unchecked.
  // Refusals are counted in `counters`, the coordinator's one family for /metrics.
  Status Start(const std::string& bind, CurveSettings curve,
               std::shared_ptr<AuthCounters> counters);

  void* socket() const { return router_; }
  // Takes one waiting message; false when none was waiting. A frame that does not decode, is
  // neither a status nor an agent report, or comes from a key that may not send it, is refused.
  bool Receive(const OnStatus& on_status, const OnReport& on_report);
  void Send(const std::string& route, const std::vector<std::string>& parts);

  uint64_t refused() const { return refused_; }

 private:
  std::string Dispatch(const std::vector<std::string>& parts, const OnStatus& on_status,
                       const OnReport& on_report);
  void Refused(const std::string& why);

  const uint64_t frame_bytes_max_;
  const size_t parts_max_;
  uint64_t* parts_refused_;
  void* ctx_;
  std::unique_ptr<CurveAuth> curve_;  // after the context, before the socket closes
  void* router_;
  std::string sender_;  // the last message's User-Id (its buffer reused)
  uint64_t refused_ = 0;
};

}  // namespace duplex
