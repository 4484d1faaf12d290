// A kv replica process: `kv-1.0.0 --name a --port ... --coordinator ...`.
#include "examples/kv/kv_processor.h"
#include "replica/daemon.h"

int main(int argc, char** argv) {
  return duplex::ReplicaMain(argc, argv, duplex::kv::MakeKvProcessor(KV_VERSION));
}
