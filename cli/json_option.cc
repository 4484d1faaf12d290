#include "cli/json_option.h"

#include <CLI/CLI.hpp>

namespace duplex::cli {

JsonOption::JsonOption(CLI::App& command, const std::string& help) {
  // An option that may take no value: CLI11 records its default (set to "" here, so that a
  // default never passes for a file name) when none follows.
  option_ = command.add_option("--json", values_, help)->expected(0, 1)->default_str("");
}

bool JsonOption::on_stdout() const { return option_->count() > 0 && path().empty(); }

std::string JsonOption::path() const {
  for (const std::string& value : values_) {
    if (!value.empty()) return value;
  }
  return "";
}

}  // namespace duplex::cli
