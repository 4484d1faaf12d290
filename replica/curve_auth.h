// CURVE on duplex's ZeroMQ links: key files, the allow-list of the cluster's members, a ZAP
// handler (ZAP 1.0, ZeroMQ RFC 27) that admits only listed keys and names their member, and the
// identity check of what a member sends. One CurveAuth per process (per ZeroMQ context), owned by
// its daemon; the ZAP handler runs on a thread of its own, everything else on the daemon's loop
// thread, and the refusal counters (atomics) may be read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "replica/access_control.h"

namespace duplex {

// A CURVE key written in Z85: 32 bytes in 40 characters.
inline constexpr size_t kCurveKeyZ85Chars = 40;

// The member names a key binds (the ZAP User-Id): "replica.a", "agent.h1" (the coordinator's,
// "coordinator.h1", in upgrade_coordinator/security_config.h).
std::string ReplicaMember(const std::string& replica_name);
std::string AgentMember(const std::string& host_name);

// "" when `key` is 40 Z85 characters that decode; else why not, naming `what`.
Status CheckCurveKey(std::string_view key, const std::string& what);
// A secret key file (its Z85 key, a newline allowed): refused when the file is readable or
// writable by group or others, as ssh refuses such a key (the error names the file and its mode).
StatusOr<std::string> ReadCurveSecretFile(const std::string& path);
// The public key of a Z85 secret key.
StatusOr<std::string> CurvePublicKey(const std::string& secret_z85);
// "member=KEY,member=KEY" (Z85 has no ','; a member name has no '=') <-> member -> key. Errors
// name the bad item.
StatusOr<std::map<std::string, std::string>> ParseCurveKeys(std::string_view list);
std::string FormatCurveKeys(const std::map<std::string, std::string>& keys);

// What a process needs to speak CURVE.
struct CurveSettings {
  std::string member;      // this process's member ("replica.a")
  std::string secret_key;  // Z85, this member's
  // Member -> Z85 public key: the allow-list, and where clients find their servers' keys.
  // Empty: CURVE is off (the loopback default), every socket plain, every message admitted.
  std::map<std::string, std::string> public_keys;
  bool on() const { return !public_keys.empty(); }
};

class CurveAuth {
 public:
  // With settings.on(): checks the keys (the secret's public key must be the one listed for
  // settings.member) and starts the ZAP handler on inproc://zeromq.zap.01 of zmq_context, before
  // any server socket of it binds. Off: nothing runs.
  // Refusals are counted in `counters` (shared with the process's other checks, so that
  // /metrics shows one family), or in counters of its own when null.
  static StatusOr<std::unique_ptr<CurveAuth>> Start(
      void* zmq_context, CurveSettings settings, std::shared_ptr<AuthCounters> counters = nullptr);
  // Stops the ZAP handler; call before the context is terminated.
  ~CurveAuth();
  CurveAuth(const CurveAuth&) = delete;
  CurveAuth& operator=(const CurveAuth&) = delete;

  bool on() const { return settings_.on(); }
  const std::string& member() const { return settings_.member; }
  // Before bind: a CURVE server with this member's key, authenticated through ZAP.
  Status Serve(void* socket) const;
  // Before connect: a CURVE client of server_member (the server must hold its listed key).
  Status ClientOf(void* socket, const std::string& server_member) const;

  // Whether `sender` (the message's User-Id; "" over a plain link) may send what `what` names
  // as `expected` (a member): always true when CURVE is off; a refusal is counted under
  // `reason` and logged once per sender a minute.
  bool Admit(const std::string& sender, const std::string& expected, AuthRefusal reason,
             std::string_view what);

  const AuthCounters& counters() const { return *counters_; }

 private:
  class ZapHandler;
  CurveAuth(CurveSettings settings, std::shared_ptr<AuthCounters> counters);

  CurveSettings settings_;
  std::shared_ptr<AuthCounters> counters_;    // shared with the ZAP thread
  std::map<std::string, int64_t> logged_us_;  // sender -> when a refusal was last logged
  std::unique_ptr<ZapHandler> zap_;
};

}  // namespace duplex
