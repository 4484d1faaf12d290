// EtcdClient: etcd 3.4's v3 KV and lease API over its JSON gateway (HTTP + JSON). Knows every
// member's endpoint and moves to the next one on a connection error, a timeout or a member
// that has no quorum; every wait is bounded. Each error names the endpoint and the call.
// Owned by one thread (the elector's, or the coordinator's loop through the record store):
// not thread-safe; give each thread its own client.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/etcd/etcd_types.h"

namespace httplib {
class Client;
}

namespace duplex {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // "http://127.0.1.1:2379"
  // When not empty, every connection leaves from this address (bound before connect), so
  // that the lab's nftables rules can cut this host off etcd.
  std::string source_address;
  int connect_timeout_ms = 200;
  int read_timeout_ms = 1000;
};

class EtcdClient {
 public:
  // InvalidArgument naming the endpoint when one is not http://<host>:<port>.
  static StatusOr<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // A linearizable read of `key`, or of every key under it when `prefix`.
  StatusOr<EtcdRangeResult> Range(const std::string& key, bool prefix = false);
  StatusOr<EtcdTxnResult> Txn(const EtcdTxn& txn);
  StatusOr<EtcdLease> LeaseGrant(int ttl_s);
  // The ttl left after the renewal; 0 when the lease had already expired.
  StatusOr<int> LeaseKeepAlive(int64_t lease_id);
  // NotFound when the lease no longer exists (expired or revoked).
  Status LeaseRevoke(int64_t lease_id);

  const EtcdClientOptions& options() const { return options_; }
  // The endpoint the next call tries first (the last one that answered).
  const std::string& current_endpoint() const;

 private:
  struct Endpoint;
  explicit EtcdClient(EtcdClientOptions options, std::vector<Endpoint> endpoints);
  // POSTs `body` to `path`, trying each endpoint once from the current one. The body of a 200
  // answer, or the last error.
  StatusOr<std::string> Post(const std::string& path, const std::string& body);
  StatusOr<std::string> PostTo(Endpoint& endpoint, const std::string& path,
                               const std::string& body);

  EtcdClientOptions options_;
  std::vector<Endpoint> endpoints_;
  size_t current_ = 0;
};

}  // namespace duplex
