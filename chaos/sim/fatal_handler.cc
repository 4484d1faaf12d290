#include "chaos/sim/fatal_handler.h"

#include <mutex>

#include "common/fatal.h"

namespace duplex::sim {

void InstallFatalHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    SetFatalHandler([](FatalKind kind, const std::string& what) {
      if (kind == FatalKind::kDurability) throw ProcessDied{what};
      throw AssertionFailed{what};
    });
  });
}

}  // namespace duplex::sim
