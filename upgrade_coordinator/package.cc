// Package manifests, verification and the package store. This is the only file that sees
// yaml-cpp for manifests: every YAML::Exception is caught here and becomes an InvalidArgument.
// Tarballs are unpacked by the system tar, run with fork/exec and an argument vector (no shell).
#include "upgrade_coordinator/package.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "common/sha256.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

using Keys = std::initializer_list<std::string_view>;

constexpr char kManifestFile[] = "manifest.yaml";
// A manifest is a page of YAML; anything this large is the wrong file.
constexpr std::size_t kMaxManifestBytes = 1 << 20;
constexpr std::size_t kMaxNameChars = 32;
constexpr std::size_t kSha256HexChars = 64;
// Enough of tar's complaint to explain a failure without flooding the message.
constexpr std::size_t kMaxTarErrorBytes = 2048;
constexpr uint64_t kBytesPerMb = 1024 * 1024;

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
  return false;
}

std::string_view OpText(VersionRange::Op op) {
  for (const OpSpelling& s : kOps) {
    if (s.op == op) return s.text;
  }
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
  return Status::Ok();
}

// ---- Platform ----

// Debian and Docker spell architectures differently from uname; accept both.
std::string CanonicalArch(const std::string& arch) {
  if (arch == "amd64") return "x86_64";
  if (arch == "arm64") return "aarch64";
  return arch;
}

StatusOr<uint64_t> ReadAvailableMemoryMb() {
  std::ifstream in("/proc/meminfo");
  if (!in) return IOError("/proc/meminfo: cannot read: " + std::string(std::strerror(errno)));
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("MemAvailable:")) continue;
    std::istringstream fields(line.substr(std::strlen("MemAvailable:")));
    uint64_t kb = 0;
    if (fields >> kb) return kb / 1024;
    break;
  }
  return IOError("/proc/meminfo: no MemAvailable line (Linux 3.14 or later is needed)");
}

// Measures the nearest existing directory, so a data dir not created yet still gets an answer.
Status ReadAvailableDiskMb(const std::string& data_dir, PlatformFacts* facts) {
  std::error_code ec;
  fs::path path = fs::absolute(data_dir.empty() ? "." : data_dir, ec);
  if (ec) return IOError(data_dir + ": cannot make the path absolute: " + ec.message());
  while (!fs::exists(path, ec) && path.has_parent_path() && path != path.parent_path()) {
    path = path.parent_path();
  }
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) {
    return IOError(path.string() + ": statvfs: " + std::strerror(errno));
  }
  facts->disk_path = path.string();
  facts->available_disk_mb = uint64_t{vfs.f_bavail} * vfs.f_frsize / kBytesPerMb;
  return Status::Ok();
}

// ---- Manifest YAML ----

Status Error(const std::string& field, const std::string& what) {
  return InvalidArgument(field + ": " + what);
}

const char* KindName(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return "a single value";
  return "nothing";
}

bool IsMissing(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

bool IsName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameChars) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Rejects unknown keys, so a typo ("upgrade_form") is an error rather than a silent default,
// and keys written twice, which yaml-cpp would otherwise resolve silently.
Status CheckKeys(const YAML::Node& map, const std::string& path, Keys known) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    const std::string field = path.empty() ? key : path + "." + key;
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Error(field, "unknown field");
    }
    if (!seen.insert(key).second) return Error(field, "appears twice");
  }
  return Status::Ok();
}

Status ReadText(const YAML::Node& node, const std::string& field, std::string* out) {
  if (IsMissing(node)) return Error(field, "required");
  if (!node.IsScalar())
    return Error(field, std::string("must be a single value, got ") + KindName(node));
  if (node.Scalar().empty()) return Error(field, "required");
  *out = node.Scalar();
  return Status::Ok();
}

Status ReadName(const YAML::Node& node, const std::string& field, std::string* out) {
  DUPLEX_RETURN_IF_ERROR(ReadText(node, field, out));
  if (IsName(*out)) return Status::Ok();
  return Error(field, Quote(*out) + " is not a name ([a-z0-9_-]{1,32})");
}

