#include "replica/frame_envelope.h"

#include <cstring>

#include "common/checksum.h"

namespace duplex {

std::string SealEnvelope(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  std::string out(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  uint64_t sum = Checksum64(out);
  out.append(reinterpret_cast<const char*>(&sum), sizeof(sum));
  return out;
}

Status OpenEnvelope(std::string_view bytes, size_t bytes_max, const std::string& what,
                    const std::function<Status(capnp::MessageReader&)>& read) {
  if (bytes.size() > bytes_max) {
    return Corruption(what + " of " + std::to_string(bytes.size()) +
                      " bytes exceeds the limit of " + std::to_string(bytes_max));
  }
  if (bytes.size() < 2 * sizeof(capnp::word) || bytes.size() % sizeof(capnp::word) != 0) {
    return Corruption(what + " of " + std::to_string(bytes.size()) +
                      " bytes is not a whole number of 8-byte words and a checksum");
  }
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + bytes.size() - sizeof(sum), sizeof(sum));
  bytes.remove_suffix(sizeof(sum));
  if (Checksum64(bytes) != sum) {
    return Corruption(what + " checksum mismatch (corrupted in flight)");
  }
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  // Reading more words than the frame holds means amplification (shared pointers): refuse.
  options.traversalLimitInWords = words.size() * 2 + 64;
  options.nestingLimit = 16;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    return read(reader);
  } catch (const kj::Exception& e) {
    return Corruption("malformed " + what + ": " + e.getDescription().cStr());
  }
}

}  // namespace duplex
