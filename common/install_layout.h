// Where a duplex binary finds what ships with it and keeps its own small state, decided from
// the binary's own path. Two layouts: a build tree (build/duplex beside CMakeCache.txt) and an
// installed one (<prefix>/bin/duplex from the .deb). Pure functions of a path and the
// environment; safe from any thread.
#pragma once

#include <string>

namespace duplex {

struct InstallLayout {
  std::string binary;          // this duplex, absolute
  bool build_tree = false;     // run from the build tree (make demo, the tests)
  std::string packages_dir;    // the kv packages (kv-1.0.0/, kv-2.0.0/): build/packages or
                               // <prefix>/lib/duplex/packages
  std::string state_dir;       // where the last started cluster's config path is kept: the
                               // build tree, or $DUPLEX_STATE_DIR, else /var/lib/duplex
  std::string default_config;  // the config used when none is given or remembered
};

// The layout of the duplex at `binary`. A binary whose directory holds CMakeCache.txt is in a
// build tree; any other is installed, with its prefix one level above its bin/ directory (so a
// .deb unpacked into a scratch root finds its own packages there).
InstallLayout LayoutOf(const std::string& binary);

// The layout of the running program (/proc/self/exe).
InstallLayout SelfLayout();

}  // namespace duplex