Status ReadVersion(const YAML::Node& node, const std::string& field, Version* out) {
  std::string text;
  DUPLEX_RETURN_IF_ERROR(ReadText(node, field, &text));
  StatusOr<Version> version = ParseVersion(text);
  if (!version.ok()) return Prefixed(field, version.status());
  *out = *version;
  return Status::Ok();
}

// Plain decimal only: YAML 1.1 spellings such as 0x40 or 1_000 are likelier typos than intent.
Status ReadCount(const YAML::Node& node, const std::string& field, uint64_t min, uint64_t max,
                 uint64_t* out) {
  if (!node.IsDefined()) return Status::Ok();
  if (!node.IsScalar()) return Error(field, std::string("must be a number, got ") + KindName(node));
  const std::string& text = node.Scalar();
  uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size() || number < min || number > max) {
    return Error(field, "must be a whole number in " + std::to_string(min) + ".." +
                            std::to_string(max) + ", got " + Quote(text));
  }
  *out = number;
  return Status::Ok();
}

// The binary is named relative to the package directory; a path could point anywhere.
Status ReadBinaryName(const YAML::Node& node, std::string* out) {
  DUPLEX_RETURN_IF_ERROR(ReadText(node, "binary", out));
  if (out->find('/') != std::string::npos || *out == "." || *out == ".." || *out == kManifestFile) {
    return Error("binary", Quote(*out) + " must be a file name inside the package directory");
  }
  return Status::Ok();
}

Status ReadSha256(const YAML::Node& node, std::string* out) {
  DUPLEX_RETURN_IF_ERROR(ReadText(node, "sha256", out));
  const bool hex =
      out->size() == kSha256HexChars && std::all_of(out->begin(), out->end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0;
      });
  if (!hex) return Error("sha256", Quote(*out) + " is not a SHA-256 digest (64 hex characters)");
  // sha256sum prints lowercase; accept uppercase too and compare one spelling.
  std::transform(out->begin(), out->end(), out->begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return Status::Ok();
}

Status ReadUpgradeFrom(const YAML::Node& node, VersionRange* out) {
  std::string text;
  DUPLEX_RETURN_IF_ERROR(ReadText(node, "upgrade_from", &text));
  StatusOr<VersionRange> range = ParseVersionRange(text);
  if (!range.ok()) return Prefixed("upgrade_from", range.status());
  *out = *range;
  return Status::Ok();
}

Status ReadPlatform(const YAML::Node& node, PlatformRequirements* out) {
  if (IsMissing(node)) return Status::Ok();
  if (!node.IsMap()) return Error("platform", std::string("must be a map, got ") + KindName(node));
  DUPLEX_RETURN_IF_ERROR(CheckKeys(node, "platform", {"arch", "min_memory_mb", "min_disk_mb"}));
  if (!IsMissing(node["arch"]))
    DUPLEX_RETURN_IF_ERROR(ReadText(node["arch"], "platform.arch", &out->arch));
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  DUPLEX_RETURN_IF_ERROR(
      ReadCount(node["min_memory_mb"], "platform.min_memory_mb", 0, kMax, &out->min_memory_mb));
  return ReadCount(node["min_disk_mb"], "platform.min_disk_mb", 0, kMax, &out->min_disk_mb);
}

Status ReadFeature(const YAML::Node& node, const std::string& path, const Version& package_version,
                   Feature* out) {
  if (!node.IsMap()) return Error(path, std::string("must be a map, got ") + KindName(node));
  DUPLEX_RETURN_IF_ERROR(CheckKeys(node, path, {"name", "introduced_in"}));
  DUPLEX_RETURN_IF_ERROR(ReadName(node["name"], path + ".name", &out->name));
  const std::string field = path + ".introduced_in";
  DUPLEX_RETURN_IF_ERROR(ReadVersion(node["introduced_in"], field, &out->introduced_in));
  // A package cannot ship a feature of a later release: the gate would never open for it.
  if (out->introduced_in > package_version) {
    return Error(field, out->introduced_in.ToString() + " is later than the package version " +
                            package_version.ToString());
  }
  return Status::Ok();
}

