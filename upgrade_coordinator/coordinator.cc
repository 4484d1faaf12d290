#include "upgrade_coordinator/coordinator.h"

#include <httplib.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "common/clock.h"
#include "common/fatal.h"
#include "common/log.h"
#include "common/net.h"
#include "common/stop_signal.h"
#include "common/wakeup.h"
#include "upgrade_coordinator/admin_body.h"
#include "upgrade_coordinator/admin_http.h"
#include "upgrade_coordinator/alone_records.h"
#include "upgrade_coordinator/control_link.h"
#include "upgrade_coordinator/coordinator_bounds.h"
#include "upgrade_coordinator/coordinator_metrics.h"
#include "upgrade_coordinator/coordinator_term.h"
#include "upgrade_coordinator/curve_config.h"
#include "upgrade_coordinator/etcd/elector.h"
#include "upgrade_coordinator/etcd/etcd_record_store.h"
#include "upgrade_coordinator/internal/admin_command.h"
#include "upgrade_coordinator/package_upload.h"
#include "upgrade_coordinator/record_store.h"

namespace duplex {
namespace {

// A durable write of an acting coordinator failed (etcd unreachable, or the leader key lost;
// alone, its own disk full or failing): its term ends; the process goes on, acting again
// once it can write. Thrown by the Fatal handler RunCoordinator installs.
struct DurabilityLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Coordinator {
 public:
  // alone: the record store of a coordinator alone; none with etcd (each term opens its own).
  Coordinator(const ClusterConfig& config, std::optional<AloneRecords> alone,
              const CoordinatorSeams& seams)
      : config_(config),
        seams_(seams),
        alone_(std::move(alone)),
        control_(config.replication.frame_bytes_max, config.limits.zmq_parts_max,
                 &bounds_.zmq_parts) {}
  ~Coordinator() {
    elector_.reset();  // resigns: a follower takes over at once
  }

  Status Start() {
    auto curve = CoordinatorCurve(config_);
    if (!curve.ok()) return curve.status();
    DUPLEX_RETURN_IF_ERROR(control_.Start(TcpEndpoint(config_.host, config_.control_port),
                                          std::move(curve).value(), auth_));
    if (alone_) {
      BeginAloneTerm(clock_.NowUs());
    } else {
      DUPLEX_RETURN_IF_ERROR(StartElector());
    }
    auto http = MakeAdminHttp(config_, auth_);  // HTTPS and the admin token, as configured
    if (!http.ok()) return http.status();
    http_ = std::move(http).value();
    RouteAdminApi(*http_->routes);
    ApplyAdminHttpLimits(*http_->server, *http_->routes, config_.limits, &bounds_);
    if (!http_->server->bind_to_port(config_.host, config_.admin_port)) {
      return Unavailable("admin API: cannot bind " + config_.host + ":" +
                         std::to_string(config_.admin_port));
    }
    http_thread_ = std::thread([this] { http_->server->listen_after_bind(); });
    return Status::Ok();
  }

