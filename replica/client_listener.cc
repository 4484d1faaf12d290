#include "replica/client_listener.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/assert.h"

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
  DUPLEX_ASSERT(activity_.size() == streams_.size(), "one activity record per connection",
                activity_.size(), streams_.size());
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
    if (revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
      stream.Read();
      while (auto frame = stream.NextFrame()) on_frame(Route(it->first), std::move(*frame));
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
    const bool fresh =
        streams_.emplace(next_id_++, std::make_unique<FrameStream>(fd, frame_bytes_max_)).second;
    DUPLEX_ASSERT(fresh, "a connection id is never reused", next_id_ - 1);
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
  streams_.erase(it);
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
