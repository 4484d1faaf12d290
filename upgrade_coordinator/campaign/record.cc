#include "upgrade_coordinator/campaign/record.h"

#include <nlohmann/json.hpp>

#include "common/assert.h"

namespace duplex {
namespace {

// Names are read here, at the edge; an unknown one is a damaged record.
template <class Enum>
Enum Named(const nlohmann::json& j, const char* key) {
  std::string text = j.at(key);
  std::optional<Enum> value = FromName<Enum>(text);
  if (!value) throw std::invalid_argument(std::string(key) + ": unknown name \"" + text + "\"");
  return *value;
}

}  // namespace

std::string CampaignToJson(const CampaignRecord& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"step", Name(s.step)},
                     {"result", Name(s.result)},
                     {"reason", s.reason},
                     {"started_ms", s.started_ms},
                     {"ended_ms", s.ended_ms}});
  }
  nlohmann::json j = nlohmann::json{{"id", r.id},
                                    {"from", r.from},
                                    {"to", r.to},
                                    {"soak_ms", r.soak_ms},
                                    {"auto_finalize", r.auto_finalize},
                                    {"forced", r.force},
                                    {"first", r.first},
                                    {"second", r.second},
                                    {"phase", Name(r.phase)},
                                    {"state", Name(r.state)},
                                    {"reason", r.reason},
                                    {"finalize_requested", r.finalize_requested},
                                    {"finalized", r.finalized},
                                    {"baseline",
                                     {r.baseline_requests, r.baseline_errors,
                                      r.baseline_latency_p99_us, r.soak_requests, r.soak_errors}},
                                    {"steps", steps}};
  // Chosen by version alone, as records of older releases were: written as they were.
  if (!r.package.empty()) j["package"] = r.package;
  const std::string text = j.dump();
  // The pair of CampaignFromJson: what we persist loads back as the same campaign, so a
  // restarted coordinator resumes where this one was.
  StatusOr<CampaignRecord> back = CampaignFromJson(text);
  DUPLEX_ASSERT(back.ok(), "a persisted campaign record loads", back.status().ToString());
  DUPLEX_ASSERT(back->id == r.id && back->phase == r.phase && back->state == r.state &&
                    back->finalized == r.finalized && back->steps.size() == r.steps.size(),
                "a campaign record survives JSON and back", r.id, Name(r.phase), Name(r.state));
  return text;
}

StatusOr<CampaignRecord> CampaignFromJson(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    CampaignRecord r;
    r.id = j.at("id");
    r.from = j.at("from");
    r.to = j.at("to");
    r.package = j.value("package", "");  // absent in records of older releases
    r.soak_ms = j.at("soak_ms");
    r.auto_finalize = j.at("auto_finalize");
    r.force = j.at("forced");
    r.first = j.at("first");
    r.second = j.at("second");
    r.phase = Named<CampaignPhase>(j, "phase");
    r.state = Named<CampaignState>(j, "state");
    r.reason = j.at("reason");
    r.finalize_requested = j.at("finalize_requested");
    r.finalized = j.at("finalized");
    if (j.contains("baseline")) {
      const auto& b = j.at("baseline");
      r.baseline_requests = b.at(0);
      r.baseline_errors = b.at(1);
      r.baseline_latency_p99_us = b.at(2);
      r.soak_requests = b.at(3);
      r.soak_errors = b.at(4);
    }
    for (const auto& s : j.at("steps")) {
      r.steps.push_back({Named<CampaignStep>(s, "step"), Named<StepOutcome>(s, "result"),
                         s.at("reason"), s.at("started_ms"), s.at("ended_ms")});
    }
    return r;
  } catch (const std::exception& e) {
    return Corruption(std::string("campaign record: ") + e.what());
  }
}

}  // namespace duplex
