// The HTTP body bounds on a real httplib server on loopback: a body above the bound is
// answered 413 before any handler runs and counted; a large-body path takes the larger one.
#include "replica/http_limits.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "common/net.h"

namespace duplex {
namespace {

class HttpLimitsTest : public ::testing::Test {
 protected:
  void Serve(const HttpBodyLimits& limits) {
    server_.set_pre_routing_handler(ApplyHttpBodyLimits(server_, limits, &refused_));
    auto echo = [this](const httplib::Request& req, httplib::Response& res) {
      ++handled_;
      res.set_content(std::to_string(req.body.size()), "text/plain");
    };
    server_.Post("/small", echo);
    server_.Post("/packages", echo);
    port_ = PickFreePort();
    ASSERT_TRUE(server_.bind_to_port("127.0.0.1", port_));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~HttpLimitsTest() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int Post(const std::string& path, size_t bytes) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    auto res = client.Post(path, std::string(bytes, 'x'), "application/octet-stream");
    return res ? res->status : -1;
  }

  httplib::Server server_;
  std::thread thread_;
  std::atomic<uint64_t> refused_{0};
  std::atomic<int> handled_{0};
  int port_ = 0;
};

TEST_F(HttpLimitsTest, ABodyAboveTheBoundIsRefusedWith413AndCounted) {
  Serve({1000, 0, {}});
  EXPECT_EQ(Post("/small", 1000), 200);
  EXPECT_EQ(Post("/small", 1001), 413);
  EXPECT_EQ(Post("/packages", 5000), 413);
  EXPECT_EQ(refused_.load(), 2u);
  EXPECT_EQ(handled_.load(), 1);
}

TEST_F(HttpLimitsTest, ALargeBodyPathTakesTheLargerBoundAndTheOthersKeepTheirs) {
  Serve({1000, 100000, {"/packages"}});
  EXPECT_EQ(Post("/packages", 50000), 200);
  EXPECT_EQ(Post("/packages", 100001), 413);
  EXPECT_EQ(Post("/small", 1001), 413);
  EXPECT_EQ(Post("/small", 10), 200);
  EXPECT_EQ(refused_.load(), 2u);
  EXPECT_EQ(handled_.load(), 2);
}

}  // namespace
}  // namespace duplex
