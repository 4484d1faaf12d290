// Access control at the edges of every duplex process: secrets read from files (the admin
// token, the client password), the refusals counted as duplex_auth_refused_total{reason},
// and protected mode (a process bound beyond loopback must have credentials configured).
// AuthCounters is thread-safe; the rest are stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace duplex {

// The contents of a secret file, trailing newline and spaces removed. Refused, naming the
// file and `key` (the config key or flag that named it): unreadable, empty, or readable by
// group or others (its mode is shown; chmod 600).
StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& key);

// 127.0.0.0/8, ::1 and "localhost". Anything else (0.0.0.0 included) is reachable from
// other machines.
bool IsLoopbackAddress(const std::string& host);

// Protected mode, as Redis has it. `missing` lists what `who` (e.g. "coordinator h1") lacks,
// each as the config key to add ("security.public_keys (CURVE keys)"). On loopback, or with
// nothing missing: OK, and on loopback with something missing one warning line is logged.
// Beyond loopback with something missing: FailedPrecondition naming the address, each thing
// to add, and how (`duplex keys init`), before anything binds.
Status CheckProtectedMode(const std::string& who, const std::string& host,
                          const std::vector<std::string>& missing);

// Why a peer or a message of a peer was refused (duplex_auth_refused_total{reason}).
enum class AuthRefusal {
  kUnknownKey,     // ZAP: a CURVE key not in the allow-list
  kNotCurve,       // ZAP: a mechanism other than CURVE
  kBadRequest,     // ZAP: a malformed request
  kWrongMember,    // a listed key of a member that may not send this here (an agent's Hello)
  kClaimMismatch,  // the name in the message is not the member of the key that sent it
};
inline constexpr size_t kAuthRefusals = 5;
const char* AuthRefusalName(AuthRefusal reason);

// Refusals by reason, for CURVE (AuthRefusal) and for the client and admin ports
// ("client_password", "client_noauth", "client_tls", "admin_token_missing",
// "admin_token_wrong"): one duplex_auth_refused_total family per process, on /metrics.
// Thread-safe: the ZAP thread, the event loop and the HTTP threads count.
class AuthCounters {
 public:
  void Count(const std::string& reason);
  void Count(AuthRefusal reason) { Count(std::string(AuthRefusalName(reason))); }
  uint64_t Of(const std::string& reason) const;
  uint64_t Get(AuthRefusal reason) const { return Of(AuthRefusalName(reason)); }
  // The duplex_auth_refused_total family (HELP, TYPE, a line per reason; reasons never
  // refused show 0 so that dashboards see the series from the start), with the reasons `more`
  // names (counted elsewhere, such as the replica core's not_assigned).
  std::string MetricsText(const std::vector<std::pair<std::string, uint64_t>>& more = {}) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> refused_;
};

}  // namespace duplex
