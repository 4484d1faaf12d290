// ReplicaCore driven by hand: two cores, each on its own RocksDB store, wired by
// an in-test network that can drop, duplicate, hold and reorder frames, and a
// scripted coordinator that answers status reports the way the arbiter does.
// One thread; time is an int64 microsecond clock the tests advance.
#include "replica/replica_core.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "examples/kv/kv_processor.h"
#include "replica/internal/next_tick.h"
#include "replica/internal/ring_buffer.h"
#include "replica/internal/standby_session.h"

namespace duplex {
namespace {

constexpr int64_t kMs = 1000;

// One frame in flight.
struct Envelope {
  enum class Kind { kToStandby, kToActive, kStatus, kAssignment };
  Kind kind;
  std::string from;  // a replica name or "coordinator"
  std::string to;
  PeerMessage peer;
  StatusReport status;
  Assignment assignment;

  bool IsDeltaBatchWithDeltas() const {
    auto* b = std::get_if<DeltaBatch>(&peer);
    return kind == Kind::kToStandby && b != nullptr && !b->deltas.empty();
  }
  bool Is(Kind k, const std::string& sender) const { return kind == k && from == sender; }
  template <class T>
  bool Carries() const {
    return (kind == Kind::kToStandby || kind == Kind::kToActive) && std::holds_alternative<T>(peer);
  }
};

enum class Verdict { kDeliver, kDrop, kHold, kDuplicate };
using Filter = std::function<Verdict(const Envelope&)>;

// Answers status reports like upgrade_coordinator/arbiter.cc: level-triggered
// assignments, the lease echo, the solo grant and the in-sync record.
class ScriptedCoordinator {
 public:
  uint64_t epoch = 0;
  std::string active;
  bool standby_in_sync = false;
  uint64_t solo_grant_id = 0;
  uint64_t sync_id = 0;
  bool skip_lease_wait = false;
  bool drain = false;  // a switchover asks the active to stop serving
  bool hold = false;   // a digest comparison asks it to commit nothing for a moment
  uint64_t term = 0;   // the leading coordinator's term (0: the embedded one)
  std::map<std::string, StatusReport> last;  // who has reported, and what

  static std::string Other(const std::string& name) { return name == "a" ? "b" : "a"; }

  Assignment For(const std::string& name) const {
    Assignment a;
    a.epoch = epoch;
    a.coordinator_term = term;
    if (active.empty()) return a;
    if (name == active) {
      a.role = WireRole::kActive;
      a.peer_name = a.peer_endpoint = Other(name);
      a.skip_lease_wait = skip_lease_wait;
      a.standby_in_sync = standby_in_sync;
      a.solo_grant_id = solo_grant_id;
      a.drain = drain;
      a.hold = hold;
      auto it = last.find(name);
      if (it != last.end() && it->second.epoch == epoch) a.lease_echo_us = it->second.sent_us;
    } else {
      a.role = WireRole::kStandby;
      a.peer_name = a.peer_endpoint = active;
    }
    return a;
  }

  Assignment OnStatus(const StatusReport& s) {
    last[s.replica] = s;
    if (s.replica == active && s.epoch == epoch && s.role == WireRole::kActive &&
        s.solo_request_id > sync_id) {
      if (s.want_solo) {
        standby_in_sync = false;
        solo_grant_id = sync_id = s.solo_request_id;
      } else if (s.peer_caught_up) {
        standby_in_sync = true;
        sync_id = s.solo_request_id;
      }
    }
    return For(s.replica);
  }

  // Returns the replicas to send an assignment to: the new active, and the other if it reported.
  std::vector<std::string> Promote(const std::string& name, bool skip) {
    ++epoch;
    active = name;
    standby_in_sync = false;
    solo_grant_id = sync_id = 0;
    skip_lease_wait = skip;
    std::vector<std::string> to = {name};
    if (last.count(Other(name))) to.push_back(Other(name));
    return to;
  }
};

struct Node {
  std::string name;
  ReplicaOptions options;
  std::unique_ptr<Store> store;
  std::unique_ptr<Processor> processor;
  std::unique_ptr<ReplicaCore> core;
  std::string connected;  // where this replica's ToActive frames go (ConnectActive)
};

struct PairOptions {
  uint64_t a_log_retain_ops = 200000;
  uint64_t snapshot_chunk_bytes = ReplicaOptions{}.snapshot_chunk_bytes;
  int64_t session_expiry_ms = ReplicaOptions{}.session_expiry_ms;
  uint64_t lag_ops_max = ReplicaOptions{}.lag_ops_max;
  uint64_t tail_batch_ops = ReplicaOptions{}.tail_batch_ops;
  UnleasedReadRule unleased_reads = ReplicaOptions{}.unleased_reads;
  ReadWaitRule reads_wait = ReplicaOptions{}.reads_wait;
};

// Owns both replicas and the network between them and the coordinator.
class Pair {
 public:
  explicit Pair(PairOptions options = {}) {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (std::string name : {"a", "b"}) {
      auto dir = std::filesystem::path(::testing::TempDir()) /
                 ("duplex_core_" + test + "_" + name + "_" + std::to_string(::getpid()));
      std::filesystem::remove_all(dir);
      dirs_.push_back(dir);
      uint64_t retain = name == "a" ? options.a_log_retain_ops : 200000;
      auto store = Store::Open({dir.string(), /*sync=*/false, retain, nullptr});
      EXPECT_TRUE(store.ok()) << store.status().ToString();
      Node& n = nodes_[name];
      n.name = name;
      n.store = std::move(store).value();
      n.processor = kv::MakeKvProcessor("1.0.0");
      ReplicaOptions ro;
      ro.name = ro.endpoint = name;
      ro.snapshot_chunk_bytes = options.snapshot_chunk_bytes;
      ro.session_expiry_ms = options.session_expiry_ms;
      ro.lag_ops_max = options.lag_ops_max;
      ro.tail_batch_ops = options.tail_batch_ops;
      ro.unleased_reads = options.unleased_reads;
      ro.reads_wait = options.reads_wait;
      n.options = ro;
      n.core = std::make_unique<ReplicaCore>(ro, n.store.get(), n.processor.get());
    }
  }
  ~Pair() {
    nodes_.clear();
    for (const auto& d : dirs_) std::filesystem::remove_all(d);
  }

  ReplicaCore& core(const std::string& name) { return *nodes_.at(name).core; }
  Store& store(const std::string& name) { return *nodes_.at(name).store; }
  int64_t now() const { return now_; }

  // "digest keys applied_seq", comparable in one EXPECT_EQ.
  std::string Digest(const std::string& name) {
    auto d = store(name).Digest();
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return std::to_string(d->digest) + " " + std::to_string(d->keys) + " " +
           std::to_string(d->applied_seq);
  }
  std::optional<std::string> Get(const std::string& name, const std::string& key) {
    auto v = store(name).Get(key);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::nullopt;
  }

  // The coordinator grants `name` the next epoch (skip_lease_wait: the old active is known dead).
  void Promote(const std::string& name, bool skip_lease_wait = true) {
    for (const auto& to : coordinator.Promote(name, skip_lease_wait)) {
      Send({Envelope::Kind::kAssignment, "coordinator", to, {}, {}, coordinator.For(to)});
    }
    Pump();
  }
  // The replica's process starts: from now on it ticks, receives frames and reports.
  void Start(const std::string& name) {
    up_.insert(name);
    Send({Envelope::Kind::kStatus, name, "coordinator", {}, core(name).BuildStatus(now_), {}});
    Pump();
  }
  // The replica's process dies, stays down for `down_us` (frames to it are lost), and
  // starts again on its store; the coordinator answers its first report as usual.
  void Restart(const std::string& name, int64_t down_us) {
    up_.erase(name);
    Node& n = nodes_.at(name);
    n.core = std::make_unique<ReplicaCore>(n.options, n.store.get(), n.processor.get());
    n.connected.clear();
    RunFor(down_us);
    Start(name);
  }
  void Submit(const std::string& name, std::vector<Request> requests) {
    for (auto& r : requests) core(name).OnClientRequest("client", std::move(r), now_);
    Tick(name);
    Pump();
  }
  void Submit(const std::string& name, Request request) { Submit(name, std::vector{request}); }
  // On the admin path.
  void SubmitAdmin(const std::string& name, AdminRequest request) {
    core(name).OnAdminRequest("admin", std::move(request), now_);
    Tick(name);
    Pump();
  }

  void RunFor(int64_t duration_us, int64_t step_us = 5 * kMs) {
    for (int64_t t = 0; t < duration_us; t += step_us) {
      now_ += step_us;
      Tick("a");
      Tick("b");
      Pump();
    }
  }

  // Delivers frames in flight (and what they cause) until the network is quiet.
  void Pump() {
    for (int i = 0; i < 100000; ++i) {
      Collect("a");
      Collect("b");
      if (queue_.empty()) return;
      Envelope e = std::move(queue_.front());
      queue_.pop_front();
      switch (filter ? filter(e) : Verdict::kDeliver) {
        case Verdict::kDeliver:
          Deliver(e);
          break;
        case Verdict::kDrop:
          ++dropped;
          break;
        case Verdict::kHold:
          held.push_back(std::move(e));
          break;
        case Verdict::kDuplicate:
          Deliver(e);
          Deliver(e);
          break;
      }
    }
    ADD_FAILURE() << "the network never went quiet";
  }

  // Hands `active` a frame from `standby` outside the network, as its event loop would.
  void DeliverTo(const std::string& active, const std::string& standby, PeerMessage message) {
    core(active).OnFromStandby(standby, std::move(message), now_);
    Tick(active);
    Pump();
  }

  // One event-loop round at standby `to`: several frames from its active, then one tick.
  void DeliverRound(const std::string& to, const std::vector<PeerMessage>& messages) {
    for (const auto& m : messages) core(to).OnFromActive(m, now_);
    Tick(to);
    Pump();
  }

