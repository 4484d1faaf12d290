#include "replica/daemon.h"

#include <httplib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <utility>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/net.h"
#include "common/pid_lock.h"
#include "common/stop_signal.h"
#include "common/wakeup.h"
#include "replica/client_listener.h"
#include "replica/frame.h"
#include "replica/http_limits.h"
#include "replica/http_routes.h"
#include "replica/metrics.h"
#include "replica/offload_worker.h"
#include "replica/zmq_util.h"
#include "state_sync/store_quarantine.h"

namespace duplex {
namespace {

static_assert(kZmqPartsMaxLimit == 64, "--zmq-parts-max's range (replica_main.cc) says 64");

double PercentileMs(std::vector<int64_t> us, double q) {
  if (us.empty()) return 0;
  // Thousands of samples: select, do not sort.
  auto at = us.begin() + static_cast<std::ptrdiff_t>(
                             std::min(us.size() - 1, static_cast<size_t>(q * us.size())));
  std::nth_element(us.begin(), at, us.end());
  return *at / 1000.0;
}

nlohmann::json StatusJson(const StatusReport& s, const ReplicaCounters& c,
                          const LagQuantiles& lag) {
  return {{"lag_ms_p50", lag.p50_ms},
          {"lag_ms_p99", lag.p99_ms},
          {"replica", s.replica},
          {"pid", s.pid},
          {"version", s.version},
          {"role", WireRoleName(s.role)},
          {"state", s.role_path},
          {"epoch", s.epoch},
          {"applied_seq", s.applied_seq},
          {"healthy", s.healthy},
          {"health", s.health_detail},
          {"store_corrupt", s.store_corrupt},
          {"refused_frames", c.refused_frames},
          {"stale_epoch_frames", c.stale_epoch_frames},
          {"stale_term_assignments", c.stale_term_assignments},
          {"unassigned_hellos", c.unassigned_hellos},
          {"coordinator_term", s.coordinator_term},
          {"gaps", c.gaps},
          {"duplicates", c.duplicates},
          {"snapshots_sent", c.snapshots_sent},
          {"snapshots_installed", c.snapshots_installed},
          {"deltas_committed", c.deltas_committed},
          {"group_commits", c.group_commits}};
}

// What the HTTP thread may read: the loop's latest figures, copied at each publish and
// rendered only when someone asks (rendering them every 10 ms on the loop cost CPU that
// writes wait for, for a page read a few times a minute).
struct Published {
  std::mutex mu;
  bool serving = false;
  std::optional<StatusReport> status;  // none before the first publish
  ReplicaCounters counters;
  std::vector<int64_t> lag_us;
  const AuthCounters* auth = nullptr;  // set before the HTTP thread starts; atomics

  enum Page { kStatusJson, kMetricsText };
  std::string Render(Page page) {
    std::unique_lock lock(mu);
    if (!status) return page == kStatusJson ? "{}" : "";
    StatusReport s = *status;
    ReplicaCounters c = counters;
    std::vector<int64_t> lag_samples = lag_us;
    lock.unlock();
    LagQuantiles lag{PercentileMs(lag_samples, 0.50), PercentileMs(lag_samples, 0.99)};
    if (page == kStatusJson) return StatusJson(s, c, lag).dump();
    return MetricsText(s, c) +
           (auth != nullptr ? auth->MetricsText({{"not_assigned", c.unassigned_hellos}}) : "");
  }
};

class Daemon final : public ActionSink {
 public:
  Daemon(const DaemonOptions& options, Processor* processor, std::unique_ptr<Store> store,
         const WallClock& wall_clock)
      : options_(options),
        wall_clock_(wall_clock),
        store_(std::move(store)),
        core_(options.replica, store_.get(), processor),
        clients_(options.frame_bytes_max),
        router_(context_.ctx, ZMQ_ROUTER, options.frame_bytes_max) {
    DUPLEX_ASSERT(!options.coordinator_endpoints.empty() &&
                      options.coordinator_endpoints.size() <= kCoordinatorEndpointsMax,
                  "a replica reports to one coordinator or a few",
                  options.coordinator_endpoints.size());
    for (size_t i = 0; i < options.coordinator_endpoints.size(); ++i) {
      coordinators_.push_back(
          std::make_unique<ZSocket>(context_.ctx, ZMQ_DEALER, options.frame_bytes_max));
    }
    core_.SetActionSink(this);  // actions leave as soon as the core decides them
  }
  ~Daemon() override = default;

