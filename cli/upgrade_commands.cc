#include "cli/upgrade_commands.h"

#include <httplib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "cli/exit_codes.h"
#include "common/install_layout.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/campaign/names.h"
#include "upgrade_coordinator/package_signature.h"

namespace duplex::cli {
namespace {

using nlohmann::json;
using Row = std::vector<std::string>;

constexpr std::string_view kUnexpectedJson = "coordinator answered unexpected JSON: ";
// Bounds on one admin call. Queries and campaign commands answer at once (the campaign runs
// in the coordinator); the plan asks every replica for its veto, and adding a package copies
// the package and hashes its binary, so those get longer.
constexpr int kQueryTimeoutMs = 5000;
constexpr int kCommandTimeoutMs = 15000;
constexpr int kPlanTimeoutMs = 15000;
constexpr int kPackageAddTimeoutMs = 60000;
// `upgrade status --watch`: one poll this often, each bounded.
constexpr int kWatchPollMs = 200;
constexpr int kWatchCallTimeoutMs = 2000;
// The soak sent when --soak is not given, as in the admin API's example.
constexpr int64_t kDefaultSoakMs = 5000;
constexpr size_t kShortShaChars = 12;

// Thrown by the field readers below and caught by Guarded() at the top of every formatter,
// so no exception leaves this file.
class UnexpectedJson : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string Quote(std::string_view key) { return "\"" + std::string(key) + "\""; }

std::string Describe(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "a list";
    case json::value_t::string:
      return "text";
    case json::value_t::boolean:
      return "a boolean";
    default:
      return "a number";
  }
}

// The value of `key`, or nullptr when it is absent or null.
const json* Find(const json& j, const char* key) {
  if (!j.is_object()) {
    throw UnexpectedJson("expected an object holding " + Quote(key) + ", got " + Describe(j));
  }
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

const json& Required(const json& j, const char* key) {
  const json* value = Find(j, key);
  if (value == nullptr) throw UnexpectedJson(Quote(key) + " is missing");
  return *value;
}

// Text as shown to an operator: numbers and booleans as written, absent as "".
std::string Text(const json& j, const char* key) {
  const json* value = Find(j, key);
  if (value == nullptr) return "";
  if (value->is_string()) return value->get<std::string>();
  if (value->is_number() || value->is_boolean()) return value->dump();
  throw UnexpectedJson(Quote(key) + " is " + Describe(*value) + ", expected text");
}

std::string RequiredText(const json& j, const char* key) {
  Required(j, key);
  return Text(j, key);
}

bool Flag(const json& j, const char* key) {
  const json* value = Find(j, key);
  if (value == nullptr) return false;
  if (!value->is_boolean()) {
    throw UnexpectedJson(Quote(key) + " is " + Describe(*value) + ", expected true or false");
  }
  return value->get<bool>();
}

const json& List(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json* value = Find(j, key);
  if (value == nullptr) return kEmpty;
  if (!value->is_array()) {
    throw UnexpectedJson(Quote(key) + " is " + Describe(*value) + ", expected a list");
  }
  return *value;
}

std::optional<int64_t> Ms(const json& j, const char* key) {
  const json* value = Find(j, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_unsigned()) return static_cast<int64_t>(value->get<uint64_t>());
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) return std::llround(value->get<double>());
  throw UnexpectedJson(Quote(key) + " is " + Describe(*value) + ", expected milliseconds");
}

// A list of names ("expiry, ttl"): elements are text or objects with a "name".
std::string Joined(const json& list, std::string_view separator) {
  std::string out;
  for (const json& item : list) {
    if (!out.empty()) out += separator;
    if (item.is_object()) {
      out += RequiredText(item, "name");
    } else if (item.is_string()) {
      out += item.get<std::string>();
    } else {
      out += item.dump();
    }
  }
  return out;
}

// A field that is either text or a list of texts (e.g. "upgrade_from").
std::string TextOrList(const json& j, const char* key) {
  const json* value = Find(j, key);
  if (value != nullptr && value->is_array()) return Joined(*value, ", ");
  return Text(j, key);
}

template <typename T, typename Make>
StatusOr<T> Guarded(const Make& make) {
  try {
    return StatusOr<T>(make());
  } catch (const json::exception& e) {
    return Corruption(std::string(kUnexpectedJson) + e.what());
  } catch (const UnexpectedJson& e) {
    return Corruption(std::string(kUnexpectedJson) + e.what());
  }
}

// Columns padded to their widest cell and two spaces apart; the last one is not padded.
std::string RenderTable(const std::vector<Row>& rows, std::string_view indent) {
  std::vector<size_t> widths;
  for (const Row& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line(indent);
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string OrDash(std::string text) { return text.empty() ? "-" : text; }

std::string ShortSha(const std::string& sha) { return sha.substr(0, kShortShaChars); }

// "340 ms", "1.2 s", "2m05s".
std::string FormatMs(int64_t ms) {
  char text[32];
  if (ms < 1000) {
    std::snprintf(text, sizeof(text), "%lld ms", static_cast<long long>(ms));
  } else if (ms < 60000) {
    std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(ms) / 1000.0);
  } else {
    std::snprintf(text, sizeof(text), "%lldm%02llds", static_cast<long long>(ms / 60000),
                  static_cast<long long>(ms % 60000 / 1000));
  }
  return text;
}

// "+  1.2 s" for --watch lines.
std::string FormatOffset(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof(text), "+%5.1f s", static_cast<double>(ms) / 1000.0);
  return text;
}

// The campaign in a GET /upgrade answer, or the answer itself when it is the campaign;
// nullptr when there is none.
const json* CampaignOf(const json& answer) {
  if (answer.is_null()) return nullptr;
  const json* campaign = Find(answer, "campaign");
  if (campaign == nullptr) return answer.contains("campaign") ? nullptr : &answer;
  Find(*campaign, "state");  // throws unless it is an object
  return campaign;
}

// The campaign's state and a step's result, served by name; nullopt for a name this CLI
// does not know (a newer coordinator's), which is shown as it came.
std::optional<CampaignState> StateOf(const json& campaign) {
  return FromName<CampaignState>(Text(campaign, "state"));
}
std::optional<StepOutcome> ResultOf(const json& step) {
  return FromName<StepOutcome>(Text(step, "result"));
}

std::string Headline(const json& campaign) {
  std::string state = RequiredText(campaign, "state");
  std::string out = "campaign " + OrDash(Text(campaign, "id")) + ": " +
                    OrDash(Text(campaign, "from")) + " -> " + OrDash(Text(campaign, "to")) + ", " +
                    state;
  bool running = StateOf(campaign) == CampaignState::kRunning;
  if (std::string step = Text(campaign, "step"); running && !step.empty()) {
    out += " (" + step + ")";
  }
  if (Flag(campaign, "forced")) out += ", forced";
  out += "\n";
  if (std::string reason = Text(campaign, "reason"); !reason.empty()) {
    out += "reason: " + reason + "\n";
  }
  if (const json& waits = List(campaign, "finalize_waits_for"); !waits.empty()) {
    out += "finalize waits for: " + Joined(waits, "; ") + "\n";
  }
  return out;
}

// A running step's duration so far needs the coordinator's clock (`now_ms`).
std::string StepDuration(const json& step, std::optional<int64_t> now_ms) {
  std::optional<int64_t> started = Ms(step, "started_ms");
  std::optional<int64_t> ended =
      ResultOf(step) == StepOutcome::kRunning ? now_ms : Ms(step, "ended_ms");
  if (!started || !ended) return "-";
  return FormatMs(std::max<int64_t>(0, *ended - *started));
}

std::string StepResult(const json& step) {
  std::optional<StepOutcome> result = ResultOf(step);
  if (result == StepOutcome::kOk) return "done";
  if (result == StepOutcome::kNok) return "failed";
  return OrDash(Text(step, "result"));
}

// When a step last moved: its end, else its start.
std::optional<int64_t> StepTimeMs(const json& step) {
  std::optional<int64_t> ended = Ms(step, "ended_ms");
  if (ended && ResultOf(step) != StepOutcome::kRunning) return ended;
  return Ms(step, "started_ms");
}

// The campaign's first start and latest move, for --watch offsets.
std::pair<int64_t, int64_t> CampaignSpanMs(const json& campaign) {
  std::optional<int64_t> first, last;
  for (const json& step : List(campaign, "steps")) {
    if (std::optional<int64_t> started = Ms(step, "started_ms")) {
      first = first ? std::min(*first, *started) : *started;
    }
    if (std::optional<int64_t> moved = StepTimeMs(step)) {
      last = last ? std::max(*last, *moved) : *moved;
    }
  }
  int64_t origin = first.value_or(0);
  return {origin, last.value_or(origin)};
}

// The coordinator's own figures for a settled campaign (from the replicas' reports).
std::string Summary(const json& campaign) {
  const json* observed = Find(campaign, "observed");
  auto [origin, latest] = CampaignSpanMs(campaign);
  if (observed == nullptr || !observed->is_object()) return "";
  auto number = [&](const char* key) { return std::to_string(Ms(*observed, key).value_or(0)); };
  return "summary: " + FormatMs(latest - origin) + "; " + number("requests") +
         " requests served, " + number("server_errors") +
         " server errors; longest without a serving active " + number("longest_without_active_ms") +
         " ms; acknowledged writes missing after a handover " +
         number("acknowledged_seqs_missing") + " (coordinator's view from the replicas' reports)\n";
}

std::string StepLine(const json& step, int64_t offset_ms) {
  std::string line = FormatOffset(offset_ms) + "  " + RequiredText(step, "step") + ": " +
                     OrDash(Text(step, "result"));
  if (std::string reason = Text(step, "reason"); !reason.empty()) line += " (" + reason + ")";
  return line;
}

std::vector<std::string> Changes(const json& before, const json& after) {
  std::vector<std::string> lines;
  const json* now = CampaignOf(after);
  const json* was = CampaignOf(before);
  if (now == nullptr) {
    if (before.is_null() || was != nullptr) lines.push_back("no upgrade campaign");
    return lines;
  }
  if (was != nullptr && Text(*was, "id") != Text(*now, "id")) was = nullptr;
  if (was == nullptr) {
    std::string headline = Headline(*now);
    lines.push_back(headline.substr(0, headline.find('\n')));
  }
  auto [origin, latest] = CampaignSpanMs(*now);
  const json& steps = List(*now, "steps");
  const json none = json::array();
  const json& old_steps = was != nullptr ? List(*was, "steps") : none;
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& step = steps[i];
    bool changed = i >= old_steps.size() || Text(old_steps[i], "result") != Text(step, "result") ||
                   Text(old_steps[i], "reason") != Text(step, "reason");
    if (changed) lines.push_back(StepLine(step, StepTimeMs(step).value_or(latest) - origin));
  }
  if (was != nullptr && Text(*was, "state") != Text(*now, "state")) {
    std::string line = FormatOffset(latest - origin) + "  campaign " + RequiredText(*now, "state");
    if (std::string reason = Text(*now, "reason"); !reason.empty()) line += ": " + reason;
    lines.push_back(line);
  }
  return lines;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

int Fail(const Status& s) {
  std::cerr << "duplex: " << s.message() << "\n";
  return ExitCodeOf(s);
}

// `--json`: the coordinator's answer as it came, one object on stdout.
int PrintJson(const json& answer) {
  std::cout << answer.dump(2) << "\n" << std::flush;
  return kExitOk;
}

int Print(const StatusOr<std::string>& text) {
  if (!text.ok()) return Fail(text.status());
  std::cout << *text << std::flush;
  return 0;
}

StatusOr<int64_t> ParseFlagDuration(const char* flag, const std::string& text) {
  StatusOr<int64_t> ms = ParseDurationMs(text);
  if (!ms.ok()) return Status(ms.status().code(), std::string(flag) + ": " + ms.status().message());
  return ms;
}

}  // namespace

