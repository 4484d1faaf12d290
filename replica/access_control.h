// Access control at the edges of every duplex process: secrets read from files (the admin
// token, the client password), the refusals counted as duplex_auth_refused_total{reason},
// and protected mode (a process bound beyond loopback must have credentials configured).
// AuthCounters is thread-safe; the rest are stateless functions.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
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

// Refusals by reason ("client_password", "client_noauth", "client_tls",
// "admin_token_missing", "admin_token_wrong"), shown on /metrics.
class AuthCounters {
 public:
  void Count(const std::string& reason);
  uint64_t Of(const std::string& reason) const;
  // The duplex_auth_refused_total family (HELP, TYPE, a line per reason; reasons never
  // refused show 0 so that dashboards see the series from the start).
  std::string MetricsText() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> refused_;
};

}  // namespace duplex