  // Puts held frames back on the wire, first in line, in the order they were held.
  void ReleaseHeld() {
    for (auto it = held.rbegin(); it != held.rend(); ++it) queue_.push_front(std::move(*it));
    held.clear();
    Pump();
  }

  std::optional<ClientReply> ReplyTo(uint64_t client_id, uint64_t request_seq) const {
    std::optional<ClientReply> out;
    for (const auto& r : replies) {
      if (r.client_id == client_id && r.request_seq == request_seq) out = r;
    }
    return out;
  }

  ScriptedCoordinator coordinator;
  Filter filter;
  std::deque<Envelope> held;
  std::vector<ClientReply> replies;
  std::vector<AdminReply> admin_replies;
  uint64_t dropped = 0;

 private:
  void Tick(const std::string& name) {
    if (up_.count(name)) core(name).OnTick(now_);
  }
  void Send(Envelope e) { queue_.push_back(std::move(e)); }

  void Collect(const std::string& name) {
    Node& n = nodes_.at(name);
    for (auto& action : n.core->TakeActions()) {
      if (auto* c = std::get_if<ToClient>(&action)) {
        if (auto* admin = std::get_if<AdminReply>(&c->reply)) {
          admin_replies.push_back(*admin);
        } else {
          replies.push_back(std::get<ClientReply>(c->reply));
        }
      } else if (auto* s = std::get_if<ToStandby>(&action)) {
        Send({Envelope::Kind::kToStandby, name, s->route, s->message, {}, {}});
      } else if (auto* act = std::get_if<ToActive>(&action)) {
        if (!n.connected.empty()) {
          Send({Envelope::Kind::kToActive, name, n.connected, act->message, {}, {}});
        }
      } else if (auto* st = std::get_if<ToCoordinator>(&action)) {
        Send({Envelope::Kind::kStatus, name, "coordinator", {}, st->status, {}});
      } else if (auto* conn = std::get_if<ConnectActive>(&action)) {
        n.connected = conn->endpoint;
      }
    }
  }

  void Deliver(const Envelope& e) {
    if (e.to != "coordinator" && !up_.count(e.to)) return;  // nobody listens
    switch (e.kind) {
      case Envelope::Kind::kToStandby:
        core(e.to).OnFromActive(e.peer, now_);
        break;
      case Envelope::Kind::kToActive:
        core(e.to).OnFromStandby(e.from, e.peer, now_);
        break;
      case Envelope::Kind::kStatus:
        Send({Envelope::Kind::kAssignment,
              "coordinator",
              e.from,
              {},
              {},
              coordinator.OnStatus(e.status)});
        return;
      case Envelope::Kind::kAssignment:
        core(e.to).OnAssignment(e.assignment, now_);
        break;
    }
    Tick(e.to);  // the event loop ticks after each batch of events
  }

  std::map<std::string, Node> nodes_;
  std::vector<std::filesystem::path> dirs_;
  std::deque<Envelope> queue_;
  std::set<std::string> up_;
  int64_t now_ = 1000 * kMs;
};

Request Put(uint64_t client, uint64_t seq, std::string key, std::string value) {
  return {client, seq, "PUT", {std::move(key), std::move(value)}};
}
Request Incr(uint64_t client, uint64_t seq, std::string key, int amount) {
  return {client, seq, "INCR", {std::move(key), std::to_string(amount)}};
}
Request Get(std::string key) { return {0, 0, "GET", {std::move(key)}}; }

// A active at epoch 1, B its standby in sync, the coordinator has recorded it.
void StartInSync(Pair& pair) {
  pair.Start("a");
  pair.Promote("a");
  pair.Start("b");
  pair.RunFor(50 * kMs);
  ASSERT_EQ(pair.core("a").role(), RoleState::kReplicating);
  ASSERT_EQ(pair.core("b").role(), RoleState::kInSync);
  ASSERT_TRUE(pair.coordinator.standby_in_sync);
}

// A store without state of its own (found corrupt at rest and replaced, or a snapshot install
// cut off): the replica is unhealthy, so the coordinator never promotes it, and an active
// assignment that comes anyway is refused: it would serve an empty key space as the data.
TEST(ReplicaCore, AReplicaWhoseStoreAwaitsAResyncRefusesToBecomeActive) {
  Pair pair;
  ASSERT_TRUE(pair.store("a").BeginSnapshotInstall().ok());
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(50 * kMs);
  EXPECT_FALSE(IsActive(pair.core("a").role())) << RoleStatePath(pair.core("a").role());
  StatusReport status = pair.core("a").BuildStatus(pair.now());
  EXPECT_FALSE(status.healthy);
  EXPECT_EQ(status.health_detail, "snapshot install incomplete");
}

TEST(RingBuffer, KeepsTheLastCapacityValuesOverwritingTheOldestFirst) {
  RingBuffer<int> ring(3);
  EXPECT_TRUE(ring.values().empty());
  ring.Push(1);
  ring.Push(2);
  EXPECT_EQ(ring.values(), (std::vector<int>{1, 2}));
  ring.Push(3);
  ring.Push(4);  // overwrites 1
  EXPECT_EQ(ring.values(), (std::vector<int>{4, 2, 3}));
  ring.Push(5);  // overwrites 2
  ring.Push(6);
  ring.Push(7);  // overwrites 4
  EXPECT_EQ(ring.values(), (std::vector<int>{7, 5, 6}));
  EXPECT_EQ(ring.capacity(), 3u);
}

TEST(ReplicaCore, BootstrapsAPairAndAcknowledgesWritesOnlyAfterTheStandbyAcked) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  EXPECT_EQ(pair.core("a").role(), RoleState::kSolo);  // solo request 0 of epoch 1
  EXPECT_TRUE(pair.core("a").Serving(pair.now()));
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    pair.Submit("a", Put(1, seq, "k" + std::to_string(seq), "v"));
    ASSERT_TRUE(pair.ReplyTo(1, seq)) << seq;
    EXPECT_EQ(pair.ReplyTo(1, seq)->response.code, Code::kOk);
  }

  pair.Start("b");
  pair.RunFor(50 * kMs);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.core("b").epoch(), 1u);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
  EXPECT_EQ(pair.core("a").role(), RoleState::kReplicating);
  EXPECT_TRUE(pair.core("a").BuildStatus(pair.now()).peer_caught_up);
  EXPECT_TRUE(pair.core("b").BuildStatus(pair.now()).holds);  // a capability, not a role's
  EXPECT_TRUE(pair.coordinator.standby_in_sync);
  EXPECT_EQ(pair.coordinator.sync_id, 1u);

  pair.filter = [](const Envelope& e) {
    return e.Is(Envelope::Kind::kToActive, "b") && e.Carries<Ack>() ? Verdict::kHold
                                                                    : Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 6, "k6", "v"));
  EXPECT_EQ(pair.Get("b", "k6"), "v");  // the standby has it...
  EXPECT_FALSE(pair.ReplyTo(1, 6));     // ...but the active has not heard so
  ASSERT_FALSE(pair.held.empty());
  pair.filter = nullptr;
  pair.ReleaseHeld();
  ASSERT_TRUE(pair.ReplyTo(1, 6));
  EXPECT_EQ(pair.ReplyTo(1, 6)->response.code, Code::kOk);
  EXPECT_EQ(pair.ReplyTo(1, 6)->epoch, 1u);
}

// What reaches the I/O layer, in order: replies, and each Flush with the seq the store had
// committed when it came.
struct RecordingSink : ActionSink {
  explicit RecordingSink(Store* s) : store(s) {}
  void Do(Action action) override {
    if (auto* c = std::get_if<ToClient>(&action)) {
      events.push_back("reply " + std::to_string(std::get<ClientReply>(c->reply).request_seq));
    }
  }
  void Flush() override {
    events.push_back("flush at seq " + std::to_string(store->meta().applied_seq));
  }
  Store* store;
  std::vector<std::string> events;
};

TEST(ReplicaCore, RepliesTheStandbyAckedLeaveBeforeTheNextGroupCommitBlocks) {
  Pair pair;
  StartInSync(pair);
  pair.filter = [](const Envelope& e) {
    return e.Is(Envelope::Kind::kToActive, "b") && e.Carries<Ack>() ? Verdict::kHold
                                                                    : Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 1, "k1", "v"));
  ASSERT_FALSE(pair.ReplyTo(1, 1));
  ASSERT_FALSE(pair.held.empty());
  uint64_t committed = pair.store("a").meta().applied_seq;

  // One turn of the active's event loop: the ack, a new request, the tick.
  RecordingSink sink(&pair.store("a"));
  pair.core("a").SetActionSink(&sink);
  pair.core("a").OnFromStandby("b", pair.held.back().peer, pair.now());
  pair.core("a").OnClientRequest("client", Put(1, 2, "k2", "v"), pair.now());
  pair.core("a").OnTick(pair.now());
  EXPECT_EQ(sink.events,
            (std::vector<std::string>{"reply 1", "flush at seq " + std::to_string(committed)}));
  EXPECT_EQ(pair.store("a").meta().applied_seq, committed + 1);  // k2, after the flush
  pair.core("a").SetActionSink(nullptr);  // the sink goes out of scope before the core
}

TEST(ReplicaCore, StandbyCountsADuplicatedDeltaBatchAndAppliesItOnce) {
  Pair pair;
  StartInSync(pair);
  bool duplicated = false;
  pair.filter = [&](const Envelope& e) {
    if (!duplicated && e.IsDeltaBatchWithDeltas()) {
      duplicated = true;
      return Verdict::kDuplicate;
    }
    return Verdict::kDeliver;
  };
  pair.Submit("a", Incr(1, 1, "x", 1));
  ASSERT_TRUE(duplicated);
  EXPECT_EQ(pair.core("b").counters().duplicates, 1u);
  EXPECT_EQ(pair.core("b").counters().deltas_committed, 1u);
  EXPECT_EQ(pair.Get("b", "x"), "1");
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
  ASSERT_TRUE(pair.ReplyTo(1, 1));
  EXPECT_EQ(pair.ReplyTo(1, 1)->response.value, "1");
}