StatusOr<std::string> FormatStoredPackage(const json& manifest) {
  return Guarded<std::string>([&] {
    std::string features = Joined(List(manifest, "features"), ", ");
    return "stored " + RequiredText(manifest, "name") + " " + RequiredText(manifest, "version") +
           " (sha256 " + ShortSha(RequiredText(manifest, "sha256")) + "…, schema " +
           OrDash(Text(manifest, "schema")) +
           ", features: " + (features.empty() ? "none" : features) + ")\n";
  });
}

StatusOr<std::string> FormatPackages(const json& answer) {
  return Guarded<std::string>([&] {
    const json& packages = Required(answer, "packages");
    if (!packages.is_array()) throw UnexpectedJson("\"packages\" is " + Describe(packages));
    if (packages.empty()) {
      return std::string("no packages stored; add one with: duplex package add <dir>\n");
    }
    std::vector<Row> rows = {{"NAME", "VERSION", "SCHEMA", "UPGRADES-FROM", "FEATURES", "SHA256"}};
    for (const json& p : packages) {
      rows.push_back({RequiredText(p, "name"), RequiredText(p, "version"),
                      OrDash(Text(p, "schema")), OrDash(TextOrList(p, "upgrade_from")),
                      OrDash(Joined(List(p, "features"), ",")),
                      ShortSha(RequiredText(p, "sha256"))});
    }
    return RenderTable(rows, "");
  });
}