  int Run() {
    while (!StopRequested() && !shutdown_) {
      // The control socket, and the HTTP thread (commands, requests for a fresh view).
      zmq_pollitem_t items[2] = {{control_.socket(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, wake_.fd(), ZMQ_POLLIN, 0}};
      zmq_poll(items, 2, WaitMs());
      wake_.Clear();
      try {
        FollowElection(clock_.NowUs());
        if (alone_ && !term_ && alone_->Due(clock_.NowUs())) BeginAloneTerm(clock_.NowUs());
        for (int i = 0; i < 4096 && OnFrame(); ++i) {
        }
        RunCommands();
        if (term_) {
          term_->Tick(tick_us_ = clock_.NowUs());
          CheckPendingSwitchover();
        }
      } catch (const DurabilityLost& e) {
        EndTerm(std::string("a durable write failed: ") + e.what());
        if (elector_) elector_->Resign();  // another coordinator may write where this cannot
        if (alone_) alone_->Failed(clock_.NowUs(), e.what());
      }
      Publish();
    }
    if (shutdown_ && term_) StopReplicas(5000);
    if (shutdown_command_) shutdown_command_->Finish(200, "stopped\n");
    if (term_ && elector_) EndTerm("stopped");
    elector_.reset();
    http_->server->stop();
    http_thread_.join();
    return 0;
  }

 private:
  std::string EventsPath() const {
    if (config_.coordinators.size() == 1) return config_.data_dir + "/events.jsonl";
    return CoordinatorDataDir(config_) + "/events.jsonl";
  }

  std::shared_ptr<CoordinatorTerm> MakeTerm(std::unique_ptr<RecordStore> store, uint64_t term) {
    if (seams_.wrap_records) store = seams_.wrap_records(std::move(store));
    auto send = [this](const std::string& route, std::vector<std::string> parts) {
      control_.Send(route, parts);
    };
    return std::make_shared<CoordinatorTerm>(config_, std::move(store), seams_.features_on_reload,
                                             term, &routes_, send);
  }

  void SetTerm(std::shared_ptr<CoordinatorTerm> term) {
    std::lock_guard lock(mu_);
    term_ = std::move(term);
  }

  // ---- A coordinator alone: its own record store (alone_records.h: why it retries) ----

  void BeginAloneTerm(int64_t now_us) {
    auto store = alone_->Open();
    Status s = store.status();
    std::shared_ptr<CoordinatorTerm> t;
    if (s.ok()) {
      t = MakeTerm(std::move(store).value(), 0);
      try {
        s = t->Begin(now_us, EventsPath());
      } catch (const DurabilityLost& e) {
        s = IOError(e.what());
      }
    }
    if (!s.ok()) {
      t.reset();  // closes the store before the next attempt reopens it
      alone_->Failed(now_us, s.message());
      return;
    }
    alone_->Acting();
    SetTerm(std::move(t));
  }

  // ---- Leadership (several coordinators, etcd) ----

  Status StartElector() {
    DUPLEX_ASSERT(config_.etcd.has_value(), "a coordinator without its own store elects in etcd");
    ElectorOptions o;
    o.election.prefix = config_.etcd->prefix;
    o.election.self_value = SelfJson().dump();
    o.election.lease_ttl_s = config_.etcd->lease_ttl_s;
    o.client = ClientOptions();
    o.name = config_.coordinator_host;
    auto elector = Elector::Start(std::move(o));
    if (!elector.ok()) return elector.status();
    elector_ = std::move(elector).value();
    return Status::Ok();
  }

  // Every connection to etcd leaves from this coordinator's host address (the lab's nftables
  // rules tell hosts apart by it).
  EtcdClientOptions ClientOptions() const {
    EtcdClientOptions o;
    o.endpoints = config_.etcd->endpoints;
    o.source_address = config_.host;
    return o;
  }

  nlohmann::json SelfJson() const {
    return {{"host", config_.coordinator_host},
            {"admin", config_.host + ":" + std::to_string(config_.admin_port)},
            {"control", TcpEndpoint(config_.host, config_.control_port)}};
  }

  // Acts exactly while the elector says this coordinator surely holds the leader key.
  void FollowElection(int64_t now_us) {
    if (!elector_) return;
    view_ = elector_->View();
    if (term_ && (!view_.acting || view_.term != term_->term())) {
      EndTerm(view_.acting            ? "a newer term"
              : !view_.etcd_reachable ? "etcd unreachable: " + view_.etcd_error
                                      : "the leader key is no longer surely ours");
    }
    if (term_ && now_us - heard_us_ > DeafUs()) {
      // It holds etcd but hears no replica and no agent: most likely it is the one cut off.
      // A follower that hears them can act where this one cannot.
      EndTerm("heard no replica and no agent for " + std::to_string((now_us - heard_us_) / 1000) +
              " ms: handing over");
      elector_->Resign();
    }
    if (!term_ && view_.acting && now_us >= retry_us_) BeginTerm(view_.term, now_us);
  }

  int64_t DeafUs() const {
    return int64_t{5} * std::max(config_.timing.failure_timeout_ms, config_.agent.heartbeat_ms) *
           1000;
  }

  void BeginTerm(uint64_t term, int64_t now_us) {
    EtcdClientOptions o = ClientOptions();
    o.read_timeout_ms = kStoreTimeoutMs;
    auto client = EtcdClient::Create(o);
    DUPLEX_ASSERT(client.ok(), "the endpoints were checked with the config",
                  client.status().ToString());
    auto store =
        std::make_unique<EtcdRecordStore>(std::move(client).value(), config_.etcd->prefix, term);
    auto t = MakeTerm(std::move(store), term);
    Status s = t->Begin(now_us, EventsPath());
    if (!s.ok()) {
      spdlog::error("coordinator {}: cannot take up term {}: {}", config_.coordinator_host, term,
                    s.ToString());
      retry_us_ = now_us + kRetryUs;
      return;
    }
    t->Log(now_us, {{"kind", "leadership"},
                    {"coordinator", config_.coordinator_host},
                    {"term", term},
                    {"acting", true}});
    spdlog::warn("coordinator {}: leading, term {}", config_.coordinator_host, term);
    ++leader_changes_;
    heard_us_ = now_us;
    SetTerm(std::move(t));
  }

  void EndTerm(const std::string& reason) {
    const int64_t now_us = clock_.NowUs();
    spdlog::warn("coordinator {}: no longer leading term {}: {}", config_.coordinator_host,
                 term_->term(), reason);
    if (elector_) {
      term_->Log(now_us, {{"kind", "leadership"},
                          {"coordinator", config_.coordinator_host},
                          {"term", term_->term()},
                          {"acting", false},
                          {"reason", reason}});
    }
    if (switchover_command_) switchover_command_->Finish(503, "switchover: " + reason + "\n");
    switchover_command_.reset();
    retry_us_ = now_us + kRetryUs;
    SetTerm(nullptr);
  }

  // Who leads, as GET /status shows it.
  nlohmann::json LeaderJson() const {
    if (!elector_) {
      return {{"host", config_.coordinator_host},
              {"admin", config_.host + ":" + std::to_string(config_.admin_port)},
              {"term", 0}};
    }
    auto value = nlohmann::json::parse(view_.leader_value, nullptr, false);
    if (!value.is_object()) value = nlohmann::json::object();
    return {{"host", value.value("host", "")},
            {"admin", value.value("admin", "")},
            {"term", view_.term}};
  }

  std::string NotLeading() const {
    if (alone_) {
      return "coordinator " + config_.coordinator_host + " is not acting: " + alone_->not_acting();
    }
    nlohmann::json leader = LeaderJson();
    std::string who = leader["host"].get<std::string>();
    return "coordinator " + config_.coordinator_host + " does not lead (" +
           (who.empty() ? std::string("no leader is known")
                        : "the leader is " + who + " at " + leader["admin"].get<std::string>() +
                              ", term " + std::to_string(view_.term)) +
           ")";
  }

  // ---- The admin API (admin_api.md) ----

  void RouteAdminApi(HttpRoutes& http) {
    http.Get("/status", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mu_);
      AwaitFresh(lock);
      res.set_content(status_json_, "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mu_);
      AwaitFresh(lock);
      // The refusal counters are read now, not from the loop's last view: a refusal answered
      // before this scrape is in it.
      res.set_content(metrics_text_ + auth_->MetricsText(), "text/plain; version=0.0.4");
    });
    http.Post("/switchover", [this](const httplib::Request&, httplib::Response& res) {
      Submit("switchover", res, config_.timing.startup_timeout_ms);
    });
    http.Post("/shutdown", [this](const httplib::Request&, httplib::Response& res) {
      Submit("shutdown", res, 15000);
    });
    RouteUpgradeApi(http);
  }

