// Every drop sits on the input hook of the loopback interface. A loopback packet passes the
// output hook, then the input hook; dropped at input it is lost silently, as on a real
// network: a TCP connect times out and a UDP sendto succeeds with nothing arriving
// (lab_test.cc checks both). Dropped at output, the sender's own stack is told: checked on this
// machine kind (nft 1.0.6, a rule 127.0.1.1 -> 127.0.2.1 on the output hook), sendto fails at
// once with EPERM ("Operation not permitted"), which no real partition does, and software under
// test could notice a partition there that it could not notice in production.
#include "chaos/lab/nft_isolation.h"

#include <unistd.h>

#include <sstream>
#include <vector>

#include "common/assert.h"
#include "common/subprocess.h"

namespace duplex::lab {
namespace {

// nft finishes in milliseconds; this bounds a wedged netlink.
constexpr int kNftTimeoutMs = 10000;
constexpr const char* kChain = "input";

StatusOr<std::string> NftPath() {
  for (const char* path : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"}) {
    if (::access(path, X_OK) == 0) return std::string(path);
  }
  return FailedPrecondition(
      "nft not found in /usr/sbin, /sbin or /usr/bin (the lab isolates hosts with nftables: "
      "install it with scripts/install-deps)");
}

// Runs `nft` with `args`, `script` on stdin; an error carries what nft said.
StatusOr<std::string> RunNft(const std::vector<std::string>& args, const std::string& script) {
  StatusOr<std::string> nft = NftPath();
  if (!nft.ok()) return nft.status();
  SpawnOptions options;
  options.argv = {*nft};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdin_text = script;
  options.stdin_null = script.empty();
  options.stdout_to = ChildOutput::kCapture;
  options.stderr_to = ChildOutput::kCapture;
  StatusOr<RunResult> run = RunProgram(options, kNftTimeoutMs);
  if (!run.ok()) return run.status();
  if (!run->exit.success()) {
    std::string said = run->output;
    while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
    std::string command = "nft";
    for (const std::string& arg : args) command += " " + arg;
    return Internal(command + " " + run->exit.Describe() + ": " + said +
                    (script.empty() ? "" : "\nthe script was:\n" + script));
  }
  return run->output;
}

// Declaring a table or chain that exists adds nothing: a script creates them on first use.
std::string TableScript(const std::string& table) {
  return "table ip " + table + " {\n" + "  chain " + kChain + " {\n" +
         "    type filter hook input priority filter; policy accept;\n" + "  }\n" + "}\n";
}

// The rule's match on the packets dropped, without the table and chain.
std::string DropMatch(const Isolation& i) {
  const std::string& a = i.address;
  switch (i.direction) {
    case Direction::kBoth:
      return "";  // two rules, see NftIsolationScript
    case Direction::kFrom:
      return i.peer_address.empty() ? "ip daddr " + a + " ip saddr != " + a
                                    : "ip saddr " + i.peer_address + " ip daddr " + a;
    case Direction::kTo:
      return i.peer_address.empty() ? "ip saddr " + a + " ip daddr != " + a
                                    : "ip saddr " + a + " ip daddr " + i.peer_address;
  }
  return "";
}

}  // namespace

const char* DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kBoth:
      return "both";
    case Direction::kFrom:
      return "from";
    case Direction::kTo:
      return "to";
  }
  return "?";
}

StatusOr<Direction> ParseDirection(const std::string& name) {
  for (Direction d : {Direction::kBoth, Direction::kFrom, Direction::kTo}) {
    if (name == DirectionName(d)) return d;
  }
  return InvalidArgument("direction: " + name + " is not both, from or to");
}

