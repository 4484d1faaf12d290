#include "upgrade_coordinator/coordinator.h"

#include <httplib.h>
#include <zmq.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/net.h"
#include "common/stop_signal.h"
#include "replica/zmq_util.h"
#include "upgrade_coordinator/agent_links.h"
#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/coordinator_metrics.h"
#include "upgrade_coordinator/event_log.h"
#include "upgrade_coordinator/record_store.h"
#include "upgrade_coordinator/upgrades.h"
#include "upgrade_coordinator/upgrades_api.h"

namespace duplex {
namespace {

// A request from the HTTP thread, answered by the loop.
struct Command {
  std::string name;                // "switchover" | "shutdown" | "api"
  std::function<ApiAnswer()> api;  // "api": runs on the loop thread, answers JSON
  std::string content_type = "text/plain";
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int http_status = 200;
  std::string body;
  void Finish(int status, std::string text) {
    std::lock_guard lock(mu);
    http_status = status;
    body = std::move(text);
    done = true;
    cv.notify_all();
  }
};

nlohmann::json ViewJson(const Arbiter& arbiter, const ClusterConfig& config, int64_t now_us) {
  const ClusterRecord& rec = arbiter.record();
  uint64_t active_seq = 0;
  if (!rec.active.empty()) {
    const auto& av = arbiter.replicas().at(rec.active);
    if (av.last) active_seq = av.last->applied_seq;
  }
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& rc : config.replicas) {
    const ReplicaView& v = arbiter.replicas().at(rc.name);
    nlohmann::json r = {{"name", rc.name},
                        {"host", rc.host_name},
                        {"pid", v.process_alive ? v.pid : 0},
                        {"alive", v.process_alive},
                        {"endpoint", TcpEndpoint(rc.host, rc.client_port)},
                        {"failed", rec.failed.count(rc.name) && rec.failed.at(rc.name)},
                        {"starts", v.starts}};
    if (v.last) {
      const StatusReport& s = *v.last;
      bool is_active = rc.name == rec.active;
      r.update(
          {{"version", s.version},
           {"role", WireRoleName(s.role)},
           {"state", s.role_path},
           {"epoch", s.epoch},
           {"applied_seq", s.applied_seq},
           {"lag", is_active || active_seq < s.applied_seq ? 0 : active_seq - s.applied_seq},
           {"in_sync", is_active ? true : (rec.in_sync.count(rc.name) && rec.in_sync.at(rc.name))},
           {"healthy", s.healthy},
           {"health", s.health_detail},
           {"refused_frames", s.refused_frames},
           {"stale_epoch_frames", s.stale_epoch_frames},
           {"last_seen_ms", (now_us - v.last_seen_us) / 1000},
           // Its last report is older than the failure timeout: what it says may be past.
           {"reporting", arbiter.RecentReport(rc.name, now_us).has_value()}});
    }
    replicas.push_back(std::move(r));
  }
  nlohmann::json transitions = nlohmann::json::array();
  const auto& all = arbiter.transitions();
  for (size_t i = all.size() > 20 ? all.size() - 20 : 0; i < all.size(); ++i) {
    const auto& t = all[i];
    transitions.push_back({{"kind", t.kind},
                           {"from", t.from},
                           {"to", t.to},
                           {"epoch", t.epoch},
                           {"detected_us", t.detected_us},
                           {"promoted_us", t.promoted_us},
                           {"decision_ms", (t.promoted_us - t.detected_us) / 1000.0}});
  }
  return {{"cluster", config.name},
          {"epoch", rec.epoch},
          {"active", rec.active},
          {"mode", config.replication.mode == ReplicationMode::kSync ? "sync" : "async"},
          {"switchover", arbiter.switchover_state()},
          {"replicas", replicas},
          {"transitions", transitions}};
}

class Coordinator {
 public:
  Coordinator(const ClusterConfig& config, std::unique_ptr<RecordStore> store,
              FeaturesOnReload features_on_reload)
      : config_(config),
        store_(std::move(store)),
        arbiter_(MakeOptions(config), store_.get()),
        agents_(config_),
        upgrades_(config, &arbiter_, store_.get(), &agents_, features_on_reload),
        upgrades_api_(config_, &arbiter_, &upgrades_),
        ctx_(zmq_ctx_new()),
        router_(zmq_socket(ctx_, ZMQ_ROUTER)) {}
  ~Coordinator() {
    zmq_close(router_);
    zmq_ctx_term(ctx_);
  }

