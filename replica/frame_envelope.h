// The envelope every Cap'n Proto frame of duplex travels in: the flat message, then a
// 64-bit checksum (Cap'n Proto decodes a flipped byte inside a value as a valid, different
// value). Opening one checks size, word alignment and checksum, and reads with traversal
// and nesting limits, so hostile bytes become a Corruption naming what was wrong. Used by
// replica frames (frame.h) and agent frames (upgrade_coordinator/agent/agent_protocol.h).
// Stateless and thread-safe.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace duplex {

std::string SealEnvelope(capnp::MessageBuilder& message);

// Checks the envelope of `bytes` ("<what> of N bytes exceeds the limit", "... checksum
// mismatch") and calls read on its message; a decoding exception is "malformed <what>: ...".
Status OpenEnvelope(std::string_view bytes, size_t bytes_max, const std::string& what,
                    const std::function<Status(capnp::MessageReader&)>& read);

}  // namespace duplex
