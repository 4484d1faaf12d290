#include "chaos/history_formats.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

namespace duplex::lin {
namespace {

std::string At(size_t line) { return "line " + std::to_string(line) + ": "; }

// The operation each client has open: an invoke opens one, its completion closes it; one
// left open at the end keeps its unknown outcome.
class OpenOperations {
 public:
  explicit OpenOperations(std::vector<Operation>* ops) : ops_(ops) {}

  Status Invoke(Operation op) {
    auto open = open_.find(op.client);
    if (open != open_.end()) {
      return InvalidArgument(At(op.line) + "client " + std::to_string(op.client) +
                             " invokes while its operation of line " +
                             std::to_string((*ops_)[open->second].line) + " is still open");
    }
    op.outcome = Outcome::kUnknown;
    open_[op.client] = ops_->size();
    ops_->push_back(std::move(op));
    return Status::Ok();
  }

  // The client's open operation, now closed; it must be of `f` on `key`.
  StatusOr<Operation*> Complete(int client, const std::string& f, const std::string& key,
                                size_t line) {
    auto open = open_.find(client);
    if (open == open_.end()) {
      return InvalidArgument(At(line) + "client " + std::to_string(client) +
                             " completes an operation it never invoked");
    }
    Operation* op = &(*ops_)[open->second];
    open_.erase(open);
    if (op->f != f || op->key != key) {
      return InvalidArgument(At(line) + "client " + std::to_string(client) + " completes " + f +
                             " on \"" + key + "\" but invoked " + op->f + " on \"" + op->key +
                             "\" (line " + std::to_string(op->line) + ")");
    }
    return op;
  }

 private:
  std::vector<Operation>* ops_;
  std::map<int, size_t> open_;  // client -> index in ops_
};

bool ParseInt(std::string_view text, int64_t* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

bool ParseClient(std::string_view text, int* client) {
  int64_t value = 0;
  if (!ParseInt(text, &value) || value < 0 || value > INT32_MAX) return false;
  *client = static_cast<int>(value);
  return true;
}

template <typename LineFn>
Status ForEachLine(std::string_view text, LineFn fn) {
  size_t number = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = end + 1;
    ++number;
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (Status s = fn(line, number); !s.ok()) return s;
  }
  return Status::Ok();
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (true) {
    at = line.find_first_not_of(" \t", at);
    if (at == std::string_view::npos) return words;
    size_t end = line.find_first_of(" \t", at);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(at, end - at));
    at = end;
  }
}

// --- Jepsen's etcd log ------------------------------------------------------------------

// "[FROM TO]" -> "FROM TO".
bool ParseCasPair(const std::vector<std::string_view>& value, std::string* pair) {
  if (value.size() != 2 || value[0].size() < 2 || value[1].size() < 2) return false;
  if (value[0].front() != '[' || value[1].back() != ']') return false;
  *pair =
      std::string(value[0].substr(1)) + " " + std::string(value[1].substr(0, value[1].size() - 1));
  return pair->find_first_of("[]") == std::string::npos;
}

Status JepsenLine(std::string_view line, size_t number, OpenOperations* open) {
  const std::vector<std::string_view> w = Words(line);
  // [.. INFO] jepsen.util - P :type :f value...; any other line is the log's noise.
  size_t i = 0;
  while (i < w.size() && w[i] != "jepsen.util") ++i;
  if (i + 4 >= w.size() || w[i + 1] != "-") return Status::Ok();
  const std::string_view type = w[i + 3], f = w[i + 4];
  if (type != ":invoke" && type != ":ok" && type != ":fail" && type != ":info") {
    return Status::Ok();
  }
  if (f != ":read" && f != ":write" && f != ":cas") return Status::Ok();
  int client = 0;
  if (!ParseClient(w[i + 2], &client)) {
    return InvalidArgument(At(number) + "process \"" + std::string(w[i + 2]) +
                           "\" is not a number");
  }
  const std::vector<std::string_view> value(w.begin() + static_cast<long>(i) + 5, w.end());
  const std::string name(f.substr(1));
  std::string text;  // the value, parsed for f
  const bool cas_pair = f == ":cas" && ParseCasPair(value, &text);
  if (f == ":write" && value.size() == 1) text = std::string(value[0]);
  if (f == ":read" && value.size() == 1) text = std::string(value[0]);
  const bool timed_out = value.size() == 1 && value[0] == ":timed-out";
  const bool value_ok = (f == ":cas" ? cas_pair : value.size() == 1) || timed_out;
  if (!value_ok || ((type == ":invoke" || type == ":ok") && timed_out)) {
    return InvalidArgument(At(number) + "cannot read the value of " + std::string(type) + " " +
                           std::string(f) + " (a read takes nil or V, a write V, a cas [FROM TO])");
  }
  if (type == ":invoke") {
    Operation op;
    op.client = client;
    op.key = "register";
    op.f = name;
    op.input = f == ":read" ? "" : text;
    op.invoke_us = static_cast<int64_t>(number);
    op.line = number;
    return open->Invoke(std::move(op));
  }
  auto op = open->Complete(client, name, "register", number);
  if (!op.ok()) return op.status();
  (*op)->complete_us = static_cast<int64_t>(number);
  if (type == ":info") return Status::Ok();  // unknown, as it was opened
  if (type == ":fail" && (f != ":cas" || timed_out)) {
    (*op)->outcome = Outcome::kFail;
    return Status::Ok();
  }
  (*op)->outcome = Outcome::kOk;
  if (f == ":read") (*op)->output = text;
  if (f == ":cas") (*op)->output = type == ":ok" ? "ok" : "fail";
  return Status::Ok();
}

// --- EDN lines ---------------------------------------------------------------------------

struct EdnValue {
  enum class Kind { kNil, kString, kKeyword, kNumber, kBool } kind = Kind::kNil;
  std::string text;
};

class EdnMapReader {
 public:
  explicit EdnMapReader(std::string_view line) : s_(line) {}

