#include "upgrade_coordinator/event_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

namespace duplex {
namespace {

nlohmann::json ReplicaState(const ReplicaView& v) {
  nlohmann::json j = {{"replica", v.name}, {"alive", v.process_alive}, {"pid", v.pid}};
  if (v.process_alive && v.last) {
    j["role"] = v.last->role_path;
    j["epoch"] = v.last->epoch;
    j["version"] = v.last->version;
    j["cluster_version"] = v.last->cluster_version;
  }
  return j;
}

}  // namespace

EventLog::~EventLog() {
  if (file_ != nullptr) std::fclose(file_);
}

Status EventLog::Open(const std::string& path) {
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) return IOError("event log " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

void EventLog::Observe(int64_t now_us, const Arbiter& arbiter, const CampaignRecord* campaign) {
  if (file_ == nullptr && !in_memory_) return;
  for (const auto& [name, view] : arbiter.replicas()) {
    nlohmann::json state = ReplicaState(view);
    nlohmann::json& last = replicas_[name];
    if (state == last) continue;
    last = state;
    state["kind"] = "replica";
    if (view.last) state["applied_seq"] = view.last->applied_seq;
    Write(now_us, std::move(state));
  }
  const ClusterRecord& r = arbiter.record();
  nlohmann::json cluster = {{"epoch", r.epoch},
                            {"active", r.active},
                            {"cluster_version", r.cluster_version},
                            {"versions", r.replica_version},
                            {"isolated", r.isolated},
                            {"lock", r.lock}};
  if (cluster != cluster_) {
    cluster_ = cluster;
    cluster["kind"] = "cluster";
    Write(now_us, std::move(cluster));
  }
  if (campaign != nullptr) {
    nlohmann::json c = {{"id", campaign->id}, {"state", campaign->state}};
    if (!campaign->steps.empty()) {
      const StepRecord& s = campaign->steps.back();
      c["step"] = s.step;
      c["result"] = s.result;
      c["reason"] = s.reason;
    }
    if (c != campaign_) {
      campaign_ = c;
      c["kind"] = "campaign";
      Write(now_us, std::move(c));
    }
  }
}

void EventLog::Write(int64_t now_us, nlohmann::json event) {
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

StatusOr<std::vector<nlohmann::json>> ReadEventLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("event log " + path + ": cannot open");
  std::vector<nlohmann::json> events;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto event = nlohmann::json::parse(line, nullptr, false);
    // A coordinator killed mid-write leaves a torn last line: only that one is forgiven.
    if (event.is_discarded()) {
      if (in.peek() == std::char_traits<char>::eof()) break;
      return Corruption(path + ":" + std::to_string(n) + ": not JSON");
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace duplex