  Status Start() {
    clients_.SetLimits({options_.client_connections_max, options_.client_idle_timeout_ms,
                        options_.client_partial_frame_ms, options_.client_input_bytes_max});
    DUPLEX_RETURN_IF_ERROR(SetClientAccess());
    if (Status s = clients_.Listen(options_.host, options_.client_port); !s.ok()) {
      return Unavailable("client port: " + s.message());
    }
    DUPLEX_RETURN_IF_ERROR(StartCurve());
    DUPLEX_RETURN_IF_ERROR(ZmqBind(router_.s, TcpEndpoint(options_.host, options_.port)));
    for (size_t i = 0; i < coordinators_.size(); ++i) {
      DUPLEX_RETURN_IF_ERROR(ConnectCoordinator(*coordinators_[i], i));
    }
    return StartHttp();
    return Status::Ok();
  }

  void Run() {
    while (!StopRequested()) {
      std::vector<zmq_pollitem_t>& items = poll_items_;
      items.clear();
      items.push_back({router_.s, 0, ZMQ_POLLIN, 0});
      for (auto& c : coordinators_) items.push_back({c->s, 0, ZMQ_POLLIN, 0});
      void* const polled_peer = peer_ ? peer_->s : nullptr;
      if (peer_) items.push_back({peer_->s, 0, ZMQ_POLLIN, 0});
      items.push_back({nullptr, worker_.wake_fd(), ZMQ_POLLIN, 0});  // offloaded replies
      size_t first_client = items.size();
      clients_.AddPollItems(&items);
      int timeout_ms = WaitMs();
      LoopTimer timer(clock_);
      zmq_poll(items.data(), static_cast<int>(items.size()), timeout_ms);
      int64_t now = timer.Lap(LoopTimer::kPoll);
      clients_.OnPolled(
          &items[first_client],
          [&](const std::string& route, std::string frame) { OnClientFrame(route, frame, now); },
          [&](const std::string& why) { Refuse(why); });
      clients_.EnforceLimits(now, [&](const std::string& why) { Refuse(why); });
      timer.Lap(LoopTimer::kClients);
      // What is left of a source waits for the next turn (zmq_poll reports it again).
      auto more = [&](int i) { return i < kPerRoundMax && clock_.NowUs() - now < kRoundBudgetUs; };
      for (int i = 0; more(i) && (items[0].revents & ZMQ_POLLIN); ++i) {
        if (!OnRouter(now)) break;
      }
      // Only the sockets zmq_poll named: a read of an empty one costs libzmq several syscalls.
      for (size_t k = 0; k < coordinators_.size(); ++k) {
        for (int i = 0; more(i) && (items[1 + k].revents & ZMQ_POLLIN); ++i) {
          if (!OnDealer(coordinators_[k]->s, now, /*from_coordinator=*/true)) break;
        }
      }
      // (A peer socket replaced in this turn, by an assignment, is read at the next.)
      const bool peer_ready = peer_ && peer_->s == polled_peer &&
                              (items[1 + coordinators_.size()].revents & ZMQ_POLLIN);
      for (int i = 0; peer_ready && more(i); ++i) {
        if (!OnDealer(peer_->s, now, /*from_coordinator=*/false)) break;
      }
      timer.Lap(LoopTimer::kPeers);
      for (auto& reply : worker_.Done()) Do(std::move(reply));
      core_.OnTick(tick_us_ = clock_.NowUs());
      clients_.Flush();
      timer.Lap(LoopTimer::kTick);
      Publish();
      timer.Lap(LoopTimer::kPublish);
      if (int64_t held_us = timer.HeldUs(timeout_ms); held_us >= kStallUs) {
        spdlog::warn("event loop held {:.1f} ms ({}): {}", held_us / 1000.0,
                     RoleStatePath(core_.role()), timer.Describe(timeout_ms));
      }
    }
    http_->stop();
    http_thread_.join();
  }

