#include "cli/lab_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "chaos/lab/lab.h"

namespace duplex::cli {
namespace {

using lab::Direction;
using lab::Lab;
using nlohmann::json;

int Fail(const Status& s) {
  std::cerr << "duplex: " << s.message() << "\n";
  return s.code() == Code::kInvalidArgument ? 2 : 1;
}

bool Is(const std::string& what, std::initializer_list<const char*> verbs) {
  for (const char* verb : verbs) {
    if (what == verb) return true;
  }
  return false;
}

std::string Row(const std::string& host, const std::string& address, const json& p) {
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %-12s %-8lld %-12s %-8s %s\n", host.c_str(),
                address.c_str(), static_cast<long long>(p.value("pid", 0)),
                p.value("role", "").c_str(), p.value("state", "").c_str(),
                p.value("command", "").c_str());
  return line;
}

// The text of `duplex lab status` (and the table `up` prints): one row per process, the
// host's name and address on its first.
std::string FormatLabStatus(const json& status) {
  std::ostringstream out;
  out << "lab " << status.value("lab_id", "?") << " at " << status.value("dir", "?") << "\n"
      << "config " << status.value("config", "?") << "\n";
  for (const json& c : status.value("coordinators", json::array())) {
    const std::string host = c.value("host", "");
    const std::string role = c.value("role", "?");
    out << "coordinator " << (host.empty() ? "on no host" : "on " + host) << " at "
        << c.value("admin", "?") << ": " << role
        << (c.contains("term") ? " (term " + std::to_string(c.value("term", 0)) + ")" : "")
        << (role == "leader" ? "  <- acts" : "") << "\n";
  }
  for (const json& m : status.value("etcd", json::array())) {
    out << "etcd member " << m.value("host", "?") << " at " << m.value("client_url", "?") << ": "
        << m.value("health", "?") << "\n";
  }
  char header[128];
  std::snprintf(header, sizeof header, "%-8s %-12s %-8s %-12s %-8s %s\n", "HOST", "ADDRESS", "PID",
                "ROLE", "STATE", "COMMAND");
  out << header;
  auto rows = [&](const std::string& host, const std::string& address, const json& processes) {
    if (processes.empty()) {
      out << Row(host, address, json{{"role", "-"}, {"state", "no process"}});
      return;
    }
    bool first = true;
    for (const json& p : processes) {
      out << Row(first ? host : "", first ? address : "", p);
      first = false;
    }
  };
  for (const json& h : status.value("hosts", json::array())) {
    rows(h.value("name", "?"), h.value("address", "?"), h.value("processes", json::array()));
  }
  const json outside = status.value("outside_processes", json::array());
  if (!outside.empty()) rows("(none)", "", outside);
  std::string rules;
  for (const json& r : status.value("isolation", json::array())) {
    const std::string direction = r.value("direction", "?");
    std::string ports;
    for (const json& port : r.value("ports", json::array())) {
      ports += (ports.empty() ? "" : ",") + std::to_string(port.get<int>());
    }
    rules += (rules.empty() ? "" : "; ") + r.value("host", "?") +
             (!ports.empty()        ? " ports " + ports + " (" + r.value("scope", "?") + ")"
              : direction == "both" ? " both ways"
                                    : " --" + direction + " " + r.value("peer", "?"));
  }
  out << "isolation: " << (rules.empty() ? "none" : rules) << "  (nftables table ip "
      << status.value("nft_table", "?") << ")\n";
  return out.str();
}

// Which verbs take a host, and which flags go with which verb.
Status CheckArguments(const std::string& what, const std::string& host, int hosts, bool etcd,
                      bool etcd_port_given, const std::string& from, const std::string& to) {
  const bool on_host = Is(what, {"crash", "freeze", "thaw", "start", "isolate"});
  if (!on_host && !Is(what, {"up", "heal", "status", "down"})) {
    return InvalidArgument("lab " + what +
                           ": not a lab command (up, crash, freeze, thaw, start, isolate, heal, "
                           "status, down)");
  }
  if (on_host && host.empty()) return InvalidArgument("lab " + what + ": which host?");
  if (!on_host && !host.empty()) {
    return InvalidArgument("lab " + what + " takes no host, got " + host);
  }
  if (what != "up" && hosts != 0) return InvalidArgument("--hosts goes with lab up only");
  if (what != "up" && etcd) return InvalidArgument("--etcd goes with lab up only");
  if (!etcd && etcd_port_given) return InvalidArgument("--etcd-port goes with lab up --etcd only");
  if (what != "isolate" && (!from.empty() || !to.empty())) {
    return InvalidArgument("--from and --to go with lab isolate only");
  }
  if (!from.empty() && !to.empty()) {
    return InvalidArgument("lab isolate: --from or --to, not both (isolate twice for both)");
  }
  return Status::Ok();
}

int Up(const std::string& duplex_binary, const ClusterConfig& config,
       const lab::LabUpOptions& options) {
  StatusOr<lab::LabPlan> plan = lab::PlanLab(config, options);
  if (!plan.ok()) return Fail(plan.status());
  if (::access(config.processor.binary.c_str(), X_OK) != 0) {
    return Fail(InvalidArgument("processor.binary: " + config.processor.binary +
                                " is not an executable file (build it first: make build)"));
  }
  StatusOr<Lab> started = Lab::Start(*plan, duplex_binary);
  if (!started.ok()) return Fail(started.status());
  std::cout << FormatLabStatus(started->StatusJson());
  StatusOr<std::string> active = started->WaitActive(plan->config.timing.startup_timeout_ms);
  if (!active.ok()) return Fail(active.status());
  std::cout << "active: " << *active << "\n"
            << "the cluster's commands take the lab's config: duplex status -c "
            << plan->config_path << "\n";
  if (!plan->keys_dir.empty()) {
    std::cout << "CURVE on every ZeroMQ link: the members' keys are in " << plan->keys_dir << "\n";
  }
  return 0;
}

int Isolate(Lab& lab, const std::string& host, const std::string& from, const std::string& to) {
  const Direction direction = !from.empty() ? Direction::kFrom
                              : !to.empty() ? Direction::kTo
                                            : Direction::kBoth;
  const std::string peer = !from.empty() ? from : to;
  Status s = lab.Isolate(host, direction, peer);
  if (!s.ok()) return Fail(s);
  switch (direction) {
    case Direction::kBoth:
      std::cout << "isolated " << host << " both ways\n";
      break;
    case Direction::kFrom:
      std::cout << host << " no longer hears " << (peer == "all" ? "any host" : peer) << " (--from "
                << peer << ")\n";
      break;
    case Direction::kTo:
      std::cout << (peer == "all" ? "no host hears " + host + " any longer"
                                  : peer + " no longer hears " + host)
                << " (--to " << peer << ")\n";
      break;
  }
  return 0;
}

int Count(const StatusOr<int>& n, const std::string& done, const std::string& host) {
  if (!n.ok()) return Fail(n.status());
  std::cout << done << " " << host << ": " << *n << (*n == 1 ? " process" : " processes") << "\n";
  return 0;
}

}  // namespace

