// kv_golden_gen: writes the saved ("golden") messages that kv_compat_test decodes, for
// kv 1.0.0 (testdata/v1) and for kv 2.0.0 with its features off, cluster version 1.0.0
// (testdata/v2-features-off). Each version runs as a real active (ReplicaCore, solo, on a
// scratch RocksDB store), executes the same client requests, then answers two standby
// hellos of its own version: one catching up by log tail, one by snapshot. What it sends
// is written exactly as it goes into the delta log or onto the wire:
//
//   delta_NNN.bin     one delta each, as stored in the delta log (EncodeDelta, sync.capnp)
//   deltas_frame.bin  the same deltas as the active streams them to a catching-up standby
//                     (EncodeFrame of a Deltas message, replica.capnp around sync.capnp)
//   snapshot_NNN.bin  the snapshot chunks as sent (EncodeFrame of SnapshotChunk messages)
//   expected.txt      the resulting state, key<TAB>value per line, read back through GET
//
// Regenerate, from the repository root, after building the target `kv_golden_gen`:
//   <build dir>/examples/kv/kv_golden_gen examples/kv/testdata
// The output is deterministic: with unchanged formats it rewrites identical bytes.
//
// The files are frozen on purpose: they stand for bytes that released replicas produce
// and that an upgrade must still read. Regenerating is legitimate ONLY for a deliberate
// format change that is declared incompatible with the releases that wrote them. When
// kv_compat_test fails after a code change, that change broke compatibility with
// deployed replicas: fix the change, never the files.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/log.h"
#include "examples/kv/kv_processor.h"
#include "replica/frame.h"
#include "replica/replica_core.h"
#include "state_sync/wire_codec.h"

namespace duplex::kv {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNowUs = 1'700'000'000'000'000;  // fixed: nothing here waits for a timer
constexpr int64_t kNowMs = kNowUs / 1000;
constexpr uint64_t kEpoch = 1;
constexpr uint64_t kTailSession = 1;
constexpr uint64_t kSnapshotSession = 2;
constexpr uint64_t kChunkBytes = 48;  // small, so that the snapshot has several chunks
constexpr int kRoundsMax = 100;

// A client request and whether it must produce a delta.
struct Op {
  uint64_t client_id;
  std::string op;
  std::vector<std::string> args;
  bool writes;
};

// Every write kv 1.0 can make (PUT, DEL, INCR; new, overwritten, erased and empty values),
// and requests that are answered without a delta.
const std::vector<Op> kOps = {
    {7, "PUT", {"a", "1"}, true},
    {9, "PUT", {"b", "hello"}, true},
    {7, "INCR", {"a", "41"}, true},
    {9, "INCR", {"c", "-3"}, true},
    {7, "PUT", {"greeting", "hello world"}, true},
    {9, "DEL", {"b"}, true},
    {7, "DEL", {"b"}, false},               // absent: answered "0"
    {9, "INCR", {"greeting", "1"}, false},  // not an integer: refused
    {7, "PUT", {"e", ""}, true},
    {9, "INCR", {"n", "5"}, true},
    {7, "DEL", {"c"}, true},
    {9, "PUTEX", {"x", "y", "60000"}, false},  // 1.0: unknown op; 2.0, features off: refused
};

struct Golden {
  std::vector<std::string> deltas;  // log form, one per delta
  std::string deltas_frame;
  std::vector<std::string> snapshot;  // frames, one per chunk
  std::map<std::string, std::string> state;
};

class StoreReader final : public StateReader {
 public:
  explicit StoreReader(const Store& store) : store_(store) {}
  StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    return store_.Get(key);
  }

 private:
  const Store& store_;
};

std::string Describe(const Op& op) {
  std::string out = op.op;
  for (const auto& a : op.args) out += " \"" + a + "\"";
  return out;
}

