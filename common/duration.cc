#include "common/duration.h"

#include <cctype>
#include <charconv>
#include <string>

namespace duplex {

StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  auto bad = [text](const std::string& why) {
    return InvalidArgument("bad duration \"" + std::string(text) + "\": " + why);
  };
  const std::string expected = "expected a whole number and a unit: 500ms, 5s, 2m or 1h";
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
    ++digits;
  }
  if (digits == 0) return bad(expected);
  std::string_view unit = text.substr(digits);
  int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else {
    return bad(expected);
  }
  uint64_t count = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + digits, count);
  if (error != std::errc() || count > static_cast<uint64_t>(kDurationMsMax / scale)) {
    return bad("longer than " + std::to_string(kDurationMsMax / 3600000 / 24) + " days");
  }
  return static_cast<int64_t>(count) * scale;
}

}  // namespace duplex
