#include "cli/upgrade_commands.h"

#include <gtest/gtest.h>

namespace duplex::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kUnexpected = "coordinator answered unexpected JSON: ";

json Manifest() {
  return json::parse(R"({
    "name": "kv", "version": "2.0.0", "binary": "bin/kv",
    "sha256": "3f2a9c0d1e2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5",
    "upgrade_from": ">=1.0.0 <2.0.0", "schema": 2,
    "features": [{"name": "expiry", "introduced_in": "2.0.0"}],
    "dir": "/data/packages/kv-2.0.0"})");
}

// A vector, not a json: a braced list of one json would collapse into that element.
json Campaign(const std::string& state, const std::vector<json>& steps) {
  return {{"campaign",
           {{"id", "c7"},
            {"from", "1.0.0"},
            {"to", "2.0.0"},
            {"state", state},
            {"step", steps.empty() ? "" : steps.back().value("step", "")},
            {"steps", json(steps)},
            {"forced", false},
            {"reason", nullptr},
            {"finalize_waits_for", json::array()}}}};
}

json Step(const std::string& name, const std::string& result, int64_t started_ms, json ended_ms,
          const std::string& reason = "") {
  return {{"step", name},
          {"result", result},
          {"reason", reason},
          {"started_ms", started_ms},
          {"ended_ms", ended_ms}};
}

bool StartsWith(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

TEST(FormatStoredPackage, NamesVersionShortChecksumSchemaAndFeatures) {
  EXPECT_EQ(FormatStoredPackage(Manifest()).value(),
            "stored kv 2.0.0 (sha256 3f2a9c0d1e2b…, schema 2, features: expiry)\n");
  json no_features = Manifest();
  no_features["features"] = json::array();
  EXPECT_EQ(FormatStoredPackage(no_features).value(),
            "stored kv 2.0.0 (sha256 3f2a9c0d1e2b…, schema 2, features: none)\n");
}

TEST(FormatStoredPackage, ReportsAMissingFieldInsteadOfThrowing) {
  json manifest = Manifest();
  manifest.erase("version");
  StatusOr<std::string> text = FormatStoredPackage(manifest);
  ASSERT_FALSE(text.ok());
  EXPECT_TRUE(StartsWith(text.status().message(), kUnexpected)) << text.status().message();
  EXPECT_NE(text.status().message().find("\"version\""), std::string::npos);
}

TEST(FormatPackages, PrintsOneAlignedRowPerPackage) {
  json old = Manifest();
  old["version"] = "1.0.0";
  old["schema"] = 1;
  old["upgrade_from"] = json::array({"0.9.0", "0.9.1"});
  old["features"] = json::array();
  old["sha256"] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  json answer = {{"packages", {old, Manifest()}}};
  EXPECT_EQ(FormatPackages(answer).value(),
            "NAME  VERSION  SCHEMA  UPGRADES-FROM   FEATURES  SHA256\n"
            "kv    1.0.0    1       0.9.0, 0.9.1    -         aaaaaaaaaaaa\n"
            "kv    2.0.0    2       >=1.0.0 <2.0.0  expiry    3f2a9c0d1e2b\n");
}

TEST(FormatPackages, SaysSoWhenNothingIsStored) {
  EXPECT_EQ(FormatPackages(json{{"packages", json::array()}}).value(),
            "no packages stored; add one with: duplex package add <dir>\n");
}

TEST(FormatPackages, ReportsPackagesThatAreNotAList) {
  StatusOr<std::string> text = FormatPackages(json{{"packages", "kv"}});
  ASSERT_FALSE(text.ok());
  EXPECT_TRUE(StartsWith(text.status().message(), kUnexpected)) << text.status().message();
  EXPECT_FALSE(FormatPackages(json::array()).ok());
}

TEST(FormatPlan, NumbersTheStepsAndGivesEachCheckItsVerdictAndReason) {
  json plan = json::parse(R"({
    "from": "1.0.0", "to": "2.0.0",
    "steps": [{"step": "verify package", "description": "check kv 2.0.0's sha256"},
              {"step": "reload b", "description": "restart b on 2.0.0, new features off"}],
    "checks": [{"check": "compatibility", "ok": true, "reason": "2.0.0 upgrades from 1.0.0"},
               {"check": "veto", "ok": false, "reason": "replica a: long transaction open"}],
    "ok": false})");
  EXPECT_EQ(FormatPlan(plan).value(),
            "plan 1.0.0 -> 2.0.0\n"
            "steps:\n"
            "  1.  verify package  check kv 2.0.0's sha256\n"
            "  2.  reload b        restart b on 2.0.0, new features off\n"
            "checks:\n"
            "  OK   compatibility  2.0.0 upgrades from 1.0.0\n"
            "  NOK  veto           replica a: long transaction open\n"
            "not ready: 1 check failed\n");
  plan["ok"] = true;
  std::string text = FormatPlan(plan).value();
  EXPECT_NE(text.find("ready: nothing blocks the upgrade\n"), std::string::npos) << text;
}