StatusOr<std::string> FormatPlan(const json& plan) {
  return Guarded<std::string>([&] {
    std::string out =
        "plan " + OrDash(Text(plan, "from")) + " -> " + OrDash(Text(plan, "to")) + "\nsteps:\n";
    std::vector<Row> steps;
    for (const json& step : List(plan, "steps")) {
      steps.push_back({std::to_string(steps.size() + 1) + ".", RequiredText(step, "step"),
                       Text(step, "description")});
    }
    out += RenderTable(steps, "  ");
    out += "checks:\n";
    std::vector<Row> checks;
    size_t failed = 0;
    for (const json& check : List(plan, "checks")) {
      const json& ok = Required(check, "ok");
      if (!ok.is_boolean()) throw UnexpectedJson("a check's \"ok\" is " + Describe(ok));
      failed += ok.get<bool>() ? 0 : 1;
      checks.push_back(
          {ok.get<bool>() ? "OK" : "NOK", RequiredText(check, "check"), Text(check, "reason")});
    }
    out += RenderTable(checks, "  ");
    const json& ok = Required(plan, "ok");
    if (!ok.is_boolean()) throw UnexpectedJson("\"ok\" is " + Describe(ok));
    if (ok.get<bool>()) return out + "ready: nothing blocks the upgrade\n";
    return out + "not ready: " + std::to_string(failed) + " check" + (failed == 1 ? "" : "s") +
           " failed\n";
  });
}

