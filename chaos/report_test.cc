#include "chaos/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace duplex {
namespace {

using nlohmann::json;

json ReplicaEvent(double t_ms, const std::string& name, const std::string& role, int epoch,
                  const std::string& version) {
  return {{"t_ms", t_ms}, {"kind", "replica"}, {"replica", name},    {"alive", true},
          {"role", role}, {"epoch", epoch},    {"version", version}, {"cluster_version", "1.0.0"}};
}

json CampaignEvent(double t_ms, const std::string& state, const std::string& step,
                   const std::string& result) {
  return {{"t_ms", t_ms}, {"kind", "campaign"}, {"id", 1},     {"state", state},
          {"step", step}, {"result", result},   {"reason", ""}};
}

json LinOp(int client, const std::string& f, const std::string& input, const std::string& output,
           double invoke_ms, double complete_ms) {
  return {{"client", client},       {"f", f},
          {"input", input},         {"output", output},
          {"absent", false},        {"outcome", "ok"},
          {"invoke_ms", invoke_ms}, {"complete_ms", complete_ms}};
}

// A stale read on w-hot-0: the GET of 1 cannot follow the PUT of 2.
json LinearizabilityFacts() {
  return {{"verdict", "not linearizable"},
          {"judged", "the whole history"},
          {"keys", 3},
          {"operations", 3},
          {"elapsed_ms", 1.5},
          {"failed_key",
           {{"key", "w-hot-0"},
            {"operations", 3},
            {"detail", "GET returned 1 after PUT 2 completed"},
            {"prefix",
             json::array({LinOp(0, "PUT", "1", "", 0, 10), LinOp(1, "PUT", "2", "", 20, 30)})},
            {"cannot_follow", json::array({LinOp(2, "GET", "", "1", 40, 50)})}}}};
}

// Two replicas; b is upgraded to 2.0.0, a is killed during the soak and b takes over in
// epoch 2, after which the campaign rolls back.
json RealisticRun() {
  json events = json::array({
      ReplicaEvent(10, "a", "Active/Replicating", 1, "1.0.0"),
      ReplicaEvent(12, "b", "Standby/InSync", 1, "1.0.0"),
      json{{"t_ms", 15}, {"kind", "cluster"}, {"epoch", 1}, {"active", "a"}, {"lock", false}},
      CampaignEvent(100, "running", "PreValidate", "running"),
      CampaignEvent(300, "running", "PreValidate", "ok"),
      CampaignEvent(320, "running", "UpgradeStandby", "running"),
      ReplicaEvent(400, "b", "Standby/CatchingUp", 1, "2.0.0"),
      ReplicaEvent(900, "b", "Standby/InSync", 1, "2.0.0"),
      CampaignEvent(950, "running", "UpgradeStandby", "ok"),
      CampaignEvent(960, "running", "Soak", "running"),
      json{{"t_ms", 1234}, {"kind", "replica"}, {"replica", "a"}, {"alive", false}},
      ReplicaEvent(1246, "b", "Active/Solo", 2, "2.0.0"),
      json{{"t_ms", 1246}, {"kind", "cluster"}, {"epoch", 2}, {"active", "b"}, {"lock", true}},
      CampaignEvent(1250, "rolling back", "Soak", "nok"),
      ReplicaEvent(1800, "a", "Standby/CatchingUp", 2, "1.0.0"),
      CampaignEvent(1900, "rolling back", "RollingBack", "running"),
      CampaignEvent(2600, "rolled back", "RollingBack", "ok"),
  });
  json throughput = json::array();
  for (int t = 0; t < 3000; t += 100) {
    bool outage = t >= 1200 && t < 1300;
    throughput.push_back({{"t_ms", t},
                          {"ok", outage ? 3 : 120},
                          {"fail", outage ? 1 : 0},
                          {"p50_ms", 0.5},
                          {"p99_ms", outage ? 11.0 : 1.2}});
  }
  return {{"scenario", "kill-active-during-evaluate"},
          {"description", "Kill the new-version active while it is evaluated."},
          {"seed", 42},
          {"replay", "build/duplex chaos run kill-active-during-evaluate --seed 42"},
          {"verdict", "pass"},
          {"expected_outcome", "rolled back"},
          {"outcome", "rolled back"},
          {"duration_ms", 3000},
          {"invariants", json::array({{{"name", "lost-writes"}, {"ok", true}, {"violations", 0}},
                                      {{"name", "epochs"}, {"ok", true}, {"violations", 0}}})},
          {"faults", json::array({{{"kind", "kill"},
                                   {"target", "a"},
                                   {"trigger", "campaign step Soak"},
                                   {"start_ms", 1234},
                                   {"end_ms", 1234},
                                   {"note", "pid 4242"}},
                                  {{"kind", "partition"},
                                   {"target", "b"},
                                   {"trigger", "at 2s"},
                                   {"start_ms", 2000},
                                   {"end_ms", 2400}}})},
          {"ops", {{"ok", 5000}, {"fail", 3}, {"info", 2}}},
          {"failover_ms", {9.5, 11.2}},
          {"convergence_ms", 123.4},
          {"events", events},
          {"throughput", throughput},
          {"linearizability", LinearizabilityFacts()},
          {"async_loss",
           {{"lag_ops_max", 100},
            {"lost", 7},
            {"failovers", json::array({{{"t_ms", 1246},
                                        {"from", "a"},
                                        {"to", "b"},
                                        {"lost", 7},
                                        {"lost_puts", 4},
                                        {"lost_incrs", 3},
                                        {"examples", {"PUT w-0-9=v9 by client 0"}}}})}}}};
}

bool Contains(const std::string& page, const std::string& needle) {
  return page.find(needle) != std::string::npos;
}

TEST(RenderRunReport, ShowsVerdictReplayLanesStepsAndEpochs) {
  std::string page = RenderRunReport(RealisticRun());
  EXPECT_TRUE(Contains(page, "<div class=\"verdict pass\">PASS</div>"));
  EXPECT_TRUE(
      Contains(page, "<code>build/duplex chaos run kill-active-during-evaluate --seed 42</code>"));
  EXPECT_TRUE(Contains(page, "<svg"));
  EXPECT_TRUE(Contains(page, ">replica a<"));
  EXPECT_TRUE(Contains(page, ">replica b<"));
  for (const char* step : {"PreValidate", "UpgradeStandby", "Soak", "RollingBack"}) {
    EXPECT_TRUE(Contains(page, step)) << step;
  }
  EXPECT_TRUE(Contains(page, ">e2<"));
  EXPECT_TRUE(Contains(page, "<title>b: Active/Solo, version 2.0.0, epoch 2, 1.246 s - 3.000 s"));
  EXPECT_TRUE(Contains(page, "<title>a: down (process not running), 1.234 s - 1.800 s"));
  EXPECT_FALSE(Contains(page, ">e1<")) << "the starting epoch is not a change";
  EXPECT_TRUE(Contains(page, ">2.0.0<")) << "the upgraded version is written where it starts";
  EXPECT_TRUE(Contains(page, ">kill a<"));
  EXPECT_TRUE(Contains(page, "class=\"fault-instant\""));
  EXPECT_TRUE(Contains(page, "rect class=\"fault\""));
  EXPECT_TRUE(Contains(page, "class=\"tp-ok\""));
  EXPECT_TRUE(Contains(page, "class=\"tp-fail\""));
  EXPECT_TRUE(Contains(page, "class=\"p99\""));
  EXPECT_TRUE(Contains(page, "9.5 ms, 11.2 ms"));
  // Self-contained: no scripts and nothing fetched from elsewhere.
  for (const char* external : {"<script", "<link", "src=", "href=", "url(", "@import"}) {
    EXPECT_FALSE(Contains(page, external)) << external;
  }
}

TEST(RenderRunReport, DrawsTheSmallestFailingKeyAndTheLossPerFailover) {
  std::string page = RenderRunReport(RealisticRun());
  EXPECT_TRUE(Contains(page, "<h2>Linearizability</h2>"));
  EXPECT_TRUE(Contains(page, "Smallest failing key <code>w-hot-0</code> (3 operations)"));
  EXPECT_TRUE(Contains(page, "<td>cannot follow</td>"));
  EXPECT_TRUE(Contains(page, "rect class=\"op-bad\""));
  EXPECT_TRUE(Contains(page, "rect class=\"op-ok\""));
  EXPECT_TRUE(Contains(page, "GET returned 1 after PUT 2 completed"));
  EXPECT_TRUE(Contains(page, "acknowledged writes lost per failover"));
  EXPECT_TRUE(Contains(page, "PUT w-0-9=v9 by client 0"));
  EXPECT_TRUE(Contains(page, "Allowed: at most 100"));
}

TEST(RenderRunReport, DrawsOnlyTheLastThirtyOperationsOfALongPrefix) {
  json run = RealisticRun();
  json& prefix = run["linearizability"]["failed_key"]["prefix"];
  for (int i = 0; i < 38; ++i) prefix.push_back(LinOp(0, "INCR", "1", std::to_string(i), i, i + 1));
  const std::string page = RenderRunReport(run);
  EXPECT_TRUE(Contains(page, "10 earlier operations of the order (in result.json)"));
  EXPECT_FALSE(Contains(page, "<td>INCR</td><td>1</td><td>7</td>"));
  EXPECT_TRUE(Contains(page, "<td>INCR</td><td>1</td><td>8</td>"));
}

TEST(RenderRunReport, ColoursStepsByTheirLatestResultAndEndsThemAtTheFinalState) {
  std::string page = RenderRunReport(RealisticRun());
  EXPECT_TRUE(Contains(page, "Soak (nok), 0.960 s - 1.900 s"));
  EXPECT_TRUE(Contains(page, "RollingBack (ok), 1.900 s - 2.600 s"));
  EXPECT_TRUE(Contains(page, ">rolled back<"));
}

TEST(RenderRunReport, EitherAcceptsACompletedOrRolledBackCampaign) {
  json run = RealisticRun();
  run["expected_outcome"] = "either";
  for (const char* accepted : {"rolled_back", "rolled back", "completed"}) {
    run["outcome"] = accepted;
    EXPECT_FALSE(Contains(RenderRunReport(run), "(differs)")) << accepted;
  }
  for (const char* refused : {"none", "stuck", ""}) {
    run["outcome"] = refused;
    EXPECT_TRUE(Contains(RenderRunReport(run), "(differs)")) << refused;
  }
  run["expected_outcome"] = "completed";
  run["outcome"] = "rolled_back";
  EXPECT_TRUE(Contains(RenderRunReport(run), "(differs)"));
}

struct EpochLabel {
  double x;
  std::string text;
};

// The epoch labels of a page, in the order drawn: their x (text-anchor middle) and text.
std::vector<EpochLabel> EpochLabels(const std::string& page) {
  std::vector<EpochLabel> labels;
  const std::string start = "<text class=\"epoch-label\" x=\"";
  for (size_t at = page.find(start); at != std::string::npos; at = page.find(start, at + 1)) {
    size_t x_end = page.find('"', at + start.size());
    size_t text_begin = page.find('>', x_end) + 1;
    size_t text_end = page.find('<', text_begin);
    labels.push_back({std::stod(page.substr(at + start.size(), x_end - at - start.size())),
                      page.substr(text_begin, text_end - text_begin)});
  }
  return labels;
}

// Epochs 2 to 23 within 5 ms (a burst of failed promotions), then 24 a second later.
TEST(RenderRunReport, EpochLabelsOfABurstDoNotOverlapAndTheLatestKeepsItsLabel) {
  json run = RealisticRun();
  json events = json::array();
  for (int epoch = 2; epoch <= 23; ++epoch) {
    events.push_back({{"t_ms", 1000 + (epoch - 2) * 0.25},
                      {"kind", "cluster"},
                      {"epoch", epoch},
                      {"active", "a"}});
  }
  events.push_back({{"t_ms", 2000}, {"kind", "cluster"}, {"epoch", 24}, {"active", "b"}});
  run["events"] = events;
  const std::string page = RenderRunReport(run);
  std::vector<EpochLabel> labels = EpochLabels(page);
  ASSERT_FALSE(labels.empty());
  constexpr double kCharWidthPx = 6.6;  // as report.cc measures 11 px text
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t j = i + 1; j < labels.size(); ++j) {
      double half_widths = (labels[i].text.size() + labels[j].text.size()) * kCharWidthPx / 2;
      EXPECT_GE(std::abs(labels[i].x - labels[j].x), half_widths)
          << labels[i].text << " overlaps " << labels[j].text;
    }
  }
  std::set<std::string> texts;
  for (const EpochLabel& l : labels) texts.insert(l.text);
  EXPECT_TRUE(texts.count("e23")) << "the epoch that held keeps its label";
  EXPECT_TRUE(texts.count("e24"));
  EXPECT_FALSE(texts.count("e2"));
  // Every epoch keeps its line, named in the line's tooltip.
  for (int epoch = 2; epoch <= 24; ++epoch) {
    EXPECT_TRUE(Contains(page, "<title>epoch " + std::to_string(epoch) + " from")) << epoch;
  }
}