Status ReadFeatures(const YAML::Node& node, const Version& package_version,
                    std::vector<Feature>* out) {
  if (IsMissing(node)) return Status::Ok();
  if (!node.IsSequence())
    return Error("features", std::string("must be a list, got ") + KindName(node));
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string path = "features[" + std::to_string(i) + "]";
    Feature feature;
    DUPLEX_RETURN_IF_ERROR(ReadFeature(node[i], path, package_version, &feature));
    for (const Feature& earlier : *out) {
      if (earlier.name == feature.name)
        return Error(path + ".name", Quote(feature.name) + " appears twice");
    }
    out->push_back(std::move(feature));
  }
  return Status::Ok();
}

Status ReadManifestFields(const YAML::Node& root, PackageManifest* m) {
  DUPLEX_RETURN_IF_ERROR(CheckKeys(
      root, "",
      {"name", "version", "binary", "sha256", "upgrade_from", "schema", "platform", "features"}));
  DUPLEX_RETURN_IF_ERROR(ReadName(root["name"], "name", &m->name));
  DUPLEX_RETURN_IF_ERROR(ReadVersion(root["version"], "version", &m->version));
  DUPLEX_RETURN_IF_ERROR(ReadBinaryName(root["binary"], &m->binary));
  DUPLEX_RETURN_IF_ERROR(ReadSha256(root["sha256"], &m->sha256));
  DUPLEX_RETURN_IF_ERROR(ReadUpgradeFrom(root["upgrade_from"], &m->upgrade_from));
  uint64_t schema = m->schema;
  DUPLEX_RETURN_IF_ERROR(
      ReadCount(root["schema"], "schema", 1, std::numeric_limits<uint32_t>::max(), &schema));
  m->schema = static_cast<uint32_t>(schema);
  DUPLEX_RETURN_IF_ERROR(ReadPlatform(root["platform"], &m->platform));
  return ReadFeatures(root["features"], m->version, &m->features);
}

// May throw YAML::Exception; ParseManifest converts it.
Status ReadManifestDocument(const std::string& yaml_text, PackageManifest* m) {
  const std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
  if (documents.size() > 1) {
    return Error("manifest", "holds " + std::to_string(documents.size()) +
                                 " YAML documents (separated by ---), expected one");
  }
  // An empty file reads as an empty map, so the message is the useful "name: required".
  YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap())
    return Error("manifest", std::string("must be a map of fields, got ") + KindName(root));
  return ReadManifestFields(root, m);
}

// ---- Files ----

// Removes its directory when destroyed: extracted tarballs and half-copied packages.
class ScratchDir {
 public:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Status MakeScratchDir(const fs::path& parent, const std::string& prefix,
                      std::optional<ScratchDir>* out) {
  std::string pattern = (parent / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return IOError(pattern + ": cannot create a temporary directory: " + std::strerror(errno));
  }
  out->emplace(pattern);
  return Status::Ok();
}

StatusOr<std::string> ReadSmallFile(const fs::path& path, const std::string& name) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return InvalidArgument(name + ": cannot read: " + ec.message());
  if (size > kMaxManifestBytes)
    return InvalidArgument(name + ": larger than 1 MiB, not a manifest");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return IOError(name + ": cannot read: " + std::strerror(errno));
  return text.str();
}

bool IsTarball(const std::string& path) {
  return path.ends_with(".tar") || path.ends_with(".tar.gz") || path.ends_with(".tgz");
}