bool IsLabId(const std::string& lab_id) {
  if (lab_id.empty() || lab_id.size() > 64) return false;
  for (char c : lab_id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string NftTableName(const std::string& lab_id) { return "duplex_lab_" + lab_id; }

const char* PortScopeName(PortScope scope) {
  return scope == PortScope::kService ? "service" : "links";
}

StatusOr<PortScope> ParsePortScope(const std::string& name) {
  if (name == "service") return PortScope::kService;
  if (name == "links") return PortScope::kLinks;
  return InvalidArgument("port scope: " + name + " is not service or links");
}

std::string NftIsolationScript(const std::string& table, const Isolation& isolation) {
  DUPLEX_ASSERT(!isolation.address.empty() && isolation.address != isolation.peer_address,
                "a host is isolated from others", isolation.address, isolation.peer_address);
  std::ostringstream out;
  out << TableScript(table);
  const std::string rule = "add rule ip " + table + " " + kChain + " iifname \"lo\" ";
  if (isolation.direction == Direction::kBoth) {
    // A host keeps talking to itself: only packets between it and another address drop.
    const std::string& a = isolation.address;
    out << rule << "ip saddr " << a << " ip daddr != " << a << " counter drop\n";
    out << rule << "ip daddr " << a << " ip saddr != " << a << " counter drop\n";
  } else {
    out << rule << DropMatch(isolation) << " counter drop\n";
  }
  return out.str();
}

std::string NftPortIsolationScript(const std::string& table, const PortIsolation& isolation) {
  DUPLEX_ASSERT(!isolation.address.empty() && !isolation.ports.empty(),
                "ports of a host are isolated", isolation.address, isolation.ports.size());
  std::string ports;
  for (int port : isolation.ports) {
    DUPLEX_ASSERT(port > 0 && port < 65536, "a TCP port", port);
    ports += (ports.empty() ? "" : ", ") + std::to_string(port);
  }
  ports = "{ " + ports + " }";
  const std::string& a = isolation.address;
  const std::string rule = "add rule ip " + table + " " + kChain + " iifname \"lo\" ";
  std::ostringstream out;
  out << TableScript(table);
  if (isolation.scope == PortScope::kService) {
    // What reaches the host's listeners, and what they answer.
    out << rule << "ip daddr " << a << " tcp dport " << ports << " counter drop\n";
    out << rule << "ip saddr " << a << " tcp sport " << ports << " counter drop\n";
  } else {
    // Between the host and others, the port at either end, both ways; the host keeps talking
    // to itself.
    for (const char* end : {"dport", "sport"}) {
      out << rule << "ip saddr " << a << " ip daddr != " << a << " tcp " << end << " " << ports
          << " counter drop\n";
      out << rule << "ip daddr " << a << " ip saddr != " << a << " tcp " << end << " " << ports
          << " counter drop\n";
    }
  }
  return out.str();
}

std::string NftHealScript(const std::string& table) {
  // nft 1.0.6 (Debian 12) has no `destroy`: declaring the table first makes the delete succeed
  // whether it existed or not, in one transaction.
  return "table ip " + table + "\ndelete table ip " + table + "\n";
}

Status RequireRoot(const std::string& command) {
  if (::geteuid() == 0) return Status::Ok();
  return FailedPrecondition("duplex lab " + command + " needs root (nftables); run it as root");
}

NftIsolation::NftIsolation(const std::string& lab_id) : table_(NftTableName(lab_id)) {
  // Ids come from LabId or a test; one that nft could misread would name another table.
  DUPLEX_ASSERT(IsLabId(lab_id), "a lab id is of [a-z0-9_]", lab_id);
}

Status NftIsolation::Apply(const Isolation& isolation) const {
  return RunNft({"-f", "-"}, NftIsolationScript(table_, isolation)).status();
}

Status NftIsolation::Apply(const PortIsolation& isolation) const {
  return RunNft({"-f", "-"}, NftPortIsolationScript(table_, isolation)).status();
}

Status NftIsolation::Heal() const { return RunNft({"-f", "-"}, NftHealScript(table_)).status(); }

StatusOr<bool> NftIsolation::Exists() const {
  StatusOr<std::string> tables = RunNft({"list", "tables"}, "");
  if (!tables.ok()) return tables.status();
  std::istringstream lines(*tables);
  for (std::string line; std::getline(lines, line);) {
    if (line == "table ip " + table_) return true;
  }
  return false;
}

}  // namespace duplex::lab
