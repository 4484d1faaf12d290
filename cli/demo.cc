#include "cli/demo.h"

#include <iostream>

namespace duplex::cli {
int RunDemo(const std::string&, const DemoOptions&) {
  std::cerr << "demo: not yet\n";
  return 1;
}
}  // namespace duplex::cli
