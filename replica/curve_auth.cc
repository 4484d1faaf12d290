#include "replica/curve_auth.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <zmq.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/assert.h"
#include "common/prometheus.h"

namespace duplex {
namespace {

// ZAP 1.0 (RFC 27): the endpoint every socket of a context asks, and the domain our servers
// name (a handler could serve several; ours serves one).
constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kZapDomain[] = "duplex";
constexpr int64_t kLogEveryUs = 60'000'000;  // a sender's refusals: one log line a minute
constexpr size_t kLoggedSendersMax = 4096;   // senders remembered for that; then forgotten

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string ZmqError(const std::string& what) { return what + ": " + zmq_strerror(zmq_errno()); }

// Whether a refusal by `sender` is logged now: once a minute per sender, with a bounded memory.
bool LogNow(std::map<std::string, int64_t>& logged_us, const std::string& sender) {
  const int64_t now = NowUs();
  if (logged_us.size() >= kLoggedSendersMax)
    std::erase_if(logged_us, [&](const auto& e) { return now - e.second >= kLogEveryUs; });
  if (logged_us.size() >= kLoggedSendersMax) logged_us.clear();
  auto [it, fresh] = logged_us.try_emplace(sender, now);
  if (fresh) return true;
  if (now - it->second < kLogEveryUs) return false;
  it->second = now;
  return true;
}

std::vector<std::string> RecvAll(void* socket) {
  std::vector<std::string> parts;
  for (int more = 1; more;) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, 0) < 0) {
      zmq_msg_close(&msg);
      break;
    }
    parts.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
  }
  return parts;
}

std::string Z85(const std::string& key32) {
  char out[kCurveKeyZ85Chars + 1] = {};
  zmq_z85_encode(out, reinterpret_cast<const uint8_t*>(key32.data()), key32.size());
  return out;
}

}  // namespace

std::string ReplicaMember(const std::string& replica_name) { return "replica." + replica_name; }
std::string AgentMember(const std::string& host_name) { return "agent." + host_name; }

Status CheckCurveKey(std::string_view key, const std::string& what) {
  if (key.size() != kCurveKeyZ85Chars) {
    return InvalidArgument(what + ": a CURVE key is " + std::to_string(kCurveKeyZ85Chars) +
                           " Z85 characters, got " + std::to_string(key.size()));
  }
  uint8_t bytes[32];
  const std::string text(key);
  if (zmq_z85_decode(bytes, text.c_str()) == nullptr) {
    return InvalidArgument(what + ": '" + text + "' is not Z85");
  }
  return Status::Ok();
}

StatusOr<std::string> ReadCurveSecretFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return NotFound("CURVE secret key " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    std::ostringstream mode;
    mode << std::oct << (st.st_mode & 0777);
    return FailedPrecondition("CURVE secret key " + path + " has mode 0" + mode.str() +
                              ": it must not be accessible by group or others (chmod 600)");
  }
  std::ifstream in(path);
  std::string key;
  if (!(in >> key)) return IOError("CURVE secret key " + path + ": cannot read it");
  std::string rest;
  if (in >> rest) return InvalidArgument("CURVE secret key " + path + ": more than one key");
  DUPLEX_RETURN_IF_ERROR(CheckCurveKey(key, "CURVE secret key " + path));
  return key;
}

StatusOr<std::string> CurvePublicKey(const std::string& secret_z85) {
  DUPLEX_RETURN_IF_ERROR(CheckCurveKey(secret_z85, "secret key"));
  char out[kCurveKeyZ85Chars + 1] = {};
  if (zmq_curve_public(out, secret_z85.c_str()) != 0) {
    return Unavailable(ZmqError("zmq_curve_public"));
  }
  return std::string(out);
}

