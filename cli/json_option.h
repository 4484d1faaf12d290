// `--json [FILE]`: one JSON object on stdout when given alone, or into FILE. Owned by the
// command that registers it (CLI11 writes into it while parsing, so it stays put);
// single-threaded.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace duplex::cli {

class JsonOption {
 public:
  JsonOption(CLI::App& command, const std::string& help);
  JsonOption(const JsonOption&) = delete;
  JsonOption& operator=(const JsonOption&) = delete;

  // `--json` with no file: the JSON object goes to stdout, and nothing else does.
  bool on_stdout() const;
  // `--json FILE`: the file, else "".
  std::string path() const;

 private:
  CLI::Option* option_ = nullptr;
  std::vector<std::string> values_;
};

}  // namespace duplex::cli
