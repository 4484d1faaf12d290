// The JSON of etcd 3.4's v3 gateway (grpc-gateway): request bodies from etcd_types.h values,
// and answers decoded into them. Keys and values are base64 on the wire, int64s are JSON
// strings. Answers are hostile input: every decoder returns an error naming what was wrong,
// never throws. Stateless functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "upgrade_coordinator/etcd/etcd_types.h"

namespace duplex {

std::string Base64Encode(std::string_view bytes);
StatusOr<std::string> Base64Decode(std::string_view text);

// The end of a prefix range: `prefix` with its last byte that is not 0xff raised by one
// ("\0" for the empty prefix: every key), as etcd's clients compute it.
std::string PrefixRangeEnd(const std::string& prefix);

// Request bodies. A range is linearizable (etcd's default).
std::string RangeRequestJson(const std::string& key, bool prefix);
std::string TxnRequestJson(const EtcdTxn& txn);
std::string LeaseGrantRequestJson(int ttl_s);
std::string LeaseIdRequestJson(int64_t lease_id);  // keepalive and revoke

// Answers of a 200 response.
StatusOr<EtcdRangeResult> DecodeRange(const std::string& body);
StatusOr<EtcdTxnResult> DecodeTxn(const std::string& body);
StatusOr<EtcdLease> DecodeLeaseGrant(const std::string& body);
// The ttl left, 0 when the lease has expired (or never existed).
StatusOr<int> DecodeLeaseKeepAlive(const std::string& body);

// A gateway error ({"error": ..., "code": <grpc code>}, any HTTP status) as a Status:
// NotFound (grpc 5, e.g. "requested lease not found"), Unavailable (grpc 4 and 14: a member
// without quorum or leader), InvalidArgument (grpc 3), else Internal. The message is etcd's.
Status DecodeError(int http_status, const std::string& body);

}  // namespace duplex