StatusOr<std::string> FormatCampaignHeadline(const json& answer) {
  return Guarded<std::string>([&] {
    const json* campaign = CampaignOf(answer);
    return campaign == nullptr ? std::string("no upgrade campaign\n") : Headline(*campaign);
  });
}

StatusOr<std::string> FormatCampaign(const json& answer) {
  return Guarded<std::string>([&] {
    const json* campaign = CampaignOf(answer);
    if (campaign == nullptr) return std::string("no upgrade campaign\n");
    std::string out = Headline(*campaign);
    std::vector<Row> rows = {{"#", "STEP", "RESULT", "DURATION", "REASON"}};
    std::string detail;
    for (const json& step : List(*campaign, "steps")) {
      rows.push_back({std::to_string(rows.size()), RequiredText(step, "step"), StepResult(step),
                      StepDuration(step, Ms(*campaign, "now_ms")), Text(step, "reason")});
      if (std::string d = Text(step, "detail"); !d.empty()) detail = Text(step, "step") + ": " + d;
    }
    for (const json& step : List(*campaign, "pending")) {
      if (!step.is_string()) throw UnexpectedJson("a pending step is " + Describe(step));
      rows.push_back({std::to_string(rows.size()), step.get<std::string>(), "pending", "-", ""});
    }
    if (rows.size() > 1) out += RenderTable(rows, "  ");
    if (!detail.empty()) out += "now: " + detail + "\n";
    if (std::optional<CampaignState> state = StateOf(*campaign); state && Ended(*state)) {
      out += Summary(*campaign);
    }
    return out;
  });
}

