#include "upgrade_coordinator/etcd/etcd_json.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace duplex {
namespace {

using nlohmann::json;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// What a decoder throws inside this file only; each public decoder turns it into a Status.
struct BadAnswer {
  std::string what;
};

// An int64 field: a JSON string (the gateway's form) or number; absent means 0 (proto3 JSON
// leaves out default values).
int64_t Int64Field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) throw BadAnswer{std::string(name) + " is not an integer"};
  const std::string& text = it->get_ref<const std::string&>();
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw BadAnswer{std::string(name) + " is not an integer: \"" + text + "\""};
  }
  return value;
}

std::string BytesField(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) throw BadAnswer{std::string(name) + " is not a base64 string"};
  auto bytes = Base64Decode(it->get_ref<const std::string&>());
  if (!bytes.ok()) throw BadAnswer{std::string(name) + ": " + bytes.status().message()};
  return std::move(bytes).value();
}

const json& ObjectField(const json& object, const char* name) {
  static const json kEmpty = json::object();
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return kEmpty;
  if (!it->is_object()) throw BadAnswer{std::string(name) + " is not an object"};
  return *it;
}

std::vector<EtcdKeyValue> DecodeKvs(const json& range) {
  std::vector<EtcdKeyValue> kvs;
  auto it = range.find("kvs");
  if (it == range.end() || it->is_null()) return kvs;
  if (!it->is_array()) throw BadAnswer{"kvs is not an array"};
  for (const json& item : *it) {
    if (!item.is_object()) throw BadAnswer{"kvs holds a non-object"};
    EtcdKeyValue kv;
    kv.key = BytesField(item, "key");
    kv.value = BytesField(item, "value");
    kv.create_revision = Int64Field(item, "create_revision");
    kv.mod_revision = Int64Field(item, "mod_revision");
    kv.version = Int64Field(item, "version");
    kv.lease = Int64Field(item, "lease");
    kvs.push_back(std::move(kv));
  }
  return kvs;
}

int64_t HeaderRevision(const json& answer) {
  return Int64Field(ObjectField(answer, "header"), "revision");
}

