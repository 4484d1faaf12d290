#include "upgrade_coordinator/etcd/etcd_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "upgrade_coordinator/etcd/etcd_json.h"

namespace duplex {
namespace {

constexpr std::string_view kScheme = "http://";
// The largest answer read: a record and its documents are far smaller (etcd's own request
// limit is 1.5 MiB).
constexpr size_t kAnswerBytesMax = 4 << 20;

// "cannot connect", "no answer within 1000 ms": what httplib's error means for an etcd call.
std::string Describe(httplib::Error error, const EtcdClientOptions& options) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect (refused, unreachable or no answer within " +
             std::to_string(options.connect_timeout_ms) + " ms)";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out after " + std::to_string(options.connect_timeout_ms) + " ms";
    case httplib::Error::Read:
      return "no answer within " + std::to_string(options.read_timeout_ms) +
             " ms (or the connection closed)";
    case httplib::Error::Write:
      return "the request could not be sent";
    case httplib::Error::BindIPAddress:
      return "cannot bind the source address";
    default:
      return "HTTP client error: " + httplib::to_string(error);
  }
}

// A decoding error names the member that gave the answer.
template <typename T>
StatusOr<T> FromEndpoint(const std::string& url, StatusOr<T> decoded) {
  if (decoded.ok()) return decoded;
  return Status(decoded.status().code(), "etcd " + url + ": " + decoded.status().message());
}

}  // namespace

struct EtcdClient::Endpoint {
  std::string url;  // as configured, for messages
  std::string host;
  int port = 0;
  std::unique_ptr<httplib::Client> http;  // kept between calls (keep-alive); null after an error
  int bind_errno = 0;                     // set by the socket-options callback
};

StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  if (options.endpoints.empty()) return InvalidArgument("etcd: no endpoints");
  if (options.connect_timeout_ms <= 0 || options.read_timeout_ms <= 0) {
    return InvalidArgument("etcd: timeouts must be positive");
  }
  in_addr unused{};
  if (!options.source_address.empty() &&
      ::inet_pton(AF_INET, options.source_address.c_str(), &unused) != 1) {
    return InvalidArgument("etcd: source address " + options.source_address +
                           " is not an IPv4 address");
  }
  std::vector<Endpoint> endpoints;
  for (const std::string& url : options.endpoints) {
    std::string_view rest(url);
    size_t colon = rest.rfind(':');
    int port = 0;
    bool ok = rest.substr(0, kScheme.size()) == kScheme && colon != std::string_view::npos &&
              colon > kScheme.size();
    if (ok) {
      std::string_view digits = rest.substr(colon + 1);
      if (!digits.empty() && digits.back() == '/') digits.remove_suffix(1);
      auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      ok = error == std::errc() && end == digits.data() + digits.size() && port > 0 && port < 65536;
    }
    if (!ok) return InvalidArgument("etcd endpoint " + url + ": expected http://<host>:<port>");
    Endpoint endpoint;
    endpoint.url = url;
    endpoint.host = std::string(rest.substr(kScheme.size(), colon - kScheme.size()));
    endpoint.port = port;
    endpoints.push_back(std::move(endpoint));
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options), std::move(endpoints)));
}

