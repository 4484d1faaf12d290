// Logging setup: one spdlog logger per process, named after the process
// ("coordinator", "replica a"). Call InitLogging once from main(); thread-safe after that.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace duplex {

// level: trace|debug|info|warn|error|off. Logs go to stderr (daemons redirect it to a file).
void InitLogging(const std::string& process_name, const std::string& level = "info");

}  // namespace duplex