TEST(ReplicaCore, StandbyDetectsAGapAppliesNothingPastItAndResyncs) {
  Pair pair;
  StartInSync(pair);
  bool dropped_one = false;
  pair.filter = [&](const Envelope& e) {
    if (!dropped_one && e.IsDeltaBatchWithDeltas()) {
      dropped_one = true;
      return Verdict::kDrop;
    }
    // Hold the resync hello so the state in between can be inspected.
    return e.Is(Envelope::Kind::kToActive, "b") && e.Carries<Hello>() ? Verdict::kHold
                                                                      : Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  pair.Submit("a", Put(1, 2, "k2", "v2"));
  EXPECT_EQ(pair.core("b").counters().gaps, 1u);
  EXPECT_EQ(pair.store("b").meta().applied_seq, 0u);
  EXPECT_EQ(pair.Get("b", "k2"), std::nullopt);
  EXPECT_EQ(pair.core("b").role(), RoleState::kCatchingUp);
  ASSERT_EQ(pair.held.size(), 1u);
  EXPECT_FALSE(pair.ReplyTo(1, 1));
  EXPECT_FALSE(pair.ReplyTo(1, 2));

  pair.filter = nullptr;
  pair.ReleaseHeld();
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
  EXPECT_EQ(pair.store("b").meta().applied_seq, 2u);
  ASSERT_TRUE(pair.ReplyTo(1, 1) && pair.ReplyTo(1, 2));
  EXPECT_EQ(pair.ReplyTo(1, 2)->response.code, Code::kOk);
  EXPECT_EQ(pair.core("a").counters().snapshots_sent, 0u);  // the log tail was enough
}

TEST(ReplicaCore, StandbyTreatsReorderedDeltaBatchesAsAGapAndEndsEqual) {
  Pair pair;
  StartInSync(pair);
  bool held_one = false;
  pair.filter = [&](const Envelope& e) {
    if (!held_one && e.IsDeltaBatchWithDeltas()) {
      held_one = true;
      return Verdict::kHold;
    }
    return Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  ASSERT_EQ(pair.held.size(), 1u);
  uint64_t refused_before = pair.core("b").counters().refused_frames;
  pair.Submit("a", Put(1, 2, "k2", "v2"));  // overtakes the first batch
  EXPECT_EQ(pair.core("b").counters().gaps, 1u);
  pair.ReleaseHeld();  // the first batch arrives last, from a session the standby has left
  EXPECT_EQ(pair.core("b").counters().refused_frames, refused_before + 1);
  EXPECT_EQ(pair.core("b").counters().duplicates, 0u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
  ASSERT_TRUE(pair.ReplyTo(1, 2));
  EXPECT_EQ(pair.ReplyTo(1, 2)->response.code, Code::kOk);
}

TEST(ReplicaCore, FramesOfAnOlderEpochAreRefusedAfterTheStandbyIsPromoted) {
  Pair pair;
  StartInSync(pair);
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  ASSERT_TRUE(pair.ReplyTo(1, 1));
  pair.filter = [](const Envelope& e) {
    return e.Is(Envelope::Kind::kToStandby, "a") && e.IsDeltaBatchWithDeltas() ? Verdict::kHold
                                                                               : Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 2, "k2", "v2"));  // committed on A at epoch 1, never reaches B
  ASSERT_EQ(pair.held.size(), 1u);
  Envelope stale_batch = pair.held.front();
  pair.held.clear();

  // Failover: B at epoch 2; A comes back as its standby and is brought back to B's history.
  pair.Promote("b");
  pair.RunFor(30 * kMs);
  EXPECT_EQ(pair.core("b").epoch(), 2u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kReplicating);
  EXPECT_EQ(pair.core("a").role(), RoleState::kInSync);
  EXPECT_EQ(pair.core("a").epoch(), 2u);
  ASSERT_TRUE(pair.ReplyTo(1, 2));
  EXPECT_EQ(pair.ReplyTo(1, 2)->response.code, Code::kUnavailable);  // outcome unknown
  EXPECT_EQ(pair.Get("a", "k2"), std::nullopt);  // A's unacknowledged write is gone
  EXPECT_EQ(pair.Digest("a"), pair.Digest("b"));

  // The deposed active's epoch-1 batch reaches the epoch-2 standby.
  std::string before = pair.Digest("a");
  uint64_t stale_before = pair.core("a").counters().stale_epoch_frames;
  pair.core("a").OnFromActive(stale_batch.peer, pair.now());
  EXPECT_EQ(pair.core("a").counters().stale_epoch_frames, stale_before + 1);
  EXPECT_EQ(pair.Digest("a"), before);
  EXPECT_EQ(pair.Get("a", "k2"), std::nullopt);
  pair.Pump();

  // An epoch-1 ack reaches the epoch-2 active while a write waits for the real ack.
  pair.filter = [](const Envelope& e) {
    return e.Is(Envelope::Kind::kToActive, "a") && e.Carries<Ack>() ? Verdict::kHold
                                                                    : Verdict::kDeliver;
  };
  pair.Submit("b", Put(1, 3, "k3", "v3"));
  ASSERT_FALSE(pair.held.empty());
  EXPECT_FALSE(pair.ReplyTo(1, 3));
  Ack stale_ack = std::get<Ack>(pair.held.back().peer);
  stale_ack.epoch = 1;
  uint64_t acked_before = pair.core("b").BuildStatus(pair.now()).peer_acked_seq;
  uint64_t stale_acks_before = pair.core("b").counters().stale_epoch_frames;
  pair.DeliverTo("b", "a", stale_ack);
  EXPECT_EQ(pair.core("b").counters().stale_epoch_frames, stale_acks_before + 1);
  EXPECT_EQ(pair.core("b").BuildStatus(pair.now()).peer_acked_seq, acked_before);
  EXPECT_FALSE(pair.ReplyTo(1, 3));

  pair.filter = nullptr;
  pair.ReleaseHeld();
  ASSERT_TRUE(pair.ReplyTo(1, 3));
  EXPECT_EQ(pair.ReplyTo(1, 3)->response.code, Code::kOk);
  EXPECT_EQ(pair.ReplyTo(1, 3)->epoch, 2u);
}

// The values of every answer the pair gave to (client_id, request_seq), in order.
std::vector<std::string> AnswerValues(const Pair& pair, uint64_t client_id, uint64_t seq) {
  std::vector<std::string> values;
  for (const auto& r : pair.replies) {
    if (r.client_id == client_id && r.request_seq == seq) values.push_back(r.response.value);
  }
  return values;
}

TEST(ReplicaCore, ARetriedRequestGetsItsOriginalAnswerAndIsAppliedOnce) {
  Pair pair;
  StartInSync(pair);
  pair.Submit("a", Incr(7, 1, "x", 5));
  pair.Submit("a", Incr(7, 1, "x", 5));  // a retry
  std::vector<ClientReply> first;
  for (const auto& r : pair.replies) {
    if (r.client_id == 7 && r.request_seq == 1) first.push_back(r);
  }
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].response.value, "5");
  EXPECT_EQ(first[1].response.code, Code::kOk);
  EXPECT_EQ(first[1].response.value, "5");

  // A retry within the same group commit is answered from the batch's own session table.
  pair.Submit("a", std::vector{Incr(7, 2, "x", 1), Incr(7, 2, "x", 1)});
  int answers = 0;
  for (const auto& r : pair.replies) {
    if (r.client_id == 7 && r.request_seq == 2) {
      ++answers;
      EXPECT_EQ(r.response.value, "6");
    }
  }
  EXPECT_EQ(answers, 2);

  pair.Submit("a", Incr(7, 1, "x", 5));  // older than the last request of client 7
  int older = 0;
  for (const auto& r : pair.replies) {
    if (r.client_id == 7 && r.request_seq == 1 && r.response.code == Code::kFailedPrecondition) {
      ++older;
    }
  }
  EXPECT_EQ(older, 1);

  pair.Submit("a", Get("x"));
  ASSERT_TRUE(pair.ReplyTo(0, 0));
  EXPECT_EQ(pair.ReplyTo(0, 0)->response.value, "6");
  EXPECT_EQ(pair.core("a").counters().deltas_committed, 2u);
  EXPECT_EQ(pair.Get("b", "x"), "6");
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
}

// The active keeps the sessions of its term in memory: one that is active again after
// another replica was must not answer from what it remembered of its earlier term.
TEST(ReplicaCore, ARetryAfterFailingOverAndBackIsAnsweredFromTheLatestSession) {
  Pair pair;
  StartInSync(pair);
  pair.Submit("a", Incr(7, 1, "x", 5));
  ASSERT_TRUE(pair.ReplyTo(7, 1));
  pair.Promote("b");
  pair.RunFor(30 * kMs);
  ASSERT_EQ(pair.core("b").role(), RoleState::kReplicating);
  pair.Submit("b", Incr(7, 2, "x", 1));  // client 7 goes on at b
  ASSERT_TRUE(pair.ReplyTo(7, 2));
  EXPECT_EQ(pair.ReplyTo(7, 2)->response.value, "6");
  pair.Promote("a");
  pair.RunFor(30 * kMs);
  ASSERT_EQ(pair.core("a").role(), RoleState::kReplicating);
  pair.Submit("a", Incr(7, 2, "x", 1));  // its retry reaches a
  EXPECT_EQ(AnswerValues(pair, 7, 2), (std::vector<std::string>{"6", "6"}))
      << "the retry was applied again";
  EXPECT_EQ(pair.Get("a", "x"), "6");
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
}