// The coordinator's promotion of a lone replica: epoch 1, the standby recorded out of sync.
Status LeadAlone(ReplicaCore& core) {
  Assignment a;
  a.epoch = kEpoch;
  a.role = WireRole::kActive;
  a.peer_endpoint = a.peer_name = "b";
  a.lease_echo_us = kNowUs;
  a.skip_lease_wait = true;
  a.cluster_version = "1.0.0";  // kv 2.0.0's expiry stays off
  core.OnAssignment(a, kNowUs);
  core.OnTick(kNowUs);
  core.TakeActions();
  if (core.role() != RoleState::kSolo) {
    return Internal(std::string("the active did not go solo: it is ") + RoleStatePath(core.role()));
  }
  return Status::Ok();
}

Status RunRequests(ReplicaCore& core, const Store& store) {
  std::map<uint64_t, uint64_t> request_seq;
  for (const Op& op : kOps) {
    const uint64_t before = store.meta().applied_seq;
    core.OnClientRequest(
        "client", {op.client_id, ++request_seq[op.client_id], op.op, op.args, kNowMs}, kNowUs);
    core.OnTick(kNowUs);
    std::string answer = "no answer";
    for (const Action& action : core.TakeActions()) {
      if (const auto* c = std::get_if<ToClient>(&action)) {
        const Response& r = std::get<ClientReply>(c->reply).response;
        answer = std::string(CodeName(r.code)) + " \"" + r.message + "\" \"" + r.value + "\"";
      }
    }
    if (store.meta().applied_seq != before + (op.writes ? 1 : 0)) {
      return Internal(Describe(op) + (op.writes ? ": no delta" : ": an unexpected delta") +
                      " (answer " + answer + ")");
    }
  }
  return Status::Ok();
}

Hello HelloFrom(const Processor& processor, uint64_t session_id, bool needs_snapshot) {
  return {"b", kEpoch, 0, 0, processor.Version(), processor.Schema(), session_id, needs_snapshot};
}

// A fresh standby of the same version catches up by log tail: one Deltas message.
Status CatchUpByTail(ReplicaCore& core, const Processor& processor, Golden& out) {
  core.OnFromStandby("b", HelloFrom(processor, kTailSession, false), kNowUs);
  core.OnTick(kNowUs);
  for (Action& action : core.TakeActions()) {
    auto* to = std::get_if<ToStandby>(&action);
    auto* batch = to ? std::get_if<DeltaBatch>(&to->message) : nullptr;
    if (batch == nullptr || batch->deltas.empty()) continue;
    if (!out.deltas_frame.empty()) return Internal("the log tail came in more than one message");
    for (const Delta& d : batch->deltas) out.deltas.push_back(EncodeDelta(d));
    out.deltas_frame = EncodeFrame(Frame(to->message));
  }
  if (out.deltas_frame.empty()) return Internal("no log tail was sent");
  return Status::Ok();
}

// A standby of the same version that needs a snapshot: chunks, each acknowledged.
Status CatchUpBySnapshot(ReplicaCore& core, const Processor& processor, Golden& out) {
  core.OnFromStandby("b", HelloFrom(processor, kSnapshotSession, true), kNowUs);
  for (int round = 0; round < kRoundsMax; ++round) {
    core.OnTick(kNowUs);
    for (Action& action : core.TakeActions()) {
      auto* to = std::get_if<ToStandby>(&action);
      auto* chunk = to ? std::get_if<SnapshotChunk>(&to->message) : nullptr;
      if (chunk == nullptr) continue;
      out.snapshot.push_back(EncodeFrame(Frame(to->message)));
      if (chunk->last) return Status::Ok();
      Ack ack{kEpoch, 0, kNowUs, kSnapshotSession, "b", chunk->index + 1};
      core.OnFromStandby("b", ack, kNowUs);
    }
  }
  return Internal("the snapshot never ended");
}

// The application's keys in the store, each read through the processor's GET.
StatusOr<std::map<std::string, std::string>> ReadState(const Store& store, Processor& processor) {
  const std::string prefix = AppKey("");
  StoreReader reader(store);
  FeatureSet features(processor.Features(), Version{1, 0, 0});
  std::map<std::string, std::string> out;
  auto cursor = store.OpenSnapshot();
  while (!cursor->done()) {
    auto entries = cursor->Next(1 << 20);
    if (!entries.ok()) return entries.status();
    for (const Mutation& m : *entries) {
      if (m.key.rfind(prefix, 0) != 0) continue;
      const std::string key = m.key.substr(prefix.size());
      Outcome get = processor.Execute({0, 0, "GET", {key}, kNowMs}, reader, features);
      if (get.response.code != Code::kOk)
        return Internal("GET " + key + ": " + get.response.message);
      out[key] = get.response.value;
    }
  }
  return out;
}

