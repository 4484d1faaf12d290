// The shape of the core, checked by a test rather than by review (STYLE.md): in the core
// folders (replica/, state_sync/, upgrade_coordinator/, feature_flags/), no function over
// 70 lines, no file over 600 lines, no two files that include each other (directly or
// through others), and no class whose members are defined in more than one .cc file.
// Test files are not the core and are not checked. It also prints the DUPLEX_ASSERT count
// of each core file. Reads the source tree named at build time (DUPLEX_SOURCE_DIR).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int kFunctionLinesMax = 70;
constexpr int kFileLinesMax = 600;
const std::vector<std::string> kCoreFolders = {"replica", "state_sync", "upgrade_coordinator",
                                               "feature_flags"};

struct Source {
  std::string path;
  std::string text;      // as written
  std::string stripped;  // comments and literals blanked, newlines kept
};

bool IsTest(const std::string& path) {
  return path.find("_test.cc") != std::string::npos || path.find("/testdata/") != std::string::npos;
}

// Blanks comments, string and character literals (raw strings included), so that braces and
// words inside them do not count. Newlines stay, so line numbers do.
std::string Strip(const std::string& s) {
  std::string out = s;
  size_t i = 0;
  auto blank = [&](size_t from, size_t to) {
    for (size_t k = from; k < to && k < out.size(); ++k)
      if (out[k] != '\n') out[k] = ' ';
  };
  while (i < s.size()) {
    if (s.compare(i, 2, "//") == 0) {
      size_t end = s.find('\n', i);
      if (end == std::string::npos) end = s.size();
      blank(i, end);
      i = end;
    } else if (s.compare(i, 2, "/*") == 0) {
      size_t end = s.find("*/", i + 2);
      end = end == std::string::npos ? s.size() : end + 2;
      blank(i, end);
      i = end;
    } else if (s.compare(i, 2, "R\"") == 0 && (i == 0 || !std::isalnum(s[i - 1]))) {
      size_t open = s.find('(', i);
      std::string close = ")" + s.substr(i + 2, open - i - 2) + "\"";
      size_t end = s.find(close, open);
      end = end == std::string::npos ? s.size() : end + close.size();
      blank(i + 1, end);
      i = end;
    } else if (s[i] == '"' || (s[i] == '\'' && (i == 0 || !std::isxdigit(s[i - 1])))) {
      char quote = s[i];
      size_t k = i + 1;
      while (k < s.size() && s[k] != quote && s[k] != '\n') k += s[k] == '\\' ? 2 : 1;
      blank(i + 1, k);
      i = k + 1;
    } else {
      ++i;
    }
  }
  return out;
}

