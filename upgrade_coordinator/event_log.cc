#include "upgrade_coordinator/event_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/assert.h"
#include "feature_flags/feature_set.h"

namespace duplex {
namespace {

// `later` is not below `earlier` (when both are versions).
bool NotBelow(const std::string& later, const std::string& earlier) {
  auto a = ParseVersion(later), b = ParseVersion(earlier);
  return !a.ok() || !b.ok() || *a >= *b;
}

EventLog::ReplicaSeen Seen(const ReplicaView& v) {
  EventLog::ReplicaSeen seen;
  seen.alive = v.process_alive;
  seen.pid = v.pid;
  if (v.process_alive && v.last) {
    seen.reported = true;
    seen.role = v.last->role_path;
    seen.epoch = v.last->epoch;
    seen.version = v.last->version;
    seen.cluster_version = v.last->cluster_version;
  }
  return seen;
}

}  // namespace

EventLog::~EventLog() {
  if (file_ != nullptr) std::fclose(file_);
}

Status EventLog::Open(const std::string& path) {
  DUPLEX_ASSERT(file_ == nullptr && !in_memory_, "an event log is opened once", path);
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) return IOError("event log " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

// Called on every loop turn: plain fields are compared, and JSON is built only for what
// changed (building it every turn cost the coordinator most of its CPU under ASan).
void EventLog::Observe(int64_t now_us, const Arbiter& arbiter, const CampaignRecord* campaign) {
  if (file_ == nullptr && !in_memory_) return;
  DUPLEX_ASSERT(now_us >= last_us_, "events are observed in time order", now_us, last_us_);
  last_us_ = now_us;
  for (const auto& [name, view] : arbiter.replicas()) {
    ReplicaSeen seen = Seen(view);
    auto last = replicas_.find(name);
    if (last != replicas_.end() && last->second == seen) continue;
    nlohmann::json event = {
        {"kind", "replica"}, {"replica", name}, {"alive", seen.alive}, {"pid", seen.pid}};
    if (seen.reported) {
      event["role"] = seen.role;
      event["epoch"] = seen.epoch;
      event["version"] = seen.version;
      event["cluster_version"] = seen.cluster_version;
    }
    if (view.last) event["applied_seq"] = view.last->applied_seq;
    replicas_[name] = std::move(seen);
    Write(now_us, std::move(event));
  }
  const ClusterRecord& r = arbiter.record();
  ClusterSeen cluster{r.epoch, r.active, r.cluster_version, r.replica_version, r.isolated, r.lock};
  if (!cluster_ || !(*cluster_ == cluster)) {
    // The record it logs is durable, so what it logged never goes back, restarts included.
    DUPLEX_ASSERT(!cluster_ || r.epoch >= cluster_->epoch, "logged epochs only grow", r.epoch,
                  cluster_ ? cluster_->epoch : 0);
    DUPLEX_ASSERT(!cluster_ || NotBelow(r.cluster_version, cluster_->cluster_version),
                  "the logged cluster version only rises", r.cluster_version,
                  cluster_ ? cluster_->cluster_version : "");
    Write(now_us, {{"kind", "cluster"},
                   {"epoch", r.epoch},
                   {"active", r.active},
                   {"cluster_version", r.cluster_version},
                   {"versions", r.replica_version},
                   {"isolated", r.isolated},
                   {"lock", r.lock}});
    cluster_ = std::move(cluster);
  }
  if (campaign != nullptr) {
    CampaignSeen c;
    c.id = campaign->id;
    c.state = campaign->state;
    if (!campaign->steps.empty()) {
      const StepRecord& s = campaign->steps.back();
      c.step = s.step;
      c.result = s.result;
      c.reason = s.reason;
    }
    if (!campaign_ || !(*campaign_ == c)) {
      nlohmann::json event = {{"kind", "campaign"}, {"id", c.id}, {"state", Name(c.state)}};
      if (!campaign->steps.empty()) {
        event["step"] = Name(*c.step);
        event["result"] = Name(*c.result);
        event["reason"] = c.reason;
      }
      Write(now_us, std::move(event));
      campaign_ = std::move(c);
    }
  }
}

void EventLog::Write(int64_t now_us, nlohmann::json event) {
  DUPLEX_ASSERT(file_ != nullptr || in_memory_, "written only where it is kept");
  DUPLEX_ASSERT(event.is_object() && event.contains("kind"), "every event says its kind",
                event.dump());
  event["t_us"] = now_us;
  if (in_memory_) {
    kept_.push_back(std::move(event));  // no wall clock: a simulation replays exactly
    return;
  }
  event["wall_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::string line = event.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);  // readable by a checker at once; durability is not needed
}

namespace {

// The fields the readers of an event log take (chaos/checker.h, the scenario runner), each of
// the type it must have when present. They read with nlohmann's value(), which throws on
// another type and casts a float to an integer (undefined when out of range): an event with a
// field of another type, or one that is no object, is refused here, with the field named
// (found by fuzz/history_fuzz.cc: {"kind":"replica","replica":false} threw a type_error).
Status CheckEventFields(const nlohmann::json& event) {
  if (!event.is_object()) return Corruption("not a JSON object");
  struct Field {
    const char* name;
    nlohmann::json::value_t type;
  };
  using T = nlohmann::json::value_t;
  static constexpr Field kFields[] = {{"kind", T::string},
                                      {"replica", T::string},
                                      {"role", T::string},
                                      {"version", T::string},
                                      {"cluster_version", T::string},
                                      {"coordinator", T::string},
                                      {"state", T::string},
                                      {"step", T::string},
                                      {"result", T::string},
                                      {"reason", T::string},
                                      {"alive", T::boolean},
                                      {"acting", T::boolean},
                                      {"lock", T::boolean},
                                      {"t_us", T::number_integer},
                                      {"epoch", T::number_integer},
                                      {"term", T::number_integer},
                                      {"id", T::number_integer},
                                      {"pid", T::number_integer},
                                      {"applied_seq", T::number_integer},
                                      {"wall_ms", T::number_integer}};
  for (const Field& field : kFields) {
    auto it = event.find(field.name);
    if (it == event.end()) continue;
    // Integers are signed or unsigned in nlohmann's terms; either is an integer here.
    const bool ok =
        field.type == T::number_integer ? it->is_number_integer() : it->type() == field.type;
    if (!ok) {
      return Corruption(std::string("field \"") + field.name + "\" is not " +
                        (field.type == T::string    ? "a string"
                         : field.type == T::boolean ? "true or false"
                                                    : "an integer"));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<nlohmann::json>> ParseEventLog(std::string_view text,
                                                    const std::string& source) {
  std::vector<nlohmann::json> events;
  size_t at = 0;
  for (int n = 1; at < text.size(); ++n) {
    size_t end = text.find('\n', at);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.empty()) continue;
    auto event = nlohmann::json::parse(line, nullptr, false);
    // A coordinator killed mid-write leaves a torn last line: only that one is forgiven.
    if (event.is_discarded()) {
      if (last || at == text.size()) break;
      return Corruption(source + ":" + std::to_string(n) + ": not JSON");
    }
    if (Status fields = CheckEventFields(event); !fields.ok()) {
      return Corruption(source + ":" + std::to_string(n) + ": " + fields.message());
    }
    events.push_back(std::move(event));
  }
  return events;
}

StatusOr<std::vector<nlohmann::json>> ReadEventLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("event log " + path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseEventLog(text.str(), path);
}

}  // namespace duplex
