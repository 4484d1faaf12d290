#include "common/install_layout.h"

#include <cstdlib>
#include <filesystem>

namespace duplex {
namespace fs = std::filesystem;

namespace {

// The installed defaults (README, "Install"): the .deb's example config and data directory.
constexpr const char* kInstalledStateDir = "/var/lib/duplex";
constexpr const char* kInstalledConfig = "/etc/duplex/cluster.yaml";

}  // namespace

InstallLayout LayoutOf(const std::string& binary) {
  InstallLayout layout;
  std::error_code ec;
  const fs::path exe = fs::absolute(binary, ec).lexically_normal();
  layout.binary = exe.string();
  const fs::path dir = exe.parent_path();
  layout.build_tree = fs::exists(dir / "CMakeCache.txt", ec);
  if (layout.build_tree) {
    layout.packages_dir = (dir / "packages").string();
    layout.state_dir = dir.string();
    // Relative to the working directory, as the README's commands are run from the checkout.
    layout.default_config = "examples/kv/cluster.yaml";
    return layout;
  }
  layout.packages_dir = (dir.parent_path() / "lib" / "duplex" / "packages").string();
  const char* state = std::getenv("DUPLEX_STATE_DIR");
  layout.state_dir = state != nullptr && *state != '\0' ? state : kInstalledStateDir;
  layout.default_config = kInstalledConfig;
  return layout;
}

InstallLayout SelfLayout() {
  std::error_code ec;
  return LayoutOf(fs::read_symlink("/proc/self/exe", ec).string());
}

}  // namespace duplex
