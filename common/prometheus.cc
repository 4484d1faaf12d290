#include "common/prometheus.h"

#include <cstdio>

namespace duplex {
namespace {

std::string Number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", value);
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

}  // namespace

void PrometheusText::Gauge(const std::string& name, const std::string& help, double value,
                           const Labels& labels) {
  Sample(name, help, "gauge", labels, Number(value));
}

void PrometheusText::Level(const std::string& name, const std::string& help, uint64_t value,
                           const Labels& labels) {
  Sample(name, help, "gauge", labels, std::to_string(value));
}

void PrometheusText::Counter(const std::string& name, const std::string& help, uint64_t value,
                             const Labels& labels) {
  Sample(name, help, "counter", labels, std::to_string(value));
}

void PrometheusText::Sample(const std::string& name, const std::string& help, const char* type,
                            const Labels& labels, const std::string& value) {
  if (name != family_) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    family_ = name;
  }
  out_ += name;
  for (size_t i = 0; i < labels.size(); ++i) {
    out_ += (i == 0 ? "{" : ",") + labels[i].first + "=\"" + Escaped(labels[i].second) + "\"";
  }
  out_ += (labels.empty() ? " " : "} ") + value + "\n";
}

}  // namespace duplex
