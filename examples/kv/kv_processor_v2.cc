// kv 2.x: every stored value is a schema-2 record (see kv_record.h). With the
// `expiry` feature off it answers and writes exactly what 1.x would, seen through
// the converters; PUTEX and TTL are refused until the cluster reaches 2.0.0.
#include <optional>

#include "examples/kv/kv_common.h"
#include "examples/kv/kv_record.h"

namespace duplex::kv {
namespace {

constexpr char kExpiry[] = "expiry";
constexpr char kSelfCheckKey[] = "kv/self-check";
constexpr char kSelfCheckValue[] = "probe";

using Args = std::vector<std::string>;

// A key as a request at now_ms sees it: nullopt when missing or expired.
StatusOr<std::optional<Record>> ReadLive(const StateReader& state, const std::string& key,
                                         int64_t now_ms) {
  auto raw = state.Get(key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<Record>();
  auto record = DecodeRecord(key, **raw);
  if (!record.ok()) return record.status();
  if (record->ExpiredAt(now_ms)) return std::optional<Record>();
  return std::optional<Record>(std::move(record).value());
}

// The corrupt variant's bug: applying a replicated delta also writes a stray entry the
// application never reads. Clients see nothing wrong; only the state digest differs from
// its peer's, which is what the evaluation must catch before the release is trusted.
constexpr const char* kStrayKey = "~corrupt~";

class KvProcessorV2 final : public Processor {
 public:
  KvProcessorV2(std::string version, Variant variant)
      : version_(std::move(version)), variant_(variant) {}

  std::string Name() const override { return "kv"; }
  std::string Version() const override { return version_; }
  uint32_t Schema() const override { return 2; }
  std::vector<Feature> Features() const override { return {{kExpiry, {2, 0, 0}}}; }

  Outcome Execute(const Request& request, const StateReader& state,
                  const FeatureSet& features) override {
    const Args& a = request.args;
    const int64_t now_ms = request.now_ms;
    if (request.op == "PUT") return Put(a);
    if (request.op == "GET") return Get(a, state, now_ms);
    if (request.op == "DEL") return Del(a, state, now_ms);
    if (request.op == "INCR") return Incr(a, state, now_ms);
    if (request.op == "PUTEX" || request.op == "TTL") {
      if (Status gate = features.Check(kExpiry); !gate.ok()) return Error(gate);
      return request.op == "PUTEX" ? PutEx(a, now_ms) : Ttl(a, state, now_ms);
    }
    return Error(Code::kInvalidArgument, "unknown op \"" + request.op + "\" (kv " + version_ +
                                             " has PUT, GET, DEL, INCR, PUTEX, TTL)");
  }

  // A schema-2 delta is checked record by record before it touches the state.
  StatusOr<std::vector<Mutation>> ApplyDelta(const Delta& delta) override {
    if (delta.schema != Schema()) return delta.mutations;
    for (const Mutation& m : delta.mutations) {
      if (m.erase) continue;
      if (auto record = DecodeRecord(m.key, m.value); !record.ok()) return record.status();
    }
    std::vector<Mutation> out = delta.mutations;
    if (variant_ == Variant::kCorrupt) {
      out.push_back({kStrayKey, EncodeRecord({0, std::to_string(delta.seq)}), false});
    }
    return out;
  }

  Health CheckHealth() const override {
    if (variant_ == Variant::kUnhealthy) return {false, "simulated failure: health probe fails"};
    return {};
  }

  void RegisterConverters(ConverterRegistry& registry) const override {
    RegisterKvConverters(registry);
  }

  // The application's own check: a PUT stores exactly the value it was given. The
  // corrupt variant's check misses its bug, so that only the digest comparison catches it.
  Status SelfCheck(const StateReader& /*state*/) const override {
    if (variant_ == Variant::kCorrupt) return Status::Ok();
    Outcome put = Put({kSelfCheckKey, kSelfCheckValue});
    if (put.mutations.size() != 1) return Internal("self-check: PUT wrote no record");
    auto stored = DecodeRecord(kSelfCheckKey, put.mutations[0].value);
    if (!stored.ok()) return Internal("self-check: " + stored.status().message());
    if (*stored != Record{0, kSelfCheckValue}) {
      return Internal("self-check: PUT of \"" + std::string(kSelfCheckValue) + "\" stored \"" +
                      stored->value + "\"");
    }
    return Status::Ok();
  }

  std::string VetoUpgrade() const override {
    return variant_ == Variant::kVeto ? "long transaction open (simulated)" : "";
  }

 private:
  Outcome Put(const Args& a) const {
    if (a.size() != 2) return Error(Code::kInvalidArgument, "PUT takes a key and a value");
    Record record{0, a[1]};
    return {{Code::kOk, "", "OK"}, {{a[0], EncodeRecord(record), false}}};
  }

  Outcome Get(const Args& a, const StateReader& state, int64_t now_ms) const {
    if (a.size() != 1) return Error(Code::kInvalidArgument, "GET takes a key");
    auto live = ReadLive(state, a[0], now_ms);
    if (!live.ok()) return Error(live.status());
    if (!live->has_value()) return Error(Code::kNotFound, "no key \"" + a[0] + "\"");
    return {{Code::kOk, "", (*live)->value}, {}};
  }

  // An expired record answers as absent but is erased all the same, and so is a
  // malformed one: DEL never needs to understand what it removes.
  Outcome Del(const Args& a, const StateReader& state, int64_t now_ms) const {
    if (a.size() != 1) return Error(Code::kInvalidArgument, "DEL takes a key");
    auto raw = state.Get(a[0]);
    if (!raw.ok()) return Error(raw.status());
    if (!raw->has_value()) return {{Code::kOk, "", "0"}, {}};
    auto record = DecodeRecord(a[0], **raw);
    const bool live = !record.ok() || !record->ExpiredAt(now_ms);
    return {{Code::kOk, "", live ? "1" : "0"}, {{a[0], "", true}}};
  }

  // Keeps a live record's expiry, as Redis does; an expired one starts again from 0.
  Outcome Incr(const Args& a, const StateReader& state, int64_t now_ms) const {
    if (a.size() != 2) return Error(Code::kInvalidArgument, "INCR takes a key and an amount");
    if (auto amount = ParseInt(a[1], "amount"); !amount.ok()) return Error(amount.status());
    auto live = ReadLive(state, a[0], now_ms);
    if (!live.ok()) return Error(live.status());
    Record record = live->value_or(Record{});
    std::optional<std::string> current;
    if (live->has_value()) current = record.value;
    auto next = Increment(a[0], current, a[1]);
    if (!next.ok()) return Error(next.status());
    record.value = *next;
    return {{Code::kOk, "", *next}, {{a[0], EncodeRecord(record), false}}};
  }

  Outcome PutEx(const Args& a, int64_t now_ms) const {
    if (a.size() != 3) {
      return Error(Code::kInvalidArgument, "PUTEX takes a key, a value and a ttl_ms");
    }
    auto ttl_ms = ParseInt(a[2], "ttl_ms");
    if (!ttl_ms.ok()) return Error(ttl_ms.status());
    if (*ttl_ms <= 0) {
      return Error(Code::kInvalidArgument, "ttl_ms must be positive: \"" + a[2] + "\"");
    }
    int64_t expires_at_ms = 0;
    if (__builtin_add_overflow(now_ms, *ttl_ms, &expires_at_ms) || expires_at_ms <= 0) {
      return Error(Code::kInvalidArgument, "ttl_ms " + a[2] + " puts the expiry out of range");
    }
    return {{Code::kOk, "", "OK"}, {{a[0], EncodeRecord({expires_at_ms, a[1]}), false}}};
  }

  Outcome Ttl(const Args& a, const StateReader& state, int64_t now_ms) const {
    if (a.size() != 1) return Error(Code::kInvalidArgument, "TTL takes a key");
    auto live = ReadLive(state, a[0], now_ms);
    if (!live.ok()) return Error(live.status());
    if (!live->has_value()) return Error(Code::kNotFound, "no key \"" + a[0] + "\"");
    const int64_t expires_at_ms = (*live)->expires_at_ms;
    return {{Code::kOk, "", expires_at_ms == 0 ? "-1" : std::to_string(expires_at_ms - now_ms)},
            {}};
  }

  std::string version_;
  Variant variant_;
};

}  // namespace

std::unique_ptr<Processor> MakeKvV2(std::string version, Variant variant) {
  return std::make_unique<KvProcessorV2>(std::move(version), variant);
}

}  // namespace duplex::kv
