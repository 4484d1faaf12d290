// RedisClient: one blocking RESP connection to a Redis server or Sentinel on loopback, plain or
// TLS (replica/tls.h), with a timeout on every call. SentinelView asks a set of Sentinels which
// node is the primary. Neither is thread-safe: each thread owns its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/resp.h"
#include "common/status.h"
#include "replica/tls.h"

namespace duplex::bench {

// The name the Sentinels of a RedisPeer monitor the pair under.
inline constexpr const char* kSentinelMasterName = "duplexpeer";

class RedisClient {
 public:
  // With `tls`, every connection speaks TLS (the server's certificate verified against the
  // context's CA and `host`), its handshake part of the call that connects.
  explicit RedisClient(int port, std::string host = "127.0.0.1",
                       std::shared_ptr<TlsContext> tls = nullptr);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command and waits at most timeout_ms (connecting included) for its reply.
  // A RESP error reply (-READONLY, -ERR ...) is a value, not a failed Status: the caller
  // decides what it means. A failed Status (cannot connect, timeout, closed, malformed)
  // names host:port; the connection is then closed and the next call connects again, since
  // a late reply would otherwise be taken for the answer to the next command.
  StatusOr<RespValue> Command(std::vector<std::string> args, int timeout_ms);
  // Sends every command in one write and reads their replies in order, all within timeout_ms.
  StatusOr<std::vector<RespValue>> Pipeline(const std::vector<std::vector<std::string>>& commands,
                                            int timeout_ms);
  void Close();

  int port() const { return port_; }
  const std::string& address() const { return address_; }  // "127.0.0.1:6379"

 private:
  Status Connect(int64_t deadline_us);
  // One send or receive, through TLS when on: bytes moved, or 0 when the socket would block
  // (`*wait` says for what: POLLIN or POLLOUT); an error closes the connection.
  StatusOr<size_t> SendSome(const char* data, size_t size, short* wait);
  StatusOr<size_t> RecvSome(char* buffer, size_t size, short* wait);
  Status WriteAll(const std::string& bytes, int64_t deadline_us);
  StatusOr<RespValue> ReadReply(int64_t deadline_us, const std::string& what);
  // Closes the connection and returns `status` with the address in front.
  Status Broken(const std::string& message, Code code = Code::kUnavailable);

  std::string host_;
  int port_;
  std::string address_;
  int fd_ = -1;
  std::shared_ptr<TlsContext> tls_;      // null: plain TCP
  std::unique_ptr<TlsSession> session_;  // the connection's, with tls_
  RespParser parser_;
};

// Asks Sentinels which node is the primary. Keeps one connection per Sentinel.
class SentinelView {
 public:
  explicit SentinelView(const std::vector<int>& sentinel_ports,
                        std::string master_name = kSentinelMasterName,
                        std::shared_ptr<TlsContext> tls = nullptr);

  // The answer a majority of the Sentinels gives (a lone Sentinel may not have heard of a
  // failover yet); Unavailable, listing every answer, when no majority agrees. For the
  // harness, which must not act on a minority view.
  StatusOr<int> PrimaryPort(int timeout_ms);
  // The first Sentinel's primary that it does not flag down (s_down, o_down), the way
  // redis-py's Sentinel client discovers the primary: it learns of a failover from the
  // Sentinel that ran it, without waiting for the others to hear of it.
  StatusOr<int> FirstHealthyPrimaryPort(int timeout_ms);

 private:
  std::string master_name_;
  std::vector<std::unique_ptr<RedisClient>> sentinels_;
};

// "127.0.0.1:6379".
std::string Address(int port);

}  // namespace duplex::bench