// The session table keeps only answers that came with a change. A DEL that found nothing
// changed nothing; its duplicate, arriving after another client's write, must get the same
// answer, not delete what was written (the simulator's linearizability check found it).
TEST(ReplicaCore, ADuplicateOfARequestThatChangedNothingIsAnsweredAsBeforeNotRunAgain) {
  Pair pair;
  StartInSync(pair);
  const Request del{7, 1, "DEL", {"x"}};
  pair.Submit("a", del);
  ASSERT_TRUE(pair.ReplyTo(7, 1));
  EXPECT_EQ(pair.ReplyTo(7, 1)->response.value, "0");
  pair.Submit("a", Put(8, 1, "x", "v"));
  ASSERT_TRUE(pair.ReplyTo(8, 1));
  pair.Submit("a", del);  // a duplicate
  EXPECT_EQ(AnswerValues(pair, 7, 1), (std::vector<std::string>{"0", "0"}))
      << "the duplicate ran again";
  EXPECT_EQ(pair.Get("a", "x"), "v");
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
}

// The read rules (ReplicaOptions), broken as the chaos harness's mutants break them. An
// active whose lease ran out answers a read only when the rule lets a once-active replica.
TEST(ReplicaCore, TheUnleasedReadRuleDecidesWhetherAnActiveWithoutALeaseAnswersAGet) {
  for (bool stale : {false, true}) {
    PairOptions options;
    if (stale) options.unleased_reads = [](const UnleasedRead& r) { return r.was_active; };
    Pair pair(options);
    pair.Start("a");
    pair.Promote("a");
    pair.RunFor(20 * kMs);
    ASSERT_TRUE(pair.core("a").Serving(pair.now()));
    pair.filter = [](const Envelope& e) {  // the coordinator hears nothing more from A
      return e.Is(Envelope::Kind::kStatus, "a") ? Verdict::kDrop : Verdict::kDeliver;
    };
    pair.RunFor(ReplicaOptions{}.lease_ms * kMs + 10 * kMs);
    ASSERT_FALSE(pair.core("a").Serving(pair.now()));
    pair.Submit("a", Request{1, 1, "GET", {"k"}});
    ASSERT_TRUE(pair.ReplyTo(1, 1));
    EXPECT_EQ(pair.ReplyTo(1, 1)->response.code, stale ? Code::kNotFound : Code::kUnavailable);
    pair.Submit("a", Put(1, 2, "k", "v"));  // a write: never without a lease
    ASSERT_TRUE(pair.ReplyTo(1, 2));
    EXPECT_EQ(pair.ReplyTo(1, 2)->response.code, Code::kUnavailable);
  }
}

// A read waits for the writes before it to be replicated, unless the rule says otherwise.
TEST(ReplicaCore, TheReadWaitRuleDecidesWhetherAReadSeesAWriteBeforeItIsReplicated) {
  for (bool at_once : {false, true}) {
    PairOptions options;
    if (at_once) options.reads_wait = [] { return false; };
    Pair pair(options);
    StartInSync(pair);
    pair.filter = [](const Envelope& e) {  // the standby's acks are held
      return e.kind == Envelope::Kind::kToActive ? Verdict::kHold : Verdict::kDeliver;
    };
    pair.Submit("a", std::vector{Put(1, 1, "k", "v"), Request{2, 1, "GET", {"k"}}});
    EXPECT_FALSE(pair.ReplyTo(1, 1));
    ASSERT_EQ(pair.ReplyTo(2, 1).has_value(), at_once);
    if (at_once) {
      EXPECT_EQ(pair.ReplyTo(2, 1)->response.value, "v");
    }
  }
}

TEST(ReplicaCore, APairAtRestWaitsForItsNextHeartbeatNotForATick) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.Start("b");
  pair.RunFor(100 * kMs);
  ASSERT_EQ(pair.core("a").role(), RoleState::kReplicating);
  ASSERT_EQ(pair.core("b").role(), RoleState::kInSync);
  const int64_t heartbeat_us = ReplicaOptions{}.heartbeat_ms * kMs;
  for (const char* name : {"a", "b"}) {
    // The loop's last tick ran at now: the next is a heartbeat away at most, and later than
    // the 2 ms a replica in transition is ticked at.
    const int64_t next = pair.core(name).NextTickUs(pair.now());
    EXPECT_GT(next, pair.now() + NextTick::kTransitionTickUs) << name;
    EXPECT_LE(next, pair.now() + heartbeat_us) << name;
  }
  // A write awaiting the standby's ack: ticked as before.
  pair.filter = [](const Envelope& e) {
    return e.kind == Envelope::Kind::kToActive ? Verdict::kHold : Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 1, "k", "v"));
  EXPECT_EQ(pair.core("a").NextTickUs(pair.now()), pair.now() + NextTick::kTransitionTickUs);
}

TEST(NextTick, KeepsTheEarliestTimerAheadOfTheLastTickOnly) {
  NextTick next(1000);
  EXPECT_EQ(next.earliest_us(), std::numeric_limits<int64_t>::max());
  next.At(900);   // looked at by the tick at 1000 already
  next.At(1000);  // so was this one
  EXPECT_EQ(next.earliest_us(), std::numeric_limits<int64_t>::max());
  next.At(5000);
  next.After(1000, 2000);  // `now - 1000 > 2000` first holds at 3001
  EXPECT_EQ(next.earliest_us(), 3001);
  next.Soon();
  EXPECT_EQ(next.earliest_us(), 1000 + NextTick::kTransitionTickUs);
}

TEST(ReplicaCore, AnActiveWhoseLeaseRanOutRefusesWritesAndAppliesNothing) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  ASSERT_TRUE(pair.core("a").Serving(pair.now()));
  pair.filter = [](const Envelope& e) {  // the coordinator hears nothing more from A
    return e.Is(Envelope::Kind::kStatus, "a") ? Verdict::kDrop : Verdict::kDeliver;
  };
  std::string before = pair.Digest("a");
  pair.RunFor(ReplicaOptions{}.lease_ms * kMs + 10 * kMs);
  EXPECT_FALSE(pair.core("a").Serving(pair.now()));
  EXPECT_TRUE(IsActive(pair.core("a").role()));
  pair.Submit("a", Put(1, 1, "k", "v"));
  ASSERT_TRUE(pair.ReplyTo(1, 1));
  EXPECT_EQ(pair.ReplyTo(1, 1)->response.code, Code::kUnavailable);
  EXPECT_EQ(pair.ReplyTo(1, 1)->response.message, "active without a lease");
  EXPECT_EQ(pair.Digest("a"), before);
  EXPECT_EQ(pair.core("a").counters().deltas_committed, 0u);
}

TEST(ReplicaCore, AnActiveWithASilentStandbyAcknowledgesOnlyAfterTheSoloGrant) {
  Pair pair;
  StartInSync(pair);
  pair.filter = [](const Envelope& e) {
    if (e.from == "b" || e.to == "b") return Verdict::kDrop;  // B is cut off
    if (e.kind == Envelope::Kind::kAssignment && e.assignment.solo_grant_id != 0) {
      return Verdict::kHold;
    }
    return Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  pair.RunFor(ReplicaOptions{}.ack_timeout_ms * kMs + 20 * kMs);
  pair.Submit("a", Put(1, 2, "k2", "v2"));
  StatusReport s = pair.core("a").BuildStatus(pair.now());
  EXPECT_TRUE(s.want_solo);
  EXPECT_EQ(s.solo_request_id, 2u);  // request 1 gave up the bootstrap grant
  EXPECT_EQ(pair.coordinator.solo_grant_id, 2u);
  EXPECT_FALSE(pair.coordinator.standby_in_sync);
  EXPECT_EQ(pair.core("a").role(), RoleState::kReplicating);
  EXPECT_EQ(pair.store("a").meta().applied_seq, 2u);
  EXPECT_FALSE(pair.ReplyTo(1, 1));
  EXPECT_FALSE(pair.ReplyTo(1, 2));
  ASSERT_FALSE(pair.held.empty());

  pair.filter = [](const Envelope& e) {
    return e.from == "b" || e.to == "b" ? Verdict::kDrop : Verdict::kDeliver;
  };
  pair.ReleaseHeld();
  EXPECT_EQ(pair.core("a").role(), RoleState::kSolo);
  ASSERT_TRUE(pair.ReplyTo(1, 1) && pair.ReplyTo(1, 2));
  EXPECT_EQ(pair.ReplyTo(1, 1)->response.code, Code::kOk);
  EXPECT_EQ(pair.ReplyTo(1, 2)->response.code, Code::kOk);
  pair.Submit("a", Put(1, 3, "k3", "v3"));
  ASSERT_TRUE(pair.ReplyTo(1, 3));
  EXPECT_EQ(pair.ReplyTo(1, 3)->response.code, Code::kOk);
  EXPECT_EQ(pair.Get("b", "k1"), std::nullopt);
}

// A resend from the standby's last ack goes at most lag_ops_max ahead, and the acks of what
// was sent live before it may still arrive, acknowledging more than the resend reached. The
// session goes on from what the standby acknowledged, and is live again.
TEST(ReplicaCore, LateAcksBeyondWhereAResendStoppedLeaveTheStandbyLiveAgain) {
  PairOptions options;
  options.lag_ops_max = 2;
  options.tail_batch_ops = 1;
  Pair pair(options);
  StartInSync(pair);
  pair.filter = [](const Envelope& e) {
    bool ack = e.Is(Envelope::Kind::kToActive, "b") && e.Carries<Ack>();
    bool grant = e.kind == Envelope::Kind::kAssignment && e.assignment.solo_grant_id != 0;
    return ack || grant ? Verdict::kHold : Verdict::kDeliver;
  };
  std::vector<Request> writes;
  for (uint64_t i = 1; i <= 10; ++i) writes.push_back(Put(1, i, "k" + std::to_string(i), "v"));
  pair.Submit("a", writes);
  pair.RunFor(ReplicaOptions{}.ack_timeout_ms * kMs + 20 * kMs);  // silence: a resends from 1
  ASSERT_EQ(pair.Get("b", "k10"), "v");
  ASSERT_FALSE(pair.held.empty());

  pair.filter = nullptr;
  pair.ReleaseHeld();  // b's acks, up to seq 10, then the solo grant
  pair.Submit("a", Put(1, 11, "k11", "v"));
  pair.RunFor(50 * kMs);
  EXPECT_EQ(pair.Get("b", "k11"), "v");
  EXPECT_EQ(pair.store("b").meta().applied_seq, pair.store("a").meta().applied_seq);
  EXPECT_TRUE(pair.core("a").BuildStatus(pair.now()).peer_caught_up);
}

// A standby back after 12,000 writes acknowledged solo catches up by the log tail. The
// active sends it StandbySession::kTailBatchesPerTurn batches per call, not its whole window
// (lag_ops_max, 10,000 deltas) at once, which held the event loop for tens of ms; writes
// submitted during the catch-up are answered, and the standby ends in sync.
TEST(ReplicaCore, ACatchUpOfThousandsOfDeltasSendsABoundedPartPerTurn) {
  Pair pair;
  StartInSync(pair);
  pair.filter = [](const Envelope& e) {
    return e.from == "b" || e.to == "b" ? Verdict::kDrop : Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 1, "k1", "v"));
  pair.RunFor(ReplicaOptions{}.ack_timeout_ms * kMs + 50 * kMs);
  ASSERT_EQ(pair.core("a").role(), RoleState::kSolo);
  uint64_t seq = 1;
  while (seq < 12001) {
    std::vector<Request> writes;
    for (int i = 0; i < 1000; ++i, ++seq)
      writes.push_back(Put(1, seq + 1, "k" + std::to_string(seq + 1), "v"));
    pair.Submit("a", writes);
    pair.RunFor(5 * kMs);
  }
  ASSERT_TRUE(pair.ReplyTo(1, seq));
  ASSERT_EQ(pair.ReplyTo(1, seq)->response.code, Code::kOk);
  const uint64_t behind = pair.store("a").meta().applied_seq - pair.store("b").meta().applied_seq;
  ASSERT_GT(behind, ReplicaOptions{}.lag_ops_max);

  // b is heard again; its hello is held, then handed to a alone, with a's batches held.
  pair.filter = [](const Envelope& e) {
    return e.Is(Envelope::Kind::kToActive, "b") && e.Carries<Hello>() ? Verdict::kHold
                                                                      : Verdict::kDeliver;
  };
  pair.RunFor(200 * kMs);
  ASSERT_FALSE(pair.held.empty()) << "b never said hello";
  const PeerMessage hello = pair.held.back().peer;
  pair.held.clear();
  pair.filter = [](const Envelope& e) {
    return e.IsDeltaBatchWithDeltas() ? Verdict::kHold : Verdict::kDeliver;
  };
  pair.DeliverTo("a", "b", hello);  // the hello, then one tick (two sends at most)
  uint64_t sent = 0;
  for (const auto& e : pair.held) sent += std::get<DeltaBatch>(e.peer).deltas.size();
  EXPECT_GT(sent, 0u);
  EXPECT_LE(sent, 2 * StandbySession::kTailBatchesPerTurn * ReplicaOptions{}.tail_batch_ops)
      << "more than a bounded part of the catch-up went in one turn";

  // Released, the catch-up completes while new writes are answered.
  pair.filter = nullptr;
  pair.ReleaseHeld();
  for (int round = 0; round < 20; ++round, ++seq) {
    pair.Submit("a", Put(1, seq + 1, "during", std::to_string(round)));
    pair.RunFor(5 * kMs);
    ASSERT_TRUE(pair.ReplyTo(1, seq + 1)) << "a write waited for the catch-up, round " << round;
  }
  pair.RunFor(200 * kMs);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
  EXPECT_EQ(pair.core("a").counters().snapshots_sent, 0u);  // the log tail was enough
}