 private:
  // TLS and the client password on the client port, as the options ask.
  Status SetClientAccess() {
    ClientAccess access;
    if (options_.tls && options_.tls_client_port) {
      auto ctx = TlsContext::Server(*options_.tls);
      if (!ctx.ok()) return ctx.status();
      access.tls = std::move(ctx).value();
      access.certs_required = options_.tls->client_certs == PeerCerts::kRequired;
    }
    access.password = options_.client_password;
    clients_.SetAccess(std::move(access), refused_.get());
    return Status::Ok();
  }

  // /role, /status and /metrics, over HTTPS when the options ask; behind the admin token when
  // one is given (the health pages only when not open_health).
  Status StartHttp() {
    auto server = MakeHttpServer(options_.tls && options_.tls_http ? &*options_.tls : nullptr);
    if (!server.ok()) return server.status();
    http_ = std::move(server).value();
    routes_ = std::make_unique<HttpRoutes>(
        http_.get(), HttpAccess{options_.admin_token, options_.open_health}, refused_.get());
    routes_->Get("/role", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(published_.mu);
      res.status = published_.serving ? 200 : 503;
      res.set_content(published_.serving ? "active\n" : "not active\n", "text/plain");
    });
    routes_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(published_.Render(Published::kStatusJson), "application/json");
    });
    routes_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(published_.Render(Published::kMetricsText), "text/plain; version=0.0.4");
    });
    routes_->AlsoCheck(
        ApplyHttpBodyLimits(*http_, {options_.http_body_bytes_max, 0, {}}, &http_bodies_refused_));
    if (!http_->bind_to_port(options_.host, options_.http_port)) {
      return Unavailable("http bind " + options_.host + ":" + std::to_string(options_.http_port));
    }
    http_thread_ = std::thread([this] { http_->listen_after_bind(); });
    return Status::Ok();
  }

  // Until the core's next timer (the heartbeat a backstop); not at all with work waiting.
  int WaitMs() const {
    if (core_.HasWork()) return 0;
    return PollWaitMs(core_.NextTickUs(tick_us_), clock_.NowUs(), options_.replica.heartbeat_ms);
  }

  static constexpr int kPerRoundMax = 4096;
  // A turn stops reading messages after this long so that its tick (commits, acks, status,
  // timers) runs: a standby installing snapshot chunks of 30-130 ms each could otherwise
  // go through a whole window of them (16) before its next tick.
  static constexpr int64_t kRoundBudgetUs = 20000;
  static constexpr int64_t kStallUs = 20000;

  // Where one turn of the event loop spent its time. A turn that holds the loop for longer
  // than kStallUs (every request waits meanwhile) is logged with its parts, so that a gap
  // in a benchmark can be traced to a phase: "poll" beyond its timeout means the process
  // was not scheduled.
  class LoopTimer {
   public:
    enum Phase { kPoll, kClients, kPeers, kTick, kPublish, kPhases };
    explicit LoopTimer(SteadyClock& clock) : clock_(clock), last_us_(clock.NowUs()) {}
    // Ends phase p; returns the time it ended.
    int64_t Lap(Phase p) {
      int64_t now = clock_.NowUs();
      spent_us_[p] = now - last_us_;
      last_us_ = now;
      return now;
    }
    // The time the loop was not waiting for input.
    int64_t HeldUs(int poll_timeout_ms) const {
      int64_t held_us = std::max<int64_t>(0, spent_us_[kPoll] - poll_timeout_ms * 1000);
      for (int p = kClients; p < kPhases; ++p) held_us += spent_us_[p];
      return held_us;
    }
    std::string Describe(int poll_timeout_ms) const {
      return fmt::format(
          "poll {:.1f} ms (timeout {} ms), client frames {:.1f} ms, peer and coordinator "
          "frames {:.1f} ms, tick {:.1f} ms, publish {:.1f} ms",
          spent_us_[kPoll] / 1000.0, poll_timeout_ms, spent_us_[kClients] / 1000.0,
          spent_us_[kPeers] / 1000.0, spent_us_[kTick] / 1000.0, spent_us_[kPublish] / 1000.0);
    }

   private:
    SteadyClock& clock_;
    int64_t last_us_;
    int64_t spent_us_[kPhases] = {};
  };

  // Leaving from our host's address: per-host firewall rules (the lab) can tell us apart.
  // Statuses are queued only on a live connection (ZMQ_IMMEDIATE): one of three coordinators
  // may be down for hours, and a queue of its stale statuses (up to the high-water mark)
  // would be replayed to it when it returns; a status is level-triggered, the next replaces it.
  Status ConnectCoordinator(ZSocket& socket, size_t index) {
    const std::string& endpoint = options_.coordinator_endpoints[index];
    if (curve_->on()) {
      DUPLEX_RETURN_IF_ERROR(curve_->ClientOf(socket.s, options_.coordinator_members.at(index)));
    }
    int immediate = 1;
    zmq_setsockopt(socket.s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    if (Status s = ZmqConnect(socket.s, endpoint, options_.host); !s.ok()) {
      return Unavailable("coordinator " + s.message());
    }
    return Status::Ok();
  }

  void OnClientFrame(const std::string& route, const std::string& bytes, int64_t now) {
    auto frame = DecodeFrame(bytes, options_.frame_bytes_max);
    if (!frame.ok()) return (void)Refuse("client port: " + frame.status().message());
    if (auto* admin = std::get_if<AdminRequest>(&*frame)) {  // the admin path
      return core_.OnAdminRequest(route, std::move(*admin), now);
    }
    if (std::holds_alternative<Auth>(*frame)) return;  // (the listener checks it when it must)
    auto* req = std::get_if<Request>(&*frame);
    if (req == nullptr) return (void)Refuse("client port: a frame other than a request");
    // The processor's one source of time (expiry deadlines, ...): wall clock, as deadlines
    // stored in the state must mean the same on the other replica.
    req->now_ms = wall_clock_.NowMs();
    core_.OnClientRequest(route, std::move(*req), now);
  }

  // The ZAP handler before the replication port binds: no handshake goes unchecked.
  Status StartCurve() {
    auto curve = CurveAuth::Start(context_.ctx, options_.curve, refused_);
    if (!curve.ok()) return curve.status();
    curve_ = std::move(curve).value();
    published_.auth = &curve_->counters();
    if (curve_->on() && options_.coordinator_members.size() != coordinators_.size()) {
      return InvalidArgument(
          "CURVE: " + std::to_string(coordinators_.size()) + " coordinators but " +
          std::to_string(options_.coordinator_members.size()) + " coordinator members named");
    }
    return curve_->Serve(router_.s);
  }

  // With CURVE, what reaches the core on the replication port comes from the key of the
  // replica it names (a hello) or of the assigned standby (the rest): a listed key of another
  // member (an agent's, the coordinator's) is refused here, counted. The core then takes a
  // hello only from the assigned standby.
  bool AdmitFromStandby(const std::string& sender, const PeerMessage& message) {
    if (!curve_->on()) return true;  // nothing to build per message on a plain link
    if (auto* hello = std::get_if<Hello>(&message)) {
      return curve_->Admit(sender, ReplicaMember(hello->replica), AuthRefusal::kClaimMismatch,
                           "a hello claiming replica '" + hello->replica + "'");
    }
    return curve_->Admit(sender, ReplicaMember(core_.assignment().peer_name),
                         AuthRefusal::kWrongMember, "a message for the active");
  }

  // The data-plane port: only the standby's messages (clients have their own port).
  bool OnRouter(int64_t now) {
    auto parts = RecvParts(router_.s, &sender_, options_.zmq_parts_max, &zmq_parts_refused_);
    if (parts.empty()) return false;
    if (parts.size() != 2)
      return Refuse("router: expected 2 parts, got " + std::to_string(parts.size()));
    auto frame = DecodeFrame(parts[1], options_.frame_bytes_max);
    if (!frame.ok()) return Refuse(frame.status().message());
    if (auto* peer = std::get_if<PeerMessage>(&*frame)) {
      if (!AdmitFromStandby(sender_, *peer)) return true;  // counted; keep draining
      core_.OnFromStandby(std::move(parts[0]), std::move(*peer), now);
    } else if (std::holds_alternative<Request>(*frame)) {
      return Refuse("router: a client request on the replication port (clients use client_port)");
    } else {
      return Refuse("router: unexpected frame kind");
    }
    return true;
  }

  bool OnDealer(void* socket, int64_t now, bool from_coordinator) {
    auto parts = RecvParts(socket, nullptr, options_.zmq_parts_max, &zmq_parts_refused_);
    if (parts.empty()) return false;
    if (parts.size() != 1) return Refuse("dealer: expected 1 part");
    auto frame = DecodeFrame(parts[0], options_.frame_bytes_max);
    if (!frame.ok()) return Refuse(frame.status().message());
    if (auto* a = std::get_if<Assignment>(&*frame); a && from_coordinator) {
      core_.OnAssignment(*a, now);
    } else if (auto* m = std::get_if<PeerMessage>(&*frame); m && !from_coordinator) {
      core_.OnFromActive(std::move(*m), now);
    } else {
      return Refuse("dealer: unexpected frame kind");
    }
    return true;
  }

  bool Refuse(const std::string& why) {
    core_.Refuse(why);
    return true;  // keep draining
  }

  void Do(Action action) override {
    if (auto* c = std::get_if<ToClient>(&action)) {
      clients_.Send(c->route,
                    std::visit([](auto& r) { return EncodeFrame(std::move(r)); }, c->reply));
    } else if (auto* s = std::get_if<ToStandby>(&action)) {
      SendParts(router_.s, &s->route, EncodeFrame(std::move(s->message)));
    } else if (auto* a = std::get_if<ToActive>(&action)) {
      if (peer_) SendParts(peer_->s, nullptr, EncodeFrame(std::move(a->message)));
    } else if (auto* st = std::get_if<ToCoordinator>(&action)) {
      // To every coordinator: followers keep their view warm, so a new leader acts at once.
      const std::string frame = EncodeFrame(std::move(st->status));
      for (auto& socket : coordinators_) SendParts(socket->s, nullptr, frame);
    } else if (auto* offload = std::get_if<Offload>(&action)) {
      worker_.Add(std::move(offload->work));
    } else if (auto* connect = std::get_if<ConnectActive>(&action)) {
      // A fresh socket per session: nothing queued for the old active leaks into the new one.
      peer_.reset();
      if (!connect->endpoint.empty()) {
        peer_ = std::make_unique<ZSocket>(context_.ctx, ZMQ_DEALER, options_.frame_bytes_max);
        if (Status keyed = curve_->ClientOf(peer_->s, ReplicaMember(connect->replica));
            !keyed.ok()) {
          spdlog::error("cannot reach the active {}: {}", connect->replica, keyed.ToString());
          peer_.reset();
          return;
        }
        if (Status linked = ZmqConnect(peer_->s, connect->endpoint, options_.host); !linked.ok()) {
          spdlog::error("cannot reach the active {}: {}", connect->replica, linked.ToString());
          peer_.reset();
        }
      }
    }
  }

  void Flush() override { clients_.Flush(); }

  // What the daemon's edges refused, beside the core's own counts.
  void CountEdges(ReplicaCounters& c) const {
    const ClientLimitCounters& clients = clients_.limit_counters();
    c.client_connections_refused = clients.refused_full;
    c.client_closed_idle = clients.closed_idle;
    c.client_closed_partial_frame = clients.closed_partial;
    c.client_closed_input_bytes = clients.closed_input_bytes;
    c.zmq_messages_refused_parts = zmq_parts_refused_;
    c.http_bodies_refused = http_bodies_refused_.load();
    c.client_connections_open = clients_.connections();
  }

  void Publish() {
    int64_t now = clock_.NowUs();
    if (now - last_publish_us_ < 10000) return;
    last_publish_us_ = now;
    StatusReport status = core_.BuildStatus(now);
    std::lock_guard lock(published_.mu);
    published_.serving = core_.Serving(now);
    published_.status = std::move(status);
    published_.counters = core_.counters();
    CountEdges(published_.counters);
    published_.lag_us = core_.lag_samples_us();  // reuses its capacity
  }

  DaemonOptions options_;
  const WallClock& wall_clock_;
  std::unique_ptr<Store> store_;
  ReplicaCore core_;
  SteadyClock clock_;
  ClientListener clients_;
  std::vector<zmq_pollitem_t> poll_items_;
  ZContext context_;
  std::unique_ptr<CurveAuth> curve_;  // after the context (its ZAP socket), before the sockets
  std::string sender_;                // the User-Id of the last router message (reused)
  ZSocket router_;
  std::vector<std::unique_ptr<ZSocket>> coordinators_;  // one per coordinator_endpoints
  std::unique_ptr<ZSocket> peer_;
  // Refusals of keys (the ZAP thread), of client credentials (the loop) and of tokens (the
  // HTTP threads): one duplex_auth_refused_total family on /metrics.
  std::shared_ptr<AuthCounters> refused_ = std::make_shared<AuthCounters>();
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<HttpRoutes> routes_;
  std::thread http_thread_;
  Published published_;
  int64_t last_publish_us_ = 0;
  int64_t tick_us_ = 0;             // the time the last OnTick ran with (NextTickUs counts from it)
  uint64_t zmq_parts_refused_ = 0;  // messages of more than zmq_parts_max parts
  std::atomic<uint64_t> http_bodies_refused_{0};  // counted on the HTTP thread
  OffloadWorker worker_;  // last, so destroyed first: its jobs use the store and the core
};

}  // namespace

