#include "chaos/linearizability.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include "chaos/lin_models.h"
#include "chaos/lin_search.h"

namespace duplex::lin {

StatusOr<ModelKind> ModelNamed(const std::string& name) {
  for (ModelKind kind : {ModelKind::kCasRegister, ModelKind::kKvAppend, ModelKind::kDuplexKv}) {
    if (name == ModelName(kind)) return kind;
  }
  return InvalidArgument("unknown model \"" + name +
                         "\" (the models are cas-register, kv-append and duplex-kv)");
}

const char* ModelName(ModelKind model) {
  switch (model) {
    case ModelKind::kCasRegister:
      return "cas-register";
    case ModelKind::kKvAppend:
      return "kv-append";
    case ModelKind::kDuplexKv:
      return "duplex-kv";
  }
  return "?";
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not linearizable";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

namespace search {

std::vector<Event> MakeEvents(const std::vector<const Operation*>& ops) {
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  std::vector<Event> events;
  events.reserve(ops.size() * 2);
  for (size_t id = 0; id < ops.size(); ++id) {
    const Operation& op = *ops[id];
    const int64_t returned = op.outcome == lin::Outcome::kOk ? op.complete_us : kNever;
    events.push_back({op.invoke_us, true, static_cast<int>(id)});
    events.push_back({std::max(returned, op.invoke_us), false, static_cast<int>(id)});
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    return a.is_call && !b.is_call;
  });
  return events;
}

}  // namespace search

namespace {

using search::SteadyTime;

struct KeyHistory {
  std::string key;
  // Failed operations and reads of unknown outcome left out: they had no effect.
  std::vector<const Operation*> ops;
};

// A read of unknown outcome constrains nothing (it changes no state and reported nothing):
// left out, it no longer multiplies the orders the search must try.
bool UnknownRead(ModelKind model, const Operation& op) {
  if (op.outcome != Outcome::kUnknown) return false;
  switch (model) {
    case ModelKind::kCasRegister:
      return op.f == "read";
    case ModelKind::kKvAppend:
      return op.f == "get";
    case ModelKind::kDuplexKv:
      return op.f == "GET" || op.f == "TTL";
  }
  return false;
}

// Keys are independent (P-compositionality); the smallest histories go first, so that the
// failing key reported is the smallest and a time bound leaves the largest undecided.
std::vector<KeyHistory> Partition(ModelKind model, const std::vector<Operation>& history) {
  std::map<std::string, std::vector<const Operation*>> by_key;
  for (const Operation& op : history) {
    if (op.outcome != Outcome::kFail && !UnknownRead(model, op)) by_key[op.key].push_back(&op);
  }
  std::vector<KeyHistory> keys;
  for (auto& [key, ops] : by_key) keys.push_back({key, std::move(ops)});
  std::stable_sort(keys.begin(), keys.end(), [](const KeyHistory& a, const KeyHistory& b) {
    return a.ops.size() < b.ops.size();
  });
  return keys;
}

// The operations pending after `prefix`: those not in it that were invoked before the
// earliest return among the rest; a linearizable history must take one of them next.
std::vector<const Operation*> Pending(const KeyHistory& key, const std::vector<int>& prefix) {
  std::vector<bool> done(key.ops.size(), false);
  for (int id : prefix) done[id] = true;
  int64_t first_return = std::numeric_limits<int64_t>::max();
  for (size_t id = 0; id < key.ops.size(); ++id) {
    const Operation& op = *key.ops[id];
    if (!done[id] && op.outcome == Outcome::kOk) {
      first_return = std::min(first_return, std::max(op.complete_us, op.invoke_us));
    }
  }
  std::vector<const Operation*> pending;
  for (size_t id = 0; id < key.ops.size(); ++id) {
    if (!done[id] && key.ops[id]->invoke_us <= first_return) pending.push_back(key.ops[id]);
  }
  return pending;
}

template <typename Model>
KeyResult CheckKeyWith(Model model, const KeyHistory& key, SteadyTime deadline) {
  KeyResult result;
  result.key = key.key;
  result.operations = key.ops.size();
  std::vector<typename Model::Input> inputs;
  inputs.reserve(key.ops.size());
  for (const Operation* op : key.ops) inputs.push_back(model.Decode(*op));
  search::Search<Model> search(model, inputs, search::MakeEvents(key.ops));
  const search::SearchResult outcome = search.Run(deadline);
  result.verdict = outcome.verdict;
  if (outcome.verdict == Verdict::kUnknown) {
    result.detail = "key \"" + key.key + "\": not decided within the " +
                    (outcome.out_of_memory ? "memory" : "time") + " bound (" +
                    std::to_string(key.ops.size()) + " operations)";
    return result;
  }
  if (outcome.verdict == Verdict::kLinearizable) return result;
  typename Model::State state = model.Init();
  for (int id : search.longest()) {
    typename Model::State next;
    const bool stepped = model.Step(state, inputs[id], &next);
    DUPLEX_ASSERT(stepped, "the longest order found replays", key.key, id);
    state = std::move(next);
    result.prefix.push_back(*key.ops[id]);
  }
  for (const Operation* op : Pending(key, search.longest())) result.cannot_follow.push_back(*op);
  std::ostringstream detail;
  detail << "key \"" << key.key << "\": at most " << result.prefix.size() << " of its "
         << key.ops.size() << " operations linearize (in the order below), leaving the state "
         << model.Describe(state) << "; ";
  if (result.cannot_follow.size() == 1) {
    detail << "the one operation pending then cannot take effect next with the result it "
              "reported";
  } else {
    detail << "none of the " << result.cannot_follow.size()
           << " operations pending then can take effect next with the result it reported";
  }
  result.detail = detail.str();
  return result;
}

KeyResult CheckKey(ModelKind model, const KeyHistory& key, SteadyTime deadline) {
  switch (model) {
    case ModelKind::kCasRegister:
      return CheckKeyWith(models::CasRegister{}, key, deadline);
    case ModelKind::kKvAppend:
      return CheckKeyWith(models::KvAppend{}, key, deadline);
    case ModelKind::kDuplexKv:
      return CheckKeyWith(models::DuplexKv{}, key, deadline);
  }
  DUPLEX_ASSERT(false, "a model kind without a model", static_cast<int>(model));
  return {};
}

// Below this many operations a second thread costs more than it saves.
constexpr size_t kOperationsForThreads = 2000;

std::vector<KeyResult> CheckKeys(ModelKind model, const std::vector<KeyHistory>& keys,
                                 SteadyTime deadline, int threads_max) {
  std::vector<KeyResult> results(keys.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < keys.size(); i = next++) {
      results[i] = CheckKey(model, keys[i], deadline);
    }
  };
  size_t operations = 0;
  for (const KeyHistory& key : keys) operations += key.ops.size();
  if (threads_max >= 2 && keys.size() >= 2 && operations >= kOperationsForThreads) {
    std::thread helper(work);
    work();
    helper.join();
  } else {
    work();
  }
  return results;
}

std::string DescribeOperation(const Operation& op) {
  std::ostringstream out;
  out << "client " << op.client << ": " << op.f;
  if (!op.input.empty()) out << " " << op.input;
  out << " -> ";
  if (op.outcome == Outcome::kUnknown) {
    out << "? (outcome unknown)";
  } else if (op.absent) {
    out << "not found";
  } else {
    out << "\"" << op.output << "\"";
  }
  out << "  [invoked " << op.invoke_us;
  if (op.outcome == Outcome::kOk) out << ", completed " << op.complete_us;
  out << "]";
  if (op.now_ms >= 0) out << " now_ms " << op.now_ms;
  if (op.line > 0) out << " (line " << op.line << ")";
  return out.str();
}

}  // namespace