  // The package, upgrade and features calls (admin_api.md): parsed here, run on the loop.
  void RouteUpgradeApi(HttpRoutes& http) {
    http.Post("/packages", [this](const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader& content) {
      // Receiving, hashing and copying a package takes long: done here, off the event loop,
      // on the term that leads now (kept alive by this call if leadership ends meanwhile).
      std::shared_ptr<CoordinatorTerm> term;
      {
        std::lock_guard lock(mu_);
        term = term_;
      }
      ApiAnswer answer =
          term ? ReceivePackage(term->api(), config_, req, content) : NotLeadingAnswer();
      res.status = answer.status;
      res.set_content(answer.body.dump() + "\n", "application/json");
    });
    RouteUpgradeCalls(http, [this](httplib::Response& res, UpgradeCall call) {
      Submit("api", res, 30000, std::move(call));
    });
  }

  // Asks the loop for a view built after now and waits (bounded) for it: a leader frozen past
  // its lease answers, when it thaws, only after its loop has looked again (stepped down).
  void AwaitFresh(std::unique_lock<std::mutex>& lock) {
    const int64_t asked_us = NowUs();
    publish_wanted_ = true;
    wake_.Notify();
    auto fresh = [&] { return published_us_ >= asked_us; };
    published_.wait_for(lock, std::chrono::microseconds(kStaleWaitUs), fresh);
  }