std::vector<Source> CoreSources() {
  std::vector<Source> out;
  for (const auto& folder : kCoreFolders) {
    for (const auto& entry :
         fs::recursive_directory_iterator(fs::path(DUPLEX_SOURCE_DIR) / folder)) {
      std::string path = fs::relative(entry.path(), DUPLEX_SOURCE_DIR).generic_string();
      std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h") || IsTest(path)) continue;
      std::ifstream in(entry.path());
      std::stringstream buffer;
      buffer << in.rdbuf();
      out.push_back({path, buffer.str(), Strip(buffer.str())});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

int LineOf(const std::string& s, size_t pos) {
  return 1 + static_cast<int>(std::count(s.begin(), s.begin() + pos, '\n'));
}

struct Function {
  std::string name;
  int first_line = 0;
  int lines = 0;
};

// The functions defined in a file: a '{' whose enclosing scopes are all namespaces or
// classes, and whose head (the text since the last ';', '{' or '}') has a parameter list.
std::vector<Function> Functions(const Source& src) {
  const std::string& s = src.stripped;
  std::vector<Function> out;
  std::vector<bool> transparent;  // per open brace: a namespace or class scope
  std::vector<std::pair<size_t, Function>> open_functions;
  size_t head_start = 0;
  static const std::regex kScope(R"(\b(namespace|class|struct|union)\b)");
  static const std::regex kName(R"(([A-Za-z_][\w:~<>,\s]*?|operator\S+)\s*\()");
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ';') head_start = i + 1;
    if (c == '{') {
      std::string head = s.substr(head_start, i - head_start);
      bool outer = std::all_of(transparent.begin(), transparent.end(), [](bool t) { return t; });
      bool scope = std::regex_search(head, kScope) && head.find('(') == std::string::npos;
      bool function = outer && !scope && head.find('(') != std::string::npos &&
                      head.find("enum") == std::string::npos;
      transparent.push_back(outer && scope);
      if (function) {
        std::smatch m;
        std::string name = std::regex_search(head, m, kName) ? m[1].str() : head;
        name.erase(0, name.find_first_not_of(" \n\t"));
        name = name.substr(name.rfind(' ') == std::string::npos ? 0 : name.rfind(' ') + 1);
        open_functions.push_back({transparent.size(), {name, LineOf(s, i), 0}});
      }
      head_start = i + 1;
    } else if (c == '}') {
      if (!open_functions.empty() && open_functions.back().first == transparent.size()) {
        Function f = open_functions.back().second;
        f.lines = LineOf(s, i) - f.first_line + 1;
        out.push_back(f);
        open_functions.pop_back();
      }
      if (!transparent.empty()) transparent.pop_back();
      head_start = i + 1;
    }
  }
  return out;
}

TEST(Shape, NoCoreFunctionIsLongerThan70Lines) {
  std::vector<std::string> too_long;
  for (const auto& src : CoreSources()) {
    for (const auto& f : Functions(src)) {
      std::string id = src.path + ":" + f.name;
      if (f.lines > kFunctionLinesMax) {
        too_long.push_back(id + " (line " + std::to_string(f.first_line) + ", " +
                           std::to_string(f.lines) + " lines)");
      }
    }
  }
  for (const auto& f : too_long) ADD_FAILURE() << f << " is longer than " << kFunctionLinesMax;
}

TEST(Shape, NoCoreFileIsLongerThan600Lines) {
  for (const auto& src : CoreSources()) {
    int lines = static_cast<int>(std::count(src.text.begin(), src.text.end(), '\n'));
    EXPECT_TRUE(lines <= kFileLinesMax) << src.path << " has " << lines << " lines";
  }
}

// A file and its header are one unit ("replica/store"); an include is an edge between units.
std::string Unit(const std::string& path) { return path.substr(0, path.rfind('.')); }

TEST(Shape, NoTwoCoreFilesIncludeEachOther) {
  std::map<std::string, std::set<std::string>> edges;
  static const std::regex kInclude(R"(#include\s+"([^"]+)\")");
  for (const auto& src : CoreSources()) {
    std::string unit = Unit(src.path);
    edges[unit];
    for (std::sregex_iterator it(src.text.begin(), src.text.end(), kInclude), end; it != end;
         ++it) {
      std::string target = Unit((*it)[1].str());
      if (target != unit) edges[unit].insert(target);
    }
  }
  // A unit that reaches itself through its includes is in a circle.
  for (const auto& [start, _] : edges) {
    std::set<std::string> seen;
    std::vector<std::vector<std::string>> paths = {{start}};
    bool found = false;
    while (!paths.empty() && !found) {
      auto path = paths.back();
      paths.pop_back();
      for (const auto& next : edges[path.back()]) {
        if (next == start) {
          std::string circle;
          for (const auto& p : path) circle += p + " -> ";
          ADD_FAILURE() << "include circle: " << circle << start;
          found = true;
          break;
        }
        if (seen.insert(next).second) {
          auto longer = path;
          longer.push_back(next);
          paths.push_back(longer);
        }
      }
    }
  }
}

TEST(Shape, EachCoreClassIsDefinedInOneFile) {
  std::map<std::string, std::set<std::string>> files_of;  // class -> .cc files defining members
  for (const auto& src : CoreSources()) {
    if (src.path.size() < 3 || src.path.substr(src.path.size() - 3) != ".cc") continue;
    for (const auto& f : Functions(src)) {
      std::smatch m;
      if (std::regex_search(f.name, m, std::regex(R"(^([A-Z]\w*)::)"))) {
        files_of[m[1].str()].insert(src.path);
      }
    }
  }
  for (const auto& [cls, files] : files_of) {
    if (files.size() < 2) continue;
    std::string list;
    for (const auto& f : files) list += " " + f;
    ADD_FAILURE() << "class " << cls << " is implemented across" << list;
  }
}

TEST(Shape, PrintsTheAssertionsOfEachCoreFile) {
  int total = 0;
  for (const auto& src : CoreSources()) {
    int count = 0;
    for (size_t at = src.stripped.find("DUPLEX_ASSERT("); at != std::string::npos;
         at = src.stripped.find("DUPLEX_ASSERT(", at + 1)) {
      ++count;
    }
    if (count > 0) std::printf("  %4d  %s\n", count, src.path.c_str());
    total += count;
  }
  std::printf("  %4d  assertions in the core\n", total);
  // The checker itself must see them: a core without assertions is what this test replaced.
  SUCCEED();
}

}  // namespace