// Client 1 writes keys k<first>..k<last> through `name`, and every write is acknowledged.
void WriteMany(Pair& pair, const std::string& name, uint64_t first, uint64_t last) {
  std::vector<Request> writes;
  for (uint64_t i = first; i <= last; ++i)
    writes.push_back(Put(1, i, "k" + std::to_string(i), "v"));
  pair.Submit(name, writes);
  pair.RunFor(10 * kMs);
  ASSERT_EQ(pair.store(name).meta().applied_seq, last);
  ASSERT_TRUE(pair.ReplyTo(1, last));
}

// Replica a, active and alone, acknowledges writes 1..1100 in two group commits; with a
// small log retention the second truncates the log, so a fresh standby needs a snapshot.
void SoloActiveWith1100Writes(Pair& pair) {
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  WriteMany(pair, "a", 1, 1100);
}

TEST(ReplicaCore, AFreshStandbyBehindTheTruncatedLogCatchesUpBySnapshot) {
  Pair pair(PairOptions{.a_log_retain_ops = 10});
  SoloActiveWith1100Writes(pair);
  ASSERT_GT(pair.store("a").meta().oldest_log_seq, 1u);

  pair.Start("b");
  pair.RunFor(50 * kMs);
  EXPECT_EQ(pair.core("a").counters().snapshots_sent, 1u);
  EXPECT_EQ(pair.core("b").counters().snapshots_installed, 1u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));

  pair.Submit("a", Put(1, 1101, "after", "v"));  // and the live stream continues from there
  ASSERT_TRUE(pair.ReplyTo(1, 1101));
  EXPECT_EQ(pair.ReplyTo(1, 1101)->response.code, Code::kOk);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
}

// A solo active snapshots a fresh standby while its writes outrun the log: when the
// snapshot's acks arrive, the tail after it is gone and a second snapshot starts in the
// same session. Returns the standby's acks, held so far (each counts 1 chunk installed).
std::vector<Ack> SnapshotOutrunByWrites(Pair& pair) {
  SoloActiveWith1100Writes(pair);
  pair.filter = [](const Envelope& e) {
    return e.Is(Envelope::Kind::kToActive, "b") && e.Carries<Ack>() ? Verdict::kHold
                                                                    : Verdict::kDeliver;
  };
  pair.Start("b");
  pair.RunFor(10 * kMs);
  EXPECT_EQ(pair.core("b").counters().snapshots_installed, 1u);
  WriteMany(pair, "a", 1101, 2200);  // acknowledged solo; truncates the log past 1101
  EXPECT_GT(pair.store("a").meta().oldest_log_seq, 1101u);
  std::vector<Ack> acks;
  for (const auto& e : pair.held) acks.push_back(std::get<Ack>(e.peer));
  pair.held.clear();
  pair.filter = nullptr;
  return acks;
}

