// Cross-version compatibility against saved bytes: examples/kv/testdata holds what kv 1.0.0
// and kv 2.0.0 with its features off put into the delta log and onto the wire (written once
// by kv_golden_gen, then frozen). Today's code must decode them, and a replica of the other
// version must end with the state in expected.txt, read through its own GET, whichever way
// a real pair converts: the standby converting the deltas it receives, or the active
// converting its log tail and its snapshot to the standby's schema.
// Real ReplicaCores on RocksDB stores in temp dirs; one thread, a fixed clock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "examples/kv/kv_processor.h"
#include "replica/frame.h"
#include "replica/replica_core.h"
#include "state_sync/wire_codec.h"

namespace duplex::kv {
namespace {

namespace fs = std::filesystem;

const fs::path kV1 = "examples/kv/testdata/v1";
const fs::path kV2FeaturesOff = "examples/kv/testdata/v2-features-off";

constexpr int64_t kNowUs = 1'800'000'000'000'000;  // fixed: nothing here waits for a timer
constexpr int64_t kNowMs = kNowUs / 1000;
constexpr size_t kFrameBytesMax = 1 << 20;
constexpr uint64_t kSavedEpoch = 1;  // the epoch kv_golden_gen's active wrote in

// ---- The saved files ----

struct Saved {
  std::vector<Delta> deltas;  // delta_NNN.bin, the delta log's form
  DeltaBatch batch;           // deltas_frame.bin, as streamed to a catching-up standby
  std::vector<SnapshotChunk> chunks;
  std::map<std::string, std::string> expected;
};

// Errors name the file: "examples/kv/testdata/v1/delta_003.bin: stored delta: ...".
StatusOr<std::string> ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path.string() + ": cannot open");
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

template <class T>
StatusOr<T> DecodePeerFrame(const fs::path& path) {
  auto bytes = ReadBytes(path);
  if (!bytes.ok()) return bytes.status();
  auto frame = DecodeFrame(*bytes, kFrameBytesMax);
  if (!frame.ok()) return Corruption(path.string() + ": " + frame.status().message());
  const auto* peer = std::get_if<PeerMessage>(&*frame);
  const T* message = peer ? std::get_if<T>(peer) : nullptr;
  if (message == nullptr) return Corruption(path.string() + ": a frame of another kind");
  return *message;
}

std::string Numbered(const fs::path& dir, const char* stem, size_t i) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s_%03zu.bin", stem, i);
  return (dir / name).string();
}

StatusOr<std::map<std::string, std::string>> ReadExpected(const fs::path& path) {
  auto text = ReadBytes(path);
  if (!text.ok()) return text.status();
  std::map<std::string, std::string> out;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    if (tab == std::string::npos) return Corruption(path.string() + ": no tab in \"" + line + "\"");
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  if (out.empty()) return Corruption(path.string() + ": no keys");
  return out;
}

StatusOr<Saved> LoadSaved(const fs::path& dir) {
  Saved saved;
  for (size_t i = 0; fs::exists(Numbered(dir, "delta", i)); ++i) {
    auto bytes = ReadBytes(Numbered(dir, "delta", i));
    if (!bytes.ok()) return bytes.status();
    auto delta = DecodeDelta(*bytes);
    if (!delta.ok()) return Corruption(Numbered(dir, "delta", i) + ": " + delta.status().message());
    saved.deltas.push_back(std::move(delta).value());
  }
  if (saved.deltas.empty()) return NotFound(Numbered(dir, "delta", 0) + ": missing");
  auto batch = DecodePeerFrame<DeltaBatch>(dir / "deltas_frame.bin");
  if (!batch.ok()) return batch.status();
  saved.batch = std::move(batch).value();
  for (size_t i = 0; fs::exists(Numbered(dir, "snapshot", i)); ++i) {
    auto chunk = DecodePeerFrame<SnapshotChunk>(Numbered(dir, "snapshot", i));
    if (!chunk.ok()) return chunk.status();
    saved.chunks.push_back(std::move(chunk).value());
  }
  if (saved.chunks.empty()) return NotFound(Numbered(dir, "snapshot", 0) + ": missing");
  auto expected = ReadExpected(dir / "expected.txt");
  if (!expected.ok()) return expected.status();
  saved.expected = std::move(expected).value();
  return saved;
}

