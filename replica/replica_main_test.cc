// The replica's flags as ReplicaMain reads them: --coordinator names one coordinator or
// several, and a bad list is refused before anything starts; a token file others may read
// is refused too.
#include "replica/replica_main.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "examples/kv/kv_processor.h"
#include "replica/daemon.h"

namespace duplex {
namespace {

TEST(CoordinatorFlag, OneEndpointIsAListOfOne) {
  auto endpoints = ParseCoordinatorEndpoints("tcp://127.0.0.1:7401");
  ASSERT_TRUE(endpoints.ok()) << endpoints.status().ToString();
  EXPECT_EQ(*endpoints, std::vector<std::string>{"tcp://127.0.0.1:7401"});
}

TEST(CoordinatorFlag, ACommaSeparatedListNamesEveryCoordinatorInOrder) {
  auto endpoints =
      ParseCoordinatorEndpoints("tcp://127.0.1.1:7401,tcp://127.0.2.1:7401,tcp://h3.lab:7401");
  ASSERT_TRUE(endpoints.ok()) << endpoints.status().ToString();
  EXPECT_EQ(*endpoints, (std::vector<std::string>{"tcp://127.0.1.1:7401", "tcp://127.0.2.1:7401",
                                                  "tcp://h3.lab:7401"}));
}

TEST(CoordinatorFlag, ABadListIsRefusedNamingTheBadItem) {
  struct Case {
    std::string list;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "--coordinator: item 1 is empty (a stray comma?)"},
      {"tcp://127.0.1.1:7401,", "--coordinator: item 2 is empty (a stray comma?)"},
      {"tcp://127.0.1.1:7401,,tcp://127.0.2.1:7401", "--coordinator: item 2 is empty"},
      {"127.0.1.1:7401", "--coordinator: item 1: '127.0.1.1:7401' is not tcp://host:port"},
      {"tcp://127.0.1.1", "'tcp://127.0.1.1' is not tcp://host:port"},
      {"tcp://:7401", "'tcp://:7401' is not tcp://host:port"},
      {"tcp://127.0.1.1:", "'tcp://127.0.1.1:' is not tcp://host:port"},
      {"ipc://x:1", "'ipc://x:1' is not tcp://host:port"},
      {"tcp://127.0.1.1:74o1", "'tcp://127.0.1.1:74o1' has no port number after the host"},
      {"tcp://127.0.1.1:70000", "'tcp://127.0.1.1:70000': 70000 is not a port (1..65535)"},
      {"tcp://127.0.1.1:0", "0 is not a port (1..65535)"},
      {"tcp://127.0.1.1:0;127.0.2.1:7401", "has a bad host '127.0.1.1:0;127.0.2.1'"},
      {"tcp://a b:7401", "has a bad host 'a b'"},
      {"tcp://127.0.1.1:7401, tcp://127.0.2.1:7401", "item 2: ' tcp://127.0.2.1:7401' is not"},
      {"tcp://127.0.1.1:7401,tcp://127.0.1.1:7401",
       "--coordinator: tcp://127.0.1.1:7401 is listed twice"},
  };
  for (const Case& c : cases) {
    auto endpoints = ParseCoordinatorEndpoints(c.list);
    ASSERT_FALSE(endpoints.ok()) << "'" << c.list << "' was taken";
    EXPECT_EQ(endpoints.status().code(), Code::kInvalidArgument) << c.list;
    EXPECT_NE(endpoints.status().message().find(c.error), std::string::npos)
        << "'" << c.list << "': " << endpoints.status().message();
  }
}

TEST(CoordinatorFlag, MoreCoordinatorsThanTheBoundAreRefused) {
  std::string list;
  for (size_t i = 1; i <= kCoordinatorEndpointsMax + 1; ++i) {
    list += (list.empty() ? "" : ",") + std::string("tcp://127.0.") + std::to_string(i) + ".1:7401";
  }
  auto endpoints = ParseCoordinatorEndpoints(list);
  ASSERT_FALSE(endpoints.ok());
  EXPECT_EQ(
      endpoints.status().message(),
      "--coordinator: more than " + std::to_string(kCoordinatorEndpointsMax) + " coordinators");
}

// ReplicaMain with a store that cannot be opened and `flags` after the common ones: its exit
// code and what it wrote on stderr.
struct MainExit {
  int code;
  std::string err;
};
MainExit RunReplicaMain(const std::vector<std::string>& flags) {
  std::vector<std::string> args = {"kv",
                                   "--name",
                                   "a",
                                   "--port",
                                   "1",
                                   "--client-port",
                                   "2",
                                   "--http-port",
                                   "3",
                                   "--data-dir",
                                   "/nonexistent/never-created"};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStderr();
  int code = ReplicaMain(static_cast<int>(argv.size()), argv.data(), kv::MakeKvProcessor("1.0.0"));
  return {code, ::testing::internal::GetCapturedStderr()};
}

// The process exits with 2 and says why on stderr, before it opens a store or a socket.
TEST(ReplicaMainFlags, ABadCoordinatorListStopsTheReplicaBeforeItStarts) {
  MainExit run = RunReplicaMain({"--coordinator", "tcp://127.0.1.1:7401,,tcp://127.0.2.1:7401"});
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("replica a not started: --coordinator: item 2 is empty"),
            std::string::npos)
      << run.err;
}

// The HTTP port's token file is read like every secret: readable by others, it is refused,
// naming the flag and the file, before anything binds.
TEST(ReplicaMainFlags, AnAdminTokenFileOthersMayReadStopsTheReplica) {
  const std::string token = ::testing::TempDir() + "replica-main-test-admin.token";
  std::ofstream(token) << "secret\n";
  std::filesystem::permissions(token, std::filesystem::perms::owner_read |
                                          std::filesystem::perms::owner_write |
                                          std::filesystem::perms::group_read);
  MainExit run = RunReplicaMain({"--coordinator", "tcp://127.0.0.1:7401", "--admin-token-file",
                                 token, "--open-health", "false"});
  std::filesystem::remove(token);
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("replica a not started"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--admin-token-file"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(token), std::string::npos) << run.err;
}

}  // namespace
}  // namespace duplex