TEST(ReplicaCore, AStandbySlowToInstallAChunkDoesNotTakeItForSilenceAndStartOver) {
  Pair pair(PairOptions{.a_log_retain_ops = 10, .snapshot_chunk_bytes = 4096});
  SoloActiveWith1100Writes(pair);
  pair.filter = [](const Envelope& e) {
    return e.Is(Envelope::Kind::kToStandby, "a") && e.Carries<SnapshotChunk>() ? Verdict::kHold
                                                                               : Verdict::kDeliver;
  };
  pair.Start("b");
  pair.RunFor(5 * kMs);
  ASSERT_FALSE(pair.held.empty());
  pair.filter = nullptr;

  // b's event loop: one round with the chunk, whose install takes 150 ms, then its tick.
  Envelope chunk = pair.held.front();
  pair.held.erase(pair.held.begin());
  ASSERT_FALSE(std::get<SnapshotChunk>(chunk.peer).last);
  pair.core("b").OnFromActive(chunk.peer, pair.now());
  pair.core("b").OnTick(pair.now() + 150 * kMs);
  pair.ReleaseHeld();
  pair.RunFor(200 * kMs);
  EXPECT_EQ(pair.core("a").counters().snapshots_sent, 1u);  // not started over
  EXPECT_EQ(pair.core("b").counters().snapshots_installed, 1u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
}

// Regression: chunk counts in acks are per session, so a second snapshot in the same
// session used to stall (window underflow). Now the active drops the session when the log
// no longer reaches the standby, and the standby's new hello gets a fresh snapshot.
TEST(ReplicaCore, AStandbyOutrunByTheLogDuringItsSnapshotGetsAFreshOne) {
  Pair pair(PairOptions{.a_log_retain_ops = 10});
  std::vector<Ack> acks = SnapshotOutrunByWrites(pair);
  ASSERT_GE(acks.size(), 2u);
  for (const Ack& ack : acks) pair.DeliverTo("a", "b", ack);
  pair.RunFor(500 * kMs);
  EXPECT_EQ(pair.core("a").counters().snapshots_sent, 2u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
  EXPECT_EQ(pair.core("a").role(), RoleState::kReplicating);
}

// Regression, the unsafe ordering of the same root cause: a late ack counting the first
// snapshot's chunks must never complete anything else, so the active never takes the
// standby to have more than it has (an in-sync record would then hide lost writes).
TEST(ReplicaCore, ALateAckOfAnOldSnapshotCompletesNothing) {
  Pair pair(PairOptions{.a_log_retain_ops = 10});
  std::vector<Ack> acks = SnapshotOutrunByWrites(pair);
  ASSERT_GE(acks.size(), 2u);
  pair.filter = [](const Envelope& e) {  // the second snapshot stays in flight
    return e.Carries<SnapshotChunk>() || e.Is(Envelope::Kind::kToActive, "b") ? Verdict::kHold
                                                                              : Verdict::kDeliver;
  };
  pair.DeliverTo("a", "b", acks[0]);  // completes the first snapshot
  pair.RunFor(5 * kMs);               // the tail is gone: the session is dropped
  pair.DeliverTo("a", "b", acks[1]);  // a late ack of the old session
  pair.RunFor(10 * kMs);
  EXPECT_LE(pair.core("a").BuildStatus(pair.now()).peer_acked_seq,
            pair.store("b").meta().applied_seq);
  EXPECT_FALSE(pair.coordinator.standby_in_sync);
}

// Regression: a round that brought a caught-up batch and then a gap re-enters CatchingUp;
// the caught-up mark of the abandoned session must not fire inside the resync.
TEST(ReplicaCore, AStandbyThatFindsAGapInARoundLeavesInSync) {
  Pair pair;
  StartInSync(pair);
  pair.filter = [](const Envelope& e) {
    return e.IsDeltaBatchWithDeltas() ? Verdict::kHold : Verdict::kDeliver;
  };
  for (uint64_t seq = 1; seq <= 3; ++seq) pair.Submit("a", Put(1, seq, "k", "v"));
  ASSERT_EQ(pair.held.size(), 3u);
  std::vector<PeerMessage> round = {pair.held[0].peer, pair.held[2].peer};  // batch 2 is lost
  pair.held.clear();
  pair.filter = [](const Envelope& e) {  // the resync hello stays in flight
    return e.Carries<Hello>() ? Verdict::kHold : Verdict::kDeliver;
  };
  pair.DeliverRound("b", round);
  EXPECT_EQ(pair.core("b").counters().gaps, 1u);
  ASSERT_EQ(pair.held.size(), 1u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kCatchingUp);
  EXPECT_FALSE(pair.core("b").BuildStatus(pair.now()).in_sync);
}

TEST(ReplicaCore, ADrainedActiveReportsAtOnceThatTheStandbyHasEverything) {
  Pair pair;
  StartInSync(pair);
  // Just after a heartbeat's status, so that the next one is a whole heartbeat away.
  for (int i = 0; i < 40 && pair.coordinator.last.at("a").sent_us != pair.now(); ++i) {
    pair.RunFor(kMs, kMs);
  }
  ASSERT_EQ(pair.coordinator.last.at("a").sent_us, pair.now());
  pair.Submit("a", Put(7, 1, "k", "v"));
  ASSERT_TRUE(pair.ReplyTo(7, 1).has_value());
  pair.coordinator.drain = true;
  pair.core("a").OnAssignment(pair.coordinator.For("a"), pair.now());
  pair.RunFor(kMs, kMs);  // one turn of the loop, far less than a heartbeat (20 ms)
  EXPECT_TRUE(pair.coordinator.last.at("a").demoted);
  EXPECT_EQ(pair.coordinator.last.at("a").sent_us, pair.now());
}

TEST(ReplicaCore, AHeldActiveQueuesRequestsAndCommitsThemWhenReleased) {
  Pair pair;
  StartInSync(pair);
  pair.Submit("a", Put(7, 1, "k", "v1"));
  uint64_t seq = pair.store("a").meta().applied_seq;
  pair.coordinator.hold = true;
  pair.core("a").OnAssignment(pair.coordinator.For("a"), pair.now());
  pair.Submit("a", Put(7, 2, "k", "v2"));
  pair.RunFor(50 * kMs);
  EXPECT_FALSE(pair.ReplyTo(7, 2).has_value());  // neither refused nor answered: waiting
  EXPECT_FALSE(pair.core("a").HasWork());        // so the event loop may sleep
  EXPECT_EQ(pair.store("a").meta().applied_seq, seq);
  EXPECT_EQ(pair.store("b").meta().applied_seq, seq);
  pair.coordinator.hold = false;
  pair.core("a").OnAssignment(pair.coordinator.For("a"), pair.now());
  pair.RunFor(5 * kMs);
  ASSERT_TRUE(pair.ReplyTo(7, 2).has_value());
  EXPECT_EQ(pair.ReplyTo(7, 2)->response.code, Code::kOk);
  EXPECT_EQ(pair.Get("b", "k"), "v2");
}

// Asks replica `name` on the admin path; the reply, or an error.
AdminReply Admin(Pair& pair, const std::string& name, uint64_t id, AdminOp op,
                 uint64_t number = 0) {
  AdminRequest request;
  request.id = id;
  request.op = op;
  if (op == AdminOp::kDigestAt) request.seq = number;
  if (op == AdminOp::kDigestOf) request.token = number;
  pair.admin_replies.clear();
  pair.SubmitAdmin(name, request);
  for (const AdminReply& r : pair.admin_replies) {
    if (r.id == id) return r;
  }
  ADD_FAILURE() << "no reply to " << AdminOpName(op);
  return AdminAnswer(id, Code::kInternal, "no reply");
}

TEST(ReplicaCore, AnOpenedDigestIsOfTheStateWhenItWasOpenedNotWhenItIsComputed) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  for (uint64_t seq = 1; seq <= 3; ++seq)
    pair.Submit("a", Put(1, seq, "k" + std::to_string(seq), "v"));
  auto ask = [&](uint64_t id, AdminOp op, uint64_t number = 0) {
    return Admin(pair, "a", id, op, number);
  };
  AdminReply now = ask(1, AdminOp::kDigest);
  AdminReply opened = ask(2, AdminOp::kDigestOpen);
  ASSERT_EQ(opened.code, Code::kOk) << opened.message;
  uint64_t token = opened.token;
  EXPECT_EQ(opened.seq, now.seq);

  pair.Submit("a", Put(1, 4, "k4", "changed after the snapshot"));
  AdminReply later = ask(3, AdminOp::kDigestOf, token);
  EXPECT_EQ(later.code, Code::kOk);
  EXPECT_EQ(DigestText(later), DigestText(now));  // the write after the open is not in it
  EXPECT_NE(DigestText(ask(4, AdminOp::kDigest)), DigestText(now));

  AdminReply again = ask(5, AdminOp::kDigestOf, token);  // read once
  EXPECT_EQ(again.code, Code::kNotFound);
  EXPECT_NE(again.message.find("_digest_of '" + std::to_string(token) + "': no open digest"),
            std::string::npos);

  // Abandoned snapshots are released: only the newest few stay open.
  uint64_t first = ask(6, AdminOp::kDigestOpen).token;
  for (uint64_t id = 7; id < 7 + 4; ++id) ask(id, AdminOp::kDigestOpen);
  EXPECT_EQ(ask(20, AdminOp::kDigestOf, first).code, Code::kNotFound);
}

TEST(ReplicaCore, ADigestReadInAnotherSchemaAsksForItByNumber) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  pair.Submit("a", Put(1, 1, "k1", "v"));
  AdminRequest own;
  own.id = 1;
  AdminRequest named = own;
  named.id = 2;
  named.schema = pair.core("a").BuildStatus(0).schema;  // the replica's own, asked by number
  pair.SubmitAdmin("a", own);
  pair.SubmitAdmin("a", named);
  ASSERT_EQ(pair.admin_replies.size(), 2u);
  EXPECT_EQ(pair.admin_replies[0].code, Code::kOk) << pair.admin_replies[0].message;
  EXPECT_EQ(DigestText(pair.admin_replies[0]), DigestText(pair.admin_replies[1]));
  EXPECT_EQ(DigestText(pair.admin_replies[0]), pair.Digest("a"));
}

TEST(ReplicaCore, AnAdminOpAsAClientRequestIsRefusedWithTheAdminPathNamed) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  for (const char* op : {"_digest", "_digest_mark", "_checkpoint", "_anything"}) {
    pair.Submit("a", Request{77, 1, op, {}, 0});
    auto reply = pair.ReplyTo(77, 1);
    ASSERT_TRUE(reply) << op;
    EXPECT_EQ(reply->response.code, Code::kInvalidArgument) << op;
    EXPECT_EQ(reply->response.message,
              "'" + std::string(op) +
                  "': admin operations are taken only as AdminRequest frames (the admin path)");
    pair.replies.clear();
  }
  EXPECT_TRUE(pair.admin_replies.empty());
  EXPECT_EQ(pair.store("a").meta().applied_seq, 0u);  // nothing reached the processor
}

TEST(ReplicaCore, ACheckpointIsWrittenOnlyBelowTheArchiveDirectory) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  AdminRequest checkpoint;
  checkpoint.id = 1;
  checkpoint.op = AdminOp::kCheckpoint;
  checkpoint.path = "/tmp/elsewhere";
  pair.SubmitAdmin("a", checkpoint);
  ASSERT_EQ(pair.admin_replies.size(), 1u);
  EXPECT_EQ(pair.admin_replies[0].id, 1u);
  EXPECT_EQ(pair.admin_replies[0].code, Code::kInvalidArgument);
  EXPECT_NE(pair.admin_replies[0].message.find("checkpoint: a directory below"), std::string::npos);
}

bool HasSession(Pair& pair, const std::string& name, uint64_t client_id) {
  auto entry = pair.store(name).GetSession(client_id);
  EXPECT_TRUE(entry.ok()) << entry.status().ToString();
  return entry.ok() && entry->has_value();
}

TEST(ReplicaCore, AnIdleClientsSessionExpiresOnBothReplicasAndABusyOnesStays) {
  Pair pair(PairOptions{.session_expiry_ms = 1000});
  StartInSync(pair);
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  pair.Submit("a", Put(2, 1, "k2", "v1"));
  pair.RunFor(300 * kMs);
  // A retry within half the expiry period: answered from the session, neither run again
  // nor re-dated.
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  pair.RunFor(300 * kMs);
  pair.Submit("a", Put(2, 2, "k2", "v2"));
  EXPECT_EQ(pair.core("a").counters().deltas_committed, 3u);
  EXPECT_TRUE(HasSession(pair, "b", 1));
  pair.RunFor(600 * kMs);  // client 1 idle 1.2 s, client 2 0.6 s
  EXPECT_FALSE(HasSession(pair, "a", 1));
  EXPECT_FALSE(HasSession(pair, "b", 1));  // erased through the log
  EXPECT_TRUE(HasSession(pair, "a", 2));
  EXPECT_TRUE(HasSession(pair, "b", 2));
  EXPECT_EQ(pair.core("a").counters().sessions_expired, 1u);
  EXPECT_EQ(pair.Digest("a"), pair.Digest("b"));
  EXPECT_EQ(pair.Get("b", "k1"), "v1");  // the client's data stays, only its answer goes
}

