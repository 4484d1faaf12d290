#include "bench/system.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/clock.h"

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

namespace {

const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));

// utime + stime of `pid`'s process (all threads) in clock ticks; 0 when it is gone.
uint64_t ProcessTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  auto ticks = StatTicks(line);
  return ticks.ok() ? *ticks : 0;
}

uint64_t GroupTicks(const std::vector<pid_t>& pids) {
  uint64_t total = 0;
  for (pid_t pid : pids) total += ProcessTicks(pid);
  return total;
}

}  // namespace

StatusOr<uint64_t> StatTicks(std::string_view line) {
  // "pid (comm) state ppid ...": utime and stime are fields 14 and 15.
  const size_t close = line.rfind(')');
  if (close == std::string_view::npos) return InvalidArgument("stat line: no ')' after the name");
  std::istringstream fields{std::string(line.substr(close + 1))};
  std::string skip;
  for (int field = 3; field <= 13; ++field) {
    if (!(fields >> skip)) {
      return InvalidArgument("stat line: " + std::to_string(field - 1) +
                             " fields, utime is field 14");
    }
  }
  uint64_t utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return InvalidArgument("stat line: no utime and stime");
  return utime + stime;
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  return static_cast<double>(GroupTicks(pids)) / kTicksPerSecond;
}

std::vector<double> CpuPercentOver(const std::vector<std::vector<pid_t>>& groups, double seconds) {
  std::vector<uint64_t> before;
  for (const auto& pids : groups) before.push_back(GroupTicks(pids));
  const int64_t start_us = NowUs();
  SleepMs(static_cast<int>(seconds * 1000));  // the measurement window itself
  const double elapsed_s = static_cast<double>(NowUs() - start_us) / 1e6;
  std::vector<double> out;
  for (size_t i = 0; i < groups.size(); ++i) {
    const uint64_t after = GroupTicks(groups[i]);
    const double used_s = static_cast<double>(after - std::min(after, before[i])) / kTicksPerSecond;
    out.push_back(100.0 * used_s / elapsed_s);
  }
  return out;
}

}  // namespace duplex::bench