// Resolved before fork, so the child only calls async-signal-safe functions.
StatusOr<std::string> FindTar() {
  const char* env = std::getenv("PATH");
  std::istringstream dirs(env != nullptr ? env : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/tar";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return FailedPrecondition("cannot unpack a tarball: no tar program on PATH");
}

// Reads the child's stderr to EOF, keeping the first kMaxTarErrorBytes.
std::string Drain(int fd) {
  std::string text;
  char buffer[512];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, std::min<std::size_t>(
                            n, kMaxTarErrorBytes - std::min(kMaxTarErrorBytes, text.size())));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Runs argv[0] with stdin and stdout on /dev/null; a failure carries its stderr.
Status RunProgram(std::vector<std::string> args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return IOError(std::string("pipe: ") + std::strerror(errno));
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return IOError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  const std::string error_text = Drain(pipe_fds[0]);
  ::close(pipe_fds[0]);
  int status = 0;
  pid_t waited = 0;
  while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  // A waitpid(-1) elsewhere in the process (the Supervisor's reaper) may have taken the exit
  // status; verifying the extracted package afterwards still catches a partial extraction.
  if (waited < 0 && errno == ECHILD) return Status::Ok();
  if (waited == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  const std::string how = WIFEXITED(status)
                              ? "exited with " + std::to_string(WEXITSTATUS(status))
                              : "was killed by signal " + std::to_string(WTERMSIG(status));
  return InvalidArgument("tar " + how + (error_text.empty() ? "" : ": " + error_text));
}

Status ExtractTarball(const std::string& tarball, const fs::path& into) {
  StatusOr<std::string> tar = FindTar();
  if (!tar.ok()) return tar.status();
  // --force-local: a name with a colon is a local file, not host:path on a remote tape.
  std::vector<std::string> args = {*tar,    "-x", "--no-same-owner", "--force-local", "-f",
                                   tarball, "-C", into.string()};
  if (!tarball.ends_with(".tar")) args.insert(args.begin() + 2, "-z");
  return RunProgram(std::move(args));
}

// A tarball holds the package at its top, or inside its one top-level directory.
StatusOr<fs::path> FindPackageRoot(const fs::path& extracted) {
  std::error_code ec;
  if (fs::exists(extracted / kManifestFile, ec)) return extracted;
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(extracted, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (entries.size() == 1 && fs::exists(entries[0] / kManifestFile, ec)) return entries[0];
  return InvalidArgument(std::string("no ") + kManifestFile +
                         " at the top of the tarball or inside its one top-level directory");
}

// Errors name the file inside the package; the caller prefixes the package.
StatusOr<PackageManifest> ReadPackageDir(const fs::path& dir) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(dir, ec);
  if (ec) return IOError(ec.message());
  StatusOr<std::string> text = ReadSmallFile(canonical / kManifestFile, kManifestFile);
  if (!text.ok()) return text.status();
  StatusOr<PackageManifest> manifest = ParseManifest(*text);
  if (!manifest.ok()) return Prefixed(kManifestFile, manifest.status());
  manifest->dir = canonical.string();
  DUPLEX_RETURN_IF_ERROR(VerifyBinary(*manifest));
  return manifest;
}

// Reads the package at `path`; a tarball is extracted into a new directory under
// `scratch_parent`, owned by `scratch`, which must outlive the use of the result's `dir`.
StatusOr<PackageManifest> OpenPackage(const std::string& path, const fs::path& scratch_parent,
                                      std::optional<ScratchDir>* scratch) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return ReadPackageDir(path);
  if (!fs::exists(path, ec)) return NotFound("no such directory or file");
  if (!IsTarball(path) || !fs::is_regular_file(path, ec)) {
    return InvalidArgument("not a package: expected a directory or a .tar, .tar.gz or .tgz file");
  }
  DUPLEX_RETURN_IF_ERROR(MakeScratchDir(scratch_parent, ".incoming-", scratch));
  DUPLEX_RETURN_IF_ERROR(ExtractTarball(path, (*scratch)->path()));
  StatusOr<fs::path> root = FindPackageRoot((*scratch)->path());
  if (!root.ok()) return root.status();
  return ReadPackageDir(*root);
}

// fsync, so a package renamed into the store after a power cut still has its bytes.
Status SyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IOError(path.string() + ": open: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int fsync_errno = errno;
  ::close(fd);
  if (rc != 0) return IOError(path.string() + ": fsync: " + std::strerror(fsync_errno));
  return Status::Ok();
}

Status CopyDurably(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, ec);
  if (ec) return IOError(from.string() + " -> " + to.string() + ": copy: " + ec.message());
  return SyncPath(to);
}

std::string Describe(const std::string& name, const Version& v) {
  return name + " " + v.ToString();
}

}  // namespace

// ---- Public: ranges and platform ----

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
  return range;
}