StatusOr<std::string> FormatFeatures(const json& answer) {
  return Guarded<std::string>([&] {
    std::string out = "cluster version " + OrDash(Text(answer, "cluster_version")) + "\n";
    const json& features = Required(answer, "features");
    if (!features.is_array()) throw UnexpectedJson("\"features\" is " + Describe(features));
    if (features.empty()) return out + "no features registered\n";
    std::vector<Row> rows = {{"FEATURE", "INTRODUCED-IN", "STATE", "WHY"}};
    for (const json& f : features) {
      rows.push_back({RequiredText(f, "name"), OrDash(Text(f, "introduced_in")),
                      Flag(f, "enabled") ? "on" : "off", Text(f, "why")});
    }
    return out + RenderTable(rows, "");
  });
}

StatusOr<std::string> RunningDetail(const json& answer) {
  return Guarded<std::string>([&] {
    const json* campaign = CampaignOf(answer);
    if (campaign == nullptr) return std::string();
    for (const json& step : List(*campaign, "steps")) {
      if (std::string d = Text(step, "detail"); !d.empty()) return Text(step, "step") + ": " + d;
    }
    return std::string();
  });
}

StatusOr<std::string> CampaignSummary(const json& answer) {
  return Guarded<std::string>([&] {
    const json* campaign = CampaignOf(answer);
    return campaign == nullptr ? std::string() : Summary(*campaign);
  });
}

StatusOr<std::vector<std::string>> CampaignChanges(const json& before, const json& after) {
  return Guarded<std::vector<std::string>>([&] { return Changes(before, after); });
}

bool CampaignSettled(const json& answer) {
  StatusOr<bool> settled = Guarded<bool>([&] {
    const json* campaign = CampaignOf(answer);
    if (campaign == nullptr) return true;
    std::string state = RequiredText(*campaign, "state");
    std::replace(state.begin(), state.end(), '_', ' ');
    std::optional<CampaignState> known = FromName<CampaignState>(state);
    return known && (Ended(*known) || *known == CampaignState::kAwaitingFinalize);
  });
  // An answer that cannot be read will not become readable by waiting.
  return !settled.ok() || *settled;
}

int WatchExitCode(const json& answer) {
  StatusOr<bool> rolled_back = Guarded<bool>([&] {
    const json* campaign = CampaignOf(answer);
    if (campaign == nullptr) return false;
    std::string state = RequiredText(*campaign, "state");
    std::replace(state.begin(), state.end(), '_', ' ');
    return FromName<CampaignState>(state) == CampaignState::kRolledBack;
  });
  // An answer that cannot be read says nothing of success.
  if (!rolled_back.ok()) return kExitFailure;
  return *rolled_back ? kExitFailure : kExitOk;
}

