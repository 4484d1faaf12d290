#include "cli/check_history_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace duplex::cli {
namespace {

namespace fs = std::filesystem;

// Tests run from the source tree (duplex_test's working directory).
const std::string kTestdata = "tests/testdata/linearizability/";

struct CommandRun {
  int code;
  std::string out, err;
  std::string LastLine() const {
    std::string text = out;
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text.substr(text.rfind('\n') + 1);
  }
};

CommandRun Check(const std::string& file, const std::string& model, int64_t timeout_ms = 10000,
                 bool json = false) {
  std::ostringstream out, err;
  const int code = RunCheckHistory({file, model, timeout_ms, json}, out, err);
  return {code, out.str(), err.str()};
}

class TempFile {
 public:
  explicit TempFile(const std::string& text)
      : path_(fs::temp_directory_path() / ("check_history_test_" + std::to_string(getpid()) + "_" +
                                           std::to_string(counter_++) + ".jsonl")) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string Line(const char* type, int client, const char* op, const std::string& rest,
                 int64_t t_us) {
  return std::string(R"({"type":")") + type + R"(","client":)" + std::to_string(client) +
         R"(,"op":")" + op + R"(","key":"hot-0",)" + rest + R"("t_us":)" + std::to_string(t_us) +
         "}\n";
}

TEST(CheckHistoryCommand, JepsenLogsEndWithTheirVerdict) {
  const CommandRun bad = Check(kTestdata + "jepsen-etcd/etcd_000.log", "cas-register");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_EQ(bad.LastLine(), "not linearizable");
  EXPECT_NE(bad.out.find("None of these can follow it:"), std::string::npos) << bad.out;
  const CommandRun good = Check(kTestdata + "jepsen-etcd/etcd_002.log", "cas-register");
  EXPECT_EQ(good.code, 0) << good.err;
  EXPECT_EQ(good.LastLine(), "linearizable");
  EXPECT_EQ(Check(kTestdata + "kv/c10-ok.txt", "kv-append").code, 0);
  EXPECT_EQ(Check(kTestdata + "kv/c10-bad.txt", "kv-append").code, 1);
}

TEST(CheckHistoryCommand, ReadsDuplexHistoryLines) {
  const std::string put = Line("invoke", 1, "PUT", R"("args":["7"],)", 10) +
                          Line("ok", 1, "PUT", R"("value":"OK",)", 20);
  TempFile good(put + Line("invoke", 2, "GET", "", 30) +
                Line("ok", 2, "GET", R"("value":"7",)", 40));
  EXPECT_EQ(Check(good.path(), "duplex-kv").code, 0);
  TempFile stale(put + Line("invoke", 2, "GET", "", 30) +
                 Line("ok", 2, "GET", R"("absent":true,)", 40));
  const CommandRun run = Check(stale.path(), "duplex-kv");
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.out.find("client 2: GET -> not found"), std::string::npos) << run.out;

  const CommandRun json = Check(stale.path(), "duplex-kv", 10000, true);
  EXPECT_EQ(json.code, 1);
  const auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["verdict"], "not linearizable");
  EXPECT_EQ(parsed["failed"][0]["key"], "hot-0");
  EXPECT_EQ(parsed["failed"][0]["cannot_follow"][0]["absent"], true);
}

TEST(CheckHistoryCommand, UndecidedInTimeIsUnknownWithStatus3) {
  // Writes all overlapping, each read back, and then a value nobody wrote.
  std::string text;
  for (int i = 0; i < 16; ++i) {
    text += Line("invoke", i, "PUT", R"("args":[")" + std::to_string(i) + R"("],)", i);
    text += Line("invoke", 100 + i, "GET", "", 2 * i + 1);
  }
  for (int i = 0; i < 16; ++i) {
    text += Line("ok", i, "PUT", R"("value":"OK",)", 1000 + i);
    text += Line("ok", 100 + i, "GET", R"("value":")" + std::to_string(i) + R"(",)", 1100 + i);
  }
  text += Line("invoke", 999, "GET", "", 2000) + Line("ok", 999, "GET", R"("value":"none",)", 2001);
  TempFile hard(text);
  const CommandRun run = Check(hard.path(), "duplex-kv", 1);
  EXPECT_EQ(run.code, 3) << run.out;
  EXPECT_EQ(run.LastLine(), "unknown");
  EXPECT_NE(run.out.find("key \"hot-0\": not decided within the time bound (33 operations)"),
            std::string::npos)
      << run.out;
}

TEST(CheckHistoryCommand, UsageAndParseErrorsExit2NamingWhatWasWrong) {
  const CommandRun model = Check(kTestdata + "kv/c01-ok.txt", "register");
  EXPECT_EQ(model.code, 2);
  EXPECT_NE(model.err.find("--model: unknown model \"register\""), std::string::npos) << model.err;
  const CommandRun missing = Check("/nonexistent/h.jsonl", "duplex-kv");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/h.jsonl"), std::string::npos) << missing.err;
  TempFile broken(Line("invoke", 1, "GET", "", 1) + "{\"type\":\"ok\"}\n");
  const CommandRun parse = Check(broken.path(), "duplex-kv");
  EXPECT_EQ(parse.code, 2);
  EXPECT_NE(parse.err.find(broken.path() + ": line 2: lacks \"client\""), std::string::npos)
      << parse.err;
  EXPECT_TRUE(parse.out.empty());
}

}  // namespace
}  // namespace duplex::cli
