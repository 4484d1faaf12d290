// RESP2, the Redis protocol, without I/O: EncodeCommand turns a command into bytes, and
// RespParser, fed with bytes as they arrive, yields complete replies one by one. A malformed
// stream is a Corruption Status that names what was wrong. Values and functions are plain;
// a RespParser is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace duplex::bench {

struct RespValue {
  // kNull is both RESP2 nulls: the null bulk string ("$-1") and the null array ("*-1").
  enum class Type { kSimpleString, kError, kInteger, kBulkString, kNull, kArray };

  Type type = Type::kNull;
  std::string text;  // simple string, error or bulk string
  int64_t integer = 0;
  std::vector<RespValue> elements;  // array

  static RespValue Simple(std::string s);
  static RespValue Error(std::string s);
  static RespValue Integer(int64_t i);
  static RespValue Bulk(std::string s);
  static RespValue Null();
  static RespValue Array(std::vector<RespValue> elements);

  bool IsError() const { return type == Type::kError; }
  // "+OK", the answer of SET and most writes.
  bool IsOk() const { return type == Type::kSimpleString && text == "OK"; }
  // For messages: +OK, -ERR x, :1, "bulk", (nil), [a, b].
  std::string DebugString() const;

  bool operator==(const RespValue& other) const = default;
};

// A command as a client sends it: an array of bulk strings.
std::string EncodeCommand(const std::vector<std::string>& args);
void AppendCommand(const std::vector<std::string>& args, std::string* out);
// A reply as a server writes it (tests and fakes). Simple strings and errors must not hold CR/LF.
std::string EncodeReply(const RespValue& value);

// Bounds on what a peer may make the parser hold; beyond them the stream is malformed.
struct RespLimits {
  size_t bulk_bytes_max = size_t{64} << 20;
  size_t array_elements_max = size_t{1} << 20;
  int depth_max = 32;                        // arrays inside arrays
  size_t line_bytes_max = size_t{64} << 10;  // a header or simple reply without its CRLF
};

class RespParser {
 public:
  explicit RespParser(RespLimits limits = {});

  void Feed(std::string_view bytes);
  // The next complete reply; nullopt while more bytes are needed. After a malformed reply
  // every call returns the same error: the stream cannot be resynchronised.
  StatusOr<std::optional<RespValue>> Next();
  // Bytes fed but not yet returned as replies.
  size_t buffered_bytes() const { return buffer_.size() - pos_; }

 private:
  enum class Step { kComplete, kIncomplete, kMalformed };

  Step ParseValue(size_t* pos, int depth, RespValue* out);
  Step ReadLine(size_t* pos, std::string_view* line);
  Step ParseLength(std::string_view line, const char* what, int64_t max, int64_t* length);
  Step Fail(std::string message);

  RespLimits limits_;
  std::string buffer_;
  size_t pos_ = 0;  // start of the first reply not yet returned
  Status error_;
};

}  // namespace duplex::bench
