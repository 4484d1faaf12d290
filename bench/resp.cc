#include "bench/resp.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace duplex::bench {

namespace {

// Peer text quoted in an error message, cut so that a garbage stream cannot flood a log.
std::string Quote(std::string_view text) {
  constexpr size_t kQuotedMax = 32;
  std::string out(text.substr(0, kQuotedMax));
  if (text.size() > kQuotedMax) out += "...";
  return "'" + out + "'";
}

void AppendBulk(std::string_view s, std::string* out) {
  out->push_back('$');
  out->append(std::to_string(s.size()));
  out->append("\r\n");
  out->append(s);
  out->append("\r\n");
}

}  // namespace

RespValue RespValue::Simple(std::string s) {
  RespValue v;
  v.type = Type::kSimpleString;
  v.text = std::move(s);
  return v;
}

RespValue RespValue::Error(std::string s) {
  RespValue v;
  v.type = Type::kError;
  v.text = std::move(s);
  return v;
}

RespValue RespValue::Integer(int64_t i) {
  RespValue v;
  v.type = Type::kInteger;
  v.integer = i;
  return v;
}

RespValue RespValue::Bulk(std::string s) {
  RespValue v;
  v.type = Type::kBulkString;
  v.text = std::move(s);
  return v;
}

RespValue RespValue::Null() { return RespValue(); }

RespValue RespValue::Array(std::vector<RespValue> elements) {
  RespValue v;
  v.type = Type::kArray;
  v.elements = std::move(elements);
  return v;
}

std::string RespValue::DebugString() const {
  switch (type) {
    case Type::kSimpleString:
      return "+" + text;
    case Type::kError:
      return "-" + text;
    case Type::kInteger:
      return ":" + std::to_string(integer);
    case Type::kBulkString:
      return "\"" + text + "\"";
    case Type::kNull:
      return "(nil)";
    case Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements[i].DebugString();
      }
      return out + "]";
    }
  }
  return "?";
}

void AppendCommand(const std::vector<std::string>& args, std::string* out) {
  out->push_back('*');
  out->append(std::to_string(args.size()));
  out->append("\r\n");
  for (const std::string& a : args) AppendBulk(a, out);
}

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::string out;
  AppendCommand(args, &out);
  return out;
}

std::string EncodeReply(const RespValue& value) {
  switch (value.type) {
    case RespValue::Type::kSimpleString:
      return "+" + value.text + "\r\n";
    case RespValue::Type::kError:
      return "-" + value.text + "\r\n";
    case RespValue::Type::kInteger:
      return ":" + std::to_string(value.integer) + "\r\n";
    case RespValue::Type::kBulkString: {
      std::string out;
      AppendBulk(value.text, &out);
      return out;
    }
    case RespValue::Type::kNull:
      return "$-1\r\n";
    case RespValue::Type::kArray: {
      std::string out = "*" + std::to_string(value.elements.size()) + "\r\n";
      for (const RespValue& e : value.elements) out += EncodeReply(e);
      return out;
    }
  }
  return "";
}

RespParser::RespParser(RespLimits limits) : limits_(limits) {}

