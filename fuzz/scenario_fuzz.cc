// Fuzzes ParseScenario (chaos/scenario.h): a chaos scenario's YAML, from the catalogue or
// from a user's file (`duplex chaos run FILE`).
#include <cstddef>
#include <cstdint>
#include <string>

#include "chaos/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto scenario = duplex::ParseScenario(text, "fuzz.yaml");
  (void)scenario;
  return 0;
}
