// examples/grafana/duplex.json against the code: every metric its PromQL names is on a
// rendered /metrics page (the replica's, its auth family, the coordinator's), so the
// dashboard cannot drift from the names in replica/metrics.cc and coordinator_metrics.cc.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "replica/access_control.h"
#include "replica/metrics.h"
#include "upgrade_coordinator/coordinator_metrics.h"

namespace duplex {
namespace {

// The dashboard, read from the source tree (tests run in the project's directory).
nlohmann::json Dashboard() {
  std::ifstream in("examples/grafana/duplex.json");
  EXPECT_TRUE(in.good()) << "examples/grafana/duplex.json not found";
  return nlohmann::json::parse(in);
}

// The families of a page (its # TYPE lines), with a histogram's series names too.
void AddFamilies(const std::string& page, std::set<std::string>& names) {
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name, type;
    words >> name >> type;
    names.insert(name);
    if (type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
    }
  }
}

// Every family the code can show: pages rendered with every section filled.
std::set<std::string> RenderedNames() {
  StatusReport s;
  s.replica = "a";
  s.role = WireRole::kActive;
  std::set<std::string> names;
  AddFamilies(MetricsText(s, {}), names);
  AddFamilies(AuthCounters().MetricsText(), names);
  nlohmann::json view = nlohmann::json::parse(R"({
    "cluster": "prod", "epoch": 3, "active": "a", "lock": false, "refused_control_frames": 0,
    "replicas": [{"name": "a", "alive": true, "role": "active"}],
    "hosts": [{"name": "h1", "agent": "connected", "last_heartbeat_ms": 5, "processes": []}],
    "host_failovers": {"process_exit": 0}, "leader_changes": 1,
    "coordinator": {"role": "leader", "term": 2},
    "etcd": {"reachable": true, "silent_ms": 3},
    "package_refusals": {"unsigned": 0},
    "campaign": {"from": "1.0.0", "to": "2.0.0", "state": "running", "phase": "Evaluate"}})");
  AddFamilies(CoordinatorMetricsText(view, {}), names);
  return names;
}

// Every PromQL expression of the dashboard (panels, panels in rows, template variables).
void CollectExprs(const nlohmann::json& panels, std::vector<std::string>& exprs) {
  for (const auto& p : panels) {
    for (const auto& t : p.value("targets", nlohmann::json::array())) {
      if (t.contains("expr")) exprs.push_back(t["expr"].get<std::string>());
    }
    CollectExprs(p.value("panels", nlohmann::json::array()), exprs);
  }
}

TEST(GrafanaDashboard, EveryMetricItUsesIsOnAPage) {
  nlohmann::json d = Dashboard();
  EXPECT_GE(d.value("schemaVersion", 0), 36);
  std::vector<std::string> exprs;
  CollectExprs(d.at("panels"), exprs);
  for (const auto& v : d.at("templating").at("list")) {
    if (v.value("type", "") == "query") exprs.push_back(v.at("query").dump());
  }
  ASSERT_GE(exprs.size(), 10u);
  const std::set<std::string> rendered = RenderedNames();
  const std::regex metric(R"(\bduplex_[a-z0-9_]+)");
  std::set<std::string> used;
  for (const std::string& expr : exprs) {
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric);
         it != std::sregex_iterator(); ++it) {
      used.insert(it->str());
      EXPECT_TRUE(rendered.count(it->str())) << it->str() << " (in " << expr << ") is on no page";
    }
  }
  // What the issue asks the dashboard to show.
  for (const char* name :
       {"duplex_replica_active", "duplex_cluster_epoch", "duplex_requests_total",
        "duplex_request_latency_seconds_bucket", "duplex_standby_commit_lag_seconds_bucket",
        "duplex_transitions_total", "duplex_refused_frames_total", "duplex_client_connections"}) {
    EXPECT_TRUE(used.count(name)) << "the dashboard does not show " << name;
  }
}

TEST(GrafanaDashboard, LatenciesAreHistogramQuantilesAndPanelIdsAreUnique) {
  nlohmann::json d = Dashboard();
  std::set<int> ids;
  size_t quantiles = 0;
  for (const auto& p : d.at("panels")) {
    EXPECT_TRUE(ids.insert(p.at("id").get<int>()).second) << "panel id " << p.at("id") << " twice";
    for (const auto& t : p.value("targets", nlohmann::json::array())) {
      const std::string expr = t.value("expr", "");
      if (expr.find("histogram_quantile(") == std::string::npos) continue;
      ++quantiles;
      EXPECT_NE(expr.find("_bucket["), std::string::npos) << expr;
      EXPECT_NE(expr.find("by (le)"), std::string::npos) << expr;
    }
  }
  EXPECT_GE(quantiles, 4u);
}

}  // namespace
}  // namespace duplex
