// POSIX ustar headers, with GNU long names ('L') and pax extended headers ('x': path, size),
// read through zlib's gzread, which also reads an uncompressed file as it is.
#include "upgrade_coordinator/tarball.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "common/assert.h"

namespace duplex {
namespace {

constexpr std::size_t kBlockBytes = 512;
// A GNU long name or a pax header is a few hundred bytes; more is not a package's.
constexpr uint64_t kExtendedHeaderBytesMax = 64 * 1024;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// Refusals name the entry; the caller prefixes the tarball's path.
Status Refuse(PackageRefusal why, PackageRefusal* reason, const std::string& message) {
  if (reason != nullptr) *reason = why;
  return InvalidArgument(message);
}

std::string Field(const char* header, std::size_t offset, std::size_t length) {
  const char* start = header + offset;
  return std::string(start, strnlen(start, length));
}

// An octal field; nullopt when malformed. A base-256 field (first byte 0x80, GNU's spelling of
// sizes over 8 GiB) is reported as UINT64_MAX: larger than any package may be.
std::optional<uint64_t> Octal(const char* header, std::size_t offset, std::size_t length) {
  if (static_cast<unsigned char>(header[offset]) & 0x80) return UINT64_MAX;
  uint64_t value = 0;
  bool digits = false;
  for (std::size_t i = 0; i < length; ++i) {
    const char c = header[offset + i];
    if (c == '\0' || c == ' ') {
      if (digits) break;
      continue;
    }
    if (c < '0' || c > '7' || value > (UINT64_MAX >> 3)) return std::nullopt;
    value = value * 8 + static_cast<uint64_t>(c - '0');
    digits = true;
  }
  return value;
}

bool ChecksumMatches(const char* header) {
  const std::optional<uint64_t> stored = Octal(header, 148, 8);
  uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlockBytes; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
  }
  return stored.has_value() && *stored == sum;
}

// "" when the path is safe to extract, else why not.
std::string UnsafePath(std::string_view path) {
  if (path.empty()) return "an empty name";
  if (path.front() == '/') return "an absolute path";
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..") return "a \"..\" component";
    start = end + 1;
  }
  return "";
}

// Why an entry of this type may not be in a package, or "" when it may.
std::string RefusedType(char type) {
  switch (type) {
    case '0':
    case '\0':
    case '7':
    case '5':
      return "";
    case '1':
      return "a hard link";
    case '2':
    case 'K':
      return "a symbolic link";
    case '3':
    case '4':
      return "a device";
    case '6':
      return "a FIFO";
    default:
      return std::string("an entry of type '") + type + "' (only files and directories)";
  }
}

// Reads exactly `n` bytes into `out`; false at the end of the input or on an error.
using ReadFn = std::function<bool(char* out, uint64_t n)>;

class TarReader {
 public:
  TarReader(ReadFn read, uint64_t bytes_max, PackageRefusal* reason)
      : read_(std::move(read)), bytes_max_(bytes_max), reason_(reason) {}

  Status Run() {
    for (uint64_t entries = 0;; ++entries) {
      if (entries > kTarballEntriesMax) {
        return Refuse(PackageRefusal::kUnsafeTarball, reason_,
                      "more than " + std::to_string(kTarballEntriesMax) + " entries");
      }
      std::array<char, kBlockBytes> header{};
      if (!ReadExactly(header.data(), kBlockBytes)) return Truncated();
      if (std::all_of(header.begin(), header.end(), [](char c) { return c == '\0'; })) {
        return Status::Ok();  // the end-of-archive block
      }
      DUPLEX_RETURN_IF_ERROR(OnHeader(header.data()));
    }
  }

 private:
  Status OnHeader(const char* header) {
    if (!ChecksumMatches(header)) {
      return Refuse(PackageRefusal::kInvalid, reason_, "not a tar archive (a header's checksum)");
    }
    const char type = header[156];
    std::optional<uint64_t> size = Octal(header, 124, 12);
    if (!size.has_value()) return Refuse(PackageRefusal::kInvalid, reason_, "a malformed size");
    if (type == 'L' || type == 'x' || type == 'g') return OnExtended(type, *size);
    std::string name = Field(header, 0, 100);
    const std::string prefix = Field(header, 345, 155);
    if (!prefix.empty() && std::string_view(header + 257, 5) == "ustar") name = prefix + "/" + name;
    if (long_name_) name = *std::exchange(long_name_, std::nullopt);
    if (pax_size_) size = *std::exchange(pax_size_, std::nullopt);
    const std::string entry = "tarball entry \"" + name + "\": ";
    if (std::string why = UnsafePath(name); !why.empty()) {
      return Refuse(PackageRefusal::kUnsafeTarball, reason_, entry + why);
    }
    if (std::string why = RefusedType(type); !why.empty()) {
      return Refuse(PackageRefusal::kUnsafeTarball, reason_, entry + why);
    }
    if (type == '5') size = 0;  // a directory's size field carries no data
    if (*size > bytes_max_ || total_bytes_ + *size > bytes_max_) {
      return Refuse(PackageRefusal::kTooLarge, reason_,
                    entry + "the files add up to more than limits.package_bytes_max (" +
                        std::to_string(bytes_max_) + " bytes)");
    }
    total_bytes_ += *size;
    return Skip(*size);
  }