  StatusOr<std::map<std::string, EdnValue>> Read() {
    std::map<std::string, EdnValue> map;
    Skip();
    if (!Eat('{')) return Error("expected an EDN map starting with '{'");
    while (true) {
      Skip();
      if (Eat('}')) break;
      if (!Eat(':')) return Error("expected a :keyword");
      std::string key = Symbol();
      if (key.empty()) return Error("empty keyword");
      Skip();
      auto value = Value();
      if (!value.ok()) return value.status();
      map[key] = std::move(value).value();
    }
    Skip();
    if (at_ != s_.size()) return Error("text after the map");
    return map;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument(what + " at column " + std::to_string(at_ + 1));
  }
  void Skip() {
    while (at_ < s_.size() && (std::isspace(static_cast<unsigned char>(s_[at_])) || s_[at_] == ','))
      ++at_;
  }
  bool Eat(char c) {
    if (at_ < s_.size() && s_[at_] == c) return ++at_, true;
    return false;
  }
  std::string Symbol() {
    const size_t start = at_;
    while (at_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[at_])) ||
                               std::string_view("-_?!.*+/<>=").find(s_[at_]) != std::string::npos))
      ++at_;
    return std::string(s_.substr(start, at_ - start));
  }
  StatusOr<EdnValue> Value() {
    EdnValue v;
    if (Eat('"')) {
      v.kind = EdnValue::Kind::kString;
      while (at_ < s_.size() && s_[at_] != '"') {
        char c = s_[at_++];
        if (c == '\\') {
          if (at_ == s_.size()) break;
          c = s_[at_++];
          if (c == 'n') c = '\n';
          if (c == 't') c = '\t';
        }
        v.text += c;
      }
      if (!Eat('"')) return Error("unterminated string");
      return v;
    }
    if (Eat(':')) {
      v.kind = EdnValue::Kind::kKeyword;
      v.text = Symbol();
      return v;
    }
    v.text = Symbol();
    int64_t number = 0;
    if (v.text == "nil") return v;
    if (v.text == "true" || v.text == "false") v.kind = EdnValue::Kind::kBool;
    if (ParseInt(v.text, &number)) v.kind = EdnValue::Kind::kNumber;
    if (v.kind == EdnValue::Kind::kNil) return Error("expected a string, keyword, number or nil");
    return v;
  }

  std::string_view s_;
  size_t at_ = 0;
};

