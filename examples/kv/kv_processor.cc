#include "examples/kv/kv_processor.h"

#include <charconv>
#include <limits>

namespace duplex::kv {
namespace {

Outcome Error(Code code, std::string message) { return {{code, std::move(message), ""}, {}}; }

StatusOr<int64_t> ParseInt(const std::string& text, const std::string& what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgument(what + " is not an integer: \"" + text + "\"");
  }
  return v;
}

class KvProcessor final : public Processor {
 public:
  explicit KvProcessor(std::string version) : version_(std::move(version)) {}

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

 private:
  Outcome Incr(const std::vector<std::string>& a, const StateReader& state) {
    if (a.size() != 2) return Error(Code::kInvalidArgument, "INCR takes a key and an amount");
    auto amount = ParseInt(a[1], "amount");
    if (!amount.ok()) return Error(Code::kInvalidArgument, amount.status().message());
    auto v = state.Get(a[0]);
    if (!v.ok()) return Error(v.status().code(), v.status().message());
    int64_t current = 0;
    if (v->has_value()) {
      auto parsed = ParseInt(**v, "value of \"" + a[0] + "\"");
      if (!parsed.ok()) return Error(Code::kInvalidArgument, parsed.status().message());
      current = *parsed;
    }
    int64_t next = 0;
    if (__builtin_add_overflow(current, *amount, &next)) {
      return Error(Code::kInvalidArgument, "INCR would overflow \"" + a[0] + "\"");
    }
    std::string text = std::to_string(next);
    return {{Code::kOk, "", text}, {{a[0], text, false}}};
  }

  std::string version_;
};

}  // namespace

std::unique_ptr<Processor> MakeKvProcessor(const std::string& version) {
  return std::make_unique<KvProcessor>(version);
}

}  // namespace duplex::kv