StatusOr<PlatformFacts> ReadPlatformFacts(const std::string& data_dir) {
  PlatformFacts facts;
  struct utsname names {};
  if (::uname(&names) != 0) return IOError(std::string("uname: ") + std::strerror(errno));
  facts.arch = names.machine;
  StatusOr<uint64_t> memory = ReadAvailableMemoryMb();
  if (!memory.ok()) return memory.status();
  facts.available_memory_mb = *memory;
  DUPLEX_RETURN_IF_ERROR(ReadAvailableDiskMb(data_dir, &facts));
  return facts;
}

Status CheckPlatform(const PlatformRequirements& required, const PlatformFacts& facts) {
  if (!required.arch.empty() && CanonicalArch(required.arch) != facts.arch) {
    return FailedPrecondition("platform.arch: needs " + required.arch + ", this machine is " +
                              facts.arch);
  }
  if (facts.available_memory_mb < required.min_memory_mb) {
    return FailedPrecondition("platform.min_memory_mb: needs " +
                              std::to_string(required.min_memory_mb) + ", this machine has " +
                              std::to_string(facts.available_memory_mb) + " available");
  }
  if (facts.available_disk_mb < required.min_disk_mb) {
    return FailedPrecondition("platform.min_disk_mb: needs " +
                              std::to_string(required.min_disk_mb) + ", " + facts.disk_path +
                              " has " + std::to_string(facts.available_disk_mb) + " available");
  }
  return Status::Ok();
}

Status CheckPlatform(const PlatformRequirements& required, const std::string& data_dir) {
  StatusOr<PlatformFacts> facts = ReadPlatformFacts(data_dir);
  if (!facts.ok()) return facts.status();
  return CheckPlatform(required, *facts);
}

// ---- Public: manifests and packages ----