EtcdClient::EtcdClient(EtcdClientOptions options, std::vector<Endpoint> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {}

EtcdClient::~EtcdClient() = default;

const std::string& EtcdClient::current_endpoint() const { return endpoints_[current_].url; }

StatusOr<std::string> EtcdClient::PostTo(Endpoint& endpoint, const std::string& path,
                                         const std::string& body) {
  if (endpoint.http == nullptr) {
    endpoint.http = std::make_unique<httplib::Client>(endpoint.host, endpoint.port);
    httplib::Client& http = *endpoint.http;
    http.set_keep_alive(true);
    http.set_connection_timeout(0, options_.connect_timeout_ms * 1000);
    http.set_read_timeout(options_.read_timeout_ms / 1000, options_.read_timeout_ms % 1000 * 1000);
    http.set_write_timeout(options_.read_timeout_ms / 1000, options_.read_timeout_ms % 1000 * 1000);
    if (!options_.source_address.empty()) {
      // Bound before connect, so that the connection leaves from this host's address.
      std::string source = options_.source_address;
      int* bind_errno = &endpoint.bind_errno;
      http.set_socket_options([source, bind_errno](int fd) {
        sockaddr_in local{};
        local.sin_family = AF_INET;
        ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
        *bind_errno = 0;
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
          *bind_errno = errno;
        }
      });
    }
  }
  std::string where = "etcd " + endpoint.url + ": POST " + path + ": ";
  // The body goes through a receiver and the status through a handler, because the gateway
  // ends an error answer with a chunked trailer (Grpc-Trailer-Content-Type) that this httplib
  // cannot read: the call then fails after the whole answer arrived.
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.body = body;
  request.set_header("Content-Type", "application/json");
  int status = 0;
  std::string answer;
  request.response_handler = [&status](const httplib::Response& response) {
    status = response.status;
    return true;
  };
  request.content_receiver = [&answer](const char* data, size_t size, uint64_t, uint64_t) {
    answer.append(data, size);
    return answer.size() <= kAnswerBytesMax;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  bool sent = endpoint.http->send(request, response, error);
  if (endpoint.bind_errno != 0) {
    int bind_error = endpoint.bind_errno;
    endpoint.http.reset();
    return Unavailable(where + "cannot bind source address " + options_.source_address + ": " +
                       std::strerror(bind_error));
  }
  bool error_with_trailer = !sent && status != 0 && status != 200 && !answer.empty();
  if (!sent) endpoint.http.reset();  // a late answer may still come on it: never reuse it
  if (!sent && !error_with_trailer) return Unavailable(where + Describe(error, options_));
  if (status != 200) {
    Status refused = DecodeError(status, answer);
    return Status(refused.code(), where + refused.message());
  }
  return answer;
}

StatusOr<std::string> EtcdClient::Post(const std::string& path, const std::string& body) {
  Status last;
  for (size_t tried = 0; tried < endpoints_.size(); ++tried) {
    size_t index = (current_ + tried) % endpoints_.size();
    StatusOr<std::string> answer = PostTo(endpoints_[index], path, body);
    // Another member may serve what this one cannot (it is down, cut off or without quorum);
    // any other answer is the cluster's and final.
    if (answer.ok() || answer.status().code() != Code::kUnavailable) {
      current_ = index;
      return answer;
    }
    last = answer.status();
  }
  return last;
}

StatusOr<EtcdRangeResult> EtcdClient::Range(const std::string& key, bool prefix) {
  StatusOr<std::string> body = Post("/v3/kv/range", RangeRequestJson(key, prefix));
  if (!body.ok()) return body.status();
  return FromEndpoint(current_endpoint(), DecodeRange(*body));
}

StatusOr<EtcdTxnResult> EtcdClient::Txn(const EtcdTxn& txn) {
  StatusOr<std::string> body = Post("/v3/kv/txn", TxnRequestJson(txn));
  if (!body.ok()) return body.status();
  return FromEndpoint(current_endpoint(), DecodeTxn(*body));
}

StatusOr<EtcdLease> EtcdClient::LeaseGrant(int ttl_s) {
  StatusOr<std::string> body = Post("/v3/lease/grant", LeaseGrantRequestJson(ttl_s));
  if (!body.ok()) return body.status();
  return FromEndpoint(current_endpoint(), DecodeLeaseGrant(*body));
}

StatusOr<int> EtcdClient::LeaseKeepAlive(int64_t lease_id) {
  StatusOr<std::string> body = Post("/v3/lease/keepalive", LeaseIdRequestJson(lease_id));
  if (!body.ok()) return body.status();
  return FromEndpoint(current_endpoint(), DecodeLeaseKeepAlive(*body));
}

Status EtcdClient::LeaseRevoke(int64_t lease_id) {
  StatusOr<std::string> body = Post("/v3/lease/revoke", LeaseIdRequestJson(lease_id));
  return body.status();
}

}  // namespace duplex