StatusOr<std::map<std::string, std::string>> ParseCurveKeys(std::string_view list) {
  std::map<std::string, std::string> keys;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item(list.substr(start, comma - start));
    const size_t eq = item.find('=');
    const std::string where = "--curve-keys: item " + std::to_string(keys.size() + 1);
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(where + " '" + item + "' is not member=KEY");
    }
    const std::string member = item.substr(0, eq);
    DUPLEX_RETURN_IF_ERROR(CheckCurveKey(item.substr(eq + 1), where + " (" + member + ")"));
    if (!keys.emplace(member, item.substr(eq + 1)).second) {
      return InvalidArgument(where + ": " + member + " is listed twice");
    }
    start = comma + 1;
  }
  return keys;
}

std::string FormatCurveKeys(const std::map<std::string, std::string>& keys) {
  std::string out;
  for (const auto& [member, key] : keys) out += (out.empty() ? "" : ",") + member + "=" + key;
  return out;
}

// The ZAP handler: a REP socket on the context's ZAP endpoint, answered on a thread of its own
// (libzmq asks it during each CURVE handshake, from its I/O thread, and waits for the answer).
// A PAIR pipe wakes it to stop.
class CurveAuth::ZapHandler {
 public:
  ZapHandler(void* ctx, std::map<std::string, std::string> members, AuthCounters* counters)
      : members_(std::move(members)),
        counters_(counters),
        rep_(zmq_socket(ctx, ZMQ_REP)),
        stop_in_(zmq_socket(ctx, ZMQ_PAIR)),
        stop_out_(zmq_socket(ctx, ZMQ_PAIR)) {
    int zero = 0;
    for (void* s : {rep_, stop_in_, stop_out_}) zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
  }
  ~ZapHandler() {
    if (thread_.joinable()) {
      zmq_send(stop_out_, "", 0, 0);
      thread_.join();
    }
    for (void* s : {rep_, stop_in_, stop_out_}) zmq_close(s);
  }

  // Bound here, on the caller's thread, so that no handshake can precede the handler.
  Status Start() {
    if (zmq_bind(rep_, kZapEndpoint) != 0) {
      return Unavailable(ZmqError(std::string("ZAP handler: bind ") + kZapEndpoint));
    }
    const std::string pipe =
        "inproc://duplex-zap-stop-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    if (zmq_bind(stop_in_, pipe.c_str()) != 0 || zmq_connect(stop_out_, pipe.c_str()) != 0) {
      return Unavailable(ZmqError("ZAP handler: its stop pipe"));
    }
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

 private:
  void Loop() {
    for (;;) {
      zmq_pollitem_t items[2] = {{rep_, 0, ZMQ_POLLIN, 0}, {stop_in_, 0, ZMQ_POLLIN, 0}};
      if (zmq_poll(items, 2, -1) < 0 && zmq_errno() != EINTR) return;
      if (items[1].revents & ZMQ_POLLIN) return;
      if (items[0].revents & ZMQ_POLLIN) Answer(RecvAll(rep_));
    }
  }

  // Request: version, request id, domain, address, routing id, mechanism, credentials...
  // Reply: version, request id, status code, status text, user id, metadata.
  void Answer(const std::vector<std::string>& request) {
    const std::string id = request.size() > 1 ? request[1] : "";
    std::string code = "400", text, user;
    if (request.size() < 6 || request[0] != "1.0") {
      counters_->Count(AuthRefusal::kBadRequest);
      text = "malformed ZAP request";
    } else if (request[5] != "CURVE" || request.size() != 7 || request[6].size() != 32) {
      counters_->Count(AuthRefusal::kNotCurve);
      text = "CURVE is required";
      Log(request[3], "mechanism " + request[5]);
    } else if (auto it = members_.find(request[6]); it == members_.end()) {
      counters_->Count(AuthRefusal::kUnknownKey);
      text = "unknown key";
      Log(request[3], "unknown key " + Z85(request[6]));
    } else {
      code = "200", text = "OK", user = it->second;
    }
    const std::vector<std::string> reply = {"1.0", id, code, text, user, ""};
    for (size_t i = 0; i < reply.size(); ++i) {
      zmq_send(rep_, reply[i].data(), reply[i].size(), i + 1 < reply.size() ? ZMQ_SNDMORE : 0);
    }
  }

