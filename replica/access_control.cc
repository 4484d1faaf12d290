#include "replica/access_control.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/net.h"

namespace duplex {

StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& key) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return InvalidArgument(key + ": cannot read " + path + ": no such file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return InvalidArgument(key + ": " + path + " has mode " + mode +
                           ": group or others may read it; chmod 600 " + path);
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return InvalidArgument(key + ": cannot read " + path);
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' ||
                             secret.back() == ' ' || secret.back() == '\t')) {
    secret.pop_back();
  }
  if (secret.empty()) return InvalidArgument(key + ": " + path + " is empty");
  return secret;
}

bool IsLoopbackAddress(const std::string& host) {
  if (host == "localhost") return true;
  if (host.empty()) return false;
  // A name is judged by the address every socket of duplex binds for it (ResolveHost), so a
  // name from /etc/hosts that means 127.0.0.1 is loopback, and one that means 10.0.0.1 is not.
  StatusOr<std::string> address = ResolveHost(host);
  if (!address.ok()) return false;
  in_addr v4{};
  if (::inet_pton(AF_INET, address->c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  return ::inet_pton(AF_INET6, address->c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

Status CheckProtectedMode(const std::string& who, const std::string& host,
                          const std::vector<std::string>& missing) {
  if (missing.empty()) return Status::Ok();
  if (IsLoopbackAddress(host)) {
    spdlog::warn("security: no keys configured; listening on loopback only");
    return Status::Ok();
  }
  std::string what;
  for (const std::string& m : missing) what += "\n  - " + m;
  return FailedPrecondition(
      "protected mode: " + who + " would listen on " + host +
      ", which is not a loopback address, without authentication. Add to the cluster "
      "config's security: section" +
      what + "\n(`duplex keys init -c CONFIG --tls` writes them), or bind a 127.x.x.x address.");
}

const char* AuthRefusalName(AuthRefusal reason) {
  switch (reason) {
    case AuthRefusal::kUnknownKey:
      return "unknown_key";
    case AuthRefusal::kNotCurve:
      return "not_curve";
    case AuthRefusal::kBadRequest:
      return "bad_request";
    case AuthRefusal::kWrongMember:
      return "wrong_member";
    case AuthRefusal::kClaimMismatch:
      return "claim_mismatch";
  }
  return "unknown";
}

void AuthCounters::Count(const std::string& reason) {
  std::lock_guard lock(mu_);
  ++refused_[reason];
}

uint64_t AuthCounters::Of(const std::string& reason) const {
  std::lock_guard lock(mu_);
  auto it = refused_.find(reason);
  return it == refused_.end() ? 0 : it->second;
}

std::string AuthCounters::MetricsText(
    const std::vector<std::pair<std::string, uint64_t>>& more) const {
  static const char* const kReasons[] = {"admin_token_missing", "admin_token_wrong",
                                         "client_noauth", "client_password", "client_tls"};
  std::map<std::string, uint64_t> shown;
  for (const char* r : kReasons) shown[r] = 0;
  for (size_t i = 0; i < kAuthRefusals; ++i)
    shown[AuthRefusalName(static_cast<AuthRefusal>(i))] = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& [reason, n] : refused_) shown[reason] = n;
  }
  for (const auto& [reason, n] : more) shown[reason] += n;
  std::string text =
      "# HELP duplex_auth_refused_total Peers, connections, messages and calls refused for want "
      "of valid keys or credentials, by reason.\n"
      "# TYPE duplex_auth_refused_total counter\n";
  for (const auto& [reason, n] : shown) {
    text += "duplex_auth_refused_total{reason=\"" + reason + "\"} " + std::to_string(n) + "\n";
  }
  return text;
}

}  // namespace duplex