// ---- Replicas driven by hand ----

class StoreReader final : public StateReader {
 public:
  explicit StoreReader(const Store& store) : store_(store) {}
  StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    return store_.Get(key);
  }

 private:
  const Store& store_;
};

// One replica of a kv version on its own RocksDB store in a temp dir. The test plays the
// coordinator (assignments) and the network (Pump) around it.
class Replica {
 public:
  Replica(std::string name, const std::string& version) : name_(std::move(name)) {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::path(::testing::TempDir()) /
           ("duplex_kv_compat_" + test + "_" + name_ + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    auto store = Store::Open({dir_.string(), /*sync=*/false, 200000, nullptr});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    processor_ = MakeKvProcessor(version);
    ReplicaOptions options;
    options.name = options.endpoint = name_;
    options.snapshot_chunk_bytes = 64;  // several chunks, each converted on its own
    core_ = std::make_unique<ReplicaCore>(options, store_.get(), processor_.get());
  }
  ~Replica() {
    core_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  const std::string& name() const { return name_; }
  ReplicaCore& core() { return *core_; }
  const Store& store() const { return *store_; }
  Processor& processor() { return *processor_; }
  std::vector<Action> Take() { return core_->TakeActions(); }

  // Assigned standby at `epoch`: returns the hello it sends (its session id among others).
  std::optional<Hello> Follow(uint64_t epoch) {
    Assignment a;
    a.epoch = epoch;
    a.role = WireRole::kStandby;
    a.peer_endpoint = a.peer_name = "active";
    core_->OnAssignment(a, kNowUs);
    std::optional<Hello> hello;
    for (Action& action : Take()) {
      auto* to = std::get_if<ToActive>(&action);
      if (to && std::holds_alternative<Hello>(to->message)) hello = std::get<Hello>(to->message);
    }
    return hello;
  }

  // Promoted at `epoch` with the standby recorded out of sync, as the coordinator does when
  // the old active is gone: solo, leased, features on up to `cluster_version`.
  void Lead(uint64_t epoch, const std::string& cluster_version) {
    Assignment a;
    a.epoch = epoch;
    a.role = WireRole::kActive;
    a.peer_endpoint = "standby";
    a.peer_name = "b";  // the joiner: an active takes a hello only from its assigned standby
    a.lease_echo_us = kNowUs;
    a.skip_lease_wait = true;
    a.cluster_version = cluster_version;
    core_->OnAssignment(a, kNowUs);
    core_->OnTick(kNowUs);
    Take();
    EXPECT_EQ(core_->role(), RoleState::kSolo) << RoleStatePath(core_->role());
  }

  // Standby: one round of its event loop, the frame as decoded from the wire.
  void Receive(PeerMessage message) {
    core_->OnFromActive(std::move(message), kNowUs);
    core_->OnTick(kNowUs);
  }

  // The application's keys, each read through this version's GET ("<code: message>" when
  // GET fails), so a value left in the other schema shows up as a difference.
  std::map<std::string, std::string> StateThroughGet() {
    const std::string prefix = AppKey("");
    StoreReader reader(*store_);
    FeatureSet features(processor_->Features(), Version{1, 0, 0});
    std::map<std::string, std::string> out;
    auto cursor = store_->OpenSnapshot();
    while (!cursor->done()) {
      auto entries = cursor->Next(1 << 20);
      EXPECT_TRUE(entries.ok()) << entries.status().ToString();
      if (!entries.ok()) break;
      for (const Mutation& m : *entries) {
        if (m.key.rfind(prefix, 0) != 0) continue;
        const std::string key = m.key.substr(prefix.size());
        Response r = processor_->Execute({0, 0, "GET", {key}, kNowMs}, reader, features).response;
        out[key] = r.code == Code::kOk
                       ? r.value
                       : "<" + std::string(CodeName(r.code)) + ": " + r.message + ">";
      }
    }
    return out;
  }

  // The replica's digest (the admin path), in `schema` ("digest keys applied_seq").
  std::string Digest(uint32_t schema) {
    AdminRequest digest;
    digest.op = AdminOp::kDigest;
    digest.schema = schema;
    core_->OnAdminRequest("admin", digest, kNowUs);
    for (Action& action : Take()) {
      if (auto* c = std::get_if<ToClient>(&action)) {
        const AdminReply& r = std::get<AdminReply>(c->reply);
        return r.code == Code::kOk ? DigestText(r) : r.message;
      }
    }
    return "no answer";
  }

 private:
  std::string name_;
  fs::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Processor> processor_;
  std::unique_ptr<ReplicaCore> core_;
};

// Through the encoder and the decoder, as every frame between replicas goes.
PeerMessage OverTheWire(const PeerMessage& message) {
  auto frame = DecodeFrame(EncodeFrame(Frame(message)), kFrameBytesMax);
  EXPECT_TRUE(frame.ok()) << frame.status().ToString();
  return std::get<PeerMessage>(frame.value());
}

// Carries frames between an active and its standby until neither has more to say.
void Pump(Replica& active, Replica& standby) {
  for (int round = 0; round < 1000; ++round) {
    bool quiet = true;
    for (Action& action : active.Take()) {
      if (auto* to = std::get_if<ToStandby>(&action)) {
        standby.Receive(OverTheWire(to->message));
        quiet = false;
      }
    }
    for (Action& action : standby.Take()) {
      if (auto* to = std::get_if<ToActive>(&action)) {
        active.core().OnFromStandby(standby.name(), OverTheWire(to->message), kNowUs);
        active.core().OnTick(kNowUs);
        quiet = false;
      }
    }
    if (quiet) return;
  }
  ADD_FAILURE() << "the pair never went quiet";
}

// The saved messages as a standby of `hello`'s session receives them from their active.
DeltaBatch ForSession(DeltaBatch batch, const Hello& hello) {
  batch.session_id = hello.session_id;
  return batch;
}
SnapshotChunk ForSession(SnapshotChunk chunk, const Hello& hello) {
  chunk.session_id = hello.session_id;
  return chunk;
}

// ---- The tests ----

// Loads a saved directory or fails the test with the loader's message (it names the file).
Saved LoadOrFail(const fs::path& dir) {
  auto saved = LoadSaved(dir);
  EXPECT_TRUE(saved.ok()) << saved.status().ToString();
  return saved.ok() ? std::move(saved).value() : Saved{};
}

void ExpectWellFormed(const fs::path& dir, uint32_t schema) {
  SCOPED_TRACE(dir.string());
  auto saved = LoadSaved(dir);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  for (size_t i = 0; i < saved->deltas.size(); ++i) {
    EXPECT_EQ(saved->deltas[i].epoch, kSavedEpoch) << i;
    EXPECT_EQ(saved->deltas[i].seq, i + 1) << i;
    EXPECT_EQ(saved->deltas[i].schema, schema) << i;
    EXPECT_NE(saved->deltas[i].client_id, 0u) << i;  // every write carries its session entry
  }
  EXPECT_EQ(saved->batch.deltas, saved->deltas) << "deltas_frame.bin against delta_NNN.bin";
  EXPECT_TRUE(saved->batch.caught_up);
  for (size_t i = 0; i < saved->chunks.size(); ++i) {
    const SnapshotChunk& c = saved->chunks[i];
    EXPECT_EQ(c.index, i);
    EXPECT_EQ(c.last, i + 1 == saved->chunks.size()) << i;
    EXPECT_EQ(c.schema, schema) << i;
    EXPECT_EQ(c.snapshot_epoch, kSavedEpoch) << i;
    EXPECT_EQ(c.snapshot_seq, saved->deltas.size()) << i;
  }
  EXPECT_GT(saved->chunks.size(), 1u) << "a snapshot of several chunks";
}

TEST(KvCompat, TheSavedMessagesOfBothVersionsStillDecode) {
  ExpectWellFormed(kV1, 1);
  ExpectWellFormed(kV2FeaturesOff, 2);
  EXPECT_EQ(LoadOrFail(kV1).expected, LoadOrFail(kV2FeaturesOff).expected)
      << "kv 2.0.0 with its features off must behave like kv 1.0.0";
}

TEST(KvCompat, ASavedFileThatNoLongerDecodesFailsNamingTheFile) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("duplex_kv_compat_truncated_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(kV1, dir);
  const std::string victim = Numbered(dir, "delta", 3);
  fs::resize_file(victim, fs::file_size(victim) - 8);  // whole words, so capnp must notice
  auto saved = LoadSaved(dir);
  fs::remove_all(dir);
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.status().code(), Code::kCorruption);
  EXPECT_EQ(saved.status().message().rfind(victim + ": stored delta: ", 0), 0u)
      << saved.status().message();
}

// A standby receives deltas in the active's schema and converts them itself
// (ReplicaCore::OnDeltaBatch -> ConvertDeltas -> Processor::ApplyDelta -> Store::Append).
void ExpectAStandbyAppliesTheSavedDeltas(const fs::path& dir, const std::string& version) {
  Saved saved = LoadOrFail(dir);
  Replica standby("b", version);
  auto hello = standby.Follow(kSavedEpoch);
  ASSERT_TRUE(hello.has_value());
  standby.Receive(ForSession(saved.batch, *hello));
  EXPECT_EQ(standby.core().counters().refused_frames, 0u);
  EXPECT_EQ(standby.store().meta().applied_seq, saved.deltas.size());
  EXPECT_EQ(standby.store().meta().schema, standby.processor().Schema());
  EXPECT_EQ(standby.core().role(), RoleState::kInSync);
  EXPECT_EQ(standby.StateThroughGet(), saved.expected);
}

TEST(KvCompat, ATwoZeroStandbyConvertsTheSavedOneZeroDeltasUp) {
  ExpectAStandbyAppliesTheSavedDeltas(kV1, "2.0.0");
}

TEST(KvCompat, AOneZeroStandbyConvertsTheSavedTwoZeroDeltasDown) {
  ExpectAStandbyAppliesTheSavedDeltas(kV2FeaturesOff, "1.0.0");
}

// The saved messages go to a standby of the version that wrote them (no conversion), which
// is then promoted; a fresh standby of `joiner_version` joins it. The active converts its
// log tail or its snapshot to the joiner's schema (ReplicaCore::SendToStandby), as the
// release that wrote the files does for an upgraded peer.
void ExpectAJoinerOfTheOtherVersionEndsEqual(const fs::path& dir, const std::string& saved_version,
                                             const std::string& joiner_version, bool by_snapshot) {
  Saved saved = LoadOrFail(dir);
  Replica active("a", saved_version);
  auto hello = active.Follow(kSavedEpoch);
  ASSERT_TRUE(hello.has_value());
  if (by_snapshot) {
    for (const SnapshotChunk& chunk : saved.chunks) active.Receive(ForSession(chunk, *hello));
  } else {
    active.Receive(ForSession(saved.batch, *hello));
  }
  ASSERT_EQ(active.core().counters().refused_frames, 0u);
  ASSERT_EQ(active.store().meta().applied_seq, saved.deltas.size());
  ASSERT_EQ(active.StateThroughGet(), saved.expected) << "as the saving version reads it";

  active.Lead(kSavedEpoch + 1, "1.0.0");
  Replica joiner("b", joiner_version);
  auto joined = joiner.Follow(kSavedEpoch + 1);
  ASSERT_TRUE(joined.has_value());
  active.core().OnFromStandby(joiner.name(), OverTheWire(*joined), kNowUs);
  active.core().OnTick(kNowUs);
  Pump(active, joiner);

  EXPECT_EQ(active.core().counters().snapshots_sent, by_snapshot ? 1u : 0u);
  EXPECT_EQ(joiner.core().counters().refused_frames, 0u);
  EXPECT_EQ(joiner.store().meta().applied_seq, saved.deltas.size());
  EXPECT_FALSE(joiner.store().meta().snapshot_incomplete);
  EXPECT_EQ(joiner.store().meta().schema, joiner.processor().Schema());
  EXPECT_EQ(joiner.StateThroughGet(), saved.expected);
  // What an upgrade's evaluation compares: both digests in the joiner's schema.
  const uint32_t schema = joiner.processor().Schema();
  EXPECT_EQ(joiner.Digest(schema), active.Digest(schema));
}

TEST(KvCompat, AOneZeroActiveBringsATwoZeroStandbyUpFromTheSavedDeltas) {
  ExpectAJoinerOfTheOtherVersionEndsEqual(kV1, "1.0.0", "2.0.0", /*by_snapshot=*/false);
}

TEST(KvCompat, AOneZeroActiveBringsATwoZeroStandbyUpFromTheSavedSnapshot) {
  ExpectAJoinerOfTheOtherVersionEndsEqual(kV1, "1.0.0", "2.0.0", /*by_snapshot=*/true);
}

TEST(KvCompat, ATwoZeroActiveWithFeaturesOffBringsAOneZeroStandbyDownFromTheSavedDeltas) {
  ExpectAJoinerOfTheOtherVersionEndsEqual(kV2FeaturesOff, "2.0.0", "1.0.0", /*by_snapshot=*/false);
}

TEST(KvCompat, ATwoZeroActiveWithFeaturesOffBringsAOneZeroStandbyDownFromTheSavedSnapshot) {
  ExpectAJoinerOfTheOtherVersionEndsEqual(kV2FeaturesOff, "2.0.0", "1.0.0", /*by_snapshot=*/true);
}

// Converting down is legal only while the feature is off: a record with an expiry has no
// schema-1 form. Generated here, never saved: such bytes must not reach a 1.0 replica.
class EmptyReader final : public StateReader {
 public:
  StatusOr<std::optional<std::string>> Get(std::string_view /*key*/) const override {
    return std::optional<std::string>();
  }
};

Delta PutexDelta(uint64_t seq) {
  auto v2 = MakeKvProcessor("2.0.0");
  EmptyReader empty;  // PUTEX reads nothing
  FeatureSet expiry_on(v2->Features(), Version{2, 0, 0});
  Outcome o = v2->Execute({7, 100, "PUTEX", {"token", "t", "60000"}, kNowMs}, empty, expiry_on);
  EXPECT_EQ(o.response.code, Code::kOk) << o.response.message;
  Delta d;
  d.epoch = kSavedEpoch;
  d.seq = seq;
  d.schema = 2;
  d.mutations = o.mutations;
  d.client_id = 7;
  d.session = {100, 0, "", o.response.value, 0, 0};
  auto decoded = DecodeDelta(EncodeDelta(d));  // as it would arrive
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? std::move(decoded).value() : d;
}

TEST(KvCompat, ADeltaWithAnExpiryCannotBeConvertedDownAndAOneZeroStandbyRefusesIt) {
  Saved saved = LoadOrFail(kV2FeaturesOff);
  const Delta putex = PutexDelta(saved.deltas.size() + 1);

  ConverterRegistry registry;
  MakeKvProcessor("1.0.0")->RegisterConverters(registry);
  auto down = registry.Convert(putex.mutations, 2, 1);
  EXPECT_EQ(down.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(down.status().message(),
            "schema 2 -> 1: \"token\" has an expiry, which kv 1.x cannot store");

  Replica standby("b", "1.0.0");
  auto hello = standby.Follow(kSavedEpoch);
  ASSERT_TRUE(hello.has_value());
  standby.Receive(ForSession(saved.batch, *hello));
  ASSERT_EQ(standby.store().meta().applied_seq, saved.deltas.size());
  standby.Take();
  DeltaBatch next = ForSession(saved.batch, *hello);
  next.deltas = {putex};
  standby.Receive(next);
  EXPECT_EQ(standby.core().counters().refused_frames, 1u);
  EXPECT_EQ(standby.store().meta().applied_seq, saved.deltas.size()) << "nothing applied";
  EXPECT_EQ(standby.StateThroughGet(), saved.expected);
  bool hello_again = false;  // it resyncs rather than go on with a hole in its history
  for (Action& action : standby.Take()) {
    auto* to = std::get_if<ToActive>(&action);
    hello_again = hello_again || (to && std::holds_alternative<Hello>(to->message));
  }
  EXPECT_TRUE(hello_again);
}

// A finalized 2.0 active (expiry on) holding a record with an expiry, and a fresh 1.0
// standby: its log tail or its snapshot cannot be converted down, so the active drops the
// session instead of sending it, and the 1.0 standby never gets in sync.
void ExpectAnActiveWithAnExpirySendsNothingToAOneZeroJoiner(bool by_snapshot) {
  SCOPED_TRACE(by_snapshot ? "by snapshot" : "by log tail");
  Saved saved = LoadOrFail(kV2FeaturesOff);
  Replica active("a", "2.0.0");
  auto hello = active.Follow(kSavedEpoch);
  ASSERT_TRUE(hello.has_value());
  if (by_snapshot) {
    for (const SnapshotChunk& chunk : saved.chunks) active.Receive(ForSession(chunk, *hello));
  } else {
    active.Receive(ForSession(saved.batch, *hello));
  }
  ASSERT_EQ(active.store().meta().applied_seq, saved.deltas.size());
  active.Lead(kSavedEpoch + 1, "2.0.0");  // finalized: expiry is on
  active.core().OnClientRequest("client", {7, 100, "PUTEX", {"token", "t", "60000"}, kNowMs},
                                kNowUs);
  active.core().OnTick(kNowUs);
  ASSERT_EQ(active.store().meta().applied_seq, saved.deltas.size() + 1);

  Replica joiner("b", "1.0.0");
  auto joined = joiner.Follow(kSavedEpoch + 1);
  ASSERT_TRUE(joined.has_value());
  active.core().OnFromStandby(joiner.name(), OverTheWire(*joined), kNowUs);
  active.core().OnTick(kNowUs);
  Pump(active, joiner);
  EXPECT_EQ(active.core().counters().snapshots_sent, by_snapshot ? 1u : 0u);
  EXPECT_EQ(joiner.store().meta().applied_seq, 0u);
  EXPECT_EQ(joiner.core().role(), RoleState::kCatchingUp);
  EXPECT_FALSE(joiner.StateThroughGet().contains("token"));
}

// Regression: the active used to go on using its standby session after dropping it for
// a failed conversion (caught with -D_GLIBCXX_ASSERTIONS, which the sanitizer build sets).
TEST(KvCompat, ATwoZeroActiveWithExpiryOnSendsNothingToAOneZeroStandby) {
  ExpectAnActiveWithAnExpirySendsNothingToAOneZeroJoiner(/*by_snapshot=*/false);
  ExpectAnActiveWithAnExpirySendsNothingToAOneZeroJoiner(/*by_snapshot=*/true);
}

}  // namespace
}  // namespace duplex::kv