UpgradeCommands::UpgradeCommands(CLI::App& app) {
  auto* package = app.add_subcommand("package", "upgrade packages: add, list, keygen, sign");
  package->require_subcommand(1);
  package_add_ = package->add_subcommand(
      "add",
      "upload a package (directory or tarball) to the coordinator, which verifies and "
      "stores it");
  package_add_->add_option("path", package_path_,
                           "the package directory or tarball (required); a bare name such as "
                           "kv-2.0.0: the one shipped with duplex");
  package_add_->add_flag("--by-path", by_path_,
                         "send the path instead of the bytes (the coordinator accepts only paths "
                         "under security.package_dir)");
  package_list_ = package->add_subcommand("list", "the packages the coordinator stores");
  package_list_->add_flag("--json", json_, "the coordinator's JSON: one object on stdout");
  package_keygen_ = package->add_subcommand(
      "keygen", "make a package signing key: DIR/package.key (secret, 0600), DIR/package.pub");
  package_keygen_->add_option("--out", keys_out_dir_, "the directory to write them to (required)");
  package_sign_ = package->add_subcommand(
      "sign", "sign a package directory's manifest (writes manifest.sig beside it)");
  package_sign_->add_option("--key", sign_key_file_, "the secret key file (package.key, required)");
  package_sign_->add_option("package", package_path_, "the package directory (required)");

  auto* upgrade = app.add_subcommand("upgrade", "rolling upgrade: plan, start, status, abort, ...");
  upgrade->require_subcommand(1);
  plan_ = upgrade->add_subcommand("plan", "dry run: every step and each pre-check's verdict");
  plan_->add_option("--to", to_version_, "target version (required)");
  plan_->add_flag("--json", json_,
                  "the coordinator's JSON: one object on stdout (exit 1 still when not ready)");
  start_ = upgrade->add_subcommand("start", "start a rolling upgrade campaign");
  start_->add_option("--to", to_version_, "target version (required)");
  start_->add_option("--package", package_name_,
                     "the package's name (needed when packages of several names have that "
                     "version)");
  start_->add_option("--soak", soak_text_, "evaluation soak time, e.g. 500ms, 5s, 2m (default 5s)");
  start_->add_flag("--auto-finalize", auto_finalize_, "enable the new features when all is done");
  start_->add_flag("--force", force_, "override vetoes (recorded in the campaign)");
  status_ = upgrade->add_subcommand("status", "the campaign: each step, its result and duration");
  status_->add_flag("--watch", watch_,
                    "follow the campaign until it settles; exit 1 when it rolled back, 0 when "
                    "it completed or awaits finalize");
  status_->add_flag(
      "--json", json_,
      "the coordinator's JSON: one object on stdout (with --watch: one line per change)");
  status_->add_option("--timeout", timeout_text_, "--watch gives up after this long (default 10m)");
  abort_ = upgrade->add_subcommand("abort", "roll back from wherever the campaign is");
  finalize_ = upgrade->add_subcommand("finalize", "all replicas upgraded: enable the new features");

  features_ = app.add_subcommand("features", "each feature, its version, on/off, and why");
  features_->add_flag("--json", json_, "the coordinator's JSON: one object on stdout");
}

std::optional<int> UpgradeCommands::Run(const ClusterConfig& config) const {
  if (*package_add_) return AddPackage(config);
  if (*package_list_) return ListPackages(config);
  if (*plan_) return ShowPlan(config);
  if (*start_) return StartCampaign(config);
  if (*status_) return ShowCampaign(config);
  if (*abort_) return Settle(config, "/upgrade/abort");
  if (*finalize_) return Settle(config, "/upgrade/finalize");
  if (*features_) return ShowFeatures(config);
  return std::nullopt;
}

std::optional<int> UpgradeCommands::RunWithoutConfig() const {
  if (*package_keygen_) return MakeKeys();
  if (*package_sign_) return SignPackage();
  return std::nullopt;
}

int UpgradeCommands::MakeKeys() const {
  if (keys_out_dir_.empty()) {
    return Fail(
        InvalidArgument("package keygen needs --out DIR: duplex package keygen --out keys"));
  }
  StatusOr<std::string> public_key = WritePackageKeyPair(keys_out_dir_);
  if (!public_key.ok()) return Fail(public_key.status());
  const std::filesystem::path dir(keys_out_dir_);
  return Print("wrote " + (dir / kPackageSecretKeyFile).string() + " (secret, mode 0600) and " +
               (dir / kPackagePublicKeyFile).string() +
               "\ntrust it in the cluster config:\nsecurity:\n  package_keys: [\"" + *public_key +
               "\"]\n");
}