void RespParser::Feed(std::string_view bytes) {
  // Drop what was returned already, but only when that is most of the buffer, so that a
  // stream of small replies does not move the tail on every call.
  if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

StatusOr<std::optional<RespValue>> RespParser::Next() {
  if (!error_.ok()) return error_;
  if (pos_ == buffer_.size()) return std::optional<RespValue>();
  // An incomplete reply is parsed again from its start when more bytes arrive: replies are
  // small here, and the parser keeps no partial state to get wrong. TODO(perf): resume.
  size_t pos = pos_;
  RespValue value;
  switch (ParseValue(&pos, 0, &value)) {
    case Step::kComplete:
      pos_ = pos;
      return std::optional<RespValue>(std::move(value));
    case Step::kIncomplete:
      return std::optional<RespValue>();
    case Step::kMalformed:
      break;
  }
  return error_;
}

RespParser::Step RespParser::Fail(std::string message) {
  error_ = Corruption("RESP: " + std::move(message));
  return Step::kMalformed;
}

RespParser::Step RespParser::ReadLine(size_t* pos, std::string_view* line) {
  std::string_view rest(buffer_.data() + *pos, buffer_.size() - *pos);
  size_t lf = rest.find('\n');
  if (lf == std::string_view::npos) {
    if (rest.size() > limits_.line_bytes_max) {
      return Fail("line longer than " + std::to_string(limits_.line_bytes_max) +
                  " bytes without CRLF, starting " + Quote(rest));
    }
    return Step::kIncomplete;
  }
  if (lf == 0 || rest[lf - 1] != '\r')
    return Fail("LF without CR after " + Quote(rest.substr(0, lf)));
  *line = rest.substr(0, lf - 1);
  if (line->find('\r') != std::string_view::npos) return Fail("stray CR in " + Quote(*line));
  *pos += lf + 1;
  return Step::kComplete;
}

// Lengths and counts: -1 is null, anything else must be in 0..max.
RespParser::Step RespParser::ParseLength(std::string_view line, const char* what, int64_t max,
                                         int64_t* length) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
  if (line.empty() || ec != std::errc() || end != line.data() + line.size()) {
    return Fail("bad length " + Quote(line) + " in " + what);
  }
  if (n < -1) return Fail("negative length " + std::to_string(n) + " in " + what);
  if (n > max) {
    return Fail("length " + std::to_string(n) + " in " + what + " exceeds the limit of " +
                std::to_string(max));
  }
  *length = n;
  return Step::kComplete;
}

RespParser::Step RespParser::ParseValue(size_t* pos, int depth, RespValue* out) {
  if (*pos >= buffer_.size()) return Step::kIncomplete;
  const char type = buffer_[*pos];
  if (std::strchr("+-:$*", type) == nullptr || type == '\0') {
    const auto byte = static_cast<unsigned char>(type);
    char shown[16];
    if (std::isprint(byte)) {
      std::snprintf(shown, sizeof(shown), "'%c' (0x%02x)", byte, byte);
    } else {
      std::snprintf(shown, sizeof(shown), "0x%02x", byte);
    }
    return Fail(std::string("unknown type byte ") + shown + " at the start of a reply");
  }
  size_t p = *pos + 1;
  std::string_view line;
  if (Step s = ReadLine(&p, &line); s != Step::kComplete) return s;
  switch (type) {
    case '+':
      *out = RespValue::Simple(std::string(line));
      break;
    case '-':
      *out = RespValue::Error(std::string(line));
      break;
    case ':': {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
      if (line.empty() || ec != std::errc() || end != line.data() + line.size()) {
        return Fail("bad integer " + Quote(line) + " in integer reply");
      }
      *out = RespValue::Integer(n);
      break;
    }
    case '$': {
      int64_t n = 0;
      const auto max = static_cast<int64_t>(limits_.bulk_bytes_max);
      if (Step s = ParseLength(line, "bulk string header", max, &n); s != Step::kComplete) {
        return s;
      }
      if (n == -1) {
        *out = RespValue::Null();
        break;
      }
      const auto len = static_cast<size_t>(n);
      if (buffer_.size() - p < len + 2) return Step::kIncomplete;
      if (buffer_[p + len] != '\r' || buffer_[p + len + 1] != '\n') {
        return Fail("bulk string of " + std::to_string(len) + " bytes not followed by CRLF");
      }
      *out = RespValue::Bulk(buffer_.substr(p, len));
      p += len + 2;
      break;
    }
    case '*': {
      int64_t n = 0;
      const auto max = static_cast<int64_t>(limits_.array_elements_max);
      if (Step s = ParseLength(line, "array header", max, &n); s != Step::kComplete) return s;
      if (n == -1) {
        *out = RespValue::Null();
        break;
      }
      if (n > 0 && depth + 1 > limits_.depth_max) {
        return Fail("arrays nested deeper than " + std::to_string(limits_.depth_max));
      }
      std::vector<RespValue> elements;
      // Reserve no more than the bytes at hand can hold: a header alone must not allocate.
      elements.reserve(std::min<size_t>(static_cast<size_t>(n), (buffer_.size() - p) / 4));
      for (int64_t i = 0; i < n; ++i) {
        RespValue element;
        if (Step s = ParseValue(&p, depth + 1, &element); s != Step::kComplete) return s;
        elements.push_back(std::move(element));
      }
      *out = RespValue::Array(std::move(elements));
      break;
    }
  }
  *pos = p;
  return Step::kComplete;
}

}  // namespace duplex::bench