  // A GNU long name or a pax header: its data describes the next entry.
  Status OnExtended(char type, uint64_t size) {
    if (size > kExtendedHeaderBytesMax) {
      return Refuse(PackageRefusal::kUnsafeTarball, reason_, "an extended header too large");
    }
    std::string data(size, '\0');
    if (!ReadExactly(data.data(), size) || !SkipBytes(Padding(size)).ok()) return Truncated();
    if (type == 'L') {
      long_name_ = std::string(data.c_str());
      return Status::Ok();
    }
    if (type == 'g') return Status::Ok();  // global defaults (GNU: none that name a file)
    return ParsePax(data);
  }

  // Records "<length> <key>=<value>\n"; path and size override the next header's.
  Status ParsePax(std::string_view data) {
    while (!data.empty()) {
      const std::size_t space = data.find(' ');
      uint64_t length = 0;
      for (std::size_t i = 0; i < space && i < data.size(); ++i) {
        if (data[i] < '0' || data[i] > '9') {
          length = 0;
          break;
        }
        length = length * 10 + static_cast<uint64_t>(data[i] - '0');
      }
      if (space == std::string_view::npos || length <= space + 1 || length > data.size()) {
        return Refuse(PackageRefusal::kInvalid, reason_, "a malformed pax header");
      }
      std::string_view record = data.substr(space + 1, length - space - 2);  // no '\n'
      data.remove_prefix(length);
      const std::size_t eq = record.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view key = record.substr(0, eq), value = record.substr(eq + 1);
      if (key == "path") long_name_ = std::string(value);
      if (key == "size") {
        uint64_t n = 0;
        for (char c : value) {
          if (c < '0' || c > '9' || n > UINT64_MAX / 10 - 9) {
            n = UINT64_MAX;
            break;
          }
          n = n * 10 + static_cast<uint64_t>(c - '0');
        }
        pax_size_ = n;
      }
    }
    return Status::Ok();
  }

  static uint64_t Padding(uint64_t size) {
    return (kBlockBytes - size % kBlockBytes) % kBlockBytes;
  }

  // Reads past an entry's data and its padding (bounded: sizes were checked).
  Status Skip(uint64_t size) { return SkipBytes(size + Padding(size)); }

  Status SkipBytes(uint64_t bytes) {
    uint64_t left = bytes;
    std::array<char, 64 * 1024> buffer;
    while (left > 0) {
      const auto n = static_cast<unsigned>(std::min<uint64_t>(left, buffer.size()));
      if (!ReadExactly(buffer.data(), n)) return Truncated();
      left -= n;
    }
    return Status::Ok();
  }

  bool ReadExactly(char* out, uint64_t n) {
    DUPLEX_ASSERT(n <= kExtendedHeaderBytesMax, "reads are bounded by the caller", n);
    return read_(out, n);
  }

  Status Truncated() {
    return Refuse(PackageRefusal::kInvalid, reason_, "truncated or not a tar archive");
  }

  ReadFn read_;
  uint64_t bytes_max_;
  PackageRefusal* reason_;
  uint64_t total_bytes_ = 0;
  std::optional<std::string> long_name_;
  std::optional<uint64_t> pax_size_;
};

}  // namespace

Status CheckTarball(const std::string& path, uint64_t bytes_max, PackageRefusal* reason) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    if (reason != nullptr) *reason = PackageRefusal::kInvalid;
    return IOError("cannot open: " + std::string(std::strerror(errno)));
  }
  auto read = [f = file.get()](char* out, uint64_t n) {
    return gzread(f, out, static_cast<unsigned>(n)) == static_cast<int>(n);
  };
  return TarReader(read, bytes_max, reason).Run();
}

Status CheckTarArchive(std::string_view tar, uint64_t bytes_max, PackageRefusal* reason) {
  auto read = [&tar](char* out, uint64_t n) {
    if (n > tar.size()) return false;
    tar.copy(out, n);
    tar.remove_prefix(n);
    return true;
  };
  return TarReader(read, bytes_max, reason).Run();
}

bool LooksGzipped(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {};
  in.read(magic, 2);
  return in && static_cast<unsigned char>(magic[0]) == 0x1f &&
         static_cast<unsigned char>(magic[1]) == 0x8b;
}

}  // namespace duplex
