#include "chaos/lin_models.h"

namespace duplex::lin::models {

DuplexKv::Input DuplexKv::Decode(const Operation& op) const {
  static const std::unordered_map<std::string, Kind> kKinds = {
      {"GET", Kind::kGet},   {"PUT", Kind::kPut},     {"DEL", Kind::kDel},
      {"INCR", Kind::kIncr}, {"PUTEX", Kind::kPutEx}, {"TTL", Kind::kTtl}};
  Input in;
  in.unknown = op.outcome == Outcome::kUnknown;
  in.absent = op.absent;
  in.now_ms = op.now_ms;
  auto kind = kKinds.find(op.f);
  if (kind == kKinds.end()) return in;
  in.kind = kind->second;
  switch (in.kind) {
    case Kind::kPut:
      in.value = op.input;
      break;
    case Kind::kIncr:
      if (!ParseInt64(op.input, &in.amount)) in.kind = Kind::kInvalid;
      in.value = op.output;
      break;
    case Kind::kPutEx: {
      // "value ttl_ms": the value is everything before the last space.
      const size_t space = op.input.rfind(' ');
      if (space == std::string::npos || !ParseInt64(op.input.substr(space + 1), &in.amount)) {
        in.kind = Kind::kInvalid;
        break;
      }
      in.value = op.input.substr(0, space);
      break;
    }
    default:
      in.value = op.output;
  }
  return in;
}

void DuplexKv::Views(const Record& r, int64_t now_ms, std::vector<Record>* views) {
  const Record absent;
  if (!r.present || r.expires_at_ms == 0) {
    views->push_back(r);
  } else if (r.expires_at_ms > 0 && now_ms >= 0) {
    views->push_back(r.expires_at_ms <= now_ms ? absent : r);
  } else {
    views->push_back(r);
    views->push_back(absent);
  }
}

// One operation on one view of the record: examples/kv/kv_processor_v2.cc's reactions.
bool DuplexKv::StepOne(const Record& view, const Input& in, Record* next) {
  *next = view;
  switch (in.kind) {
    case Kind::kGet:
      if (in.unknown) return true;
      return in.absent ? !view.present : view.present && view.value == in.value;
    case Kind::kPut:
      *next = Record{true, in.value, 0};
      return true;
    case Kind::kDel:
      *next = Record{};
      return in.unknown || in.value == (view.present ? "1" : "0");
    case Kind::kIncr: {
      int64_t base = 0, sum = 0;
      // An INCR on a value that is not an integer, or that would overflow, is refused:
      // an ok one cannot have run there, an unknown one changed nothing.
      if (view.present && !ParseInt64(view.value, &base)) return in.unknown;
      if (__builtin_add_overflow(base, in.amount, &sum)) return in.unknown;
      next->present = true;
      next->value = std::to_string(sum);
      return in.unknown || in.value == next->value;
    }
    case Kind::kPutEx: {
      // kv refuses a ttl that is not positive or puts the expiry out of range.
      int64_t expires_at_ms = kExpiryUnknown;
      if (in.amount <= 0) return in.unknown;
      if (in.now_ms >= 0 && __builtin_add_overflow(in.now_ms, in.amount, &expires_at_ms)) {
        return in.unknown;
      }
      *next = Record{true, in.value, expires_at_ms};
      return true;
    }
    case Kind::kTtl:
      if (in.unknown) return true;
      if (in.absent || !view.present) return in.absent && !view.present;
      if (view.expires_at_ms == 0) return in.value == "-1";
      if (view.expires_at_ms > 0 && in.now_ms >= 0) {
        return in.value == std::to_string(view.expires_at_ms - in.now_ms);
      }
      return true;  // an expiry or a time the history lacks: any remaining ttl
    case Kind::kInvalid:
      return in.unknown;
  }
  return false;
}

bool DuplexKv::Step(const State& s, const Input& in, State* next) const {
  next->clear();
  std::vector<Record> views;
  for (const Record& r : s) {
    views.clear();
    Views(r, in.now_ms, &views);
    for (const Record& view : views) {
      Record after;
      if (StepOne(view, in, &after)) next->push_back(std::move(after));
    }
  }
  if (next->size() > 1) {
    std::sort(next->begin(), next->end());
    next->erase(std::unique(next->begin(), next->end()), next->end());
  }
  return !next->empty();
}

uint64_t DuplexKv::Hash(const State& s) const {
  uint64_t h = s.size();
  for (const Record& r : s) {
    h = Mix(h ^ std::hash<std::string>{}(r.value)) + static_cast<uint64_t>(r.expires_at_ms) * 31 +
        (r.present ? 7 : 0);
  }
  return h;
}

std::string DuplexKv::Describe(const State& s) const {
  std::string out;
  for (const Record& r : s) {
    if (!out.empty()) out += " or ";
    if (!r.present) {
      out += "absent";
      continue;
    }
    out += "\"" + r.value + "\"";
    if (r.expires_at_ms == kExpiryUnknown) out += " (expiring at an unknown time)";
    if (r.expires_at_ms > 0) out += " (expiring at " + std::to_string(r.expires_at_ms) + " ms)";
  }
  return out;
}

}  // namespace duplex::lin::models
