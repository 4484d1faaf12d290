#include "replica/client_listener.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/assert.h"
#include "replica/frame.h"

namespace duplex {
namespace {

constexpr int kAcceptsPerPollMax = 64;
// The listener keeps files for the store, ZeroMQ and HTTP beside its connections.
static_assert(ClientListener::kFilesKeptForOthers < ClientListener::kConnectionsMax);
static_assert(kAcceptsPerPollMax > 0 && kAcceptsPerPollMax < ClientListener::kConnectionsMax);

std::string Route(uint64_t id) {
  DUPLEX_ASSERT(id != 0, "connection ids start at 1: IdOf's 0 means no connection", id);
  return std::to_string(id);
}

uint64_t IdOf(const std::string& route) {
  uint64_t id = 0;
  for (char c : route) {
    if (c < '0' || c > '9') return 0;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

}  // namespace

ClientListener::~ClientListener() {
  streams_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status ClientListener::Listen(const std::string& host, int port) {
  DUPLEX_ASSERT(listen_fd_ < 0, "a listener listens once", listen_fd_);
  auto fd = ListenTcp(host, port);
  if (!fd.ok()) return fd.status();
  listen_fd_ = *fd;
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {  // allowed without privileges
      files.rlim_cur = files.rlim_max;
      (void)::setrlimit(RLIMIT_NOFILE, &files);
      (void)::getrlimit(RLIMIT_NOFILE, &files);
    }
    size_t usable = files.rlim_cur > 2 * kFilesKeptForOthers ? files.rlim_cur - kFilesKeptForOthers
                                                             : files.rlim_cur / 2;
    connections_max_ = std::min(limits_.connections_max, usable);
  }
  DUPLEX_ASSERT(listen_fd_ >= 0, "a listener that returned OK listens", listen_fd_);
  DUPLEX_ASSERT(connections_max_ <= limits_.connections_max, "the connection bound only shrinks",
                connections_max_, limits_.connections_max);
  return Status::Ok();
}

void ClientListener::SetLimits(const ClientLimits& limits) {
  DUPLEX_ASSERT(listen_fd_ < 0, "limits are set before the listener listens", listen_fd_);
  DUPLEX_ASSERT(
      limits.connections_max > 0 && limits.idle_timeout_ms > 0 && limits.partial_frame_ms > 0,
      "client limits are positive", limits.connections_max, limits.idle_timeout_ms,
      limits.partial_frame_ms);
  limits_ = limits;
  connections_max_ = limits.connections_max;
}

const char* ClientListener::Expired(Activity& a, const FrameStream& stream, int64_t now_us) {
  if (a.last_frame_us == 0 || stream.frames_read() != a.frames) {
    a.frames = stream.frames_read();
    a.last_frame_us = now_us;
    a.partial_since_us = 0;  // a frame ended: what follows it started now at the earliest
  }
  if (!stream.HasPartialFrame()) {
    a.partial_since_us = 0;
  } else if (a.partial_since_us == 0) {
    a.partial_since_us = now_us;
  }
  if (a.partial_since_us != 0 && now_us - a.partial_since_us >= limits_.partial_frame_ms * 1000) {
    ++limit_counters_.closed_partial;
    return "a frame unfinished for client_partial_frame_ms";
  }
  if (now_us - a.last_frame_us >= limits_.idle_timeout_ms * 1000) {
    ++limit_counters_.closed_idle;
    return "no frame for client_idle_timeout_ms";
  }
  return nullptr;
}

void ClientListener::EnforceLimits(int64_t now_us, const ErrorFn& on_error) {
  // Thousands of connections are walked at most every kEnforceEveryUs, not at every turn
  // of the loop (a turn under load takes microseconds); the bounds are seconds.
  if (now_us - enforced_us_ < kEnforceEveryUs) return;
  enforced_us_ = now_us;
  for (auto it = activity_.begin(); it != activity_.end();) {
    it = streams_.count(it->first) != 0 ? std::next(it) : activity_.erase(it);  // closed
  }
  uint64_t closed = 0;
  for (auto it = streams_.begin(); it != streams_.end();) {
    const char* why = Expired(activity_[it->first], *it->second, now_us);
    if (why == nullptr) {
      ++it;
      continue;
    }
    // One line per turn, not per connection: thousands may expire together.
    if (closed++ == 0) on_error(std::string("client port: closed a connection: ") + why);
    activity_.erase(it->first);
    it = streams_.erase(it);
  }
  if (uint64_t n = EnforceInputBytes(); n > 0) {
    on_error("client port: closed " + std::to_string(n) +
             " connection(s) holding the most unfinished input: above client_input_bytes_max");
  }
  DUPLEX_ASSERT(activity_.size() == streams_.size(), "one activity record per connection",
                activity_.size(), streams_.size());
}

uint64_t ClientListener::EnforceInputBytes() {
  size_t held = 0;
  std::vector<std::pair<size_t, uint64_t>> holders;  // (bytes held, connection id)
  for (const auto& [id, stream] : streams_) {
    held += stream->held_bytes();
    if (stream->held_bytes() > 0) holders.push_back({stream->held_bytes(), id});
  }
  if (held <= limits_.input_bytes_max) return 0;
  std::sort(holders.begin(), holders.end(), std::greater<>());
  uint64_t closed = 0;
  for (const auto& [bytes, id] : holders) {
    if (held <= limits_.input_bytes_max) break;
    held -= bytes;
    activity_.erase(id);
    streams_.erase(id);
    ++closed;
  }
  limit_counters_.closed_input_bytes += closed;
  return closed;
}

void ClientListener::AddPollItems(std::vector<zmq_pollitem_t>* items) {
  const size_t first = items->size();
  items->push_back({nullptr, listen_fd_, ZMQ_POLLIN, 0});
  polled_.clear();
  for (const auto& [id, stream] : streams_) {
    short events = ZMQ_POLLIN | (stream->WantsWrite() ? ZMQ_POLLOUT : 0);
    items->push_back({nullptr, stream->fd(), events, 0});
    polled_.push_back(id);
  }
  // OnPolled reads the same items back: the listening socket, then one per connection.
  DUPLEX_ASSERT(items->size() == first + 1 + polled_.size() && polled_.size() == streams_.size(),
                "one poll item per connection after the listening socket", items->size(), first,
                polled_.size(), streams_.size());
}

void ClientListener::OnPolled(const zmq_pollitem_t* items, const FrameFn& on_frame,
                              const ErrorFn& on_error) {
  for (size_t i = 0; i < polled_.size(); ++i) {
    short revents = items[i + 1].revents;
    auto it = streams_.find(polled_[i]);
    if (it == streams_.end()) continue;  // closed meanwhile
    FrameStream& stream = *it->second;
    DUPLEX_ASSERT(items[i + 1].fd == stream.fd(), "a poll item is read back for its own connection",
                  items[i + 1].fd, stream.fd(), it->first);
    if (revents == 0 && stream.status().ok()) continue;  // (a failed Send leaves it dead)
    if (revents & ZMQ_POLLOUT) stream.Flush();
    // TLS: a handshake's read may be waiting for the socket to take its write.
    if ((revents & (ZMQ_POLLIN | ZMQ_POLLERR)) || (stream.tls() && (revents & ZMQ_POLLOUT))) {
      stream.Read();
      while (stream.status().ok()) {
        auto frame = stream.NextFrame();
        if (!frame) break;
        if (unauthenticated_.count(it->first) != 0) {
          Authenticate(it->first, stream, *frame);
        } else {
          on_frame(Route(it->first), std::move(*frame));
        }
      }
    }
    if (!stream.status().ok()) Close(it, on_error);
  }
  if (items[0].revents & ZMQ_POLLIN) Accept(on_error);
}

void ClientListener::Accept(const ErrorFn& on_error) {
  for (int i = 0; i < kAcceptsPerPollMax; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: no more waiting; anything else: try again next poll
    if (streams_.size() >= connections_max_) {
      ::close(fd);
      ++limit_counters_.refused_full;
      on_error("client port: refused a connection, " + std::to_string(connections_max_) +
               " are open");
      continue;
    }
    auto stream = std::make_unique<FrameStream>(fd, frame_bytes_max_);
    if (access_.tls != nullptr) {
      auto session = TlsSession::Accept(*access_.tls, fd);
      if (!session.ok()) {
        on_error("client port: " + session.status().message());
        continue;  // (the stream closes fd)
      }
      stream->UseTls(std::move(session).value());
    }
    const uint64_t id = next_id_++;
    const bool fresh = streams_.emplace(id, std::move(stream)).second;
    DUPLEX_ASSERT(fresh, "a connection id is never reused", id);
    if (access_.auth_required()) unauthenticated_.insert(id);
    DUPLEX_ASSERT(streams_.size() <= connections_max_, "open connections stay within the bound",
                  streams_.size(), connections_max_);
  }
}

void ClientListener::Close(std::map<uint64_t, std::unique_ptr<FrameStream>>::iterator it,
                           const ErrorFn& on_error) {
  const Status& why = it->second->status();
  DUPLEX_ASSERT(!why.ok(), "only a failed stream is closed", it->first);
  // A client going away is routine; anything else is a malformed stream, worth a refusal.
  if (why.code() != Code::kUnavailable) on_error("client connection: " + why.message());
  if (it->second->tls() != nullptr && why.message().rfind("tls", 0) == 0) {
    Refused("client_tls");  // a failed handshake: no certificate, or one the CA did not sign
  }
  unauthenticated_.erase(it->first);
  streams_.erase(it);
}

void ClientListener::Refused(const char* reason) {
  if (refused_ != nullptr) refused_->Count(reason);
}

void ClientListener::Authenticate(uint64_t id, FrameStream& stream, const std::string& bytes) {
  DUPLEX_ASSERT(unauthenticated_.count(id) == 1, "only a connection yet to AUTH is checked", id);
  auto frame = DecodeFrame(bytes, frame_bytes_max_);
  if (frame.ok()) {
    if (auto* auth = std::get_if<Auth>(&*frame)) {
      // Constant time: the comparison must not tell how much of a guess was right.
      if (!access_.password.empty() && !SecretsEqual(auth->password, access_.password)) {
        Refused("client_password");
        const std::string why = "WRONGPASS invalid password";
        stream.Queue(EncodeFrame(
            ClientReply{auth->client_id, 0, {Code::kFailedPrecondition, why, ""}, 0, ""}));
        return stream.Finish(FailedPrecondition("client AUTH refused: wrong password"));
      }
      unauthenticated_.erase(id);
      return;
    }
  }
  Refused("client_noauth");
  const std::string why = "NOAUTH authentication required: send AUTH first";
  if (frame.ok()) {
    if (auto* request = std::get_if<Request>(&*frame)) {
      stream.Queue(EncodeFrame(ClientReply{
          request->client_id, request->request_seq, {Code::kFailedPrecondition, why, ""}, 0, ""}));
    } else if (auto* admin = std::get_if<AdminRequest>(&*frame)) {
      stream.Queue(EncodeFrame(AdminAnswer(admin->id, Code::kFailedPrecondition, why)));
    }
  }
  stream.Finish(FailedPrecondition("client sent a frame before AUTH"));
}

void ClientListener::Send(const std::string& route, std::string_view frame) {
  auto it = streams_.find(IdOf(route));
  if (it == streams_.end()) return;
  if (!it->second->WantsWrite()) unflushed_.push_back(it->first);
  it->second->Queue(frame);
}

void ClientListener::Flush() {
  for (uint64_t id : unflushed_) {
    // A failed write leaves the stream dead; OnPolled closes it at the next poll.
    if (auto it = streams_.find(id); it != streams_.end()) it->second->Flush();
  }
  unflushed_.clear();
}

}  // namespace duplex
