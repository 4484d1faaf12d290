// The coordinator process: runs the Arbiter and the campaign (a CoordinatorTerm) over a
// ZeroMQ control socket to the replicas and the agents, and serves the admin API (HTTP+JSON,
// admin_api.md). Alone, it keeps its record in its own RocksDB and always acts. One of several,
// it campaigns in etcd (an Elector) and acts only while it surely leads, with its record in
// etcd fenced by its term; a follower hears the replicas and agents but sends them nothing,
// and answers the admin calls that decide with "not the leader" and where the leader is.
// One event-loop thread; the HTTP thread talks to it through a command queue.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "upgrade_coordinator/campaign/host.h"
#include "upgrade_coordinator/cluster_config.h"
#include "upgrade_coordinator/record_store.h"

namespace rocksdb {
class Env;
}

namespace duplex {

// What the coordinator's wiring (cli/main.cc) hands it besides the config: the parts it
// may replace, each defaulting to the production one.
struct CoordinatorSeams {
  // Wraps the record store once it is open (empty: the store as it is).
  std::function<std::unique_ptr<RecordStore>(std::unique_ptr<RecordStore>)> wrap_records;
  FeaturesOnReload features_on_reload = &FeaturesWaitForEveryReplica;
  // Under the record store of a coordinator alone (its RocksDB): null = the default Env.
  rocksdb::Env* record_env = nullptr;
};

// Runs until POST /shutdown (replicas stopped too) or SIGTERM/SIGINT (replicas
// keep running, so a restarted coordinator adopts them). Returns the exit code. A durable
// write that fails does not end the process: the coordinator stops acting (its term ends),
// says why on /status, and takes up a new term from what is stored once it can write again
// (alone: it reopens its store, with backoff; with etcd: when it is elected again).
int RunCoordinator(const ClusterConfig& config, const CoordinatorSeams& seams = {});

}  // namespace duplex
