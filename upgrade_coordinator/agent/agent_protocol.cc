#include "upgrade_coordinator/agent/agent_protocol.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/debug.h>

#include <cstring>

#include "replica/frame_envelope.h"
#include "upgrade_coordinator/agent/agent.capnp.h"

namespace duplex {
namespace {

// A text field's bytes. One holding a NUL is refused (Cap'n Proto text has none): KJ encodes a
// std::string through c_str(), so the bytes after a NUL would be lost on the way back and the
// value would change in a round trip (found by fuzz/agent_frame_fuzz.cc). The exception
// becomes DecodeAgentFrame's "malformed agent frame" Corruption.
std::string Text(capnp::Text::Reader t) {
  KJ_REQUIRE(std::strlen(t.cStr()) == t.size(), "a text field holds a NUL byte");
  return std::string(t.cStr(), t.size());
}

void ToWire(const ReplicaProcess& p, agent_wire::ReplicaProcess::Builder b) {
  b.setReplica(p.replica);
  b.setInstance(p.instance);
  b.setPid(p.pid);
  b.setPackage(p.package);
  b.setVersion(p.version);
  b.setExits(p.exits);
  b.setLastExit(p.last_exit);
  b.setExitedInstance(p.exited_instance);
  b.setStopping(p.stopping);
}

ReplicaProcess FromWire(agent_wire::ReplicaProcess::Reader r) {
  return {Text(r.getReplica()),  r.getInstance(),       r.getPid(),
          Text(r.getPackage()),  Text(r.getVersion()),  r.getExits(),
          Text(r.getLastExit()), r.getExitedInstance(), r.getStopping()};
}

void ToWire(const AgentReport& v, agent_wire::AgentReport::Builder b) {
  b.setHost(v.host);
  b.setAgentPid(v.agent_pid);
  b.setStartedUs(v.started_us);
  b.setSentUs(v.sent_us);
  b.setGeneration(v.generation);
  auto processes = b.initProcesses(static_cast<unsigned>(v.processes.size()));
  for (unsigned i = 0; i < v.processes.size(); ++i) ToWire(v.processes[i], processes[i]);
  auto facts = b.initFacts();
  facts.setArch(v.facts.arch);
  facts.setMemoryAvailableMb(v.facts.memory_available_mb);
  facts.setDiskAvailableMb(v.facts.disk_available_mb);
  facts.setDiskPath(v.facts.disk_path);
  auto packages = b.initPackages(static_cast<unsigned>(v.packages.size()));
  for (unsigned i = 0; i < v.packages.size(); ++i) {
    packages[i].setName(v.packages[i].name);
    packages[i].setVersion(v.packages[i].version);
    packages[i].setSha256(v.packages[i].sha256);
  }
  b.setUrgent(v.urgent);
  b.setPackageError(v.package_error);
  b.setTerm(v.term);
}

AgentReport FromWire(agent_wire::AgentReport::Reader r) {
  AgentReport v;
  v.host = Text(r.getHost());
  v.agent_pid = r.getAgentPid();
  v.started_us = r.getStartedUs();
  v.sent_us = r.getSentUs();
  v.generation = r.getGeneration();
  for (auto p : r.getProcesses()) v.processes.push_back(FromWire(p));
  auto facts = r.getFacts();
  v.facts = {Text(facts.getArch()), facts.getMemoryAvailableMb(), facts.getDiskAvailableMb(),
             Text(facts.getDiskPath())};
  for (auto p : r.getPackages()) {
    v.packages.push_back({Text(p.getName()), Text(p.getVersion()), Text(p.getSha256())});
  }
  v.urgent = r.getUrgent();
  v.package_error = Text(r.getPackageError());
  v.term = r.getTerm();
  return v;
}

void ToWire(const DesiredState& v, agent_wire::DesiredState::Builder b) {
  b.setHost(v.host);
  b.setGeneration(v.generation);
  b.setRestartWhenAlone(v.restart_when_alone);
  b.setTerm(v.term);
  auto replicas = b.initReplicas(static_cast<unsigned>(v.replicas.size()));
  for (unsigned i = 0; i < v.replicas.size(); ++i) {
    const ReplicaSpec& s = v.replicas[i];
    auto out = replicas[i];
    out.setReplica(s.replica);
    out.setInstance(s.instance);
    out.setRun(s.run);
    out.setPackage(s.package);
    out.setVersion(s.version);
    auto args = out.initArgs(static_cast<unsigned>(s.args.size()));
    for (unsigned j = 0; j < s.args.size(); ++j) args.set(j, s.args[j]);
    out.setStopGraceMs(s.stop_grace_ms);
  }
}

DesiredState FromWire(agent_wire::DesiredState::Reader r) {
  DesiredState v;
  v.host = Text(r.getHost());
  v.generation = r.getGeneration();
  v.restart_when_alone = r.getRestartWhenAlone();
  v.term = r.getTerm();
  for (auto s : r.getReplicas()) {
    ReplicaSpec spec{Text(s.getReplica()), s.getInstance(),      s.getRun(),
                     Text(s.getPackage()), Text(s.getVersion()), {},
                     s.getStopGraceMs()};
    for (auto a : s.getArgs()) spec.args.push_back(Text(a));
    v.replicas.push_back(std::move(spec));
  }
  return v;
}

void ToWire(const PackagePart& v, agent_wire::PackagePart::Builder b) {
  b.setName(v.name);
  b.setVersion(v.version);
  b.setManifest(v.manifest);
  b.setOffset(v.offset);
  b.setTotalBytes(v.total_bytes);
  b.setSignature(v.signature);
  b.setData(
      capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(v.data.data()), v.data.size()));
}

PackagePart FromWire(agent_wire::PackagePart::Reader r) {
  auto data = r.getData();
  return {
      Text(r.getName()),     Text(r.getVersion()),
      Text(r.getManifest()), r.getOffset(),
      r.getTotalBytes(),     std::string(reinterpret_cast<const char*>(data.begin()), data.size()),
      Text(r.getSignature())};
}

}  // namespace

std::string EncodeAgentFrame(const AgentFrame& frame) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<agent_wire::AgentFrame>();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, AgentReport>) ToWire(v, root.initReport());
        if constexpr (std::is_same_v<T, DesiredState>) ToWire(v, root.initDesired());
        if constexpr (std::is_same_v<T, PackagePart>) ToWire(v, root.initPart());
      },
      frame);
  return SealEnvelope(message);
}

StatusOr<AgentFrame> DecodeAgentFrame(std::string_view bytes, size_t bytes_max) {
  StatusOr<AgentFrame> frame = Corruption("no agent frame");
  Status opened = OpenEnvelope(bytes, bytes_max, "agent frame", [&](capnp::MessageReader& r) {
    auto root = r.getRoot<agent_wire::AgentFrame>();
    switch (root.which()) {
      case agent_wire::AgentFrame::REPORT:
        frame = AgentFrame(FromWire(root.getReport()));
        return Status::Ok();
      case agent_wire::AgentFrame::DESIRED:
        frame = AgentFrame(FromWire(root.getDesired()));
        return Status::Ok();
      case agent_wire::AgentFrame::PART:
        frame = AgentFrame(FromWire(root.getPart()));
        return Status::Ok();
    }
    return Corruption("agent frame of an unknown kind (a newer release?)");
  });
  if (!opened.ok()) return opened;
  return frame;
}

}  // namespace duplex
