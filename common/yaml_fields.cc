// yaml-cpp throws from parsing, conversions and dumping; each of those calls is in a try block
// here, and a conversion that does not apply is a false or an error Status.
#include "common/yaml_fields.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <vector>

namespace duplex {
namespace {

std::string LineOf(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1);  // yaml-cpp counts from 0
}

std::string Join(const std::string& path, std::string_view key) {
  std::string joined = path;
  if (!joined.empty()) joined += '.';
  joined += key;
  return joined;
}

template <typename T>
YamlField::Decimal ParseDecimal(const std::string& text, T* out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  if (ec == std::errc::result_out_of_range) return YamlField::Decimal::kOutOfRange;
  if (ec != std::errc() || ptr != end) return YamlField::Decimal::kNotDecimal;
  return YamlField::Decimal::kOk;
}

}  // namespace

StatusOr<YamlField> YamlField::Parse(const std::string& text, const std::string& document) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return InvalidArgument(e.msg);
    return InvalidArgument(LineOf(e.mark) + ": " + e.msg);
  }
  if (documents.size() > 1) {
    return InvalidArgument(document + ": holds " + std::to_string(documents.size()) +
                           " YAML documents (separated by ---), expected one");
  }
  YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  return YamlField(std::make_shared<const YAML::Node>(root), "", document);
}

bool YamlField::written() const { return node_ != nullptr && node_->IsDefined(); }
bool YamlField::missing() const { return !written() || node_->IsNull(); }
bool YamlField::IsMap() const { return written() && node_->IsMap(); }
bool YamlField::IsList() const { return written() && node_->IsSequence(); }
bool YamlField::IsScalar() const { return written() && node_->IsScalar(); }

const char* YamlField::Kind() const {
  if (IsMap()) return "a map";
  if (IsList()) return "a list";
  if (IsScalar()) return "a single value";
  return "nothing";
}

std::size_t YamlField::size() const { return IsMap() || IsList() ? node_->size() : 0; }

std::string YamlField::text() const { return IsScalar() ? node_->Scalar() : std::string(); }

std::string YamlField::Dump() const {
  if (!written()) return "";
  try {
    return YAML::Dump(*node_);
  } catch (const YAML::Exception& e) {
    return e.msg;
  }
}

std::string YamlField::Line() const { return written() ? LineOf(node_->Mark()) : "no line"; }

std::vector<std::string> YamlField::MapKeys() const {
  std::vector<std::string> keys;
  if (!IsMap()) return keys;
  for (const auto& entry : *node_) {
    keys.push_back(entry.first.IsScalar() ? entry.first.Scalar() : std::string());
  }
  return keys;
}

YamlField YamlField::operator[](std::string_view key) const {
  std::shared_ptr<const YAML::Node> child;
  if (IsMap()) {
    // Written keys are scalars (CheckKeys refuses others), so a key's text finds its value.
    for (const auto& entry : *node_) {
      if (entry.first.IsScalar() && entry.first.Scalar() == key) {
        child = std::make_shared<const YAML::Node>(entry.second);
        break;
      }
    }
  }
  return YamlField(std::move(child), Join(path_, key), document_);
}

YamlField YamlField::operator[](std::size_t index) const {
  std::shared_ptr<const YAML::Node> child;
  if (IsList() && index < node_->size()) {
    child = std::make_shared<const YAML::Node>((*node_)[index]);
  }
  return YamlField(std::move(child), name() + "[" + std::to_string(index) + "]", document_);
}

Status YamlField::Error(const std::string& what) const {
  return InvalidArgument(name() + ": " + what);
}

Status YamlField::WrongKind(std::string_view expected) const {
  return Error("must be " + std::string(expected) + ", got " + Kind());
}

Status YamlField::CheckKeys(Keys known) const {
  if (!IsMap()) return WrongKind("a map of fields");
  std::set<std::string> seen;
  for (const auto& entry : *node_) {
    if (!entry.first.IsScalar()) {
      return Error(LineOf(entry.first.Mark()) + ": field names must be plain words");
    }
    const std::string& key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return InvalidArgument(Join(path_, key) + ": unknown field");
    }
    if (!seen.insert(key).second) return InvalidArgument(Join(path_, key) + ": appears twice");
  }
  return Status::Ok();
}

Status YamlField::ReadText(std::string* out, std::string_view expected) const {
  if (!written()) return Status::Ok();
  if (!IsScalar()) return WrongKind(expected);
  *out = node_->Scalar();
  return Status::Ok();
}

Status YamlField::ReadRequiredText(std::string* out, std::string_view expected) const {
  if (missing() || (IsScalar() && node_->Scalar().empty())) return Error("required");
  return ReadText(out, expected);
}

YamlField::Decimal YamlField::ToInteger(int64_t* out) const {
  return IsScalar() ? ParseDecimal(node_->Scalar(), out) : Decimal::kNotDecimal;
}

YamlField::Decimal YamlField::ToInteger(uint64_t* out) const {
  return IsScalar() ? ParseDecimal(node_->Scalar(), out) : Decimal::kNotDecimal;
}

template <typename T>
bool YamlField::Convert(T* out) const {
  if (!written()) return false;
  try {
    *out = node_->as<T>();
  } catch (const YAML::Exception&) {
    return false;
  }
  return true;
}

template bool YamlField::Convert(bool*) const;
template bool YamlField::Convert(int*) const;
template bool YamlField::Convert(int64_t*) const;
template bool YamlField::Convert(uint64_t*) const;
template bool YamlField::Convert(double*) const;
template bool YamlField::Convert(std::string*) const;
template bool YamlField::Convert(std::vector<std::string>*) const;

// ---- YamlWriter ----

YamlWriter::YamlWriter() : out_(std::make_unique<YAML::Emitter>()) {}
YamlWriter::~YamlWriter() = default;

void YamlWriter::BeginMap() { *out_ << YAML::BeginMap; }
void YamlWriter::EndMap() { *out_ << YAML::EndMap; }
void YamlWriter::BeginList() { *out_ << YAML::BeginSeq; }
void YamlWriter::EndList() { *out_ << YAML::EndSeq; }
void YamlWriter::Key(std::string_view key) {
  *out_ << YAML::Key << std::string(key) << YAML::Value;
}

void YamlWriter::Field(std::string_view key, std::string_view value) {
  Key(key);
  *out_ << std::string(value);
}

void YamlWriter::Value(std::string_view value) { *out_ << std::string(value); }

void YamlWriter::Field(std::string_view key, int64_t value) {
  Key(key);
  *out_ << value;
}

void YamlWriter::Field(std::string_view key, uint64_t value) {
  Key(key);
  *out_ << value;
}

std::string YamlWriter::Text() const { return std::string(out_->c_str()) + "\n"; }

}  // namespace duplex