LabCommand::LabCommand(CLI::App& app) {
  lab_ = app.add_subcommand("lab",
                            "simulated hosts on this machine (127.0.N.1): up [--hosts N] [--etcd], "
                            "crash H, freeze H, thaw H, "
                            "start H, isolate H [--from P | --to P], heal, status, down");
  lab_->add_option("what", what_,
                   "up | crash | freeze | thaw | start | isolate | heal | status | down")
      ->required();
  lab_->add_option("host", host_, "the host (crash, freeze, thaw, start, isolate)");
  lab_->add_option("--hosts", hosts_, "up: how many hosts (required when the config names none)");
  lab_->add_option("--dir", dir_, "the lab's directory (default <data_dir>/lab)");
  lab_->add_flag("--etcd", etcd_,
                 "up: an etcd member and a coordinator on each of three hosts (needs --hosts 3 "
                 "or more); the records in etcd");
  etcd_port_option_ = lab_->add_option(
      "--etcd-port", etcd_port_,
      "up --etcd: each member's client port on its host's address, the peer port one above "
      "(default 2379)");
  lab_->add_option("--first-host", first_host_,
                   "up: the derived hosts are 127.0.N.1 from N = this on (default 1)");
  lab_->add_option("--from", from_, "isolate: drop only what this host (or all) sends to H");
  lab_->add_option("--to", to_, "isolate: drop only what H sends to this host (or all)");
  lab_->add_flag("--json", json_, "status: one JSON object");
}

bool LabCommand::parsed() const { return lab_->parsed(); }

int LabCommand::Run(const std::string& duplex_binary, const ClusterConfig& config) const {
  Status args =
      CheckArguments(what_, host_, hosts_, etcd_, etcd_port_option_->count() > 0, from_, to_);
  if (!args.ok()) return Fail(args);
  if (what_ == "up") {
    lab::LabUpOptions options;
    options.hosts = hosts_;
    options.dir = dir_;
    options.first_host_number = first_host_;
    options.etcd = etcd_;
    options.etcd_client_port = etcd_port_;
    options.etcd_peer_port = etcd_port_ + 1;
    return Up(duplex_binary, config, options);
  }
  const std::string dir = lab::LabDir(config, dir_);
  StatusOr<Lab> lab = Lab::Open(dir);
  if (!lab.ok()) {
    if (lab.status().code() != Code::kNotFound) return Fail(lab.status());
    return Fail(FailedPrecondition(
        "lab " + what_ + ": " + lab.status().message() + "; start one with `duplex lab up -c " +
        (config.source_path.empty() ? "<config>" : config.source_path) + "`"));
  }
  if (what_ == "crash") return Count(lab->Crash(host_), "crashed", host_);
  if (what_ == "freeze") return Count(lab->Freeze(host_), "froze", host_);
  if (what_ == "thaw") return Count(lab->Thaw(host_), "thawed", host_);
  if (what_ == "isolate") return Isolate(*lab, host_, from_, to_);
  if (what_ == "start") {
    StatusOr<std::vector<lab::LabProcessRecord>> started = lab->StartHost(host_, duplex_binary);
    if (!started.ok()) return Fail(started.status());
    if (started->empty()) std::cout << host_ << ": its processes run already\n";
    for (const lab::LabProcessRecord& p : *started) {
      std::cout << "started " << lab::LabRoleName(p.role) << " " << p.pid << " on " << host_
                << " (log " << p.log_path << ")\n";
    }
    return 0;
  }
  if (what_ == "heal") {
    Status s = lab->Heal();
    if (!s.ok()) return Fail(s);
    std::cout << "healed: table ip " << lab->state().table << " deleted, no rule of the lab left\n";
    return 0;
  }
  if (what_ == "status") {
    const json status = lab->StatusJson();
    std::cout << (json_ ? status.dump(2) + "\n" : FormatLabStatus(status));
    return 0;
  }
  const std::string lab_id = lab->state().lab_id;
  StatusOr<int> stopped = lab->Down();
  if (!stopped.ok()) return Fail(stopped.status());
  std::cout << "lab " << lab_id << " down: " << *stopped
            << (*stopped == 1 ? " process" : " processes")
            << " stopped, its rules removed; data kept in " << dir << "\n";
  return 0;
}

}  // namespace duplex::cli
