#include "replica/metrics.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "common/promtool_check.h"

namespace duplex {
namespace {

StatusReport AnActive() {
  StatusReport s;
  s.replica = "a";
  s.version = "1.0.0";
  s.role = WireRole::kActive;
  s.role_path = "Active/Replicating";
  s.cluster_version = "1.0.0";
  s.epoch = 7;
  s.coordinator_term = 12345678901;
  s.applied_seq = 123456789012;
  s.healthy = true;
  s.lag_ops = 3;
  s.latency_p99_us = 2500;
  return s;
}

// Sample lines by name (with labels), and the TYPE of each family, checked against the
// exposition format as it goes: a family's HELP and TYPE come before its samples.
struct Parsed {
  std::map<std::string, std::string> samples;
  std::map<std::string, std::string> types;
};

bool IsName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) != 0) return false;
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) != 0 ||
          std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '_')) {
      return false;
    }
  }
  return true;
}

Parsed Parse(const std::string& text) {
  Parsed p;
  std::set<std::string> helped;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type, extra;
      words >> name >> type >> extra;
      EXPECT_TRUE(IsName(name) && (type == "gauge" || type == "counter" || type == "histogram") &&
                  extra.empty())
          << "bad TYPE line: " << line;
      EXPECT_TRUE(helped.count(name)) << "TYPE before HELP: " << line;
      p.types[name] = type;
      continue;
    }
    size_t space = line.rfind(' ');
    std::string series = line.substr(0, space == std::string::npos ? 0 : space);
    std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    std::string name = series.substr(0, series.find('{'));
    bool labelled = name.size() < series.size();
    bool ok = IsName(name) && !value.empty() && (!labelled || series.back() == '}');
    if (!ok) {
      ADD_FAILURE() << "not an exposition line: \"" << line << "\"";
      continue;
    }
    std::string family = name;
    std::string base = name.substr(0, name.rfind('_'));
    std::string suffix = name.substr(base.size());
    bool histogram = p.types.count(base) && p.types.at(base) == "histogram";
    if (histogram && (suffix == "_bucket" || suffix == "_sum" || suffix == "_count")) family = base;
    EXPECT_TRUE(p.types.count(family)) << "sample before its TYPE: " << line;
    p.samples[series] = value;
  }
  return p;
}

TEST(Metrics, EveryFigureIsOneWellFormedSampleOfADeclaredFamily) {
  ReplicaCounters c;
  c.requests_answered = 42;
  c.group_commits = 5;
  c.gaps = 1;
  c.stale_term_assignments = 2;
  c.request_latency.Observe(40);
  c.request_latency.Observe(2000);
  c.standby_commit_lag.Observe(3000000);
  Parsed p = Parse(MetricsText(AnActive(), c));
  EXPECT_EQ(p.samples.at("duplex_active"), "1");
  EXPECT_EQ(p.samples.at("duplex_in_sync"), "0");
  EXPECT_EQ(p.samples.at("duplex_epoch"), "7");
  EXPECT_EQ(p.samples.at("duplex_coordinator_term"), "12345678901");
  EXPECT_EQ(p.samples.at("duplex_applied_seq"), "123456789012");  // not rounded
  EXPECT_EQ(p.samples.at("duplex_requests_total"), "42");
  EXPECT_EQ(p.samples.at("duplex_group_commits_total"), "5");
  EXPECT_EQ(p.samples.at("duplex_gaps_total"), "1");
  EXPECT_EQ(p.samples.at("duplex_stale_term_assignments_total"), "2");
  EXPECT_EQ(p.types.at("duplex_request_latency_seconds"), "histogram");
  EXPECT_EQ(p.samples.at("duplex_request_latency_seconds_bucket{le=\"5e-05\"}"), "1");
  EXPECT_EQ(p.samples.at("duplex_request_latency_seconds_bucket{le=\"0.001\"}"), "1");
  EXPECT_EQ(p.samples.at("duplex_request_latency_seconds_bucket{le=\"0.0025\"}"), "2");
  EXPECT_EQ(p.samples.at("duplex_request_latency_seconds_bucket{le=\"+Inf\"}"), "2");
  EXPECT_EQ(p.samples.at("duplex_request_latency_seconds_sum"), "0.00204");
  EXPECT_EQ(p.samples.at("duplex_request_latency_seconds_count"), "2");
  EXPECT_EQ(p.samples.at("duplex_standby_commit_lag_seconds_bucket{le=\"2.5\"}"), "0");
  EXPECT_EQ(p.samples.at("duplex_standby_commit_lag_seconds_bucket{le=\"5\"}"), "1");
  EXPECT_EQ(p.samples.at("duplex_standby_commit_lag_seconds_sum"), "3");
  EXPECT_EQ(p.samples.at("duplex_replica_info{replica=\"a\",version=\"1.0.0\",role=\"active\","
                         "state=\"Active/Replicating\",cluster_version=\"1.0.0\"}"),
            "1");
  for (const auto& [name, type] : p.types) {
    bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(total, type == "counter") << name << " is a " << type;
  }
}

TEST(Metrics, LabelValuesAreEscaped) {
  StatusReport s = AnActive();
  s.replica = "a\"b\\c\nd";
  Parsed p = Parse(MetricsText(s, {}));
  bool found = false;
  for (const auto& [sample, value] : p.samples) {
    found = found || sample.find(R"(replica="a\"b\\c\nd")") != std::string::npos;
  }
  EXPECT_TRUE(found);
}

// Prometheus's own checker (exposition format, HELP/TYPE, _total, base units) on a page with
// every family, as a standby with lag samples and as an active with answers.
TEST(Metrics, PromtoolChecksThePage) {
  ReplicaCounters c;
  c.request_latency.Observe(700);
  c.standby_commit_lag.Observe(120);
  for (const StatusReport& s : {AnActive(), StatusReport{}}) {
    PromtoolVerdict v = PromtoolCheckMetrics(MetricsText(s, c));
    if (!v.ran) GTEST_SKIP() << v.said;
    EXPECT_TRUE(v.passed) << v.said << "\n" << MetricsText(s, c);
  }
}

}  // namespace
}  // namespace duplex
