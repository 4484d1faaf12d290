// Fuzzes the history parsers: a coordinator's events.jsonl as the chaos harness reads it back
// (ParseEventLog, upgrade_coordinator/event_log.h) and the checkers that judge a run from it
// (chaos/checker.h), which read every field of every event. Events are JSON from a file: any
// field may be missing or of another type, and no checker may throw or crash on that.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "chaos/checker.h"
#include "upgrade_coordinator/event_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto events = duplex::ParseEventLog(text, "events.jsonl");
  if (!events.ok()) return 0;
  (void)duplex::CheckFeatureGate(*events);
  (void)duplex::CheckEpochs(*events);
  // The same log as two coordinators' logs, so the cross-log checks compare something.
  const std::vector<duplex::CoordinatorLog> logs = {{"h1", *events}, {"h2", *events}};
  (void)duplex::ActingEvents(logs);
  (void)duplex::CheckEpochsOfLogs(logs);
  (void)duplex::CheckCoordinatorTerms(logs);
  (void)duplex::LeadershipChanges(logs);
  (void)duplex::LeaderFailoverMs(logs, {0, 1000000});
  return 0;
}
