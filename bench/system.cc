#include "bench/system.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace duplex::bench {

LoadShape ShapeOf(const LoadSpec& spec, const std::string& key_prefix) {
  LoadShape shape;
  shape.connections = spec.clients;
  shape.pipeline = spec.pipeline;
  shape.seconds = spec.seconds;
  shape.key_prefix = key_prefix;
  shape.key_bytes = kKeyBytes;
  shape.value_bytes = kValueBytes;
  return shape;
}

LoadShape BulkLoadShape(uint64_t keys) {
  LoadShape shape = ShapeOf(LoadSpec{.clients = 50, .pipeline = 8, .seconds = 3600}, "k");
  shape.total_ops = keys;
  shape.timeout_ms = 10000;
  return shape;
}

Status CheckBulkLoaded(uint64_t keys, const LoadResult& loaded) {
  if (loaded.ok == keys) return Status::Ok();
  return Unavailable("loading " + std::to_string(keys) + " keys: " + std::to_string(loaded.ok) +
                     " acknowledged (" + loaded.first_error + ")");
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  static const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields are
    // counted from the last ')'. utime and stime are fields 14 and 15.
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 1));
    std::string skip;
    for (int field = 3; field <= 13; ++field) fields >> skip;
    uint64_t utime = 0, stime = 0;
    if (fields >> utime >> stime) total += static_cast<double>(utime + stime) / kTicksPerSecond;
  }
  return total;
}

}  // namespace duplex::bench