int UpgradeCommands::SignPackage() const {
  if (sign_key_file_.empty() || package_path_.empty()) {
    return Fail(InvalidArgument(
        "package sign needs --key FILE and a package directory: duplex package sign --key "
        "keys/package.key <dir>"));
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(package_path_, ec)) {
    return Fail(InvalidArgument("package sign: " + package_path_ +
                                " is not a directory (sign the package directory, then pack it)"));
  }
  StatusOr<std::string> signer = SignPackageDir(package_path_, sign_key_file_);
  if (!signer.ok()) return Fail(signer.status());
  return Print("signed " + package_path_ + "/" + kSignatureFile + " with key " + *signer + "\n");
}

int UpgradeCommands::AddPackage(const ClusterConfig& config) const {
  if (package_path_.empty()) {
    return Fail(InvalidArgument("package add needs a path: duplex package add <dir-or-tarball>"));
  }
  std::error_code ec;
  std::filesystem::path path = std::filesystem::absolute(package_path_, ec).lexically_normal();
  // A bare name that is no path here is one of the packages shipped with this duplex
  // (`duplex package add kv-2.0.0`: build/packages, or /usr/lib/duplex/packages installed).
  const std::filesystem::path shipped =
      std::filesystem::path(SelfLayout().packages_dir) / package_path_;
  if (!std::filesystem::exists(path, ec) && package_path_.find('/') == std::string::npos &&
      std::filesystem::exists(shipped, ec)) {
    path = shipped;
  }
  if (ec || !std::filesystem::exists(path, ec)) {
    return Fail(InvalidArgument("package " + package_path_ + " does not exist (nor in " +
                                SelfLayout().packages_dir + ")"));
  }
  // By default the bytes travel: the coordinator never reads a path on a caller's word.
  StatusOr<json> manifest =
      by_path_ ? PostJson(config, "/packages", {{"path", path.string()}}, kPackageAddTimeoutMs)
               : UploadPackage(config, path.string(), kPackageAddTimeoutMs);
  if (!manifest.ok()) return Fail(manifest.status());
  return Print(FormatStoredPackage(*manifest));
}

int UpgradeCommands::ListPackages(const ClusterConfig& config) const {
  StatusOr<json> answer = GetJson(config, "/packages", kQueryTimeoutMs);
  if (!answer.ok()) return Fail(answer.status());
  if (json_) return PrintJson(*answer);
  return Print(FormatPackages(*answer));
}

int UpgradeCommands::ShowPlan(const ClusterConfig& config) const {
  if (to_version_.empty()) return Fail(InvalidArgument("upgrade plan needs --to <version>"));
  StatusOr<json> plan =
      GetJson(config, "/upgrade/plan?to=" + UrlEncode(to_version_), kPlanTimeoutMs);
  if (!plan.ok()) return Fail(plan.status());
  if (json_) {
    PrintJson(*plan);
    const json* ok = plan->is_object() && plan->contains("ok") ? &plan->at("ok") : nullptr;
    return ok != nullptr && ok->is_boolean() && ok->get<bool>() ? kExitOk : kExitFailure;
  }
  if (int code = Print(FormatPlan(*plan)); code != 0) return code;
  // FormatPlan succeeded, so "ok" is a boolean.
  return plan->at("ok").get<bool>() ? kExitOk : kExitFailure;
}

int UpgradeCommands::StartCampaign(const ClusterConfig& config) const {
  if (to_version_.empty()) return Fail(InvalidArgument("upgrade start needs --to <version>"));
  int64_t soak_ms = kDefaultSoakMs;
  if (!soak_text_.empty()) {
    StatusOr<int64_t> parsed = ParseFlagDuration("--soak", soak_text_);
    if (!parsed.ok()) return Fail(parsed.status());
    soak_ms = *parsed;
  }
  json body = {{"to", to_version_},
               {"package", package_name_},
               {"soak_ms", soak_ms},
               {"auto_finalize", auto_finalize_},
               {"force", force_}};
  StatusOr<json> campaign = PostJson(config, "/upgrade/start", body, kCommandTimeoutMs);
  if (!campaign.ok()) return Fail(campaign.status());
  if (int code = Print(FormatCampaign(*campaign)); code != 0) return code;
  if (!CampaignSettled(*campaign)) std::cout << "follow it with: duplex upgrade status --watch\n";
  return 0;
}