int RunReplicaDaemon(const DaemonOptions& options, Processor* processor) {
  InstallStopSignals();
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  // Claimed before the store opens, so that a coordinator restarted while this process
  // starts finds and adopts it instead of starting a second one on the same directory.
  auto claim = PidLock::Acquire(PidLock::FileIn(options.data_dir));
  if (!claim.ok()) {
    spdlog::error("replica {} not started: {}", options.replica.name, claim.status().ToString());
    return 2;
  }
  // A store corrupt at rest is put aside for an empty one that resyncs from the peer.
  auto opened =
      OpenOrQuarantine({options.data_dir, options.fsync, options.log_retain_ops, options.env},
                       {std::filesystem::path(PidLock::FileIn(options.data_dir)).filename()});
  if (!opened.ok()) {
    spdlog::critical("cannot open the store: {}", opened.status().ToString());
    return 2;
  }
  DaemonOptions with_store = options;
  with_store.replica.store_corrupt = opened->corrupt;
  SystemWallClock system_wall_clock;
  const WallClock& wall_clock =
      options.wall_clock != nullptr ? *options.wall_clock : system_wall_clock;
  Daemon daemon(with_store, processor, std::move(opened->store), wall_clock);
  Status s = daemon.Start();
  if (!s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    return 2;
  }
  spdlog::info("replica {} ({} {}) on client port {}, replication port {}, http {}",
               options.replica.name, processor->Name(), processor->Version(), options.client_port,
               options.port, options.http_port);
  daemon.Run();
  spdlog::info("replica {} stopped", options.replica.name);
  return 0;
}

}  // namespace duplex