  void Log(const std::string& address, const std::string& what) {
    if (LogNow(logged_us_, address + " " + what)) {
      spdlog::warn("refused a ZeroMQ peer at {}: {} (logged once a minute per peer)", address,
                   what);
    }
  }

  const std::map<std::string, std::string> members_;  // 32-byte key -> member
  AuthCounters* counters_;
  void* rep_;
  void* stop_in_;   // the thread's end
  void* stop_out_;  // the owner's end
  std::map<std::string, int64_t> logged_us_;
  std::thread thread_;
};

CurveAuth::CurveAuth(CurveSettings settings, std::shared_ptr<AuthCounters> counters)
    : settings_(std::move(settings)), counters_(std::move(counters)) {}

CurveAuth::~CurveAuth() = default;

StatusOr<std::unique_ptr<CurveAuth>> CurveAuth::Start(void* zmq_context, CurveSettings settings,
                                                      std::shared_ptr<AuthCounters> counters) {
  if (counters == nullptr) counters = std::make_shared<AuthCounters>();
  if (!settings.on()) {
    return std::unique_ptr<CurveAuth>(new CurveAuth(std::move(settings), std::move(counters)));
  }
  std::map<std::string, std::string> by_key;
  for (const auto& [member, key] : settings.public_keys) {
    DUPLEX_RETURN_IF_ERROR(CheckCurveKey(key, "the public key of " + member));
    std::string bytes(32, '\0');
    zmq_z85_decode(reinterpret_cast<uint8_t*>(bytes.data()), key.c_str());
    if (!by_key.emplace(bytes, member).second) {
      return InvalidArgument("the public key of " + member + " is also " + by_key[bytes] +
                             "'s: each member needs a key of its own");
    }
  }
  auto listed = settings.public_keys.find(settings.member);
  if (listed == settings.public_keys.end()) {
    return InvalidArgument(settings.member + " has no public key in the list");
  }
  StatusOr<std::string> own = CurvePublicKey(settings.secret_key);
  if (!own.ok()) return own.status();
  if (*own != listed->second) {
    return InvalidArgument("the secret key of " + settings.member +
                           " does not belong to the public key listed for it (" + listed->second +
                           "; the secret's is " + *own + ")");
  }
  std::unique_ptr<CurveAuth> auth(new CurveAuth(std::move(settings), counters));
  auth->zap_ = std::make_unique<ZapHandler>(zmq_context, std::move(by_key), counters.get());
  DUPLEX_RETURN_IF_ERROR(auth->zap_->Start());
  return auth;
}

Status CurveAuth::Serve(void* socket) const {
  if (!on()) return Status::Ok();
  int one = 1;
  const std::string& secret = settings_.secret_key;
  if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret.c_str(), secret.size()) != 0 ||
      zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, kZapDomain, std::strlen(kZapDomain)) != 0) {
    return Unavailable(ZmqError("CURVE server options"));
  }
  return Status::Ok();
}

Status CurveAuth::ClientOf(void* socket, const std::string& server_member) const {
  if (!on()) return Status::Ok();
  auto server = settings_.public_keys.find(server_member);
  if (server == settings_.public_keys.end()) {
    return InvalidArgument("no CURVE public key is listed for " + server_member);
  }
  const std::string& own = settings_.public_keys.at(settings_.member);
  const std::string& secret = settings_.secret_key;
  if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server->second.c_str(), server->second.size()) !=
          0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, own.c_str(), own.size()) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret.c_str(), secret.size()) != 0) {
    return Unavailable(ZmqError("CURVE client options"));
  }
  return Status::Ok();
}

bool CurveAuth::Admit(const std::string& sender, const std::string& expected, AuthRefusal reason,
                      std::string_view what) {
  if (!on() || sender == expected) return true;
  counters_->Count(reason);
  if (LogNow(logged_us_, sender)) {
    spdlog::warn("refused {} from {}: only {} may send it ({}; logged once a minute per sender)",
                 what, sender.empty() ? "an unauthenticated peer" : sender, expected,
                 AuthRefusalName(reason));
  }
  return false;
}

}  // namespace duplex