TEST(FormatPlan, ReportsAVerdictThatIsNotABoolean) {
  json plan = {{"from", "1.0.0"}, {"to", "2.0.0"}, {"steps", json::array()}, {"ok", "yes"}};
  StatusOr<std::string> text = FormatPlan(plan);
  ASSERT_FALSE(text.ok());
  EXPECT_TRUE(StartsWith(text.status().message(), kUnexpected)) << text.status().message();
}

TEST(FormatCampaign, ShowsTheHeadlineAndEachStepWithResultDurationAndReason) {
  json answer = Campaign(
      "running", {Step("verify package", "ok", 1000, 1012), Step("pre-validate", "ok", 1012, 2240),
                  Step("sync b", "running", 2240, nullptr)});
  EXPECT_EQ(FormatCampaign(answer).value(),
            "campaign c7: 1.0.0 -> 2.0.0, running (sync b)\n"
            "  #  STEP            RESULT   DURATION  REASON\n"
            "  1  verify package  done     12 ms\n"
            "  2  pre-validate    done     1.2 s\n"
            "  3  sync b          running  -\n");
}

TEST(FormatCampaign, ShowsTheRunningStepsDetailElapsedTimeAndThePendingSteps) {
  json answer = Campaign("running", {Step("verify package", "ok", 1000, 1012),
                                     Step("sync b", "running", 1012, nullptr)});
  answer["campaign"]["now_ms"] = 3512;
  answer["campaign"]["steps"][1]["detail"] = "b Standby/CatchingUp at seq 10, 5 behind the active";
  answer["campaign"]["pending"] = {"soak", "finalize"};
  EXPECT_EQ(FormatCampaign(answer).value(),
            "campaign c7: 1.0.0 -> 2.0.0, running (sync b)\n"
            "  #  STEP            RESULT   DURATION  REASON\n"
            "  1  verify package  done     12 ms\n"
            "  2  sync b          running  2.5 s\n"
            "  3  soak            pending  -\n"
            "  4  finalize        pending  -\n"
            "now: sync b: b Standby/CatchingUp at seq 10, 5 behind the active\n");
}

TEST(FormatCampaign, EndsASettledCampaignWithTheCoordinatorsSummary) {
  json answer = Campaign(
      "completed", {Step("verify package", "ok", 1000, 1012), Step("cleanup", "ok", 4000, 4500)});
  answer["campaign"]["observed"] = {{"requests", 9000},
                                    {"server_errors", 0},
                                    {"longest_without_active_ms", 12},
                                    {"acknowledged_seqs_missing", 0}};
  std::string text = FormatCampaign(answer).value();
  EXPECT_NE(text.find("summary: 3.5 s; 9000 requests served, 0 server errors; longest without a "
                      "serving active 12 ms; acknowledged writes missing after a handover 0"),
            std::string::npos)
      << text;
}

TEST(FormatCampaign, ShowsWhyItRolledBackAndWhatFinalizeWaitsFor) {
  json answer = Campaign("rolled back", {Step("evaluate", "nok", 0, 125000, "error rate 12%")});
  answer["campaign"]["reason"] = "evaluate: error rate 12% above 1%";
  answer["campaign"]["forced"] = true;
  answer["campaign"]["finalize_waits_for"] = {"replica b runs 1.0.0", "soak not done"};
  EXPECT_EQ(FormatCampaign(answer).value(),
            "campaign c7: 1.0.0 -> 2.0.0, rolled back, forced\n"
            "reason: evaluate: error rate 12% above 1%\n"
            "finalize waits for: replica b runs 1.0.0; soak not done\n"
            "  #  STEP      RESULT  DURATION  REASON\n"
            "  1  evaluate  failed  2m05s     error rate 12%\n");
}

TEST(FormatCampaign, ReadsTheCampaignWrappedOrNot) {
  json answer = Campaign("completed", {Step("verify package", "ok", 0, 5)});
  EXPECT_EQ(FormatCampaign(answer).value(), FormatCampaign(answer["campaign"]).value());
  EXPECT_EQ(FormatCampaignHeadline(answer).value(), "campaign c7: 1.0.0 -> 2.0.0, completed\n");
}

TEST(FormatCampaign, SaysSoWhenThereIsNoCampaign) {
  EXPECT_EQ(FormatCampaign(json{{"campaign", nullptr}}).value(), "no upgrade campaign\n");
  EXPECT_EQ(FormatCampaignHeadline(json{{"campaign", nullptr}}).value(), "no upgrade campaign\n");
}

