// YamlField: one field of a parsed YAML document, with the path that names it in errors
// ("replicas[1].port"), and YamlWriter, which writes a document. The one wrapper around yaml-cpp:
// the cluster config, package manifests and chaos scenarios read and write YAML through it, and
// no other file includes <yaml-cpp/...>. No yaml-cpp exception leaves this wrapper. Values;
// thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace YAML {
class Emitter;
class Node;
}  // namespace YAML

namespace duplex {

class YamlField {
 public:
  using Keys = std::initializer_list<std::string_view>;

  // Parses a text holding at most one document. An empty text is an empty map, so the useful
  // error is "name: required". `document` names the root in errors ("config"). A syntax error
  // is InvalidArgument "line 9: <what yaml-cpp says>"; a second document is
  // "<document>: holds 2 YAML documents (separated by ---), expected one".
  static StatusOr<YamlField> Parse(const std::string& text, const std::string& document);

  // "replicas[1].port"; the document's name for the root.
  const std::string& name() const { return path_.empty() ? document_ : path_; }

  // The key is written, perhaps without a value.
  bool written() const;
  // Not written, or written without a value (`timing:`, `name: ~`).
  bool missing() const;
  bool IsMap() const;
  bool IsList() const;
  bool IsScalar() const;
  // "a map", "a list", "a single value" or "nothing": the "got ..." of a message.
  const char* Kind() const;
  // The entries of a map or a list; 0 for anything else.
  std::size_t size() const;
  // A scalar's text; "" for anything else.
  std::string text() const;
  // The field written back as YAML, for a message about a value of the wrong type.
  std::string Dump() const;
  // "line 9": where the field is written (lines count from 1, as editors do).
  std::string Line() const;

  // A map's keys in the order written (call CheckKeys or check each name first); empty for
  // anything but a map.
  std::vector<std::string> MapKeys() const;
  // A map's field ("timing.lease_ms"); not written when this is not a map or lacks `key`.
  YamlField operator[](std::string_view key) const;
  // A list's entry ("replicas[1]"); not written when this is not a list or is shorter.
  YamlField operator[](std::size_t index) const;

  // InvalidArgument "<name>: <what>".
  Status Error(const std::string& what) const;
  // "<name>: must be <expected>, got <Kind()>".
  Status WrongKind(std::string_view expected) const;
  // Refuses keys outside `known` ("timing.leese_ms: unknown field"), so a typo is an error
  // rather than a silently kept default, and keys written twice ("appears twice"), which
  // yaml-cpp would otherwise resolve silently. This must be a map.
  Status CheckKeys(Keys known) const;

  // A single value as text. Not written: *out keeps its default. Anything else but a single
  // value: "must be <expected>, got a map".
  Status ReadText(std::string* out, std::string_view expected = "a string") const;
  // As ReadText, but missing or empty is "required".
  Status ReadRequiredText(std::string* out, std::string_view expected = "a string") const;

  // A single value as a plain decimal integer. YAML 1.1 spellings such as 0x1F or 1_000 are
  // likelier typos than intent, so they are kNotDecimal.
  enum class Decimal { kOk, kNotDecimal, kOutOfRange };
  Decimal ToInteger(int64_t* out) const;
  Decimal ToInteger(uint64_t* out) const;

  // yaml-cpp's own conversion (YAML 1.1: yes/no are booleans, 0x10 is 16); false when it does
  // not apply. For bool, int, int64_t, uint64_t, double, std::string and
  // std::vector<std::string>.
  template <typename T>
  bool Convert(T* out) const;

 private:
  YamlField(std::shared_ptr<const YAML::Node> node, std::string path, std::string document)
      : node_(std::move(node)), path_(std::move(path)), document_(std::move(document)) {}

  std::shared_ptr<const YAML::Node> node_;  // null: not written
  std::string path_;                        // "" for the root
  std::string document_;
};

// Writes one document: maps, lists and single values. Strings that would read back as
// something else ("null", "123", "yes") are quoted.
class YamlWriter {
 public:
  YamlWriter();
  ~YamlWriter();
  YamlWriter(const YamlWriter&) = delete;
  YamlWriter& operator=(const YamlWriter&) = delete;

  void BeginMap();  // after Key, the value of that key; else a list entry or the root
  void EndMap();
  void BeginList();
  void EndList();
  void Key(std::string_view key);
  void Field(std::string_view key, std::string_view value);
  void Field(std::string_view key, int value) { Field(key, int64_t{value}); }
  void Field(std::string_view key, int64_t value);
  void Field(std::string_view key, uint64_t value);
  void Value(std::string_view value);  // a list entry

  // The document so far, ending in a newline.
  std::string Text() const;

 private:
  std::unique_ptr<YAML::Emitter> out_;
};

}  // namespace duplex
