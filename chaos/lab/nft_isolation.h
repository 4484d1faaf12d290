// NftIsolation: the packet drops of one lab, in one nftables table of its own
// (`ip duplex_lab_<lab id>`), created on first use; Heal deletes that table and nothing else.
// Owned by whoever acts on the lab (the `duplex lab` command, a test fixture); each call runs
// `nft -f -` once and returns when it has ended (bounded). Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace duplex::lab {

// Which of a host's packets are dropped.
enum class Direction {
  kBoth,  // everything it sends to, and receives from, any other address
  kFrom,  // what `peer` sends to it: it does not hear peer (`--from`)
  kTo,    // what it sends to `peer`: peer does not hear it (`--to`)
};
const char* DirectionName(Direction direction);  // "both", "from", "to"
StatusOr<Direction> ParseDirection(const std::string& name);

// One isolation, by address. An empty peer_address means every other address (`all`).
struct Isolation {
  std::string address;  // the isolated host's, 127.0.N.1
  Direction direction = Direction::kBoth;
  std::string peer_address;  // kFrom/kTo: the other end; "" = all
};

// Drops on some TCP ports of one host only, both ways, whatever the direction of the
// connection: what cuts one process of a host (its coordinator, its etcd member) and not the
// others.
enum class PortScope {
  kService,  // connections to the host's own listeners on these ports, from anyone (itself too)
  kLinks,    // connections between the host and any other address with these ports at either end
};
const char* PortScopeName(PortScope scope);  // "service", "links"
StatusOr<PortScope> ParsePortScope(const std::string& name);

struct PortIsolation {
  std::string address;  // the host's, 127.0.N.1
  std::vector<int> ports;
  PortScope scope = PortScope::kService;
};

// "duplex_lab_" + lab_id; the id must be of [a-z0-9_] (IsLabId).
std::string NftTableName(const std::string& lab_id);
bool IsLabId(const std::string& lab_id);

// The nft script that creates the table and its chain when missing and adds the drops of
// `isolation` (pure: tests read it without root).
std::string NftIsolationScript(const std::string& table, const Isolation& isolation);
// The same for drops on ports (pure).
std::string NftPortIsolationScript(const std::string& table, const PortIsolation& isolation);
// The script that deletes the table, present or not.
std::string NftHealScript(const std::string& table);

// FailedPrecondition "duplex lab <command> needs root (nftables); run it as root" unless we
// run as root.
Status RequireRoot(const std::string& command);

class NftIsolation {
 public:
  explicit NftIsolation(const std::string& lab_id);

  const std::string& table() const { return table_; }

  // Adds the drops (the table first, when missing). Needs root.
  Status Apply(const Isolation& isolation) const;
  Status Apply(const PortIsolation& isolation) const;
  // Deletes the lab's table, whatever it holds; nothing when there is none. Needs root.
  Status Heal() const;
  // Whether the table exists now (`nft list tables`).
  StatusOr<bool> Exists() const;

 private:
  std::string table_;
};

}  // namespace duplex::lab