  ApiAnswer NotLeadingAnswer() {  // the HTTP thread's (the loop has NotLeading())
    std::unique_lock lock(mu_);
    AwaitFresh(lock);
    return {503, {{"error", not_leading_}, {"leader", leader_json_}}};
  }

  void Submit(const std::string& name, httplib::Response& res, int timeout_ms,
              std::function<ApiAnswer(UpgradesApi&)> call = nullptr) {
    auto cmd = std::make_shared<Command>();
    cmd->name = name;
    cmd->api = std::move(call);
    {
      std::lock_guard lock(mu_);
      if (AdminQueueFull(commands_.size(), config_.limits, &bounds_, res)) return;
      commands_.push_back(cmd);
    }
    wake_.Notify();
    std::unique_lock lock(cmd->mu);
    if (!cmd->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return cmd->done; })) {
      res.status = 504;
      res.set_content(name + ": no result within " + std::to_string(timeout_ms) + " ms\n",
                      "text/plain");
      return;
    }
    res.status = cmd->http_status;
    res.set_content(cmd->body, cmd->content_type);
  }

  void RunCommands() {
    std::deque<std::shared_ptr<Command>> commands;
    {
      std::lock_guard lock(mu_);
      commands.swap(commands_);
    }
    for (auto& cmd : commands) {
      if (cmd->name == "shutdown") {
        shutdown_ = true;  // a follower only stops itself; the leader stops the replicas too
        shutdown_command_ = cmd;
      } else if (!term_) {
        ApiAnswer answer{503, {{"error", NotLeading()}, {"leader", LeaderJson()}}};
        cmd->content_type = "application/json";
        cmd->Finish(answer.status, answer.body.dump() + "\n");
      } else if (cmd->name == "api") {
        ApiAnswer answer = cmd->api(term_->api());
        cmd->content_type = "application/json";
        cmd->Finish(answer.status, answer.body.dump() + "\n");
        Publish(/*force=*/true);
      } else if (cmd->name == "switchover") {
        Status s = term_->RequestSwitchover(clock_.NowUs());
        if (!s.ok()) {
          cmd->Finish(409, "switchover refused: " + s.message() + "\n");
        } else {
          switchover_command_ = cmd;
          switchover_epoch_ = term_->arbiter().record().epoch;
        }
      }
    }
  }

