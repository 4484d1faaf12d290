// Package tarballs checked before anything is extracted: the tar headers are read here (a
// gzip stream is inflated on the fly) and an archive is refused, naming the entry, when an
// entry has an absolute path or a ".." component, is a link (hard or symbolic), a device or
// a FIFO, or when its files add up to more than a bound. Pure function over a file; any
// thread. zlib stays behind tarball.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "upgrade_coordinator/package_signature.h"

namespace duplex {

// Entries a package tarball may hold: a package is a manifest, its signature and one binary.
inline constexpr uint64_t kTarballEntriesMax = 1000;

// Ok when every entry of the .tar, .tar.gz or .tgz at `path` is a regular file or a directory
// with a relative path free of "..", and the files' sizes add up to at most `bytes_max`. A
// refusal is InvalidArgument naming the entry ("tarball entry \"../etc/passwd\": a \"..\"
// component"), with `*reason` kUnsafeTarball or kTooLarge (kInvalid: not a tar archive).
Status CheckTarball(const std::string& path, uint64_t bytes_max, PackageRefusal* reason);

// CheckTarball over an uncompressed archive in memory (the fuzz target's entry).
Status CheckTarArchive(std::string_view tar, uint64_t bytes_max, PackageRefusal* reason);

// True when the file starts like a gzip stream (1f 8b).
bool LooksGzipped(const std::string& path);

}  // namespace duplex