TEST(ReplicaCore, AClientStillRetryingKeepsItsSessionOnBothReplicas) {
  Pair pair(PairOptions{.session_expiry_ms = 1000});
  StartInSync(pair);
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  // The answer never reaches the client, which asks again every 600 ms: each retry finds
  // the entry older than half the expiry period and dates it again, through the log.
  for (int i = 0; i < 4; ++i) {
    pair.RunFor(600 * kMs);
    pair.replies.clear();
    pair.Submit("a", Put(1, 1, "k1", "v1"));
    pair.RunFor(5 * kMs);
    auto reply = pair.ReplyTo(1, 1);
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ(reply->response.code, Code::kOk) << i;
  }
  EXPECT_TRUE(HasSession(pair, "a", 1));  // 2.4 s after it ran
  EXPECT_TRUE(HasSession(pair, "b", 1));
  EXPECT_EQ(pair.core("a").counters().deltas_committed, 5u);  // the put and 4 re-datings
  EXPECT_EQ(pair.core("a").counters().sessions_expired, 0u);
  EXPECT_EQ(pair.Digest("a"), pair.Digest("b"));
  pair.RunFor(1100 * kMs);  // the client gave up
  EXPECT_FALSE(HasSession(pair, "a", 1));
  EXPECT_FALSE(HasSession(pair, "b", 1));
  EXPECT_EQ(pair.Get("b", "k1"), "v1");
}

TEST(ReplicaCore, AnActiveRestartedIntoItsEpochDatesSessionsFromItsRestart) {
  Pair pair(PairOptions{.session_expiry_ms = 1000});
  StartInSync(pair);
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  pair.RunFor(200 * kMs);
  uint64_t epoch = pair.core("a").epoch();
  // Down for 0.9 s: its client, retrying all along, found nobody serving.
  pair.Restart("a", 900 * kMs);
  pair.RunFor(300 * kMs);
  ASSERT_TRUE(IsActive(pair.core("a").role())) << RoleStatePath(pair.core("a").role());
  ASSERT_EQ(pair.core("a").epoch(), epoch);  // the same epoch: its own entries' clock
  EXPECT_TRUE(HasSession(pair, "a", 1));     // 1.4 s after it ran, 0.3 s of this term
  pair.RunFor(900 * kMs);
  EXPECT_FALSE(HasSession(pair, "a", 1));
  EXPECT_FALSE(HasSession(pair, "b", 1));
}

TEST(ReplicaCore, ANewActiveDatesSessionsOfEarlierTermsFromItsOwnStart) {
  Pair pair(PairOptions{.session_expiry_ms = 1000});
  StartInSync(pair);
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  pair.RunFor(800 * kMs);
  pair.Promote("b");  // b cannot read a's clock: it counts from its own term's start
  pair.RunFor(500 * kMs);
  ASSERT_EQ(pair.core("b").role(), RoleState::kReplicating);
  EXPECT_TRUE(HasSession(pair, "b", 1));  // idle 1.3 s, but only 0.5 s of b's term
  pair.RunFor(600 * kMs);
  EXPECT_FALSE(HasSession(pair, "b", 1));
  EXPECT_FALSE(HasSession(pair, "a", 1));
  EXPECT_EQ(pair.Digest("a"), pair.Digest("b"));
}

TEST(ReplicaCore, ADigestMarkComparesBothReplicasAtOneSeqWhileWritesGoOn) {
  Pair pair;
  StartInSync(pair);
  // Everything to the standby waits, so it meets the mark among uncommitted deltas.
  pair.filter = [](const Envelope& e) {
    return e.kind == Envelope::Kind::kToStandby ? Verdict::kHold : Verdict::kDeliver;
  };
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  AdminReply mark = Admin(pair, "a", 1, AdminOp::kDigestMark);
  ASSERT_EQ(mark.code, Code::kOk) << mark.message;
  uint64_t token = mark.token, seq = mark.seq;
  EXPECT_EQ(seq, pair.store("a").meta().applied_seq);
  pair.Submit("a", Put(1, 2, "k2", "v2"));  // after the mark: no hold, no wait
  pair.Submit("a", Put(1, 3, "k1", "changed"));
  AdminReply early = Admin(pair, "b", 2, AdminOp::kDigestAt, seq);
  EXPECT_EQ(early.code, Code::kUnavailable);
  EXPECT_NE(early.message.find("not applied yet"), std::string::npos) << early.message;

  // One round of the standby's loop: the mark arrives between deltas not yet committed.
  pair.filter = nullptr;
  std::vector<PeerMessage> round;
  for (const Envelope& e : pair.held) round.push_back(e.peer);
  pair.held.clear();
  ASSERT_GE(round.size(), 4u);
  pair.DeliverRound("b", round);
  pair.RunFor(10 * kMs);
  ASSERT_TRUE(pair.ReplyTo(1, 3));
  EXPECT_EQ(pair.ReplyTo(1, 3)->response.code, Code::kOk);
  AdminReply theirs = Admin(pair, "b", 3, AdminOp::kDigestAt, seq);
  AdminReply ours = Admin(pair, "a", 2, AdminOp::kDigestOf, token);
  ASSERT_EQ(theirs.code, Code::kOk) << theirs.message;
  EXPECT_EQ(DigestText(theirs), DigestText(ours));
  EXPECT_EQ(theirs.seq, seq);  // the state at the mark, not the one now
  EXPECT_NE(pair.Digest("b"), DigestText(ours));
  EXPECT_EQ(pair.Digest("b"), pair.Digest("a"));
  EXPECT_EQ(Admin(pair, "b", 4, AdminOp::kDigestAt, seq).code, Code::kNotFound);  // read once
}

TEST(ReplicaCore, AStandbyThatMissedADigestMarkSaysSoInsteadOfWaiting) {
  Pair pair;
  StartInSync(pair);
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  pair.filter = [](const Envelope& e) {
    auto* batch = e.kind == Envelope::Kind::kToStandby ? std::get_if<DeltaBatch>(&e.peer) : nullptr;
    return batch && batch->digest_at ? Verdict::kDrop : Verdict::kDeliver;
  };
  AdminReply mark = Admin(pair, "a", 1, AdminOp::kDigestMark);
  ASSERT_EQ(mark.code, Code::kOk) << mark.message;
  EXPECT_EQ(pair.dropped, 1u);
  pair.Submit("a", Put(1, 2, "k2", "v2"));
  AdminReply theirs = Admin(pair, "b", 2, AdminOp::kDigestAt, mark.seq);
  EXPECT_EQ(theirs.code, Code::kNotFound);
  EXPECT_NE(theirs.message.find("no digest mark met there (at seq 2)"), std::string::npos)
      << theirs.message;
}

TEST(ReplicaCore, AnActiveWithoutAStandbyRefusesADigestMark) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  AdminReply mark = Admin(pair, "a", 1, AdminOp::kDigestMark);
  EXPECT_EQ(mark.code, Code::kUnavailable);
  EXPECT_EQ(mark.message, "_digest_mark: no standby follows the live stream");
}

TEST(ReplicaCore, StatusSaysThisReleaseTakesAdminFrames) {
  Pair pair;
  pair.Start("a");
  StatusReport status = pair.core("a").BuildStatus(0);
  EXPECT_TRUE(status.admin_frames);
  EXPECT_TRUE(status.marks);
}

// A leader deposed without knowing it (frozen, then thawed) still sends what its old view
// says: here, b promoted at epoch 2. The new leader (a higher term) keeps a active; the
// replicas follow the new leader only.
TEST(ReplicaCore, AnAssignmentOfAnOlderCoordinatorTermIsIgnored) {
  Pair pair;
  pair.coordinator.term = 7;
  StartInSync(pair);
  ASSERT_EQ(pair.core("a").coordinator_term(), 7u);
  ScriptedCoordinator deposed = pair.coordinator;
  deposed.term = 6;
  deposed.Promote("b", /*skip=*/true);

  pair.core("a").OnAssignment(deposed.For("a"), pair.now());
  pair.core("b").OnAssignment(deposed.For("b"), pair.now());
  pair.RunFor(20 * kMs);
  EXPECT_EQ(pair.core("a").role(), RoleState::kReplicating);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
  EXPECT_EQ(pair.core("a").epoch(), 1u);
  EXPECT_EQ(pair.core("b").epoch(), 1u);
  EXPECT_EQ(pair.core("a").counters().stale_term_assignments, 1u);
  EXPECT_EQ(pair.core("b").counters().stale_term_assignments, 1u);
  EXPECT_EQ(pair.core("a").BuildStatus(pair.now()).stale_term_assignments, 1u);
  EXPECT_EQ(pair.core("a").BuildStatus(pair.now()).coordinator_term, 7u);
  EXPECT_EQ(pair.core("a").coordinator_term(), 7u);  // the refused term is not learned
  pair.Submit("a", Put(1, 1, "k", "v"));
  ASSERT_TRUE(pair.ReplyTo(1, 1));
  EXPECT_EQ(pair.ReplyTo(1, 1)->response.code, Code::kOk);
}

TEST(ReplicaCore, AnAssignmentOfAHigherCoordinatorTermIsTakenAndItsTermLearned) {
  Pair pair;
  pair.coordinator.term = 7;
  StartInSync(pair);
  pair.coordinator.term = 9;  // a new leader, which fails the pair over
  pair.Promote("b");
  pair.RunFor(30 * kMs);
  EXPECT_EQ(pair.core("b").role(), RoleState::kReplicating);
  EXPECT_EQ(pair.core("a").role(), RoleState::kInSync);
  EXPECT_EQ(pair.core("a").coordinator_term(), 9u);
  EXPECT_EQ(pair.core("b").coordinator_term(), 9u);
  EXPECT_EQ(pair.core("a").counters().stale_term_assignments, 0u);

  // The old term is now refused: the deposed leader cannot give a back its active role.
  ScriptedCoordinator deposed = pair.coordinator;
  deposed.term = 7;
  deposed.Promote("a", /*skip=*/true);
  pair.core("a").OnAssignment(deposed.For("a"), pair.now());
  pair.RunFor(20 * kMs);
  EXPECT_EQ(pair.core("a").role(), RoleState::kInSync);
  EXPECT_EQ(pair.core("a").epoch(), 2u);
  EXPECT_EQ(pair.core("a").counters().stale_term_assignments, 1u);
}