int UpgradeCommands::ShowCampaign(const ClusterConfig& config) const {
  StatusOr<int64_t> timeout_ms = ParseFlagDuration("--timeout", timeout_text_);
  if (!timeout_ms.ok()) return Fail(timeout_ms.status());
  if (watch_) return WatchCampaign(config, *timeout_ms);
  StatusOr<json> answer = GetJson(config, "/upgrade", kQueryTimeoutMs);
  if (!answer.ok()) return Fail(answer.status());
  if (json_) return PrintJson(*answer);
  return Print(FormatCampaign(*answer));
}

// Polls until the campaign settles or the timeout passes. A coordinator that stops
// answering (killed and restarted mid-campaign) is waited for, within the same timeout.
int UpgradeCommands::WatchCampaign(const ClusterConfig& config, int64_t timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  json last;  // null until the first answer
  bool answering = true;
  const bool redraw = !json_ && ::isatty(STDOUT_FILENO) == 1;
  std::string last_detail;
  auto detail_shown = std::chrono::steady_clock::time_point();
  for (;;) {
    StatusOr<json> answer = GetJson(config, "/upgrade", kWatchCallTimeoutMs);
    if (!answer.ok() && answer.status().code() != Code::kUnavailable) return Fail(answer.status());
    if (answer.ok() != answering) {
      answering = answer.ok();
      std::cerr << "duplex: "
                << (answering ? "coordinator answers again"
                              : answer.status().message() + "; still watching")
                << "\n";
    }
    if (answer.ok()) {
      if (json_) {
        if (*answer != last) std::cout << answer->dump() << "\n" << std::flush;
      } else if (redraw) {
        StatusOr<std::string> table = FormatCampaign(*answer);
        if (!table.ok()) return Fail(table.status());
        std::cout << "\x1b[H\x1b[2J" << *table << std::flush;  // home, clear: redraw in place
      } else {
        StatusOr<std::vector<std::string>> lines = CampaignChanges(last, *answer);
        if (!lines.ok()) return Fail(lines.status());
        for (const std::string& line : *lines) std::cout << line << "\n";
        // The running step's detail, at most once per second when it changed.
        StatusOr<std::string> detail = RunningDetail(*answer);
        auto now = std::chrono::steady_clock::now();
        if (detail.ok() && !detail->empty() && *detail != last_detail &&
            now - detail_shown >= std::chrono::seconds(1)) {
          std::cout << "          " << *detail << "\n";
          last_detail = *detail;
          detail_shown = now;
        }
        std::cout << std::flush;
      }
      last = *answer;
      if (CampaignSettled(last)) {
        if (!json_ && !redraw) {
          StatusOr<std::string> summary = CampaignSummary(last);
          if (summary.ok()) std::cout << *summary << std::flush;
        }
        return WatchExitCode(last);
      }
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      return Fail(Unavailable("the campaign did not settle within --timeout " + timeout_text_));
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        left, std::chrono::milliseconds(kWatchPollMs)));
  }
}

int UpgradeCommands::Settle(const ClusterConfig& config, const std::string& path) const {
  StatusOr<json> campaign = PostJson(config, path, json::object(), kCommandTimeoutMs);
  if (!campaign.ok()) return Fail(campaign.status());
  return Print(FormatCampaignHeadline(*campaign));
}

int UpgradeCommands::ShowFeatures(const ClusterConfig& config) const {
  StatusOr<json> answer = GetJson(config, "/features", kQueryTimeoutMs);
  if (!answer.ok()) return Fail(answer.status());
  if (json_) return PrintJson(*answer);
  return Print(FormatFeatures(*answer));
}

}  // namespace duplex::cli
