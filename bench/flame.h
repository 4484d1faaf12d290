// Flame graphs: perf's call stacks folded into lines "root;caller;callee count" (the format of
// Brendan Gregg's FlameGraph tools), drawn as one self-contained SVG, and the share of samples
// by component of the write path. Debian has no flame graph package, hence this small renderer.
// Pure functions of text; bench/profile.h runs perf and calls them. No threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace duplex::bench {

// Stack (root first, frames joined by ';') -> samples.
using FoldedStacks = std::map<std::string, uint64_t>;

// Folded lines, as FlameGraph's stackcollapse tools write them; blank lines are skipped. The
// error names the first line that is not "<stack> <count>".
StatusOr<FoldedStacks> ParseFolded(std::string_view text);

// `perf script` output (one header line per sample, then its stack leaf first, one frame a
// line, a blank line after it) folded: the thread's name is the root frame, kernel frames end in
// "_[k]", a frame without a symbol is named by its object ("[libc.so.6]"), and C++ parameter lists
// are dropped ("rocksdb::DBImpl::Write").
FoldedStacks FoldPerfScript(std::string_view perf_script);

// The flame graph: one rectangle per frame, as wide as its samples, callees above callers,
// siblings in name order; each rectangle's tooltip gives its samples and share. Kernel frames are
// orange, the rest on a red-yellow scale by name.
std::string RenderFlameSvg(const FoldedStacks& stacks, const std::string& title);

struct Share {
  std::string name;
  uint64_t samples = 0;
  double percent = 0;
};

// Samples by component of the write path (the replica's loop, Cap'n Proto, RocksDB memtable,
// WAL and fsync, ZeroMQ, allocation, the session table, ...): each sample goes to the first frame
// from the leaf that a component claims, so a malloc called by Cap'n Proto counts as
// allocation and a system call as its caller's. Largest first.
std::vector<Share> ComponentShares(const FoldedStacks& stacks);
// Samples by thread (the root frame), largest first.
std::vector<Share> ThreadShares(const FoldedStacks& stacks);
// Samples spent in the kernel (the leaf frame is a kernel frame), in percent of all.
double KernelPercent(const FoldedStacks& stacks);

}  // namespace duplex::bench
