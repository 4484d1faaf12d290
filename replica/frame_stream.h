// FrameStream: one non-blocking TCP connection of the client data plane, carrying
// length-prefixed frames (a 4-byte big-endian length, then that many bytes: an encoded
// Frame, replica/frame.h). The replica's event loop serves clients over these directly,
// with no ZeroMQ I/O thread between the socket and the loop. One thread owns a stream.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "replica/tls.h"

namespace duplex {

class FrameStream {
 public:
  // Takes ownership of fd (made non-blocking here). Frames above frame_bytes_max, in
  // either direction, are errors; so is more than output_bytes_max of unsent output (a
  // peer that does not read its replies).
  FrameStream(int fd, size_t frame_bytes_max, size_t output_bytes_max = 64 << 20);
  ~FrameStream();
  FrameStream(const FrameStream&) = delete;
  FrameStream& operator=(const FrameStream&) = delete;

  int fd() const { return fd_; }
  // From now on the stream's bytes go through `session` (TLS over fd), its handshake driven
  // by Read and Flush. Call before the first Read or Send.
  void UseTls(std::unique_ptr<TlsSession> session);
  const TlsSession* tls() const { return tls_.get(); }
  // The first error the stream met (a broken connection, a bad length prefix); once it
  // is not OK the stream is dead: Send and Read do nothing more.
  const Status& status() const { return status_; }

  // Queues a frame and writes whatever the socket takes at once.
  void Send(std::string_view payload) {
    Queue(payload);
    Flush();
  }
  // Queues a frame for the next Flush: frames queued together leave in one write.
  void Queue(std::string_view payload);
  // Writes queued output; call when the socket is writable.
  void Flush();
  // Output is waiting, or TLS must write before it can read on (a handshake message).
  bool WantsWrite() const { return sent_ < out_.size() || read_wants_write_; }

  // Flushes what the socket takes of the queued output, then marks the stream dead with
  // `why` (a refusal answered before the connection is dropped).
  void Finish(Status why);

  // Reads what the socket has (bounded per call), then NextFrame() hands out the frames.
  // The peer closing the connection makes status() Unavailable.
  void Read();
  std::optional<std::string> NextFrame();
  // Frames handed out by NextFrame so far, and whether part of the next one has arrived:
  // what the listener's idle and partial-frame bounds watch.
  uint64_t frames_read() const { return frames_read_; }
  bool HasPartialFrame() const { return in_.size() > consumed_; }
  // Input read and not yet handed out as frames.
  size_t held_bytes() const { return in_.size() - consumed_; }

 private:
  void Fail(Status s);
  // One read or write of the socket, through TLS when in use: bytes moved, 0 when the socket
  // would block, -1 after Fail.
  long ReadSome(char* buffer, size_t size);
  long WriteSome(const char* data, size_t size);

  int fd_;
  size_t frame_bytes_max_;
  size_t output_bytes_max_;
  Status status_;
  std::string in_;
  size_t consumed_ = 0;  // bytes of in_ already handed out as frames
  uint64_t frames_read_ = 0;
  std::string out_;
  size_t sent_ = 0;                  // bytes of out_ already written
  std::unique_ptr<TlsSession> tls_;  // null: plain TCP
  bool read_wants_write_ = false;    // TLS: the last read needs the socket writable
};

// Parses "tcp://host:port" (the form every endpoint in duplex has).
Status ParseTcpEndpoint(const std::string& endpoint, std::string* host, int* port);
// A connected, non-blocking socket to endpoint, or why not within timeout_ms.
StatusOr<int> ConnectTcp(const std::string& endpoint, int timeout_ms,
                         const std::string& source_address = "");
// A listening, non-blocking socket on host:port.
StatusOr<int> ListenTcp(const std::string& host, int port);

}  // namespace duplex
