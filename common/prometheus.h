// Builds a page in the Prometheus text exposition format (version 0.0.4): each family's
// HELP and TYPE, then its samples. Counters are named *_total by the caller.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace duplex {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void Gauge(const std::string& name, const std::string& help, double value, const Labels& = {});
  // Counts and sequence numbers stay exact (a double holds integers only up to 2^53).
  void Level(const std::string& name, const std::string& help, uint64_t value, const Labels& = {});
  void Counter(const std::string& name, const std::string& help, uint64_t value,
               const Labels& = {});
  std::string Take() { return std::move(out_); }

 private:
  // HELP and TYPE once per family: a family's samples are added one after the other.
  void Sample(const std::string& name, const std::string& help, const char* type,
              const Labels& labels, const std::string& value);
  std::string out_;
  std::string family_;
};

}  // namespace duplex