  void CheckPendingSwitchover() {
    if (!switchover_command_) return;
    Publish(/*force=*/true);  // the answer must not race a stale /status
    const Arbiter& arbiter = term_->arbiter();
    const std::string& state = arbiter.switchover_state();
    if (state == "done" && arbiter.record().epoch > switchover_epoch_) {
      const auto& t = arbiter.transitions().back();
      switchover_command_->Finish(
          200, "switchover done: " + t.to + " is active at epoch " + std::to_string(t.epoch) +
                   " after " + std::to_string((t.promoted_us - t.detected_us) / 1000) + " ms\n");
      switchover_command_.reset();
    } else if (state.rfind("failed", 0) == 0) {
      switchover_command_->Finish(409, "switchover " + state + "\n");
      switchover_command_.reset();
    }
  }

  // ---- The control socket ----

  // A status or an agent report (ControlLink checks who sent it), or nothing waiting: false.
  bool OnFrame() {
    return control_.Receive(
        [this](const std::string& route, const StatusReport& status) {
          std::string why = term_ ? term_->OnStatus(status, clock_.NowUs()) : "";
          if (why.empty()) {
            // Answer on the connection that reported; a follower learns it too, to answer at
            // once when it comes to lead.
            routes_[status.replica] = route;
            heard_us_ = clock_.NowUs();
          }
          return why;
        },
        [this](const std::string& route, const AgentReport& report) -> std::string {
          if (FindHost(config_, report.host) == nullptr) {
            return "report from unknown host '" + report.host + "'";
          }
          // A follower does not answer agents: the desired state is the leader's alone.
          heard_us_ = clock_.NowUs();
          if (term_) term_->OnAgentReport(route, report, clock_.NowUs());
          return "";
        });
  }

  // Every replica stopped through its agent; bounded by grace_ms (an unreachable agent's
  // replicas keep running).
  void StopReplicas(int grace_ms) {
    term_->StopAll();
    const int64_t deadline = clock_.NowUs() + int64_t{grace_ms} * 1000;
    while (!term_->AllStopped() && clock_.NowUs() < deadline) {
      term_->SendDesired(clock_.NowUs());
      zmq_pollitem_t items[1] = {{control_.socket(), 0, ZMQ_POLLIN, 0}};
      zmq_poll(items, 1, 10);
      for (int i = 0; i < 4096 && OnFrame(); ++i) {
      }
    }
  }

  // Until the term's next timer (failure_timeout_ms a backstop); every 1 ms (as before) while
  // following an election (its view is read at each turn) or without a term.
  int WaitMs() const {
    if (elector_ || !term_) return 1;
    return PollWaitMs(term_->NextTickUs(tick_us_), clock_.NowUs(),
                      config_.timing.failure_timeout_ms);
  }

  // ---- GET /status and /metrics ----

  // Built when the HTTP thread asks (publish_wanted_) or after a command, not every 5 ms: that
  // was most of what an idle coordinator cost.
  void Publish(bool force = false) {
    if (!force && !publish_wanted_.exchange(false)) return;
    int64_t now = clock_.NowUs();
    nlohmann::json view = term_ ? term_->View(now) : FollowerView(config_);
    view["refused_control_frames"] = control_.refused();
    view["bounds"].update(bounds_.Json());  // the term's (epochs, instances) and the edges'
    view["coordinator"] = {{"host", config_.coordinator_host},
                           {"role", !elector_ ? "alone"
                                    : term_   ? "leader"
                                              : "follower"},
                           {"term", term_ ? term_->term() : view_.term}};
    if (alone_) view["coordinator"].update(alone_->Json(term_ != nullptr, now));
    nlohmann::json leader = LeaderJson();
    view["leader"] = leader;
    view["leader_changes"] = leader_changes_;
    view["coordinators"] = CoordinatorsJson(config_);
    if (elector_) {
      view["etcd"] = {{"reachable", view_.etcd_reachable},
                      {"error", view_.etcd_error},
                      {"silent_ms", view_.etcd_silent_ms}};
    }
    std::string json = view.dump();
    static const std::vector<TransitionEvent> kNone;
    std::string metrics =
        CoordinatorMetricsText(view, term_ ? term_->arbiter().transitions() : kNone);
    std::string not_leading = NotLeading();
    std::lock_guard lock(mu_);
    status_json_ = std::move(json);
    metrics_text_ = std::move(metrics);
    leader_json_ = std::move(leader);
    not_leading_ = std::move(not_leading);
    published_us_ = now;
    published_.notify_all();
  }