// Parses `body` as a JSON object and runs `decode` on it, turning every failure into a
// Corruption that quotes the start of the body.
template <typename T, typename Decode>
StatusOr<T> Decoded(const std::string& what, const std::string& body, Decode decode) {
  auto fail = [&](const std::string& why) -> Status {
    return Corruption("etcd's " + what + " answer is malformed (" + why +
                      "): " + body.substr(0, 200));
  };
  try {
    json answer = json::parse(body);
    if (!answer.is_object()) return fail("not a JSON object");
    return decode(answer);
  } catch (const BadAnswer& bad) {
    return fail(bad.what);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

json OpJson(const EtcdOp& op) {
  json body = {{"key", Base64Encode(op.key)}};
  if (op.prefix) body["range_end"] = Base64Encode(PrefixRangeEnd(op.key));
  switch (op.kind) {
    case EtcdOp::Kind::kPut:
      body["value"] = Base64Encode(op.value);
      if (op.lease != 0) body["lease"] = std::to_string(op.lease);
      return {{"request_put", body}};
    case EtcdOp::Kind::kDelete:
      return {{"request_delete_range", body}};
    case EtcdOp::Kind::kRange:
      return {{"request_range", body}};
  }
  return json::object();
}

json CompareJson(const EtcdCompare& compare) {
  json body = {{"key", Base64Encode(compare.key)}, {"result", "EQUAL"}};
  if (compare.target == EtcdCompare::Target::kCreateRevision) {
    body["target"] = "CREATE";
    body["create_revision"] = std::to_string(compare.create_revision);
  } else {
    body["target"] = "VALUE";
    body["value"] = Base64Encode(compare.value);
  }
  return body;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Corruption("base64 of length " + std::to_string(text.size()) + " (not a multiple of 4)");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t chunk = 0;
    int padding = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      size_t digit = kAlphabet.find(c);
      bool pad_allowed = i + 4 == text.size() && k >= 2 && (c == '=');
      if (pad_allowed || (padding > 0 && c == '=')) {
        ++padding;
        digit = 0;
      } else if (digit == std::string_view::npos || padding > 0) {
        return Corruption("base64 has a bad character at offset " + std::to_string(i + k));
      }
      chunk = chunk << 6 | static_cast<uint32_t>(digit);
    }
    out += static_cast<char>(chunk >> 16);
    if (padding < 2) out += static_cast<char>((chunk >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(chunk & 0xff);
  }
  return out;
}

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string RangeRequestJson(const std::string& key, bool prefix) {
  json body = {{"key", Base64Encode(key)}};
  if (prefix) body["range_end"] = Base64Encode(PrefixRangeEnd(key));
  return body.dump();
}

std::string TxnRequestJson(const EtcdTxn& txn) {
  json body = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const EtcdCompare& compare : txn.compares) body["compare"].push_back(CompareJson(compare));
  for (const EtcdOp& op : txn.success) body["success"].push_back(OpJson(op));
  for (const EtcdOp& op : txn.failure) body["failure"].push_back(OpJson(op));
  return body.dump();
}

std::string LeaseGrantRequestJson(int ttl_s) { return json{{"TTL", std::to_string(ttl_s)}}.dump(); }

std::string LeaseIdRequestJson(int64_t lease_id) {
  return json{{"ID", std::to_string(lease_id)}}.dump();
}

StatusOr<EtcdRangeResult> DecodeRange(const std::string& body) {
  return Decoded<EtcdRangeResult>("range", body, [](const json& answer) {
    return EtcdRangeResult{HeaderRevision(answer), DecodeKvs(answer)};
  });
}

StatusOr<EtcdTxnResult> DecodeTxn(const std::string& body) {
  return Decoded<EtcdTxnResult>("txn", body, [](const json& answer) {
    EtcdTxnResult result;
    result.revision = HeaderRevision(answer);
    auto succeeded = answer.find("succeeded");
    result.succeeded =
        succeeded != answer.end() && succeeded->is_boolean() && succeeded->get<bool>();
    auto responses = answer.find("responses");
    if (responses == answer.end() || responses->is_null()) return result;
    if (!responses->is_array()) throw BadAnswer{"responses is not an array"};
    for (const json& response : *responses) {
      if (!response.is_object()) throw BadAnswer{"responses holds a non-object"};
      result.ranges.push_back(DecodeKvs(ObjectField(response, "response_range")));
    }
    return result;
  });
}

StatusOr<EtcdLease> DecodeLeaseGrant(const std::string& body) {
  return Decoded<EtcdLease>("lease grant", body, [](const json& answer) {
    EtcdLease lease{Int64Field(answer, "ID"), static_cast<int>(Int64Field(answer, "TTL"))};
    if (lease.id == 0 || lease.ttl_s <= 0) {
      throw BadAnswer{"no lease ID or TTL; etcd says: " +
                      answer.value("error", std::string("nothing"))};
    }
    return lease;
  });
}

StatusOr<int> DecodeLeaseKeepAlive(const std::string& body) {
  // A streaming call through the gateway: each message is {"result": ...} on its own line
  // (or {"error": ...}); one request brings one message.
  std::string first = body.substr(0, body.find('\n'));
  return Decoded<int>("lease keepalive", first, [](const json& answer) {
    if (answer.contains("error")) {
      throw BadAnswer{"etcd says: " + ObjectField(answer, "error").value("message", std::string())};
    }
    int64_t ttl_s = Int64Field(ObjectField(answer, "result"), "TTL");
    return static_cast<int>(std::max<int64_t>(ttl_s, 0));
  });
}

Status DecodeError(int http_status, const std::string& body) {
  std::string message = "HTTP " + std::to_string(http_status) + ": " + body.substr(0, 200);
  int code = 0;
  try {
    json answer = json::parse(body);
    if (answer.is_object()) {
      if (answer.contains("message") && answer["message"].is_string()) {
        message = answer["message"].get<std::string>();
      } else if (answer.contains("error") && answer["error"].is_string()) {
        message = answer["error"].get<std::string>();
      }
      if (answer.contains("code") && answer["code"].is_number_integer()) {
        code = answer["code"].get<int>();
      }
    }
  } catch (const std::exception&) {
    // Not JSON (a proxy's page, a truncated body): the HTTP status and the text say enough.
  }
  switch (code) {
    case 5:
      return NotFound(message);
    case 4:
    case 14:
      return Unavailable(message);
    case 3:
      return InvalidArgument(message);
    default:
      return http_status >= 500 && code == 0 ? Unavailable(message) : Internal(message);
  }
}

}  // namespace duplex
