#include "examples/kv/kv_processor.h"

#include <charconv>

#include "examples/kv/kv_common.h"
#include "examples/kv/kv_record.h"

namespace duplex::kv {

Outcome Error(Code code, std::string message) { return {{code, std::move(message), ""}, {}}; }
Outcome Error(const Status& status) { return Error(status.code(), status.message()); }

StatusOr<int64_t> ParseInt(const std::string& text, const std::string& what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgument(what + " is not an integer: \"" + text + "\"");
  }
  return v;
}

StatusOr<std::string> Increment(const std::string& key, const std::optional<std::string>& current,
                                const std::string& amount_text) {
  auto amount = ParseInt(amount_text, "amount");
  if (!amount.ok()) return amount.status();
  int64_t base = 0;
  if (current.has_value()) {
    auto parsed = ParseInt(*current, "value of \"" + key + "\"");
    if (!parsed.ok()) return parsed.status();
    base = *parsed;
  }
  int64_t next = 0;
  if (__builtin_add_overflow(base, *amount, &next)) {
    return InvalidArgument("INCR would overflow \"" + key + "\"");
  }
  return std::to_string(next);
}

namespace {

// kv 1.x: values stored as they are (schema 1), no features.
class KvProcessor final : public Processor {
 public:
  KvProcessor(std::string version, bool veto) : version_(std::move(version)), veto_(veto) {}

  std::string Name() const override { return "kv"; }
  std::string Version() const override { return version_; }
  uint32_t Schema() const override { return 1; }

  Outcome Execute(const Request& request, const StateReader& state,
                  const FeatureSet& /*features*/) override {
    const auto& a = request.args;
    if (request.op == "PUT") {
      if (a.size() != 2) return Error(Code::kInvalidArgument, "PUT takes a key and a value");
      return {{Code::kOk, "", "OK"}, {{a[0], a[1], false}}};
    }
    if (request.op == "GET") {
      if (a.size() != 1) return Error(Code::kInvalidArgument, "GET takes a key");
      auto v = state.Get(a[0]);
      if (!v.ok()) return Error(v.status().code(), v.status().message());
      if (!v->has_value()) return Error(Code::kNotFound, "no key \"" + a[0] + "\"");
      return {{Code::kOk, "", **v}, {}};
    }
    if (request.op == "DEL") {
      if (a.size() != 1) return Error(Code::kInvalidArgument, "DEL takes a key");
      auto v = state.Get(a[0]);
      if (!v.ok()) return Error(v.status().code(), v.status().message());
      if (!v->has_value()) return {{Code::kOk, "", "0"}, {}};
      return {{Code::kOk, "", "1"}, {{a[0], "", true}}};
    }
    if (request.op == "INCR") return Incr(a, state);
    return Error(Code::kInvalidArgument,
                 "unknown op \"" + request.op + "\" (kv " + version_ + " has PUT, GET, DEL, INCR)");
  }

  // 1.x registers the converters too, so that either side of a pair can convert.
  void RegisterConverters(ConverterRegistry& registry) const override {
    RegisterKvConverters(registry);
  }

  std::string VetoUpgrade() const override {
    return veto_ ? "long transaction open (simulated)" : "";
  }

 private:
  Outcome Incr(const std::vector<std::string>& a, const StateReader& state) {
    if (a.size() != 2) return Error(Code::kInvalidArgument, "INCR takes a key and an amount");
    if (auto amount = ParseInt(a[1], "amount"); !amount.ok()) return Error(amount.status());
    auto v = state.Get(a[0]);
    if (!v.ok()) return Error(v.status().code(), v.status().message());
    auto next = Increment(a[0], *v, a[1]);
    if (!next.ok()) return Error(next.status());
    return {{Code::kOk, "", *next}, {{a[0], *next, false}}};
  }

  std::string version_;
  bool veto_;
};

Variant ParseVariant(const std::string& name) {
  if (name.empty()) return Variant::kNone;
  if (name == "crash") return Variant::kCrash;
  if (name == "unhealthy") return Variant::kUnhealthy;
  if (name == "corrupt") return Variant::kCorrupt;
  DUPLEX_ASSERT(name == "veto", "unknown kv variant (a build configuration bug):", name);
  return Variant::kVeto;
}

}  // namespace

std::unique_ptr<Processor> MakeKvProcessor(const std::string& version, const std::string& variant) {
  const Variant v = ParseVariant(variant);
  auto parsed = ParseVersion(version);
  if (parsed.ok() && parsed->major == 2) return MakeKvV2(version, v);
  DUPLEX_ASSERT(v == Variant::kNone || v == Variant::kVeto,
                "broken variants are releases of kv 2.x:", version, variant);
  return std::make_unique<KvProcessor>(version, v == Variant::kVeto);
}

}  // namespace duplex::kv
