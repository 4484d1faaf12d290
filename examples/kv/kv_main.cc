// A kv replica process: `kv-1.0.0 --name a --port ... --coordinator ...`.
// KV_VERSION and KV_VARIANT come from the build (see CMakeLists.txt).
#include <cstdio>
#include <string_view>

#include "examples/kv/kv_processor.h"
#include "replica/replica_main.h"

#ifndef KV_VARIANT
#define KV_VARIANT ""
#endif

namespace {
// The crash variant's exit status: it dies right after start, before serving.
constexpr int kCrashExitStatus = 3;
}  // namespace

int main(int argc, char** argv) {
  if (std::string_view(KV_VARIANT) == "crash") {
    std::fprintf(stderr, "kv %s (crash variant): simulated crash on start\n", KV_VERSION);
    return kCrashExitStatus;
  }
  return duplex::ReplicaMain(argc, argv, duplex::kv::MakeKvProcessor(KV_VERSION, KV_VARIANT));
}