  Status Start() {
    int zero = 0;
    int64_t msg_max = static_cast<int64_t>(config_.replication.frame_bytes_max);
    zmq_setsockopt(router_, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(router_, ZMQ_MAXMSGSIZE, &msg_max, sizeof(msg_max));
    std::string bind = TcpEndpoint(config_.host, config_.control_port);
    if (zmq_bind(router_, bind.c_str()) != 0) {
      return Unavailable("bind " + bind + ": " + zmq_strerror(zmq_errno()));
    }
    DUPLEX_RETURN_IF_ERROR(arbiter_.Recover(clock_.NowUs()));
    DUPLEX_RETURN_IF_ERROR(upgrades_.Open());
    DUPLEX_RETURN_IF_ERROR(events_.Open(config_.data_dir + "/events.jsonl"));
    RouteUpgradeApi();
    http_.Get("/status", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(status_json_, "application/json");
    });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(metrics_text_, "text/plain; version=0.0.4");
    });
    http_.Post("/switchover", [this](const httplib::Request&, httplib::Response& res) {
      Submit("switchover", res, config_.timing.startup_timeout_ms);
    });
    http_.Post("/shutdown", [this](const httplib::Request&, httplib::Response& res) {
      Submit("shutdown", res, 15000);
    });
    if (!http_.bind_to_port(config_.host, config_.admin_port)) {
      return Unavailable("admin API: cannot bind " + config_.host + ":" +
                         std::to_string(config_.admin_port));
    }
    http_thread_ = std::thread([this] { http_.listen_after_bind(); });
    return Status::Ok();
  }

  int Run() {
    while (!StopRequested() && !shutdown_) {
      zmq_pollitem_t items[1] = {{router_, 0, ZMQ_POLLIN, 0}};
      zmq_poll(items, 1, 1);
      for (int i = 0; i < 4096 && OnFrame(); ++i) {
      }
      RunCommands();
      arbiter_.OnTick(clock_.NowUs());
      upgrades_.Tick(clock_.NowMs(), clock_.NowUs());
      Execute();
      CheckPendingSwitchover();
      events_.Observe(clock_.NowUs(), arbiter_, upgrades_.campaign());
      CountHostFailovers();
      Publish();
    }
    if (shutdown_) StopReplicas(5000);
    if (shutdown_command_) shutdown_command_->Finish(200, "stopped\n");
    http_.stop();
    http_thread_.join();
    return 0;
  }

 private:
  static ArbiterOptions MakeOptions(const ClusterConfig& c) {
    ArbiterOptions o;
    for (const auto& r : c.replicas) {
      o.replicas.push_back({r.name, TcpEndpoint(r.host, r.peer_port != 0 ? r.peer_port : r.port)});
    }
    o.async = c.replication.mode == ReplicationMode::kAsync;
    o.heartbeat_ms = c.timing.heartbeat_ms;
    o.lease_ms = c.timing.lease_ms;
    o.failure_timeout_ms = c.timing.failure_timeout_ms;
    o.startup_grace_ms = std::max(300, 5 * c.timing.heartbeat_ms);
    o.restarts_max = c.restart.restarts_max;
    o.restart_window_s = c.restart.window_s;
    o.restart_backoff_ms = c.restart.backoff_ms;
    o.restart_backoff_max_ms = c.restart.backoff_max_ms;
    o.initial_version = c.processor.version;
    return o;
  }

  // The package, upgrade and features calls (admin_api.md): parsed here, run on the loop.
  void RouteUpgradeApi() {
    auto json_body = [](const httplib::Request& req) {
      auto body = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      return body.is_discarded() || !body.is_object() ? nlohmann::json() : body;
    };
    auto api = [this](httplib::Response& res, std::function<ApiAnswer()> call) {
      Submit("api", res, 30000, std::move(call));
    };
    http_.Post("/packages", [=, this](const httplib::Request& req, httplib::Response& res) {
      // Hashing and copying a binary takes long: done here, off the event loop.
      ApiAnswer answer = upgrades_api_.AddPackage(json_body(req));
      res.status = answer.status;
      res.set_content(answer.body.dump() + "\n", "application/json");
    });
    http_.Get("/packages", [=, this](const httplib::Request&, httplib::Response& res) {
      api(res, [this] { return upgrades_api_.ListPackages(); });
    });
    http_.Get("/upgrade/plan", [=, this](const httplib::Request& req, httplib::Response& res) {
      std::string to = req.get_param_value("to");
      api(res, [this, to] { return upgrades_api_.Plan(to); });
    });
    http_.Post("/upgrade/start", [=, this](const httplib::Request& req, httplib::Response& res) {
      auto body = json_body(req);
      api(res, [this, body] {
        return body.is_null() ? ApiAnswer{400, {{"error", "body: a JSON object is required"}}}
                              : upgrades_api_.Start(body);
      });
    });
    http_.Get("/upgrade", [=, this](const httplib::Request&, httplib::Response& res) {
      api(res, [this] { return upgrades_api_.Show(); });
    });
    http_.Post("/upgrade/abort", [=, this](const httplib::Request&, httplib::Response& res) {
      api(res, [this] { return upgrades_api_.Abort(); });
    });
    http_.Post("/upgrade/finalize", [=, this](const httplib::Request&, httplib::Response& res) {
      api(res, [this] { return upgrades_api_.Finalize(); });
    });
    http_.Get("/features", [=, this](const httplib::Request&, httplib::Response& res) {
      api(res, [this] { return upgrades_api_.Features(); });
    });
  }

  void Submit(const std::string& name, httplib::Response& res, int timeout_ms,
              std::function<ApiAnswer()> call = nullptr) {
    auto cmd = std::make_shared<Command>();
    cmd->name = name;
    cmd->api = std::move(call);
    {
      std::lock_guard lock(mu_);
      commands_.push_back(cmd);
    }
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
      if (cmd->name == "api") {
        ApiAnswer answer = cmd->api();
        cmd->content_type = "application/json";
        cmd->Finish(answer.status, answer.body.dump() + "\n");
        Publish(/*force=*/true);
      } else if (cmd->name == "shutdown") {
        shutdown_ = true;
        shutdown_command_ = cmd;
      } else if (cmd->name == "switchover") {
        Status s = arbiter_.RequestSwitchover(clock_.NowUs());
        if (!s.ok()) {
          cmd->Finish(409, "switchover refused: " + s.message() + "\n");
        } else {
          switchover_command_ = cmd;
          switchover_epoch_ = arbiter_.record().epoch;
        }
      }
    }
  }

  void CheckPendingSwitchover() {
    if (!switchover_command_) return;
    Publish(/*force=*/true);  // the answer must not race a stale /status
    const std::string& state = arbiter_.switchover_state();
    if (state == "done" && arbiter_.record().epoch > switchover_epoch_) {
      const auto& t = arbiter_.transitions().back();
      switchover_command_->Finish(
          200, "switchover done: " + t.to + " is active at epoch " + std::to_string(t.epoch) +
                   " after " + std::to_string((t.promoted_us - t.detected_us) / 1000) + " ms\n");
      switchover_command_.reset();
    } else if (state.rfind("failed", 0) == 0) {
      switchover_command_->Finish(409, "switchover " + state + "\n");
      switchover_command_.reset();
    }
  }

  bool OnFrame() {
    std::vector<std::string> parts = RecvParts(router_);
    if (parts.empty()) return false;
    if (parts.size() == 3 && parts[1] == kAgentTag) {
      OnAgentFrame(parts[0], parts[2]);
      return true;
    }
    auto frame = parts.size() == 2 ? DecodeFrame(parts[1], config_.replication.frame_bytes_max)
                                   : StatusOr<Frame>(Corruption("expected 2 parts"));
    auto* status = frame.ok() ? std::get_if<StatusReport>(&*frame) : nullptr;
    std::string why = !frame.ok()         ? frame.status().message()
                      : status == nullptr ? "not a status report"
                                          : Impostor(*status);
    if (!why.empty()) {
      if (++refused_ <= 100 || refused_ % 1000 == 0) spdlog::warn("refused control frame: {}", why);
      return true;
    }
    routes_[status->replica] = parts[0];  // answer on the connection that reported
    arbiter_.OnStatus(*status, clock_.NowUs());
    return true;
  }

  // Why a status cannot be from the replica it names ("" when it can): unknown names, and
  // pids other than the one its agent reported, are refused. (A process that reports before
  // its agent does is trusted by its first report: the control plane has no authentication.)
  std::string Impostor(const StatusReport& s) const {
    bool known = false;
    for (const auto& r : config_.replicas) known = known || r.name == s.replica;
    if (!known) return "status from unknown replica '" + s.replica + "'";
    int32_t owned = agents_.KnownPid(s.replica);
    if (owned != 0 && owned != s.pid) {
      return "status for " + s.replica + " from pid " + std::to_string(s.pid) +
             ", but its process is " + std::to_string(owned);
    }
    return "";
  }

  void Execute() {
    for (auto& action : arbiter_.TakeActions()) {
      if (auto* send = std::get_if<SendAssignment>(&action)) {
        auto route = routes_.find(send->replica);
        if (route == routes_.end()) continue;  // not connected yet: its first status gets it
        SendParts(router_, &route->second, EncodeFrame(send->assignment));
      } else if (auto* start = std::get_if<StartReplica>(&action)) {
        auto [package, version] = upgrades_.PackageRefFor(start->replica);
        agents_.Start(start->replica, package, version);
        // The start is under way: the agent reports its pid, or its failure as an exit.
        arbiter_.OnProcessStarted(start->replica, 0, clock_.NowUs());
      } else if (auto* stop = std::get_if<StopReplica>(&action)) {
        agents_.Stop(stop->replica);  // its exit comes back from its agent, then a restart
      }
    }
    SendDesired();
  }

  void SendDesired() {
    for (const auto& [route, desired] : agents_.TakeOutgoing()) {
      const std::string frame = EncodeAgentFrame(desired);
      SendMultipart(router_, {route, kAgentTag, frame});
    }
    for (const auto& [route, part] : upgrades_.TakePackageParts(clock_.NowUs())) {
      const std::string frame = EncodeAgentFrame(part);
      SendMultipart(router_, {route, kAgentTag, frame});
    }
  }

  void OnAgentFrame(const std::string& route, const std::string& bytes) {
    auto frame = DecodeAgentFrame(bytes, config_.replication.frame_bytes_max);
    auto* report = frame.ok() ? std::get_if<AgentReport>(&*frame) : nullptr;
    std::string why = !frame.ok()         ? frame.status().message()
                      : report == nullptr ? "not an agent report"
                      : FindHost(config_, report->host) == nullptr
                          ? "report from unknown host '" + report->host + "'"
                          : "";
    if (!why.empty()) {
      if (++refused_ <= 100 || refused_ % 1000 == 0) spdlog::warn("refused agent frame: {}", why);
      return;
    }
    const int64_t now = clock_.NowUs();
    for (const ProcessEvent& e : agents_.OnReport(route, *report, now)) {
      if (e.kind == ProcessEvent::Kind::kExited) {
        arbiter_.OnProcessExited(e.replica, now);
      } else if (e.kind == ProcessEvent::Kind::kStarted) {
        arbiter_.OnProcessStarted(e.replica, e.pid, now);  // adopted: it ran before us
      } else {
        arbiter_.OnProcessPid(e.replica, e.pid);
      }
    }
    SendDesired();
  }

  // Every replica stopped through its agent; bounded by grace_ms (an unreachable agent's
  // replicas keep running).
  void StopReplicas(int grace_ms) {
    agents_.StopAll();
    const int64_t deadline = clock_.NowUs() + int64_t{grace_ms} * 1000;
    while (!agents_.AllStopped() && clock_.NowUs() < deadline) {
      SendDesired();
      zmq_pollitem_t items[1] = {{router_, 0, ZMQ_POLLIN, 0}};
      zmq_poll(items, 1, 10);
      for (int i = 0; i < 4096 && OnFrame(); ++i) {
      }
    }
  }

  // Each failover, by what the host's agent said of it (for /metrics).
  void CountHostFailovers() {
    const auto& all = arbiter_.transitions();
    for (; transitions_counted_ < all.size(); ++transitions_counted_) {
      const TransitionEvent& t = all[transitions_counted_];
      if (t.kind != "crash failover" && t.kind != "hang failover") continue;
      ++host_failovers_[agents_.FailoverCause(t.kind, t.from, clock_.NowUs())];
    }
  }

  void Publish(bool force = false) {
    int64_t now = clock_.NowUs();
    if (!force && now - last_publish_us_ < 5000) return;
    last_publish_us_ = now;
    auto view = ViewJson(arbiter_, config_, now);
    view["refused_control_frames"] = refused_;
    view["cluster_version"] = arbiter_.record().cluster_version;
    view["lock"] = arbiter_.record().lock;
    view["campaign"] = upgrades_api_.CampaignJson();
    view["hosts"] = agents_.HostsJson(now);
    view["host_failovers"] = host_failovers_;
    std::string json = view.dump();
    std::string metrics = CoordinatorMetricsText(view, arbiter_.transitions());
    std::lock_guard lock(mu_);
    status_json_ = std::move(json);
    metrics_text_ = std::move(metrics);
  }

  ClusterConfig config_;
  std::unique_ptr<RecordStore> store_;
  Arbiter arbiter_;
  AgentLinks agents_;
  Upgrades upgrades_;
  UpgradesApi upgrades_api_;
  EventLog events_;
  SteadyClock clock_;
  void* ctx_;
  void* router_;
  httplib::Server http_;
  std::thread http_thread_;
  std::mutex mu_;
  std::string status_json_ = "{}";
  std::string metrics_text_;
  std::deque<std::shared_ptr<Command>> commands_;
  std::shared_ptr<Command> switchover_command_;
  std::shared_ptr<Command> shutdown_command_;
  uint64_t switchover_epoch_ = 0;
  bool shutdown_ = false;
  int64_t last_publish_us_ = 0;
  uint64_t refused_ = 0;
  size_t transitions_counted_ = 0;
  std::map<std::string, uint64_t> host_failovers_ = {
      {"process_exit", 0}, {"host_unreachable", 0}, {"process_silent", 0}};
  std::map<std::string, std::string> routes_;  // replica name -> ZeroMQ routing id
};

}  // namespace

int RunCoordinator(const ClusterConfig& config, const CoordinatorSeams& seams) {
  InstallStopSignals();
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  auto store = OpenRecordStore(config.data_dir + "/coordinator");
  if (!store.ok()) {
    spdlog::critical("{}", store.status().ToString());
    return 2;
  }
  std::unique_ptr<RecordStore> records = std::move(store).value();
  if (seams.wrap_records) records = seams.wrap_records(std::move(records));
  Coordinator coordinator(config, std::move(records), seams.features_on_reload);
  Status s = coordinator.Start();
  if (!s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    return 2;
  }
  spdlog::info("coordinator for {} on admin port {}, control port {}", config.name,
               config.admin_port, config.control_port);
  return coordinator.Run();
}

}  // namespace duplex
