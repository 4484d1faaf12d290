// Processor: the interface an application implements to run as a duplex
// replica. The replica runtime owns the state (a replicated key space in
// RocksDB) and calls the processor from its single event-loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "feature_flags/feature_set.h"
#include "state_sync/converter.h"
#include "state_sync/delta.h"

namespace duplex {

struct Request {
  uint64_t client_id = 0;
  uint64_t request_seq = 0;  // 0: a read that is never deduplicated
  std::string op;
  std::vector<std::string> args;
  // Set by the active before Execute (not sent by clients): wall-clock milliseconds,
  // the one source of time a processor may use, so that execution stays deterministic.
  int64_t now_ms = 0;
};

struct Response {
  Code code = Code::kOk;
  std::string message;
  std::string value;
};

// Read access to the replicated key space as of the request being executed
// (earlier requests of the same group commit included).
class StateReader {
 public:
  virtual ~StateReader() = default;
  virtual StatusOr<std::optional<std::string>> Get(std::string_view key) const = 0;
};

// What a request did: the answer, and the mutations that make up its delta
// (none for a read or a refused request).
struct Outcome {
  Response response;
  std::vector<Mutation> mutations;
};

struct Health {
  bool healthy = true;
  std::string detail = "ok";
};

class Processor {
 public:
  virtual ~Processor() = default;

  virtual std::string Name() const = 0;
  virtual std::string Version() const = 0;  // "MAJOR.MINOR.PATCH"
  virtual uint32_t Schema() const = 0;      // state schema this version reads and writes
  virtual std::vector<Feature> Features() const { return {}; }

  // Active: executes a request against the state and returns its delta. Must be
  // deterministic and must not keep state of its own outside the key space.
  virtual Outcome Execute(const Request& request, const StateReader& state,
                          const FeatureSet& features) = 0;

  // Standby: turns a received delta into the mutations to apply. The default
  // applies them as they are; an application may validate or convert them. A delta
  // may carry no mutations at all (an expired client session is erased that way).
  virtual StatusOr<std::vector<Mutation>> ApplyDelta(const Delta& delta) { return delta.mutations; }

  // Called after a snapshot was installed (the state was replaced wholesale).
  virtual void OnRestored() {}

  virtual Health CheckHealth() const { return {}; }

  // Converters between this version's state schema and its neighbours (up and down),
  // used for catch-up and the live stream when the peer runs another schema.
  virtual void RegisterConverters(ConverterRegistry& registry) const { (void)registry; }

  // The application's own evaluation check during an upgrade (e.g. invariants of its
  // state); an error is a NOK. And its veto: a non-empty reason refuses an upgrade now.
  virtual Status SelfCheck(const StateReader& state) const {
    (void)state;
    return Status::Ok();
  }
  virtual std::string VetoUpgrade() const { return ""; }
};

}  // namespace duplex
