// Builds a page in the Prometheus text exposition format (version 0.0.4) that passes
// `promtool check metrics`: each family once, with its HELP and TYPE, then all its samples,
// whatever order the caller adds them in. Counters are named *_total by the caller, and
// names carry base units (_seconds, _bytes). One builder per page, on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace duplex {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void Gauge(const std::string& name, const std::string& help, double value, const Labels& = {});
  // Counts and sequence numbers stay exact (a double holds integers only up to 2^53).
  void Level(const std::string& name, const std::string& help, uint64_t value, const Labels& = {});
  void Counter(const std::string& name, const std::string& help, uint64_t value,
               const Labels& = {});
  // name_bucket{le=...} per bound in seconds and +Inf, name_sum (seconds) and name_count.
  void Histogram(const std::string& name, const std::string& help, const LatencyHistogram& h,
                 const Labels& = {});
  // The page: the families in the order they were first added.
  std::string Take();

 private:
  struct Family {
    std::string name, help, type;
    std::string samples;  // its sample lines
  };
  Family& FamilyOf(const std::string& name, const std::string& help, const char* type);
  static void Line(std::string& out, const std::string& name, const Labels& labels,
                   const std::string& value);
  std::vector<Family> families_;
};

}  // namespace duplex