Status EdnLine(std::string_view line, size_t number, OpenOperations* open) {
  auto map = EdnMapReader(line).Read();
  if (!map.ok()) return InvalidArgument(At(number) + map.status().message());
  using Kind = EdnValue::Kind;
  auto field = [&](const char* name, std::initializer_list<Kind> kinds) -> const EdnValue* {
    auto it = map->find(name);
    if (it == map->end()) return nullptr;
    for (Kind k : kinds) {
      if (it->second.kind == k) return &it->second;
    }
    return nullptr;
  };
  const EdnValue* process = field("process", {Kind::kNumber});
  const EdnValue* type = field("type", {Kind::kKeyword});
  const EdnValue* f = field("f", {Kind::kKeyword});
  const EdnValue* key = field("key", {Kind::kString, Kind::kNumber, Kind::kKeyword});
  // Jepsen writes `:value :timed-out` on some :info lines.
  const EdnValue* value =
      field("value", {Kind::kNil, Kind::kString, Kind::kNumber, Kind::kKeyword});
  int client = 0;
  if (!process || !ParseClient(process->text, &client)) {
    return InvalidArgument(At(number) + "needs :process, a number");
  }
  if (!type || !f || !key || !value) {
    return InvalidArgument(At(number) + "needs :type and :f (keywords), :key and :value");
  }
  if (f->text != "get" && f->text != "put" && f->text != "append") {
    return InvalidArgument(At(number) + ":f :" + f->text + " is not :get, :put or :append");
  }
  if (type->text == "invoke") {
    Operation op;
    op.client = client;
    op.key = key->text;
    op.f = f->text;
    op.input = f->text == "get" ? "" : value->text;
    op.invoke_us = static_cast<int64_t>(number);
    op.line = number;
    return open->Invoke(std::move(op));
  }
  if (type->text != "ok" && type->text != "fail" && type->text != "info") {
    return InvalidArgument(At(number) + ":type :" + type->text +
                           " is not :invoke, :ok, :fail or :info");
  }
  auto op = open->Complete(client, f->text, key->text, number);
  if (!op.ok()) return op.status();
  (*op)->complete_us = static_cast<int64_t>(number);
  if (type->text == "fail") (*op)->outcome = Outcome::kFail;
  if (type->text != "ok") return Status::Ok();
  (*op)->outcome = Outcome::kOk;
  if (f->text == "get") (*op)->output = value->text;  // nil: the empty string
  return Status::Ok();
}

// --- duplex's history.jsonl ---------------------------------------------------------------

// A field of a history line, which must have the type asked for when present.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, size_t line) : object_(object), line_(line) {}

  template <typename T>
  Status Get(const char* name, bool required, T* out) const {
    auto it = object_.find(name);
    if (it == object_.end() || (it->is_null() && !required)) {
      if (!required) return Status::Ok();
      return InvalidArgument(At(line_) + "lacks \"" + std::string(name) + "\"");
    }
    bool fits = false;
    if constexpr (std::is_same_v<T, std::string>) fits = it->is_string();
    if constexpr (std::is_same_v<T, bool>) fits = it->is_boolean();
    if constexpr (std::is_same_v<T, int64_t>) fits = it->is_number_integer();
    if (!fits) {
      return InvalidArgument(At(line_) + "\"" + std::string(name) + "\" must be " +
                             (std::is_same_v<T, std::string> ? "a string"
                              : std::is_same_v<T, bool>      ? "true or false"
                                                             : "an integer"));
    }
    *out = it->get<T>();
    return Status::Ok();
  }

 private:
  const nlohmann::json& object_;
  size_t line_;
};

struct JsonLine {
  std::string type, op, key, value;
  int64_t client = -1, t_us = 0, now_ms = -1;
  bool absent = false;
  std::string args;  // the invoke's args, space-separated
};

