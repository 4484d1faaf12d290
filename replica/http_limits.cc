#include "replica/http_limits.h"

#include <httplib.h>

#include <algorithm>

#include "common/assert.h"

namespace duplex {
namespace {

constexpr int kPayloadTooLarge = 413;

bool IsLargeBodyPath(const HttpBodyLimits& limits, const std::string& path) {
  return std::find(limits.large_body_paths.begin(), limits.large_body_paths.end(), path) !=
         limits.large_body_paths.end();
}

void Refuse(httplib::Response& res, const std::string& why) {
  res.status = kPayloadTooLarge;
  res.set_content(why + "\n", "text/plain");
}

}  // namespace

httplib::Server::HandlerWithResponse ApplyHttpBodyLimits(httplib::Server& server,
                                                         const HttpBodyLimits& limits,
                                                         std::atomic<uint64_t>* refused) {
  DUPLEX_ASSERT(limits.body_bytes_max > 0 && refused != nullptr, "a body bound and its counter",
                limits.body_bytes_max);
  const size_t server_max = limits.large_body_paths.empty()
                                ? limits.body_bytes_max
                                : std::max(limits.body_bytes_max, limits.large_body_bytes_max);
  server.set_payload_max_length(server_max);
  const bool per_path = server_max > limits.body_bytes_max;
  // Refused on the declared length, before the body is read: httplib's own check reads a
  // body it refuses to its end (discarding it), which holds a thread as long as the sender
  // keeps sending.
  httplib::Server::HandlerWithResponse check = [limits, per_path](const httplib::Request& req,
                                                                  httplib::Response& res) {
    const bool large = IsLargeBodyPath(limits, req.path);
    const size_t max = large ? limits.large_body_bytes_max : limits.body_bytes_max;
    const char* key = large ? "limits.package_bytes_max" : "limits.http_body_bytes_max";
    if (per_path && !large &&
        req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
      // Its length is unknown until read, and the server's bound is the large one.
      Refuse(res, req.path + ": a chunked body is taken only by large-body routes; send " +
                      "Content-Length (at most " + std::to_string(max) + " bytes, " + key + ")");
      return httplib::Server::HandlerResponse::Handled;
    }
    const uint64_t length = req.get_header_value<uint64_t>("Content-Length");
    if (length <= max) return httplib::Server::HandlerResponse::Unhandled;
    Refuse(res, req.path + ": a body of " + std::to_string(length) + " bytes is above " +
                    std::to_string(max) + " (" + key + ")");
    return httplib::Server::HandlerResponse::Handled;
  };
  // httplib answers a body above the server's bound with 413 before any handler runs; both
  // that answer and the pre-routing one pass here on their way out.
  httplib::Server::HandlerWithResponse count = [refused](const httplib::Request&,
                                                         httplib::Response& res) {
    if (res.status == kPayloadTooLarge) refused->fetch_add(1);
    return httplib::Server::HandlerResponse::Unhandled;
  };
  server.set_error_handler(std::move(count));
  return check;
}

}  // namespace duplex