  static constexpr int kStoreTimeoutMs = 500;  // a record write that hangs ends the term
  static constexpr int64_t kRetryUs = 200000;  // between attempts to take up a term
  // An HTTP answer waits at most this long for a fresh view, then serves the last one.
  static constexpr int64_t kStaleWaitUs = 250000;

  ClusterConfig config_;
  CoordinatorSeams seams_;
  std::optional<AloneRecords> alone_;      // a coordinator alone: its record store
  std::unique_ptr<Elector> elector_;       // null: alone
  LeaderView view_;                        // the elector's, as of this loop turn
  std::shared_ptr<CoordinatorTerm> term_;  // null while following
  int64_t retry_us_ = 0;
  int64_t heard_us_ = 0;         // the last status or agent report taken
  uint64_t leader_changes_ = 0;  // terms this coordinator took up
  SteadyClock clock_;
  // Refusals of keys (the control link's ZAP handler) and of admin tokens: one family.
  std::shared_ptr<AuthCounters> auth_ = std::make_shared<AuthCounters>();
  ControlLink control_;
  std::unique_ptr<AdminHttp> http_;  // the admin API (admin_http.h)
  std::thread http_thread_;
  std::mutex mu_;  // the HTTP thread's share: below, commands_, and term_ (read there)
  std::string status_json_ = "{}";
  int64_t published_us_ = 0;
  std::condition_variable published_;
  std::string metrics_text_;
  nlohmann::json leader_json_;
  std::string not_leading_;
  std::deque<std::shared_ptr<Command>> commands_;
  std::shared_ptr<Command> switchover_command_;
  std::shared_ptr<Command> shutdown_command_;
  uint64_t switchover_epoch_ = 0;
  bool shutdown_ = false;
  std::atomic<bool> publish_wanted_{false};    // the HTTP thread waits for a fresh view
  int64_t tick_us_ = 0;                        // the time the term's last Tick ran with
  Wakeup wake_;                                // the HTTP thread wakes the loop's poll
  CoordinatorBounds bounds_;                   // what the edges refused (limits.*)
  std::map<std::string, std::string> routes_;  // replica name -> ZeroMQ routing id
};

}  // namespace

int RunCoordinator(const ClusterConfig& config, const CoordinatorSeams& seams) {
  InstallStopSignals();
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  std::optional<AloneRecords> alone;  // with etcd, each term opens its own store
  if (config.etcd) {
    std::filesystem::create_directories(CoordinatorDataDir(config), ec);
  } else {
    const std::string path = config.data_dir + "/coordinator";
    auto store = OpenRecordStore(path, seams.record_env);
    if (!store.ok()) {
      spdlog::critical("{}", store.status().ToString());
      return 2;
    }
    alone.emplace(path, seams.record_env, std::move(store).value());
  }
  // A failed durable write ends this coordinator's term, not the process (Fatal's default):
  // another coordinator, or this one once it can write again, takes over from the record
  // (alone_records.h says why a coordinator alone does not exit either).
  SetFatalHandler([](FatalKind kind, const std::string& what) {
    if (kind == FatalKind::kDurability) throw DurabilityLost(what);
  });
  Coordinator coordinator(config, std::move(alone), seams);
  Status s = coordinator.Start();
  if (!s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    return 2;
  }
  spdlog::info("coordinator {} for {} on admin port {}, control port {}{}", config.coordinator_host,
               config.name, config.admin_port, config.control_port,
               config.etcd ? ", records in etcd under " + config.etcd->prefix : "");
  return coordinator.Run();
}

}  // namespace duplex