TEST(RenderRunReport, EscapesEverythingFromTheRun) {
  json run = RealisticRun();
  const std::string hostile = "<script>alert(1)</script>";
  run["scenario"] = hostile;
  run["description"] = hostile;
  run["replay"] = hostile;
  run["invariants"][0]["name"] = hostile;
  run["invariants"][0]["details"] = {hostile};
  run["faults"][0]["note"] = hostile;
  run["events"][0]["replica"] = hostile;
  run["events"][3]["step"] = hostile;
  std::string page = RenderRunReport(run);
  EXPECT_FALSE(Contains(page, "<script")) << page;
  EXPECT_TRUE(Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
}

TEST(RenderRunReport, CapsInvariantDetailsAtTwenty) {
  json run = RealisticRun();
  json details = json::array();
  for (int i = 0; i < 25; ++i) details.push_back("lost write k" + std::to_string(i));
  run["invariants"][0] = {
      {"name", "lost-writes"}, {"ok", false}, {"violations", 25}, {"details", details}};
  std::string page = RenderRunReport(run);
  EXPECT_TRUE(Contains(page, "VIOLATED"));
  EXPECT_TRUE(Contains(page, "lost write k19<"));
  EXPECT_FALSE(Contains(page, "lost write k20<"));
  EXPECT_TRUE(Contains(page, "... and 5 more"));
}

TEST(RenderRunReport, RendersMissingFieldsAndWrongTypesWithoutThrowing) {
  json run = {{"verdict", "fail"},
              {"events", 5},
              {"faults", "x"},
              {"ops", "many"},
              {"seed", "forty"},
              {"invariants", {1, "two", nullptr}},
              {"throughput", {{{"t_ms", "now"}}}},
              {"failover_ms", {"fast", 3}}};
  std::string page = RenderRunReport(run);
  EXPECT_TRUE(Contains(page, "<div class=\"verdict fail\">FAIL</div>"));
  EXPECT_TRUE(Contains(page, "<svg"));
  EXPECT_TRUE(Contains(page, "3.0 ms"));
  EXPECT_FALSE(RenderRunReport(json()).empty());
  EXPECT_FALSE(RenderRunReport(json::array({1, 2})).empty());
  EXPECT_FALSE(
      RenderRunReport(json{{"duration_ms", NAN}, {"events", {{{"t_ms", INFINITY}}}}}).empty());
}

// Every field of the realistic run (leaves and the objects and arrays holding them), in
// turn, replaced by each wrong type.
TEST(RenderRunReport, SurvivesAnyFieldOfTheWrongType) {
  const json run = RealisticRun();
  const json flat = run.flatten();
  std::set<std::string> pointers;
  for (const auto& [leaf, value] : flat.items()) {
    // Buckets past the second add time, not cases: they are read exactly like the others.
    if (leaf.starts_with("/throughput/") && !leaf.starts_with("/throughput/0/") &&
        !leaf.starts_with("/throughput/1/")) {
      continue;
    }
    for (json::json_pointer p(leaf); !p.empty(); p = p.parent_pointer()) {
      pointers.insert(p.to_string());
    }
  }
  const json wrong[] = {json(nullptr), json("x"),        json(-7),
                        json(1e300),   json::array({1}), json::object()};
  for (const std::string& pointer : pointers) {
    for (const json& w : wrong) {
      json mutated = run;
      mutated[json::json_pointer(pointer)] = w;
      std::string page;
      EXPECT_NO_THROW(page = RenderRunReport(mutated)) << pointer << " = " << w.dump();
      if (pointer != "/verdict") {
        ASSERT_TRUE(Contains(page, ">PASS<")) << pointer << " = " << w.dump();
      }
    }
  }
}

class WriteRunReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("duplex-report-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::filesystem::path dir_;
};

TEST_F(WriteRunReportTest, WritesResultJsonAndReportHtmlIntoANewDirectory) {
  json run = RealisticRun();
  std::filesystem::path out = dir_ / "runs" / "kill-active";
  Status s = WriteRunReport(run, out.string());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(json::parse(Read(out / "result.json")), run);
  EXPECT_EQ(Read(out / "report.html"), RenderRunReport(run));
}

// A directory under a regular file cannot be created, whoever runs the test (even root).
TEST_F(WriteRunReportTest, NamesThePathItCannotCreate) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "file") << "not a directory";
  std::string bad = (dir_ / "file" / "report").string();
  Status s = WriteRunReport(RealisticRun(), bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find(bad), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace duplex