StatusOr<JsonLine> ReadJsonLine(std::string_view text, size_t number) {
  const auto object = nlohmann::json::parse(text, nullptr, false);
  if (object.is_discarded() || !object.is_object()) {
    return InvalidArgument(At(number) + "not a JSON object");
  }
  const JsonFields fields(object, number);
  JsonLine l;
  for (Status s :
       {fields.Get("type", true, &l.type), fields.Get("client", true, &l.client),
        fields.Get("op", true, &l.op), fields.Get("key", true, &l.key),
        fields.Get("t_us", true, &l.t_us), fields.Get("value", false, &l.value),
        fields.Get("absent", false, &l.absent), fields.Get("now_ms", false, &l.now_ms)}) {
    if (!s.ok()) return s;
  }
  if (l.client < 0 || l.client > INT32_MAX) {
    return InvalidArgument(At(number) + "\"client\" must be in 0..2147483647");
  }
  if (auto args = object.find("args"); args != object.end() && !args->is_null()) {
    if (!args->is_array()) return InvalidArgument(At(number) + "\"args\" must be an array");
    for (const auto& arg : *args) {
      if (!arg.is_string()) return InvalidArgument(At(number) + "\"args\" must hold strings");
      l.args += (l.args.empty() ? "" : " ") + arg.get<std::string>();
    }
  }
  static const char* const kOps[] = {"GET", "PUT", "DEL", "INCR", "PUTEX", "TTL"};
  if (std::find(std::begin(kOps), std::end(kOps), l.op) == std::end(kOps)) {
    return InvalidArgument(At(number) + "op \"" + l.op +
                           "\" is not one of GET, PUT, DEL, INCR, PUTEX, TTL");
  }
  return l;
}

Status DuplexLine(std::string_view text, size_t number, OpenOperations* open) {
  auto l = ReadJsonLine(text, number);
  if (!l.ok()) return l.status();
  const int client = static_cast<int>(l->client);
  if (l->type == "invoke") {
    Operation op;
    op.client = client;
    op.key = l->key;
    op.f = l->op;
    op.input = l->args;
    op.now_ms = l->now_ms;
    op.invoke_us = l->t_us;
    op.line = number;
    return open->Invoke(std::move(op));
  }
  if (l->type != "ok" && l->type != "fail" && l->type != "info") {
    return InvalidArgument(At(number) + "type \"" + l->type + "\" is not invoke, ok, fail or info");
  }
  auto op = open->Complete(client, l->op, l->key, number);
  if (!op.ok()) return op.status();
  Operation& o = **op;
  if (l->t_us < o.invoke_us) {
    return InvalidArgument(At(number) + "completes at t_us " + std::to_string(l->t_us) +
                           ", before its invoke (" + std::to_string(o.invoke_us) + ")");
  }
  o.complete_us = l->t_us;
  if (l->now_ms >= 0) o.now_ms = l->now_ms;
  if (l->type == "fail") o.outcome = Outcome::kFail;
  if (l->type != "ok") return Status::Ok();
  o.outcome = Outcome::kOk;
  o.output = l->value;
  o.absent = l->absent;
  return Status::Ok();
}

template <typename LineFn>
StatusOr<std::vector<Operation>> ParseLines(std::string_view text, LineFn fn) {
  std::vector<Operation> ops;
  OpenOperations open(&ops);
  Status s = ForEachLine(
      text, [&](std::string_view line, size_t number) { return fn(line, number, &open); });
  if (!s.ok()) return s;
  return ops;
}

}  // namespace

StatusOr<std::vector<Operation>> ParseJepsenEtcdLog(std::string_view text) {
  return ParseLines(text, JepsenLine);
}

StatusOr<std::vector<Operation>> ParseKvEdn(std::string_view text) {
  return ParseLines(text, EdnLine);
}

StatusOr<std::vector<Operation>> ParseDuplexHistory(std::string_view text) {
  return ParseLines(text, DuplexLine);
}

StatusOr<std::vector<Operation>> ParseHistory(ModelKind model, std::string_view text) {
  switch (model) {
    case ModelKind::kCasRegister:
      return ParseJepsenEtcdLog(text);
    case ModelKind::kKvAppend:
      return ParseKvEdn(text);
    case ModelKind::kDuplexKv:
      return ParseDuplexHistory(text);
  }
  return InvalidArgument("no history format for this model");
}

StatusOr<std::vector<Operation>> ReadHistoryFile(ModelKind model, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IOError(path + ": read failed");
  auto ops = ParseHistory(model, text.str());
  if (!ops.ok()) return InvalidArgument(path + ": " + ops.status().message());
  return ops;
}

}  // namespace duplex::lin