StatusOr<Golden> Generate(const std::string& version, const fs::path& scratch) {
  auto store = Store::Open({scratch.string(), /*sync=*/false, 200000, nullptr});
  if (!store.ok()) return store.status();
  auto processor = MakeKvProcessor(version);
  ReplicaOptions options;
  options.name = options.endpoint = "a";
  options.snapshot_chunk_bytes = kChunkBytes;
  ReplicaCore core(options, store->get(), processor.get());
  Golden out;
  DUPLEX_RETURN_IF_ERROR(LeadAlone(core));
  DUPLEX_RETURN_IF_ERROR(RunRequests(core, **store));
  DUPLEX_RETURN_IF_ERROR(CatchUpByTail(core, *processor, out));
  DUPLEX_RETURN_IF_ERROR(CatchUpBySnapshot(core, *processor, out));
  auto state = ReadState(**store, *processor);
  if (!state.ok()) return state.status();
  out.state = std::move(state).value();
  return out;
}

Status WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) return IOError(path.string() + ": cannot write");
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
  return Status::Ok();
}

std::string Numbered(const char* stem, size_t i) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s_%03zu.bin", stem, i);
  return name;
}

Status WriteGolden(const fs::path& dir, const Golden& golden) {
  std::error_code ec;
  fs::remove_all(dir, ec);  // nothing but generated files lives here
  if (!fs::create_directories(dir, ec)) return IOError(dir.string() + ": " + ec.message());
  for (size_t i = 0; i < golden.deltas.size(); ++i) {
    DUPLEX_RETURN_IF_ERROR(WriteFile(dir / Numbered("delta", i), golden.deltas[i]));
  }
  DUPLEX_RETURN_IF_ERROR(WriteFile(dir / "deltas_frame.bin", golden.deltas_frame));
  for (size_t i = 0; i < golden.snapshot.size(); ++i) {
    DUPLEX_RETURN_IF_ERROR(WriteFile(dir / Numbered("snapshot", i), golden.snapshot[i]));
  }
  std::string text = "# kv state after the deltas (and in the snapshot): key<TAB>value, via GET\n";
  for (const auto& [key, value] : golden.state) {
    if ((key + value).find_first_of("\t\n") != std::string::npos) {
      return InvalidArgument("key \"" + key + "\": tabs and newlines cannot go in expected.txt");
    }
    text += key + "\t" + value + "\n";
  }
  return WriteFile(dir / "expected.txt", text);
}

int Run(const fs::path& out) {
  const fs::path scratch =
      fs::temp_directory_path() / ("kv_golden_gen_" + std::to_string(::getpid()));
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  auto v1 = Generate("1.0.0", scratch / "v1");
  auto v2 = Generate("2.0.0", scratch / "v2");
  fs::remove_all(scratch);
  for (const auto* g : {&v1, &v2}) {
    if (!g->ok()) {
      std::fprintf(stderr, "kv_golden_gen: %s\n", g->status().ToString().c_str());
      return 1;
    }
  }
  if (v1->state != v2->state) {
    std::fprintf(stderr, "kv_golden_gen: kv 2.0.0 with its features off ends in another state\n");
    return 1;
  }
  const std::vector<std::pair<fs::path, const Golden*>> dirs = {{out / "v1", &*v1},
                                                                {out / "v2-features-off", &*v2}};
  for (const auto& [dir, golden] : dirs) {
    Status s = WriteGolden(dir, *golden);
    if (!s.ok()) {
      std::fprintf(stderr, "kv_golden_gen: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace duplex::kv

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <testdata dir, e.g. examples/kv/testdata>\n", argv[0]);
    return 2;
  }
  duplex::InitLogging("kv_golden_gen", "warn");
  return duplex::kv::Run(argv[1]);
}
