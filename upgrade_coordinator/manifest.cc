// Manifests and version ranges, read through common/yaml_fields.h.
#include "upgrade_coordinator/manifest.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <sstream>
#include <string_view>

#include "common/assert.h"
#include "common/yaml_fields.h"

namespace duplex {
namespace {

constexpr std::size_t kNameCharsMax = 32;
constexpr std::size_t kSha256HexChars = 64;

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

Status Prefixed(const std::string& prefix, const Status& status) {
  return Status(status.code(), prefix + ": " + status.message());
}

// ---- Version ranges ----

struct OpSpelling {
  std::string_view text;
  VersionRange::Op op;
};

// Two-character operators first, so ">=" is not read as ">" followed by "=1.0.0".
constexpr OpSpelling kOps[] = {{">=", VersionRange::Op::kGreaterEqual},
                               {"<=", VersionRange::Op::kLessEqual},
                               {">", VersionRange::Op::kGreater},
                               {"<", VersionRange::Op::kLess},
                               {"=", VersionRange::Op::kEqual}};

bool Holds(const VersionRange::Clause& c, const Version& v) {
  switch (c.op) {
    case VersionRange::Op::kGreaterEqual:
      return v >= c.version;
    case VersionRange::Op::kGreater:
      return v > c.version;
    case VersionRange::Op::kLessEqual:
      return v <= c.version;
    case VersionRange::Op::kLess:
      return v < c.version;
    case VersionRange::Op::kEqual:
      return v == c.version;
  }
  DUPLEX_ASSERT(false, "a clause's operator is one of the five", static_cast<int>(c.op));
  return false;
}

std::string_view OpText(VersionRange::Op op) {
  for (const OpSpelling& s : kOps) {
    if (s.op == op) return s.text;
  }
  DUPLEX_ASSERT(false, "every operator has a spelling in kOps", static_cast<int>(op));
  return "?";
}

std::vector<std::string> SplitWords(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The smallest version in a non-empty range is 0.0.0, a clause's version or its successor, so
// trying those decides emptiness exactly; it catches typos like ">=2.0.0 <1.0.0".
bool IsEmpty(const VersionRange& range) {
  std::vector<Version> candidates = {Version{}};
  for (const VersionRange::Clause& c : range.clauses) {
    candidates.push_back(c.version);
    candidates.push_back({c.version.major, c.version.minor, c.version.patch + 1});
  }
  return std::none_of(candidates.begin(), candidates.end(),
                      [&](const Version& v) { return range.Contains(v); });
}

// Reads one clause from words[*i], taking the next word too after a lone operator (">= 1.0.0").
Status ParseClause(const std::vector<std::string>& words, std::size_t* i,
                   VersionRange::Clause* clause) {
  const std::string& word = words[*i];
  const OpSpelling* op = nullptr;
  for (const OpSpelling& s : kOps) {
    if (word.starts_with(s.text)) {
      op = &s;
      break;
    }
  }
  if (op == nullptr) {
    return InvalidArgument(Quote(word) + " has no operator (one of >=, >, <=, <, =)");
  }
  std::string version_text = word.substr(op->text.size());
  if (version_text.empty()) {
    if (*i + 1 == words.size()) return InvalidArgument(Quote(word) + " has no version after it");
    version_text = words[++*i];
  }
  StatusOr<Version> version = ParseVersion(version_text);
  if (!version.ok()) return version.status();
  *clause = {op->op, *version};
  DUPLEX_ASSERT(*i < words.size(), "a clause ends on a word of the range", *i, words.size());
  return Status::Ok();
}

// ---- Manifest fields ----

// The one spelling digests are compared in: sha256sum's.
bool IsLowerHexDigest(std::string_view digest) {
  return digest.size() == kSha256HexChars && std::all_of(digest.begin(), digest.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsName(std::string_view name) {
  if (name.empty() || name.size() > kNameCharsMax) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Every text field of a manifest is required and a single value.
Status ReadText(const YamlField& field, std::string* out) {
  return field.ReadRequiredText(out, "a single value");
}

Status ReadName(const YamlField& field, std::string* out) {
  DUPLEX_RETURN_IF_ERROR(ReadText(field, out));
  if (IsName(*out)) return Status::Ok();
  return field.Error(Quote(*out) + " is not a name ([a-z0-9_-]{1,32})");
}

Status ReadVersion(const YamlField& field, Version* out) {
  std::string text;
  DUPLEX_RETURN_IF_ERROR(ReadText(field, &text));
  StatusOr<Version> version = ParseVersion(text);
  if (!version.ok()) return Prefixed(field.name(), version.status());
  *out = *version;
  return Status::Ok();
}

// Plain decimal only: YAML 1.1 spellings such as 0x40 or 1_000 are likelier typos than intent.
Status ReadCount(const YamlField& field, uint64_t min, uint64_t max, uint64_t* out) {
  if (!field.written()) return Status::Ok();
  if (!field.IsScalar()) return field.WrongKind("a number");
  uint64_t number = 0;
  if (field.ToInteger(&number) != YamlField::Decimal::kOk || number < min || number > max) {
    return field.Error("must be a whole number in " + std::to_string(min) + ".." +
                       std::to_string(max) + ", got " + Quote(field.text()));
  }
  *out = number;
  DUPLEX_ASSERT(*out >= min && *out <= max, "a count read is in its range", *out, min, max);
  return Status::Ok();
}

// The binary is named relative to the package directory; a path could point anywhere.
Status ReadBinaryName(const YamlField& field, std::string* out) {
  DUPLEX_RETURN_IF_ERROR(ReadText(field, out));
  if (out->find('/') != std::string::npos || *out == "." || *out == ".." || *out == kManifestFile) {
    return field.Error(Quote(*out) + " must be a file name inside the package directory");
  }
  return Status::Ok();
}

Status ReadSha256(const YamlField& field, std::string* out) {
  DUPLEX_RETURN_IF_ERROR(ReadText(field, out));
  const bool hex =
      out->size() == kSha256HexChars && std::all_of(out->begin(), out->end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0;
      });
  if (!hex) return field.Error(Quote(*out) + " is not a SHA-256 digest (64 hex characters)");
  // sha256sum prints lowercase; accept uppercase too and compare one spelling.
  std::transform(out->begin(), out->end(), out->begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  DUPLEX_ASSERT(IsLowerHexDigest(*out), "a read digest is in sha256sum's spelling", *out);
  return Status::Ok();
}

Status ReadUpgradeFrom(const YamlField& field, VersionRange* out) {
  std::string text;
  DUPLEX_RETURN_IF_ERROR(ReadText(field, &text));
  StatusOr<VersionRange> range = ParseVersionRange(text);
  if (!range.ok()) return Prefixed(field.name(), range.status());
  *out = *range;
  return Status::Ok();
}

Status ReadPlatform(const YamlField& field, PlatformRequirements* out) {
  if (field.missing()) return Status::Ok();
  if (!field.IsMap()) return field.WrongKind("a map");
  DUPLEX_RETURN_IF_ERROR(field.CheckKeys({"arch", "min_memory_mb", "min_disk_mb"}));
  if (!field["arch"].missing()) DUPLEX_RETURN_IF_ERROR(ReadText(field["arch"], &out->arch));
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  DUPLEX_RETURN_IF_ERROR(ReadCount(field["min_memory_mb"], 0, kMax, &out->memory_mb_min));
  return ReadCount(field["min_disk_mb"], 0, kMax, &out->disk_mb_min);
}

Status ReadFeature(const YamlField& field, const Version& package_version, Feature* out) {
  if (!field.IsMap()) return field.WrongKind("a map");
  DUPLEX_RETURN_IF_ERROR(field.CheckKeys({"name", "introduced_in"}));
  DUPLEX_RETURN_IF_ERROR(ReadName(field["name"], &out->name));
  const YamlField introduced_in = field["introduced_in"];
  DUPLEX_RETURN_IF_ERROR(ReadVersion(introduced_in, &out->introduced_in));
  // A package cannot ship a feature of a later release: the gate would never open for it.
  if (out->introduced_in > package_version) {
    return introduced_in.Error(out->introduced_in.ToString() +
                               " is later than the package version " + package_version.ToString());
  }
  return Status::Ok();
}

Status ReadFeatures(const YamlField& list, const Version& package_version,
                    std::vector<Feature>* out) {
  if (list.missing()) return Status::Ok();
  if (!list.IsList()) return list.WrongKind("a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    Feature feature;
    DUPLEX_RETURN_IF_ERROR(ReadFeature(list[i], package_version, &feature));
    for (const Feature& earlier : *out) {
      if (earlier.name == feature.name) {
        return list[i]["name"].Error(Quote(feature.name) + " appears twice");
      }
    }
    out->push_back(std::move(feature));
  }
  return Status::Ok();
}

Status ReadManifestFields(const YamlField& root, PackageManifest* m) {
  DUPLEX_RETURN_IF_ERROR(root.CheckKeys(
      {"name", "version", "binary", "sha256", "upgrade_from", "schema", "platform", "features"}));
  DUPLEX_RETURN_IF_ERROR(ReadName(root["name"], &m->name));
  DUPLEX_RETURN_IF_ERROR(ReadVersion(root["version"], &m->version));
  DUPLEX_RETURN_IF_ERROR(ReadBinaryName(root["binary"], &m->binary));
  DUPLEX_RETURN_IF_ERROR(ReadSha256(root["sha256"], &m->sha256));
  DUPLEX_RETURN_IF_ERROR(ReadUpgradeFrom(root["upgrade_from"], &m->upgrade_from));
  uint64_t schema = m->schema;
  DUPLEX_RETURN_IF_ERROR(
      ReadCount(root["schema"], 1, std::numeric_limits<uint32_t>::max(), &schema));
  m->schema = static_cast<uint32_t>(schema);
  DUPLEX_RETURN_IF_ERROR(ReadPlatform(root["platform"], &m->platform));
  return ReadFeatures(root["features"], m->version, &m->features);
}

// What passed ParseManifest, asserted field by field: everything a later step relies on
// (the store's directory name, the checksum comparison, the schema converters, feature gates).
void AssertParsed(const PackageManifest& m) {
  DUPLEX_ASSERT(IsName(m.name), "a parsed manifest has a name", m.name);
  DUPLEX_ASSERT(!m.binary.empty() && m.binary.find('/') == std::string::npos,
                "the binary is a file inside the package", m.binary);
  DUPLEX_ASSERT(IsLowerHexDigest(m.sha256), "the checksum is 64 lowercase hex digits", m.sha256);
  DUPLEX_ASSERT(!m.upgrade_from.clauses.empty() && !IsEmpty(m.upgrade_from),
                "upgrade_from contains some version", m.upgrade_from.ToString());
  // ToString and ParseVersionRange agree: a range written back reads as the same range.
  StatusOr<VersionRange> again = ParseVersionRange(m.upgrade_from.ToString());
  DUPLEX_ASSERT(again.ok() && *again == m.upgrade_from, "a range survives ToString and back",
                m.upgrade_from.ToString());
  DUPLEX_ASSERT(m.schema >= 1, "state schemas are numbered from 1", m.schema);
  for (std::size_t i = 0; i < m.features.size(); ++i) {
    DUPLEX_ASSERT(IsName(m.features[i].name), "a feature has a name", m.features[i].name);
    DUPLEX_ASSERT(m.features[i].introduced_in <= m.version,
                  "a package ships no feature of a later release", m.features[i].name);
    for (std::size_t j = 0; j < i; ++j) {
      DUPLEX_ASSERT(m.features[j].name != m.features[i].name, "a feature is listed once",
                    m.features[i].name);
    }
  }
  DUPLEX_ASSERT(m.dir.empty(), "the directory is the package reader's to set", m.dir);
}

}  // namespace

// ---- Public ----

bool VersionRange::Contains(const Version& v) const {
  if (clauses.empty()) return false;
  return std::all_of(clauses.begin(), clauses.end(), [&](const Clause& c) { return Holds(c, v); });
}

std::string VersionRange::ToString() const {
  std::string text;
  for (const Clause& c : clauses) {
    if (!text.empty()) text += ' ';
    text += std::string(OpText(c.op)) + c.version.ToString();
  }
  return text;
}

StatusOr<VersionRange> ParseVersionRange(const std::string& text) {
  const std::vector<std::string> words = SplitWords(text);
  if (words.empty()) {
    return InvalidArgument(Quote(text) + ": a version range needs a clause such as \">=1.0.0\"");
  }
  VersionRange range;
  for (std::size_t i = 0; i < words.size(); ++i) {
    VersionRange::Clause clause;
    Status status = ParseClause(words, &i, &clause);
    if (!status.ok()) return Prefixed(Quote(text), status);
    range.clauses.push_back(clause);
  }
  if (IsEmpty(range)) return InvalidArgument(Quote(text) + ": contains no version");
  DUPLEX_ASSERT(!range.clauses.empty() && range.clauses.size() <= words.size(),
                "a parsed range has one clause per one or two words", range.clauses.size(),
                words.size());
  return range;
}

StatusOr<PackageManifest> ParseManifest(const std::string& yaml_text) {
  StatusOr<YamlField> root = YamlField::Parse(yaml_text, "manifest");
  if (!root.ok()) return root.status();
  if (!root->IsMap()) return root->WrongKind("a map of fields");
  PackageManifest manifest;
  DUPLEX_RETURN_IF_ERROR(ReadManifestFields(*root, &manifest));
  AssertParsed(manifest);
  return manifest;
}

bool SameContent(const PackageManifest& a, const PackageManifest& b) {
  auto same_feature = [](const Feature& x, const Feature& y) {
    return x.name == y.name && x.introduced_in == y.introduced_in;
  };
  return a.name == b.name && a.version == b.version && a.binary == b.binary &&
         a.sha256 == b.sha256 && a.upgrade_from == b.upgrade_from && a.platform == b.platform &&
         a.schema == b.schema &&
         std::equal(a.features.begin(), a.features.end(), b.features.begin(), b.features.end(),
                    same_feature);
}

}  // namespace duplex