CheckResult Check(ModelKind model, const std::vector<Operation>& history,
                  const CheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const SteadyTime deadline = options.time_limit_ms > 0
                                  ? start + std::chrono::milliseconds(options.time_limit_ms)
                                  : SteadyTime::max();
  const std::vector<KeyHistory> keys = Partition(model, history);
  CheckResult result;
  result.keys = keys.size();
  result.operations = history.size();
  for (KeyResult& key : CheckKeys(model, keys, deadline, options.threads_max)) {
    if (key.verdict == Verdict::kNotLinearizable) result.failed.push_back(std::move(key));
    if (key.verdict == Verdict::kUnknown) result.unknown.push_back(std::move(key));
  }
  if (!result.unknown.empty()) result.verdict = Verdict::kUnknown;
  if (!result.failed.empty()) result.verdict = Verdict::kNotLinearizable;
  result.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string CheckResult::Explain() const {
  if (failed.empty()) return "";
  // Thousands of operations would bury the point: the end of the order is what matters.
  constexpr size_t kPrefixShownMax = 100;
  const KeyResult& key = failed.front();
  std::ostringstream out;
  out << "key \"" << key.key << "\" is not linearizable (" << key.operations << " operations)\n"
      << key.detail << ".\n"
      << "The longest linearizable order found (" << key.prefix.size() << " operations):\n";
  const size_t skipped =
      key.prefix.size() > kPrefixShownMax ? key.prefix.size() - kPrefixShownMax : 0;
  if (skipped > 0) out << "  ... " << skipped << " earlier operations\n";
  for (size_t i = skipped; i < key.prefix.size(); ++i) {
    out << "  " << i + 1 << ". " << DescribeOperation(key.prefix[i]) << "\n";
  }
  out << "None of these can follow it:\n";
  for (const Operation& op : key.cannot_follow) out << "  - " << DescribeOperation(op) << "\n";
  if (failed.size() > 1) {
    out << failed.size() - 1 << " more keys are not linearizable:";
    for (size_t i = 1; i < failed.size() && i <= 5; ++i) out << " \"" << failed[i].key << "\"";
    out << (failed.size() > 6 ? " ...\n" : "\n");
  }
  return out.str();
}

}  // namespace duplex::lin
