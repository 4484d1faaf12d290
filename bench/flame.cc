#include "bench/flame.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>

#include "chaos/report.h"

namespace duplex::bench {
namespace {

constexpr double kSvgWidth = 1200, kFrameHeight = 16, kPad = 10, kTitleHeight = 30;
constexpr double kMinFrameWidth = 0.1;  // narrower frames are not drawn (flamegraph.pl's default)
constexpr double kCharWidth = 6.6;      // of the 11 px font, to truncate labels to their frame
constexpr const char* kKernelSuffix = "_[k]";

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t end = text.find('\n');
    out.push_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// "rocksdb::DBImpl::Write(rocksdb::WriteOptions const&, ...) const" -> "rocksdb::DBImpl::Write":
// the last balanced parameter list and what follows it go; "operator()" keeps its own parens.
std::string WithoutParameters(std::string_view symbol);

// "duplex::(anonymous namespace)::Run(int)" -> "duplex::{anon}::Run": the namespace's parens are
// not a parameter list.
std::string Simplify(std::string_view symbol) {
  static constexpr std::string_view kAnonymous = "(anonymous namespace)";
  std::string text(symbol);
  for (size_t at = text.find(kAnonymous); at != std::string::npos; at = text.find(kAnonymous)) {
    text.replace(at, kAnonymous.size(), "{anon}");
  }
  return WithoutParameters(text);
}

std::string WithoutParameters(std::string_view symbol) {
  size_t close = symbol.rfind(')');
  if (close == std::string_view::npos) return std::string(symbol);
  int depth = 0;
  for (size_t i = close + 1; i-- > 0;) {
    if (symbol[i] == ')') ++depth;
    if (symbol[i] == '(' && --depth == 0) {
      if (i == 0) return std::string(symbol);
      std::string_view name = symbol.substr(0, i);
      if (name.size() >= 8 && name.substr(name.size() - 8) == "operator") {
        return std::string(symbol.substr(0, std::min(symbol.size(), i + 2)));
      }
      return std::string(name);
    }
  }
  return std::string(symbol);
}

// One stack line of `perf script`: "<address> <symbol>+0x<offset> (<object>)".
std::string FrameName(std::string_view line) {
  line = Trim(line);
  size_t space = line.find(' ');
  std::string_view rest = space == std::string_view::npos ? "" : Trim(line.substr(space + 1));
  std::string_view object;
  if (!rest.empty() && rest.back() == ')') {
    size_t open = rest.rfind(" (");
    if (open != std::string_view::npos) {
      object = rest.substr(open + 2, rest.size() - open - 3);
      rest = Trim(rest.substr(0, open));
    }
  }
  size_t plus = rest.rfind("+0x");
  if (plus != std::string_view::npos) rest = rest.substr(0, plus);
  std::string name;
  if (rest.empty() || rest == "[unknown]") {
    size_t slash = object.rfind('/');
    name = "[" + std::string(slash == std::string_view::npos ? object : object.substr(slash + 1)) +
           "]";
  } else {
    name = Simplify(rest);
  }
  std::replace(name.begin(), name.end(), ';', ':');
  if (object == "[kernel.kallsyms]") name += kKernelSuffix;
  return name;
}

// The thread's name from a sample's header line: what comes before the first field that is a
// number (the pid or pid/tid), or the whole line when `perf script -F comm` printed only it.
std::string ThreadName(std::string_view header) {
  header = Trim(header);
  size_t pos = 0;
  while (pos < header.size()) {
    size_t space = header.find(' ', pos);
    if (space == std::string_view::npos) break;
    size_t next = space;
    while (next < header.size() && header[next] == ' ') ++next;
    if (next < header.size() && header[next] >= '0' && header[next] <= '9') {
      std::string name(header.substr(0, space));
      std::replace(name.begin(), name.end(), ';', ':');
      return name;
    }
    pos = next;
  }
  std::string name(header);
  std::replace(name.begin(), name.end(), ';', ':');
  return name;
}

bool IsKernel(std::string_view frame) {
  return frame.size() > 4 && frame.substr(frame.size() - 4) == kKernelSuffix;
}

std::vector<std::string_view> Frames(std::string_view stack) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= stack.size()) {
    size_t end = stack.find(';', start);
    if (end == std::string_view::npos) end = stack.size();
    out.push_back(stack.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

struct Node {
  std::string name;
  uint64_t samples = 0;
  std::map<std::string, std::unique_ptr<Node>> children;  // name order, as flamegraph.pl draws
};

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// Red-yellow by a hash of the name (stable across runs), orange for the kernel.
std::string Color(const std::string& name) {
  if (IsKernel(name)) return "rgb(230,140,50)";
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  int g = 60 + static_cast<int>(h % 170), b = 30 + static_cast<int>((h >> 8) % 50);
  return "rgb(225," + std::to_string(g) + "," + std::to_string(b) + ")";
}

size_t Depth(const Node& node) {
  size_t deepest = 0;
  for (const auto& [name, child] : node.children) deepest = std::max(deepest, Depth(*child));
  return deepest + 1;
}

std::vector<Share> Shares(const std::map<std::string, uint64_t>& counts, uint64_t total) {
  std::vector<Share> out;
  for (const auto& [name, samples] : counts) {
    out.push_back({name, samples, total == 0 ? 0 : 100.0 * samples / total});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Share& a, const Share& b) { return a.samples > b.samples; });
  return out;
}

// The components, each claiming the frames that contain one of its patterns. Checked in this
// order for each frame, so that the more specific claims come first.
struct Component {
  const char* name;
  std::vector<const char*> patterns;
};
const std::vector<Component>& Components() {
  static const std::vector<Component> components = {
      {"fsync (WAL sync)", {"fsync", "fdatasync", "SyncWAL", "WritableFileWriter::Sync"}},
      {"getpid (libzmq fork check)", {"getpid"}},
      {"checksums", {"crc32", "Crc32", "XXH", "Checksum", "Fnv1a"}},
      {"allocation",
       {"malloc", "free", "operator new", "operator delete", "_int_", "realloc", "tcache",
        "consolidate"}},
      {"RocksDB memtable", {"MemTable", "InlineSkipList", "MemTableInserter", "Comparator"}},
      {"RocksDB WAL write", {"log::Writer", "WriteToWAL", "WritableFileWriter"}},
      {"RocksDB compaction and flush",
       {"Compaction", "FlushJob", "BlockBasedTableBuilder", "snappy"}},
      {"RocksDB other", {"rocksdb::"}},
      {"Cap'n Proto", {"capnp::", "kj::"}},
      {"ZeroMQ", {"zmq::", "zmq_"}},
      {"client port (TCP)", {"ClientListener", "FrameStream", "TlsSession"}},
      {"session table",
       {"SessionTable", "SessionEntry", "SessionKey", "EncodeSession", "DecodeSession"}},
      {"replica loop", {"duplex::"}},
  };
  return components;
}

std::string ComponentOf(const std::vector<std::string_view>& frames) {
  for (size_t i = frames.size(); i-- > 1;) {  // frames[0] is the thread
    if (IsKernel(frames[i])) continue;
    for (const Component& c : Components()) {
      for (const char* p : c.patterns) {
        if (frames[i].find(p) != std::string_view::npos) return c.name;
      }
    }
  }
  if (frames.size() > 1 && IsKernel(frames.back())) {
    // Kernel work no user frame explains: interrupts, the scheduler, or a syscall whose caller
    // was not unwound.
    return frames.size() > 2 && !IsKernel(frames[1]) ? "system calls (caller not unwound)"
                                                     : "kernel (other)";
  }
  return "other";
}

}  // namespace

StatusOr<FoldedStacks> ParseFolded(std::string_view text) {
  FoldedStacks out;
  int number = 0;
  for (std::string_view line : Lines(text)) {
    ++number;
    line = Trim(line);
    if (line.empty()) continue;
    size_t space = line.rfind(' ');
    uint64_t count = 0;
    bool ok = space != std::string_view::npos && space > 0 && space + 1 < line.size();
    for (size_t i = space + 1; ok && i < line.size(); ++i) {
      ok = line[i] >= '0' && line[i] <= '9';
      count = count * 10 + static_cast<uint64_t>(line[i] - '0');
    }
    if (!ok) {
      return InvalidArgument("folded stacks, line " + std::to_string(number) +
                             ": expected \"<frame;frame;...> <count>\", got \"" +
                             std::string(line.substr(0, 80)) + "\"");
    }
    out[std::string(Trim(line.substr(0, space)))] += count;
  }
  return out;
}

FoldedStacks FoldPerfScript(std::string_view perf_script) {
  FoldedStacks out;
  std::string thread;
  std::vector<std::string> frames;  // leaf first
  bool in_sample = false;
  auto flush = [&] {
    if (!in_sample) return;
    std::string stack = thread;
    for (size_t i = frames.size(); i-- > 0;) stack += ";" + frames[i];
    ++out[stack];
    frames.clear();
    in_sample = false;
  };
  for (std::string_view line : Lines(perf_script)) {
    if (Trim(line).empty()) {
      flush();
    } else if (line.front() == '#') {
      continue;  // perf's header comments
    } else if (line.front() != ' ' && line.front() != '\t') {
      flush();
      thread = ThreadName(line);
      in_sample = true;
    } else if (in_sample) {
      frames.push_back(FrameName(line));
    }
  }
  flush();
  return out;
}

std::string RenderFlameSvg(const FoldedStacks& stacks, const std::string& title) {
  Node root{"all", 0, {}};
  for (const auto& [stack, count] : stacks) {
    root.samples += count;
    Node* node = &root;
    for (std::string_view frame : Frames(stack)) {
      auto& child = node->children[std::string(frame)];
      if (!child) child = std::make_unique<Node>(Node{std::string(frame), 0, {}});
      child->samples += count;
      node = child.get();
    }
  }
  const size_t depth = Depth(root);
  const double height = kTitleHeight + kFrameHeight * static_cast<double>(depth) + 2 * kPad;
  const double scale = root.samples == 0 ? 0 : (kSvgWidth - 2 * kPad) / root.samples;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kSvgWidth) +
                    "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(kSvgWidth) + " " +
                    Num(height) +
                    "\" font-family=\"Verdana,sans-serif\" font-size=\"11\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"#f8f8f0\"/>\n<text x=\"" +
                    Num(kSvgWidth / 2) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">" +
                    HtmlEscape(title) + " (" + std::to_string(root.samples) + " samples)</text>\n";
  std::function<void(const Node&, double, size_t)> draw = [&](const Node& node, double x,
                                                              size_t level) {
    const double width = static_cast<double>(node.samples) * scale;
    if (width < kMinFrameWidth) return;
    const double y = height - kPad - kFrameHeight * static_cast<double>(level + 1);
    char percent[32];
    std::snprintf(percent, sizeof(percent), "%.2f",
                  100.0 * static_cast<double>(node.samples) / static_cast<double>(root.samples));
    std::string label = HtmlEscape(node.name);
    svg += "<g><title>" + label + " (" + std::to_string(node.samples) + " samples, " + percent +
           "%)</title><rect x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" width=\"" + Num(width) +
           "\" height=\"" + Num(kFrameHeight - 1) + "\" rx=\"2\" fill=\"" + Color(node.name) +
           "\"/>";
    const size_t fits = static_cast<size_t>((width - 6) / kCharWidth);
    if (fits >= 3) {
      std::string text =
          node.name.size() <= fits ? node.name : node.name.substr(0, fits - 2) + "..";
      svg += "<text x=\"" + Num(x + 3) + "\" y=\"" + Num(y + kFrameHeight - 4.5) + "\">" +
             HtmlEscape(text) + "</text>";
    }
    svg += "</g>\n";
    double child_x = x;
    for (const auto& [name, child] : node.children) {
      draw(*child, child_x, level + 1);
      child_x += static_cast<double>(child->samples) * scale;
    }
  };
  if (root.samples > 0) draw(root, kPad, 0);
  return svg + "</svg>\n";
}

std::vector<Share> ComponentShares(const FoldedStacks& stacks) {
  std::map<std::string, uint64_t> counts;
  uint64_t total = 0;
  for (const auto& [stack, count] : stacks) {
    counts[ComponentOf(Frames(stack))] += count;
    total += count;
  }
  return Shares(counts, total);
}

std::vector<Share> ThreadShares(const FoldedStacks& stacks) {
  std::map<std::string, uint64_t> counts;
  uint64_t total = 0;
  for (const auto& [stack, count] : stacks) {
    counts[std::string(Frames(stack).front())] += count;
    total += count;
  }
  return Shares(counts, total);
}

double KernelPercent(const FoldedStacks& stacks) {
  uint64_t kernel = 0, total = 0;
  for (const auto& [stack, count] : stacks) {
    total += count;
    if (IsKernel(Frames(stack).back())) kernel += count;
  }
  return total == 0 ? 0 : 100.0 * static_cast<double>(kernel) / static_cast<double>(total);
}

}  // namespace duplex::bench