// Term 0 is the embedded coordinator without etcd: it has no rivals, and a cluster that
// goes back to it (the config lost `records: {etcd: ...}`) must still be obeyed.
TEST(ReplicaCore, AnAssignmentOfTermZeroIsAlwaysTaken) {
  Pair pair;
  pair.coordinator.term = 7;
  StartInSync(pair);
  pair.coordinator.term = 0;
  pair.Promote("b");
  pair.RunFor(30 * kMs);
  EXPECT_EQ(pair.core("b").role(), RoleState::kReplicating);
  EXPECT_EQ(pair.core("a").role(), RoleState::kInSync);
  EXPECT_EQ(pair.core("a").epoch(), 2u);
  EXPECT_EQ(pair.core("a").counters().stale_term_assignments, 0u);
  EXPECT_EQ(pair.core("a").coordinator_term(), 7u);  // the highest seen stays
}

// The session id of the standby's current session, read off the next batch sent to it.
uint64_t StandbySessionId(Pair& pair, uint64_t client) {
  pair.filter = [](const Envelope& e) {
    return e.IsDeltaBatchWithDeltas() ? Verdict::kHold : Verdict::kDeliver;
  };
  pair.Submit("a", Put(client, 1, "session", "probe"));
  pair.filter = nullptr;
  EXPECT_FALSE(pair.held.empty());
  uint64_t id = pair.held.empty() ? 0 : std::get<DeltaBatch>(pair.held.front().peer).session_id;
  pair.ReleaseHeld();
  return id;
}

// Issue 20: a refusal carrying epoch 2^64-1 deposed the active, which persisted the epoch;
// the coordinator copied it and its next ++epoch wrapped. Every message a peer sends is
// bounded: an epoch more than epoch_step_max above ours is refused, counted, never adopted.
TEST(ReplicaCore, AnEpochFarAboveOursFromAPeerIsRefusedCountedAndNeverAdopted) {
  Pair pair;
  StartInSync(pair);
  const uint64_t huge = UINT64_MAX;
  pair.DeliverTo("a", "b", Refusal{huge, "forged", 0});
  pair.DeliverTo("a", "b", Ack{huge, 0, 0, 0, "b", 0});
  Hello hello;
  hello.replica = "b";  // the assigned standby (a stranger's hello is refused before)
  hello.epoch = huge;
  pair.DeliverTo("a", "b", hello);
  // One step above the bound is refused too; the bound itself is a legitimate jump.
  pair.DeliverTo("a", "b", Refusal{1 + ReplicaOptions{}.epoch_step_max + 1, "forged", 0});
  EXPECT_EQ(pair.core("a").counters().epochs_refused_peer, 4u);
  EXPECT_EQ(pair.core("a").epoch(), 1u);
  EXPECT_EQ(pair.store("a").meta().epoch, 1u);  // nothing persisted
  EXPECT_EQ(pair.core("a").role(), RoleState::kReplicating);
  pair.Submit("a", Put(1, 1, "k", "v"));
  ASSERT_TRUE(pair.ReplyTo(1, 1));
  EXPECT_EQ(pair.ReplyTo(1, 1)->response.code, Code::kOk);

  // From the active to the standby: a delta batch of the current session at a huge epoch.
  DeltaBatch batch;
  batch.epoch = huge;
  batch.session_id = StandbySessionId(pair, 2);
  pair.DeliverRound("b", {batch});
  EXPECT_EQ(pair.core("b").counters().epochs_refused_peer, 1u);
  EXPECT_EQ(pair.store("b").meta().epoch, 1u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);
}

TEST(ReplicaCore, AnAssignmentFarAboveOurEpochOrSyncIdIsRefusedAndTheNextOneTaken) {
  Pair pair;
  StartInSync(pair);
  Assignment forged = pair.coordinator.For("b");
  forged.epoch = UINT64_MAX;
  forged.role = WireRole::kActive;
  pair.core("b").OnAssignment(forged, pair.now());
  EXPECT_EQ(pair.core("b").counters().epochs_refused_assignment, 1u);
  EXPECT_EQ(pair.store("b").meta().epoch, 1u);
  EXPECT_EQ(pair.core("b").role(), RoleState::kInSync);

  // The active's sync id is at most a step above its own latest solo request.
  Assignment sync = pair.coordinator.For("a");
  sync.sync_id =
      pair.core("a").BuildStatus(pair.now()).solo_request_id + ReplicaOptions{}.epoch_step_max + 1;
  pair.core("a").OnAssignment(sync, pair.now());
  EXPECT_EQ(pair.core("a").counters().ids_refused_assignment, 1u);
  EXPECT_EQ(pair.core("a").role(), RoleState::kReplicating);

  // A real failover afterwards takes the next epoch.
  pair.Promote("b");
  pair.RunFor(30 * kMs);
  EXPECT_EQ(pair.core("b").role(), RoleState::kReplicating);
  EXPECT_EQ(pair.core("a").role(), RoleState::kInSync);
  EXPECT_EQ(pair.core("a").epoch(), 2u);
}

TEST(ReplicaCore, ASnapshotChunkOfALaterEpochThanItsOwnIsRefused) {
  Pair pair;
  StartInSync(pair);
  SnapshotChunk chunk;
  chunk.epoch = 1;
  chunk.session_id = StandbySessionId(pair, 1);
  chunk.snapshot_epoch = 5;  // installed, it would be above the epoch we adopted
  chunk.snapshot_seq = 1;
  chunk.schema = pair.core("b").BuildStatus(pair.now()).schema;
  chunk.last = true;
  const uint64_t refused = pair.core("b").counters().refused_frames;
  pair.DeliverRound("b", {chunk});
  EXPECT_EQ(pair.core("b").counters().refused_frames, refused + 1);
  EXPECT_EQ(pair.store("b").meta().applied_epoch, 1u);
  EXPECT_EQ(pair.store("b").meta().epoch, 1u);
  EXPECT_FALSE(pair.store("b").meta().snapshot_incomplete);
}

// Offloads held by the sink, as the daemon's worker thread holds them while it is busy.
class HoldingSink final : public ActionSink {
 public:
  void Do(Action action) override {
    if (auto* o = std::get_if<Offload>(&action)) {
      held.push_back(std::move(*o));
    } else if (auto* c = std::get_if<ToClient>(&action)) {
      if (auto* r = std::get_if<AdminReply>(&c->reply)) replies.push_back(*r);
    }
  }
  void RunOne() {
    ToClient done = held.front().work();
    held.erase(held.begin());
    replies.push_back(std::get<AdminReply>(done.reply));
  }
  std::vector<Offload> held;
  std::vector<AdminReply> replies;
};

TEST(ReplicaCore, AdminJobsPastTheBoundAreRefusedUntilOneEnds) {
  Pair pair;
  pair.Start("a");
  pair.Promote("a");
  pair.RunFor(20 * kMs);
  HoldingSink sink;
  pair.core("a").SetActionSink(&sink);
  const uint64_t max = ReplicaOptions{}.admin_jobs_max;
  for (uint64_t id = 1; id <= max + 1; ++id) {
    AdminRequest digest;
    digest.id = id;
    pair.core("a").OnAdminRequest("admin", digest, pair.now());
  }
  EXPECT_EQ(sink.held.size(), max);
  ASSERT_EQ(sink.replies.size(), 1u);
  EXPECT_EQ(sink.replies[0].id, max + 1);
  EXPECT_EQ(sink.replies[0].code, Code::kUnavailable);
  EXPECT_NE(sink.replies[0].message.find("limits.admin_jobs_max"), std::string::npos)
      << sink.replies[0].message;
  EXPECT_EQ(pair.core("a").counters().admin_jobs_refused, 1u);

  sink.RunOne();  // one ends: one more is taken
  AdminRequest next;
  next.id = 100;
  pair.core("a").OnAdminRequest("admin", next, pair.now());
  EXPECT_EQ(sink.held.size(), max);
  EXPECT_EQ(pair.core("a").counters().admin_jobs_refused, 1u);
  while (!sink.held.empty()) sink.RunOne();
  pair.core("a").SetActionSink(nullptr);
}

// Issue 20: a hello at the current epoch from a replica the coordinator did not assign took the
// session from the real standby. Now it is refused and counted, and a newer epoch in it is not
// learnt; the real standby's session and acks go on.
TEST(ReplicaCore, TheActiveTakesAHelloOnlyFromItsAssignedStandby) {
  Pair pair;
  StartInSync(pair);
  pair.Submit("a", Put(1, 1, "k1", "v1"));
  ASSERT_TRUE(pair.ReplyTo(1, 1));
  const uint64_t epoch = pair.core("a").epoch();
  for (uint64_t e : {epoch, epoch + 1}) {
    Hello hello{"mallory", e, 0, 0, "1.0.0", 1, uint64_t{1} << 40, false};
    pair.core("a").OnFromStandby("mallory", PeerMessage(hello), pair.now());
  }
  EXPECT_EQ(pair.core("a").counters().unassigned_hellos, 2u);
  EXPECT_EQ(pair.core("a").epoch(), epoch) << "the stranger's newer epoch was learnt";
  for (Action& action : pair.core("a").TakeActions()) {
    auto* to = std::get_if<ToStandby>(&action);
    EXPECT_TRUE(to == nullptr || to->route != "mallory") << "something was sent to the stranger";
  }
  pair.Submit("a", Put(1, 2, "k2", "v2"));
  ASSERT_TRUE(pair.ReplyTo(1, 2));
  EXPECT_EQ(pair.ReplyTo(1, 2)->response.code, Code::kOk);
  EXPECT_EQ(pair.Get("b", "k2"), "v2");
  EXPECT_EQ(pair.core("a").role(), RoleState::kReplicating);
}

}  // namespace
}  // namespace duplex
