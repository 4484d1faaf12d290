#include "cli/check_history_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "chaos/history_formats.h"
#include "chaos/linearizability.h"

namespace duplex::cli {
namespace {

constexpr int kExitUsage = 2;

int ExitCode(lin::Verdict verdict) {
  switch (verdict) {
    case lin::Verdict::kLinearizable:
      return 0;
    case lin::Verdict::kNotLinearizable:
      return 1;
    case lin::Verdict::kUnknown:
      return 3;
  }
  return 3;
}

nlohmann::json OperationJson(const lin::Operation& op) {
  static const char* const kOutcomes[] = {"ok", "fail", "unknown"};
  nlohmann::json j = {{"client", op.client},
                      {"f", op.f},
                      {"input", op.input},
                      {"outcome", kOutcomes[static_cast<int>(op.outcome)]},
                      {"invoke_us", op.invoke_us}};
  if (op.outcome == lin::Outcome::kOk) {
    j["output"] = op.output;
    j["absent"] = op.absent;
    j["complete_us"] = op.complete_us;
  }
  if (op.now_ms >= 0) j["now_ms"] = op.now_ms;
  if (op.line > 0) j["line"] = op.line;
  return j;
}

nlohmann::json KeyJson(const lin::KeyResult& key) {
  nlohmann::json j = {{"key", key.key}, {"operations", key.operations}, {"detail", key.detail}};
  if (key.verdict == lin::Verdict::kNotLinearizable) {
    j["prefix"] = nlohmann::json::array();
    for (const auto& op : key.prefix) j["prefix"].push_back(OperationJson(op));
    j["cannot_follow"] = nlohmann::json::array();
    for (const auto& op : key.cannot_follow) j["cannot_follow"].push_back(OperationJson(op));
  }
  return j;
}

nlohmann::json ResultJson(const CheckHistoryOptions& options, const lin::CheckResult& result) {
  nlohmann::json j = {{"file", options.file},
                      {"model", options.model},
                      {"verdict", lin::VerdictName(result.verdict)},
                      {"keys", result.keys},
                      {"operations", result.operations},
                      {"elapsed_ms", result.elapsed_ms},
                      {"failed", nlohmann::json::array()},
                      {"unknown", nlohmann::json::array()}};
  for (const auto& key : result.failed) j["failed"].push_back(KeyJson(key));
  for (const auto& key : result.unknown) j["unknown"].push_back(KeyJson(key));
  return j;
}

}  // namespace

int RunCheckHistory(const CheckHistoryOptions& options, std::ostream& out, std::ostream& err) {
  auto model = lin::ModelNamed(options.model);
  if (!model.ok()) {
    err << "duplex check-history: --model: " << model.status().message() << "\n";
    return kExitUsage;
  }
  if (options.timeout_ms < 0) {
    err << "duplex check-history: --timeout-ms must be 0 (no bound) or more\n";
    return kExitUsage;
  }
  auto history = lin::ReadHistoryFile(*model, options.file);
  if (!history.ok()) {
    err << "duplex check-history: " << history.status().message() << "\n";
    return kExitUsage;
  }
  const lin::CheckResult result =
      lin::Check(*model, *history, {.time_limit_ms = options.timeout_ms});
  if (options.json) {
    out << ResultJson(options, result).dump() << "\n";
    return ExitCode(result.verdict);
  }
  out << result.Explain();
  for (const auto& key : result.unknown) out << key.detail << "\n";
  out << result.operations << " operations on " << result.keys
      << (result.keys == 1 ? " key" : " keys") << " checked on the " << options.model
      << " model in " << static_cast<int64_t>(result.elapsed_ms) << " ms\n"
      << lin::VerdictName(result.verdict) << "\n";
  return ExitCode(result.verdict);
}

CheckHistoryCommand::CheckHistoryCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "check-history",
      "check a recorded history for linearizability: FILE --model cas-register (Jepsen's etcd "
      "log) | kv-append (Porcupine's EDN lines) | duplex-kv (a chaos run's history.jsonl); "
      "exits 0 linearizable, 1 not, 3 unknown, 2 usage or parse error");
  command_->add_option("file", options_.file, "the history file")->required();
  command_->add_option("--model", options_.model, "cas-register, kv-append or duplex-kv")
      ->required();
  command_->add_option("--timeout-ms", options_.timeout_ms,
                       "the check's time bound; undecided by then is unknown (default 10000; "
                       "0: none)");
  command_->add_flag("--json", options_.json, "one JSON object instead of the text");
}

bool CheckHistoryCommand::parsed() const { return command_->parsed(); }

int CheckHistoryCommand::Run() const { return RunCheckHistory(options_, std::cout, std::cerr); }

}  // namespace duplex::cli
