// Pieces shared by the kv versions' processors, private to examples/kv: answers,
// integer parsing, the broken variants of a release, and the 2.x processor's factory.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "replica/processor.h"

namespace duplex::kv {

// Deliberately bad releases, so that an upgrade's fallback is exercised for real.
enum class Variant { kNone, kCrash, kUnhealthy, kCorrupt, kVeto };

Outcome Error(Code code, std::string message);
Outcome Error(const Status& status);

StatusOr<int64_t> ParseInt(const std::string& text, const std::string& what);

// INCR's arithmetic on a value as text (nullopt: absent, counts as 0); InvalidArgument
// when the value or amount is not an integer, or the sum overflows.
StatusOr<std::string> Increment(const std::string& key, const std::optional<std::string>& current,
                                const std::string& amount_text);

// kv 2.x: schema 2 (records with an expiry) and the `expiry` feature.
std::unique_ptr<Processor> MakeKvV2(std::string version, Variant variant);

}  // namespace duplex::kv