StatusOr<PackageManifest> ParseManifest(const std::string& yaml_text) {
  PackageManifest manifest;
  try {
    DUPLEX_RETURN_IF_ERROR(ReadManifestDocument(yaml_text, &manifest));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return InvalidArgument(e.msg);
    return InvalidArgument("line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
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

Status VerifyBinary(const PackageManifest& manifest) {
  const fs::path path = manifest.BinaryPath();
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return InvalidArgument(manifest.binary + ": missing from the package");
  if (!fs::is_regular_file(status))
    return InvalidArgument(manifest.binary + ": not a regular file");
  constexpr fs::perms kExec =
      fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
  if ((status.permissions() & kExec) == fs::perms::none) {
    return InvalidArgument(manifest.binary + ": not executable (chmod +x it before packaging)");
  }
  StatusOr<std::string> digest = Sha256HexOfFile(path.string());
  if (!digest.ok()) return digest.status();
  if (*digest != manifest.sha256) {
    return InvalidArgument(manifest.binary + ": checksum mismatch: manifest says " +
                           manifest.sha256 + ", file has " + *digest +
                           " (tampered or corrupt package)");
  }
  return Status::Ok();
}

StatusOr<PackageManifest> ReadPackage(const std::string& path) {
  std::error_code ec;
  const fs::path temp = fs::temp_directory_path(ec);
  if (ec) return IOError(path + ": no temporary directory to unpack into: " + ec.message());
  std::optional<ScratchDir> scratch;
  StatusOr<PackageManifest> manifest = OpenPackage(path, temp, &scratch);
  if (!manifest.ok()) return Prefixed(path, manifest.status());
  if (scratch.has_value()) manifest->dir.clear();  // the extracted copy goes with `scratch`
  return manifest;
}

// ---- PackageStore ----

StatusOr<std::unique_ptr<PackageStore>> PackageStore::Open(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IOError(dir + ": cannot create the package store: " + ec.message());
  const fs::path canonical = fs::canonical(dir, ec);
  if (ec) return IOError(dir + ": " + ec.message());
  std::unique_ptr<PackageStore> store(new PackageStore(canonical.string()));
  DUPLEX_RETURN_IF_ERROR(store->Load());
  return store;
}

// Scraps of an interrupted Add (dot-names) are removed; every package must still verify, since
// a stored package that changed on disk must not reach a replica.
Status PackageStore::Load() {
  std::error_code ec;
  // increment(ec) rather than a range-for, whose ++ throws on a listing error.
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    const std::string file_name = entry.path().filename().string();
    if (file_name.starts_with(".")) {
      fs::remove_all(entry.path(), ec);
      continue;
    }
    if (!entry.is_directory(ec)) continue;
    StatusOr<PackageManifest> manifest = ReadPackageDir(entry.path());
    const std::string fix = "; remove " + entry.path().string() + " and add the package again";
    // A damaged package is left out (and named), not fatal: the coordinator must start.
    if (!manifest.ok()) {
      damaged_.push_back(entry.path().string() + ": " + manifest.status().message() + fix);
      continue;
    }
    if (file_name != manifest->name + "-" + manifest->version.ToString()) {
      damaged_.push_back(entry.path().string() + ": holds " +
                         Describe(manifest->name, manifest->version) + fix);
      continue;
    }
    packages_[{manifest->name, manifest->version}] = std::move(manifest).value();
  }
  if (ec) return IOError(dir_ + ": cannot list the package store: " + ec.message());
  return Status::Ok();
}

StatusOr<PackageManifest> PackageStore::Add(const std::string& path) {
  std::optional<ScratchDir> scratch;
  StatusOr<PackageManifest> incoming = OpenPackage(path, dir_, &scratch);
  if (!incoming.ok()) return Prefixed(path, incoming.status());
  return AddVerified(*incoming);
}

// Copies into a dot-named directory, verifies the copy, then renames it into place.
StatusOr<PackageManifest> PackageStore::AddVerified(const PackageManifest& incoming) {
  const std::string what = Describe(incoming.name, incoming.version);
  auto existing = packages_.find({incoming.name, incoming.version});
  if (existing != packages_.end()) {
    if (SameContent(existing->second, incoming)) return existing->second;
    const bool same_binary = existing->second.sha256 == incoming.sha256;
    return FailedPrecondition(what + " is already stored with another " +
                              (same_binary ? "manifest" : "checksum"));
  }
  const fs::path final_dir = fs::path(dir_) / (incoming.name + "-" + incoming.version.ToString());
  std::optional<ScratchDir> copy;
  DUPLEX_RETURN_IF_ERROR(MakeScratchDir(dir_, ".tmp-", &copy));
  const fs::path from = incoming.dir;
  DUPLEX_RETURN_IF_ERROR(CopyDurably(from / kManifestFile, copy->path() / kManifestFile));
  DUPLEX_RETURN_IF_ERROR(CopyDurably(from / incoming.binary, copy->path() / incoming.binary));
  DUPLEX_RETURN_IF_ERROR(SyncPath(copy->path()));
  StatusOr<PackageManifest> stored = ReadPackageDir(copy->path());
  if (!stored.ok()) return Prefixed("the stored copy of " + what, stored.status());
  // The source could have changed between reading and copying.
  if (!SameContent(*stored, incoming))
    return FailedPrecondition(what + ": the package changed while it was being added");
  std::error_code ec;
  fs::rename(copy->path(), final_dir, ec);
  if (ec) return IOError(final_dir.string() + ": cannot store the package: " + ec.message());
  DUPLEX_RETURN_IF_ERROR(SyncPath(dir_));
  stored->dir = final_dir.string();
  packages_[{stored->name, stored->version}] = *stored;
  return stored;
}

std::vector<PackageManifest> PackageStore::List() const {
  std::vector<PackageManifest> list;
  for (const auto& [key, manifest] : packages_) list.push_back(manifest);
  return list;
}

StatusOr<PackageManifest> PackageStore::Get(const std::string& name, const Version& v) const {
  auto it = packages_.find({name, v});
  if (it != packages_.end()) return it->second;
  std::string stored;
  for (const auto& [key, manifest] : packages_) {
    stored += (stored.empty() ? "" : ", ") + Describe(key.first, key.second);
  }
  return NotFound("no package " + Describe(name, v) + " in the store; " +
                  (stored.empty() ? "the store is empty" : "stored: " + stored));
}

}  // namespace duplex
