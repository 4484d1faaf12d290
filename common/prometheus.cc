#include "common/prometheus.h"

#include <cstdio>

#include "common/assert.h"

namespace duplex {
namespace {

std::string Number(double value, int digits = 9) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

// A label value: backslash, double quote and newline are escaped.
std::string Escaped(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// A HELP text: backslash and newline are escaped (a double quote is not, in HELP).
std::string EscapedHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool IsMetricName(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void PrometheusText::Gauge(const std::string& name, const std::string& help, double value,
                           const Labels& labels) {
  Line(FamilyOf(name, help, "gauge").samples, name, labels, Number(value));
}

void PrometheusText::Level(const std::string& name, const std::string& help, uint64_t value,
                           const Labels& labels) {
  Line(FamilyOf(name, help, "gauge").samples, name, labels, std::to_string(value));
}

void PrometheusText::Counter(const std::string& name, const std::string& help, uint64_t value,
                             const Labels& labels) {
  Line(FamilyOf(name, help, "counter").samples, name, labels, std::to_string(value));
}

void PrometheusText::Histogram(const std::string& name, const std::string& help,
                               const LatencyHistogram& h, const Labels& labels) {
  std::string& out = FamilyOf(name, help, "histogram").samples;
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    with_le.back().second = i < LatencyHistogram::kBoundsUs.size()
                                ? Number(LatencyHistogram::kBoundsUs[i] / 1e6)
                                : "+Inf";
    Line(out, name + "_bucket", with_le, std::to_string(h.CumulativeCount(i)));
  }
  // 15 digits: a sum of hours of latencies keeps its microseconds.
  Line(out, name + "_sum", labels, Number(static_cast<double>(h.sum_us()) / 1e6, 15));
  Line(out, name + "_count", labels, std::to_string(h.count()));
}

std::string PrometheusText::Take() {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + EscapedHelp(f.help) + "\n# TYPE " + f.name + " " + f.type +
           "\n" + f.samples;
  }
  families_.clear();
  return out;
}

PrometheusText::Family& PrometheusText::FamilyOf(const std::string& name, const std::string& help,
                                                 const char* type) {
  DUPLEX_ASSERT(IsMetricName(name), "a metric name is [a-zA-Z_:][a-zA-Z0-9_:]*", name);
  for (Family& f : families_) {
    if (f.name != name) continue;
    // Two meanings under one name would be one family with two TYPE lines: promtool refuses.
    DUPLEX_ASSERT(f.type == type && f.help == help, "a family has one type and one help", name,
                  f.type, type);
    return f;
  }
  return families_.emplace_back(Family{name, help, type, {}});
}

void PrometheusText::Line(std::string& out, const std::string& name, const Labels& labels,
                          const std::string& value) {
  out += name;
  for (size_t i = 0; i < labels.size(); ++i) {
    out += (i == 0 ? "{" : ",") + labels[i].first + "=\"" + Escaped(labels[i].second) + "\"";
  }
  out += (labels.empty() ? " " : "} ") + value + "\n";
}

}  // namespace duplex
