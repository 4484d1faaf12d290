// What scripts rely on: the exit codes (0 success, 1 failure, 2 usage) and `--json [FILE]`.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "cli/json_option.h"
#include "cli/upgrade_commands.h"

namespace duplex::cli {
namespace {

using nlohmann::json;

// The exit code of parsing `args` (after the program name) as main() computes it.
int ParseExitCode(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv = {const_cast<char*>("duplex")};
  for (std::string& arg : args) argv.push_back(arg.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    // app.exit prints the error or the help; its code is what ExitCodeOfParse maps.
    return ExitCodeOfParse(e.get_exit_code());
  }
  return kExitOk;
}

TEST(ExitCodes, StatusMapsToSuccessFailureOrUsage) {
  EXPECT_EQ(ExitCodeOf(Status()), 0);
  EXPECT_EQ(ExitCodeOf(InvalidArgument("bad --to")), 2);
  EXPECT_EQ(ExitCodeOf(Unavailable("coordinator down")), 1);
  EXPECT_EQ(ExitCodeOf(FailedPrecondition("no package")), 1);
  EXPECT_EQ(ExitCodeOf(Corruption("unexpected JSON")), 1);
}

TEST(ExitCodes, ParseErrorsAreUsageErrorsAndHelpIsSuccess) {
  EXPECT_EQ(ExitCodeOfParse(0), 0);
  EXPECT_EQ(ExitCodeOfParse(static_cast<int>(CLI::ExitCodes::RequiredError)), 2);
  EXPECT_EQ(ExitCodeOfParse(static_cast<int>(CLI::ExitCodes::ExtrasError)), 2);
  EXPECT_EQ(ExitCodeOfParse(static_cast<int>(CLI::ExitCodes::ConversionError)), 2);

  CLI::App app{"test"};
  app.require_subcommand(1);
  int runs = 0;
  auto* bench = app.add_subcommand("bench", "");
  bench->add_option("--runs", runs, "");
  EXPECT_EQ(ParseExitCode(app, {"bench", "--runs", "x"}), 2);
  EXPECT_EQ(ParseExitCode(app, {"bench", "--no-such-option"}), 2);
  EXPECT_EQ(ParseExitCode(app, {}), 2);
  EXPECT_EQ(ParseExitCode(app, {"--help"}), 0);
}

json CampaignIn(const std::string& state) {
  return {{"campaign", {{"id", "c7"}, {"from", "1.0.0"}, {"to", "2.0.0"}, {"state", state}}}};
}

TEST(WatchExitCode, RolledBackIsAFailureCompletedIsSuccess) {
  EXPECT_EQ(WatchExitCode(CampaignIn("completed")), 0);
  EXPECT_EQ(WatchExitCode(CampaignIn("awaiting finalize")), 0);
  EXPECT_EQ(WatchExitCode(CampaignIn("rolled back")), 1);
  EXPECT_EQ(WatchExitCode(CampaignIn("rolled_back")), 1);
  EXPECT_EQ(WatchExitCode(json{{"campaign", nullptr}}), 0);  // nothing to watch
  EXPECT_EQ(WatchExitCode(json::array()), 1);                // unreadable: no success claimed
  EXPECT_EQ(WatchExitCode(json{{"campaign", {{"id", "c7"}}}}), 1);
}

// `bench` as main() registers it: a positional, then `--json [FILE]`.
struct BenchLine {
  CLI::App app{"test"};
  std::string what;
  std::string peer;
  JsonOption json{*app.add_subcommand("bench", ""), "one JSON object"};

  BenchLine() {
    CLI::App* bench = app.get_subcommand("bench");
    bench->add_option("what", what, "")->required();
    bench->add_option("--peer", peer, "");
  }
  int Parse(std::vector<std::string> args) { return ParseExitCode(app, std::move(args)); }
};

TEST(JsonOption, AloneMeansStdout) {
  BenchLine line;
  ASSERT_EQ(line.Parse({"bench", "replication", "--json"}), 0);
  EXPECT_TRUE(line.json.on_stdout());
  EXPECT_EQ(line.json.path(), "");
  EXPECT_EQ(line.what, "replication");
}

TEST(JsonOption, AloneBeforeAnotherOptionMeansStdout) {
  BenchLine line;
  ASSERT_EQ(line.Parse({"bench", "failover", "--json", "--peer", "redis"}), 0);
  EXPECT_TRUE(line.json.on_stdout());
  EXPECT_EQ(line.json.path(), "");
  EXPECT_EQ(line.peer, "redis");
}

TEST(JsonOption, WithAFileWritesTheFileOnly) {
  BenchLine line;
  ASSERT_EQ(line.Parse({"bench", "replication", "--json", "out.json"}), 0);
  EXPECT_FALSE(line.json.on_stdout());
  EXPECT_EQ(line.json.path(), "out.json");
  BenchLine equals;
  ASSERT_EQ(equals.Parse({"bench", "replication", "--json=figures.json"}), 0);
  EXPECT_FALSE(equals.json.on_stdout());
  EXPECT_EQ(equals.json.path(), "figures.json");
}

TEST(JsonOption, AbsentMeansNeither) {
  BenchLine line;
  ASSERT_EQ(line.Parse({"bench", "replication"}), 0);
  EXPECT_FALSE(line.json.on_stdout());
  EXPECT_EQ(line.json.path(), "");
}

// Every reading command among package, upgrade and features takes `--json`.
TEST(UpgradeCommands, EveryReadingCommandTakesJson) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"package", "list", "--json"},
                                             {"upgrade", "plan", "--to", "2.0.0", "--json"},
                                             {"upgrade", "status", "--json"},
                                             {"upgrade", "status", "--watch", "--json"},
                                             {"features", "--json"}}) {
    CLI::App app{"test"};
    UpgradeCommands commands(app);
    EXPECT_EQ(ParseExitCode(app, args), 0) << args[0] << " " << args[1];
  }
}

}  // namespace
}  // namespace duplex::cli
