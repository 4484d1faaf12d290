// `duplex chaos list | run <name|file.yaml> | suite`: the chaos harness from the
// command line (chaos/scenario_runner.h). Exit status 0 only when every run passed.
#pragma once

#include <cstdint>
#include <string>

namespace duplex::cli {

struct ChaosOptions {
  std::string what;      // list | run | suite
  std::string scenario;  // run: a catalogue name or a YAML file
  uint64_t seed = 1;     // run: this seed; suite: seeds seed .. seed+seeds-1
  int seeds = 1;
  std::string only;        // suite: names containing this
  std::string report_dir;  // where reports go (default build/chaos/<name>-<seed>)
  bool json = false;
  bool quiet = false;  // no progress lines
  // Scenarios with `hosts:` run on a lab at 127.0.<lab_first_host>.1 onwards, with ports
  // from lab_ports ("17000-17999"; "" = any free port).
  int lab_first_host = 1;
  std::string lab_ports;
};

int RunChaos(const std::string& duplex_binary, const ChaosOptions& options);

}  // namespace duplex::cli
