// The requests and answers of etcd's v3 KV and lease API that duplex uses, as plain values:
// what EtcdClient (etcd_client.h) sends and returns, and what etcd_json.h encodes. Keys and
// values are raw bytes here; base64 exists only on the wire. Value types, thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duplex {

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;  // 0: not attached to a lease
};

// A txn compare; duplex needs equality only.
struct EtcdCompare {
  enum class Target { kCreateRevision, kValue };
  Target target = Target::kCreateRevision;
  std::string key;
  int64_t create_revision = 0;  // kCreateRevision (0: the key does not exist)
  std::string value;            // kValue
};

struct EtcdOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kRange;
  std::string key;
  std::string value;    // kPut
  int64_t lease = 0;    // kPut: attach to this lease
  bool prefix = false;  // kDelete, kRange: every key that starts with `key`
};

struct EtcdTxn {
  std::vector<EtcdCompare> compares;  // all must hold
  std::vector<EtcdOp> success;
  std::vector<EtcdOp> failure;
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the txn (a put's create_revision)
  // One entry per op of the branch taken: the keys a range op found, empty for the others.
  std::vector<std::vector<EtcdKeyValue>> ranges;
};

struct EtcdRangeResult {
  int64_t revision = 0;
  std::vector<EtcdKeyValue> kvs;
};

struct EtcdLease {
  int64_t id = 0;
  int ttl_s = 0;
};

}  // namespace duplex
