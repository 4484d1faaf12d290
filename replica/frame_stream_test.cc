#include "replica/frame_stream.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "common/net.h"
#include "replica/client_listener.h"

namespace duplex {
namespace {

constexpr size_t kMax = 1 << 10;
constexpr int kTimeoutMs = 2000;

std::string Prefix(uint32_t n) {
  uint32_t be = htonl(n);
  return std::string(reinterpret_cast<const char*>(&be), 4);
}

// Two connected stream sockets: a FrameStream on one end, raw bytes on the other.
struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    stream = std::make_unique<FrameStream>(fds[0], kMax, /*output_bytes_max=*/4 * kMax);
    raw = fds[1];
  }
  ~Pair() {
    if (raw >= 0) ::close(raw);
  }
  void Write(const std::string& bytes) const {
    ASSERT_EQ(::write(raw, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  std::unique_ptr<FrameStream> stream;
  int raw = -1;
};

// Polls cond (which may read from a stream) until it holds, at most kTimeoutMs.
bool Eventually(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(FrameStream, FramesQueuedTogetherArriveWholeAndInOrder) {
  Pair a;
  FrameStream out(::dup(a.raw), kMax);
  out.Queue("one");
  out.Queue("");
  out.Queue(std::string(kMax, 'x'));
  EXPECT_TRUE(out.WantsWrite());
  out.Flush();
  EXPECT_FALSE(out.WantsWrite());
  std::vector<std::string> got;
  ASSERT_TRUE(Eventually([&] {
    a.stream->Read();
    while (auto f = a.stream->NextFrame()) got.push_back(*f);
    return got.size() == 3;
  }));
  EXPECT_EQ(got, (std::vector<std::string>{"one", "", std::string(kMax, 'x')}));
  EXPECT_TRUE(a.stream->status().ok()) << a.stream->status().ToString();
}

TEST(FrameStream, AFrameSplitAcrossReadsIsReassembled) {
  Pair p;
  std::vector<std::string> got;
  for (const std::string& frame : {Prefix(5) + "hello", Prefix(2) + "ok"}) {
    for (size_t i = 0; i < frame.size(); ++i) {
      p.Write(frame.substr(i, 1));  // a socketpair: readable as soon as written
      p.stream->Read();
      auto f = p.stream->NextFrame();
      EXPECT_EQ(f.has_value(), i + 1 == frame.size()) << "after byte " << i;
      if (f) got.push_back(*f);
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{"hello", "ok"}));
}

TEST(FrameStream, ALengthAboveTheLimitKillsTheStreamAndSaysWhy) {
  Pair p;
  p.Write(Prefix(kMax + 1) + "abc");
  p.stream->Read();
  EXPECT_FALSE(p.stream->NextFrame().has_value());
  EXPECT_EQ(p.stream->status().code(), Code::kInvalidArgument);
  EXPECT_EQ(p.stream->status().message(), "frame length 1025 is above max_frame_bytes 1024");
  p.Write(Prefix(1) + "x");  // nothing more is read from a dead stream
  p.stream->Read();
  EXPECT_FALSE(p.stream->NextFrame().has_value());
}

TEST(FrameStream, FramesBeforeThePeerClosedAreStillHandedOut) {
  Pair p;
  p.Write(Prefix(3) + "bye");
  ::close(p.raw);
  p.raw = -1;
  p.stream->Read();  // the frame; the end of the stream shows on the next read
  p.stream->Read();
  EXPECT_EQ(p.stream->status().code(), Code::kUnavailable);
  EXPECT_EQ(p.stream->status().message(), "connection closed by the peer");
  auto f = p.stream->NextFrame();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(*f, "bye");
}

TEST(FrameStream, RefusesToSendAFrameAboveTheLimit) {
  Pair p;
  p.stream->Send(std::string(kMax + 1, 'x'));
  EXPECT_EQ(p.stream->status().code(), Code::kInvalidArgument);
  EXPECT_EQ(p.stream->status().message(), "frame of 1025 bytes is above max_frame_bytes 1024");
}

TEST(FrameStream, APeerThatDoesNotReadIsCutOffAtTheOutputBound) {
  Pair p;  // output_bytes_max is 4 KB; the socket's own buffer takes some first
  for (int i = 0; i < 100000 && p.stream->status().ok(); ++i)
    p.stream->Send(std::string(kMax, 'y'));
  EXPECT_EQ(p.stream->status().code(), Code::kFailedPrecondition);
  EXPECT_NE(p.stream->status().message().find("the peer does not read"), std::string::npos)
      << p.stream->status().message();
}

TEST(FrameStream, EndpointsMustBeTcpHostPort) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(ParseTcpEndpoint("tcp://127.0.0.1:7412", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7412);
  // An IPv6 address in brackets, as TcpEndpoint writes it; a name as it is.
  EXPECT_TRUE(ParseTcpEndpoint("tcp://[::1]:7412", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_TRUE(ParseTcpEndpoint("tcp://localhost:7412", &host, &port).ok());
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(ParseTcpEndpoint("udp://127.0.0.1:1", &host, &port).message(),
            "endpoint \"udp://127.0.0.1:1\" is not tcp://host:port");
  EXPECT_EQ(ParseTcpEndpoint("tcp://127.0.0.1", &host, &port).message(),
            "endpoint \"tcp://127.0.0.1\" is not tcp://host:port");
  EXPECT_EQ(ParseTcpEndpoint("tcp://127.0.0.1:0", &host, &port).message(),
            "endpoint \"tcp://127.0.0.1:0\": bad port");
  EXPECT_EQ(ParseTcpEndpoint("tcp://127.0.0.1:7x", &host, &port).message(),
            "endpoint \"tcp://127.0.0.1:7x\": bad port");
  EXPECT_EQ(ConnectTcp("tcp://300.1.1.1:1", 100)
                .status()
                .message()
                .rfind("connect 300.1.1.1:1: 300.1.1.1: not an address or a known host name", 0),
            0u);
}

TEST(FrameStream, ConnectingWhereNothingListensFailsAtOnceNamingTheEndpoint) {
  std::string endpoint = TcpEndpoint("127.0.0.1", PickFreePort());
  auto fd = ConnectTcp(endpoint, kTimeoutMs);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().message(),
            "connect " + endpoint.substr(std::string("tcp://").size()) + ": Connection refused");
}

// The listener as the replica's event loop drives it: poll, frames in, replies out.
class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = PickFreePort();
    ASSERT_TRUE(listener_.Listen("127.0.0.1", port_).ok());
  }
  // One turn of the loop.
  void Turn() {
    std::vector<zmq_pollitem_t> items;
    listener_.AddPollItems(&items);
    zmq_poll(items.data(), static_cast<int>(items.size()), 1);
    listener_.OnPolled(
        items.data(),
        [&](const std::string& route, std::string f) { frames_.emplace_back(route, f); },
        [&](const std::string& why) { errors_.push_back(why); });
    listener_.Flush();
  }
  std::unique_ptr<FrameStream> Connect() {
    auto fd = ConnectTcp(TcpEndpoint("127.0.0.1", port_), kTimeoutMs);
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    return std::make_unique<FrameStream>(*fd, kMax);
  }

  int port_ = 0;
  ClientListener listener_{kMax};
  std::vector<std::pair<std::string, std::string>> frames_;
  std::vector<std::string> errors_;
};

TEST_F(ListenerTest, AnswersEachConnectionOnItsOwnRoute) {
  auto a = Connect();
  auto b = Connect();
  a->Send("from a");
  b->Send("from b");
  ASSERT_TRUE(Eventually([&] {
    Turn();
    return frames_.size() == 2;
  }));
  EXPECT_EQ(listener_.connections(), 2u);
  for (const auto& [route, frame] : frames_) listener_.Send(route, "re: " + frame);
  listener_.Send("no such route", "dropped");
  listener_.Flush();
  for (auto* s : {a.get(), b.get()}) {
    std::optional<std::string> reply;
    ASSERT_TRUE(Eventually([&] {
      s->Read();
      reply = s->NextFrame();
      return reply.has_value();
    }));
    EXPECT_EQ(*reply, s == a.get() ? "re: from a" : "re: from b");
  }
  EXPECT_TRUE(errors_.empty());
}

TEST_F(ListenerTest, ClosesAConnectionThatBreaksTheFramingAndKeepsTheOthers) {
  auto good = Connect();
  auto bad = Connect();
  ASSERT_TRUE(Eventually([&] {
    Turn();
    return listener_.connections() == 2;
  }));
  ASSERT_EQ(::write(bad->fd(), Prefix(kMax + 1).data(), 4), 4);
  ASSERT_TRUE(Eventually([&] {
    Turn();
    return listener_.connections() == 1;
  }));
  EXPECT_EQ(errors_, (std::vector<std::string>{
                         "client connection: frame length 1025 is above max_frame_bytes 1024"}));
  good->Send("still here");
  ASSERT_TRUE(Eventually([&] {
    Turn();
    return frames_.size() == 1;
  }));
  EXPECT_EQ(frames_[0].second, "still here");
  // A client that goes away is routine: no error.
  good.reset();
  ASSERT_TRUE(Eventually([&] {
    Turn();
    return listener_.connections() == 0;
  }));
  EXPECT_EQ(errors_.size(), 1u);
}

// The client port's bounds (limits.client_*), driven with a hand-held clock.
class BoundedListenerTest : public ::testing::Test {
 protected:
  static constexpr int64_t kIdleMs = 1000;
  static constexpr int64_t kPartialMs = 300;
  static constexpr size_t kInputBytesMax = 300;  // unfinished frames, all connections
  void SetUp() override {
    port_ = PickFreePort();
    listener_.SetLimits({/*connections_max=*/2, kIdleMs, kPartialMs, kInputBytesMax});
    ASSERT_TRUE(listener_.Listen("127.0.0.1", port_).ok());
  }
  // One turn of the loop at now_us_.
  void Turn() {
    std::vector<zmq_pollitem_t> items;
    listener_.AddPollItems(&items);
    zmq_poll(items.data(), static_cast<int>(items.size()), 1);
    auto on_error = [&](const std::string& why) { errors_.push_back(why); };
    listener_.OnPolled(
        items.data(), [&](const std::string&, std::string f) { frames_.push_back(f); }, on_error);
    listener_.EnforceLimits(now_us_, on_error);
  }
  // Turns the loop until cond holds (bounded), the clock standing still.
  bool TurnUntil(const std::function<bool()>& cond) {
    return Eventually([&] {
      Turn();
      return cond();
    });
  }
  void Advance(int64_t ms) {
    now_us_ += ms * 1000;
    Turn();
  }
  std::unique_ptr<FrameStream> Connect() {
    auto fd = ConnectTcp(TcpEndpoint("127.0.0.1", port_), kTimeoutMs);
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    return std::make_unique<FrameStream>(*fd, kMax);
  }
  // The peer closed it: a read says so.
  static bool Closed(FrameStream& s) {
    s.Read();
    return !s.status().ok();
  }

  int port_ = 0;
  int64_t now_us_ = 1000000;
  ClientListener listener_{kMax};
  std::vector<std::string> frames_;
  std::vector<std::string> errors_;
};

TEST_F(BoundedListenerTest, AConnectionWithNoFrameForTheIdleTimeoutIsClosedAndABusyOneKept) {
  auto idle = Connect();
  auto busy = Connect();
  ASSERT_TRUE(TurnUntil([&] { return listener_.connections() == 2; }));
  Advance(kIdleMs / 2);
  busy->Send("still here");
  ASSERT_TRUE(TurnUntil([&] { return frames_.size() == 1; }));
  Advance(kIdleMs / 2 + 20);  // the idle one's timeout has passed, not the busy one's
  EXPECT_EQ(listener_.connections(), 1u);
  EXPECT_EQ(listener_.limit_counters().closed_idle, 1u);
  EXPECT_TRUE(Eventually([&] { return Closed(*idle); }));
  EXPECT_FALSE(Closed(*busy));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0], "client port: closed a connection: no frame for client_idle_timeout_ms");
  Advance(kIdleMs);
  EXPECT_EQ(listener_.connections(), 0u);
  EXPECT_EQ(listener_.limit_counters().closed_idle, 2u);
}

TEST_F(BoundedListenerTest, AFrameLeftUnfinishedPastItsBoundClosesTheConnection) {
  auto slow = Connect();
  ASSERT_TRUE(TurnUntil([&] { return listener_.connections() == 1; }));
  const std::string frame = Prefix(100) + std::string(50, 'x');  // half of a 100-byte frame
  ASSERT_EQ(::write(slow->fd(), frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  ASSERT_TRUE(TurnUntil([&] { return frames_.empty() && listener_.connections() == 1; }));
  Advance(10);
  Advance(kPartialMs / 2);
  EXPECT_EQ(listener_.connections(), 1u);
  Advance(kPartialMs / 2 + 10);
  EXPECT_EQ(listener_.connections(), 0u);
  EXPECT_EQ(listener_.limit_counters().closed_partial, 1u);
  EXPECT_EQ(listener_.limit_counters().closed_idle, 0u);
  EXPECT_TRUE(frames_.empty());
}

TEST_F(BoundedListenerTest, UnfinishedFramesAboveTheTotalBoundCloseTheConnectionHoldingTheMost) {
  auto small = Connect();
  auto large = Connect();
  ASSERT_TRUE(TurnUntil([&] { return listener_.connections() == 2; }));
  // Neither is above the bound alone, and neither is slow yet: together they are above it.
  const std::string part_small = Prefix(250) + std::string(100, 's');
  const std::string part_large = Prefix(1000) + std::string(200, 'l');
  ASSERT_EQ(::write(small->fd(), part_small.data(), part_small.size()),
            static_cast<ssize_t>(part_small.size()));
  ASSERT_TRUE(TurnUntil([&] { return errors_.empty() && listener_.connections() == 2; }));
  ASSERT_EQ(::write(large->fd(), part_large.data(), part_large.size()),
            static_cast<ssize_t>(part_large.size()));
  // The bound is enforced every 10 ms of the loop's clock: a few turns, far from kPartialMs.
  for (int turn = 0; turn < 20 && listener_.connections() == 2; ++turn) Advance(11);
  ASSERT_EQ(listener_.connections(), 1u);
  EXPECT_EQ(listener_.limit_counters().closed_input_bytes, 1u);
  EXPECT_EQ(listener_.limit_counters().closed_partial, 0u);
  EXPECT_TRUE(Eventually([&] { return Closed(*large); }));
  EXPECT_FALSE(Closed(*small));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0],
            "client port: closed 1 connection(s) holding the most unfinished input: above "
            "client_input_bytes_max");
  // The one kept completes its frame (254 bytes held at most: under the bound) and is served.
  const std::string rest(150, 's');
  ASSERT_EQ(::write(small->fd(), rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  ASSERT_TRUE(TurnUntil([&] { return frames_.size() == 1; }));
  EXPECT_EQ(frames_[0].size(), 250u);
}

TEST_F(BoundedListenerTest, ConnectionsPastTheLimitAreClosedAtAcceptAndCounted) {
  auto a = Connect();
  auto b = Connect();
  ASSERT_TRUE(TurnUntil([&] { return listener_.connections() == 2; }));
  auto c = Connect();
  ASSERT_TRUE(TurnUntil([&] { return listener_.limit_counters().refused_full == 1; }));
  EXPECT_EQ(listener_.connections(), 2u);
  EXPECT_TRUE(Eventually([&] { return Closed(*c); }));
  a->Send("served");
  ASSERT_TRUE(TurnUntil([&] { return frames_.size() == 1; }));
}

}  // namespace
}  // namespace duplex