TEST(FormatCampaign, ReportsWrongTypesInsteadOfThrowing) {
  json answer = Campaign("running", {});
  answer["campaign"]["steps"] = "none";
  StatusOr<std::string> text = FormatCampaign(answer);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().message(),
            std::string(kUnexpected) + "\"steps\" is text, expected a list");
  answer["campaign"]["steps"] = json::array({Step("x", "ok", 0, "soon")});
  EXPECT_FALSE(FormatCampaign(answer).ok());
  EXPECT_FALSE(FormatCampaign(json{{"campaign", 7}}).ok());
  EXPECT_FALSE(FormatCampaign(json("campaign")).ok());
}

TEST(FormatFeatures, ShowsEachFeatureItsVersionStateAndWhy) {
  json answer = json::parse(R"({"cluster_version": "1.0.0", "features": [
    {"name": "expiry", "introduced_in": "2.0.0", "enabled": false,
     "why": "cluster version 1.0.0 is below 2.0.0"},
    {"name": "base", "introduced_in": "1.0.0", "enabled": true, "why": "since 1.0.0"}]})");
  EXPECT_EQ(FormatFeatures(answer).value(),
            "cluster version 1.0.0\n"
            "FEATURE  INTRODUCED-IN  STATE  WHY\n"
            "expiry   2.0.0          off    cluster version 1.0.0 is below 2.0.0\n"
            "base     1.0.0          on     since 1.0.0\n");
  EXPECT_EQ(FormatFeatures(json{{"cluster_version", "1.0.0"}, {"features", json::array()}}).value(),
            "cluster version 1.0.0\nno features registered\n");
  EXPECT_FALSE(FormatFeatures(json{{"cluster_version", "1.0.0"}}).ok());
}

TEST(CampaignChanges, FirstPollShowsTheHeadlineAndEveryStepSoFar) {
  json now = Campaign("running", {Step("verify package", "ok", 10000, 10012),
                                  Step("reload b", "running", 10012, nullptr)});
  EXPECT_EQ(
      CampaignChanges(json(), now).value(),
      (std::vector<std::string>{"campaign c7: 1.0.0 -> 2.0.0, running (reload b)",
                                "+  0.0 s  verify package: ok", "+  0.0 s  reload b: running"}));
}

TEST(CampaignChanges, LaterPollsAppendOnlyWhatChanged) {
  json before = Campaign("running", {Step("verify package", "ok", 10000, 10012),
                                     Step("reload b", "running", 10012, nullptr)});
  EXPECT_TRUE(CampaignChanges(before, before).value().empty());
  json after = Campaign(
      "running", {Step("verify package", "ok", 10000, 10012), Step("reload b", "ok", 10012, 11200),
                  Step("sync b", "running", 11200, nullptr)});
  EXPECT_EQ(CampaignChanges(before, after).value(),
            (std::vector<std::string>{"+  1.2 s  reload b: ok", "+  1.2 s  sync b: running"}));
}

TEST(CampaignChanges, ReportsTheEndStateWithItsReason) {
  json before = Campaign("running", {Step("evaluate", "running", 0, nullptr)});
  json after = Campaign("rolled back", {Step("evaluate", "nok", 0, 14000, "digest mismatch"),
                                        Step("fallback", "ok", 14000, 15500)});
  after["campaign"]["reason"] = "evaluate: digest mismatch";
  EXPECT_EQ(CampaignChanges(before, after).value(),
            (std::vector<std::string>{
                "+ 14.0 s  evaluate: nok (digest mismatch)", "+ 15.5 s  fallback: ok",
                "+ 15.5 s  campaign rolled back: evaluate: digest mismatch"}));
}

TEST(CampaignChanges, StartsOverWhenANewCampaignAppears) {
  json before = Campaign("rolled back", {Step("verify package", "ok", 0, 5)});
  json after = Campaign("running", {Step("verify package", "ok", 0, 5)});
  after["campaign"]["id"] = "c8";
  EXPECT_EQ(CampaignChanges(before, after).value(),
            (std::vector<std::string>{"campaign c8: 1.0.0 -> 2.0.0, running (verify package)",
                                      "+  0.0 s  verify package: ok"}));
}

TEST(CampaignChanges, SaysSoWhenThereIsNoCampaign) {
  json none = {{"campaign", nullptr}};
  EXPECT_EQ(CampaignChanges(json(), none).value(), std::vector<std::string>{"no upgrade campaign"});
  EXPECT_TRUE(CampaignChanges(none, none).value().empty());
  EXPECT_FALSE(CampaignChanges(json(), json{{"campaign", {{"steps", 1}}}}).ok());
}

TEST(CampaignSettled, HoldsForTheEndStatesAndWhenThereIsNoCampaign) {
  EXPECT_FALSE(CampaignSettled(Campaign("running", {})));
  EXPECT_TRUE(CampaignSettled(Campaign("completed", {})));
  EXPECT_TRUE(CampaignSettled(Campaign("rolled back", {})));
  EXPECT_TRUE(CampaignSettled(Campaign("awaiting finalize", {})));
  EXPECT_TRUE(CampaignSettled(json{{"campaign", nullptr}}));
}

}  // namespace
}  // namespace duplex::cli
