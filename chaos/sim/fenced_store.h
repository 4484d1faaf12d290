// The record store of a leading simulated coordinator: the cluster record and the campaign's
// documents under one key prefix of the simulated etcd, every write a txn conditioned on the
// leader key's create_revision still being this coordinator's term (fencing: a deposed leader
// writes nothing). A call reaches etcd over the simulated network, instantly but only if the
// link and etcd's quorum allow; a lost answer leaves a write applied and reported failed, as a
// timed-out etcd request does. Made by the Coordinator for one term; single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "chaos/sim/etcd.h"
#include "chaos/sim/network.h"
#include "upgrade_coordinator/record_store.h"

namespace duplex::sim {

constexpr const char* kEtcdPrefix = "/duplex/sim";

class FencedStore final : public RecordStore {
 public:
  FencedStore(SimEtcd& etcd, Network& network, std::string node, uint64_t term)
      : etcd_(etcd), network_(network), node_(std::move(node)), term_(term) {}

  StatusOr<std::optional<ClusterRecord>> Load() override;
  Status Save(const ClusterRecord& record) override;
  StatusOr<std::optional<std::string>> Get(const std::string& key) override;
  Status Put(const std::string& key, const std::string& value) override;
  // Writes attempted (a torn kill strikes after one).
  uint64_t writes() const { return writes_; }

 private:
  // Runs `call` at etcd if the request reaches it; fails if it or its answer is lost.
  Status Call(const std::string& what, const std::function<void()>& call);
  StatusOr<std::optional<std::string>> Read(const std::string& key);
  Status Write(const std::string& key, const std::string& value);

  SimEtcd& etcd_;
  Network& network_;
  const std::string node_;
  const uint64_t term_;
  uint64_t writes_ = 0;
};

}  // namespace duplex::sim
