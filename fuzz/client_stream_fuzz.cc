// Fuzzes the client port's framing (replica/frame_stream.h): the 4-byte length prefixes a
// client sends, arriving in pieces, then each frame through DecodeFrame, as the replica's event
// loop reads them. The first byte picks the frame size limit and the size of the pieces; the
// rest is what the client sent, written into one end of a socket pair read by a FrameStream.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "replica/frame.h"
#include "replica/frame_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t frame_bytes_max = size_t{16} << (data[0] & 7);    // 16 B .. 2 KiB
  const size_t piece_bytes = size_t{1} << ((data[0] >> 3) & 7);  // 1 .. 128 B at a time
  int fds[2];
  DUPLEX_ASSERT(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "a socket pair");
  duplex::FrameStream stream(fds[0], frame_bytes_max);
  size_t handed_out = 0;
  for (size_t at = 1; at < size && stream.status().ok(); at += piece_bytes) {
    const size_t n = std::min(piece_bytes, size - at);
    DUPLEX_ASSERT(::write(fds[1], data + at, n) == static_cast<ssize_t>(n), "the piece is sent");
    stream.Read();
    while (auto frame = stream.NextFrame()) {
      DUPLEX_ASSERT(frame->size() <= frame_bytes_max, "a frame above the limit was handed out",
                    frame->size(), frame_bytes_max);
      handed_out += 4 + frame->size();
      (void)duplex::DecodeFrame(*frame, frame_bytes_max);
    }
  }
  DUPLEX_ASSERT(handed_out <= size - 1, "more bytes handed out than were sent", handed_out, size);
  ::close(fds[1]);
  stream.Read();
  DUPLEX_ASSERT(!stream.status().ok(), "a closed connection leaves the stream dead");
  return 0;
}
