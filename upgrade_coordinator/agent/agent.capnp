# Frames between a node agent and the coordinator, on the coordinator's control socket
# (each agent message is two ZeroMQ parts: "duplex-agent/1", then one of these frames).
# Evolves only compatibly: new fields get new ordinals.
@0xcd812ae08beacabd;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("duplex::agent_wire");

# One replica process as its agent sees it.
struct ReplicaProcess {
  replica @0 :Text;
  instance @1 :UInt64;        # the start the coordinator asked for that it runs (or ran last)
  pid @2 :Int32;              # 0: not running
  package @3 :Text;           # "" = the configured processor binary
  version @4 :Text;
  exits @5 :UInt64;           # exits seen since the agent started (a changed count: news)
  lastExit @6 :Text;          # "exit status 1", "killed by signal 9", "cannot start: ..."
  exitedInstance @7 :UInt64;  # the instance lastExit is about
  stopping @8 :Bool;          # asked to stop, not yet gone
}

struct HostFacts {
  arch @0 :Text;
  memoryAvailableMb @1 :UInt64;
  diskAvailableMb @2 :UInt64;
  diskPath @3 :Text;
}

struct StoredPackage {
  name @0 :Text;
  version @1 :Text;
  sha256 @2 :Text;
}

# Agent -> coordinator: every heartbeat, and at once when a process exits.
struct AgentReport {
  host @0 :Text;
  agentPid @1 :Int32;
  startedUs @2 :Int64;        # wall clock at the agent's start: a new value is a restarted agent
  sentUs @3 :Int64;
  generation @4 :UInt64;      # of the desired state it converges to
  processes @5 :List(ReplicaProcess);
  facts @6 :HostFacts;
  packages @7 :List(StoredPackage);
  urgent @8 :Bool;            # sent at once for an exit
  packageError @9 :Text;      # the last package received that failed verification
  term @10 :UInt64;           # the highest coordinator term it has taken a desired state of
                              # (a coordinator that reads a higher one than its own is deposed)
}

# What the coordinator wants running on a host.
struct ReplicaSpec {
  replica @0 :Text;
  instance @1 :UInt64;        # a higher one than the agent runs: start a fresh process
  run @2 :Bool;
  package @3 :Text;           # "" = the configured processor binary
  version @4 :Text;
  args @5 :List(Text);        # the command line after argv[0]
  stopGraceMs @6 :UInt32;     # SIGTERM, then SIGKILL after this
}

# Coordinator -> agent: on every change, and in answer to every report (level-triggered).
struct DesiredState {
  host @0 :Text;
  generation @1 :UInt64;
  replicas @2 :List(ReplicaSpec);
  restartWhenAlone @3 :Bool;
  term @4 :UInt64;            # the sending coordinator's leadership term (0: the embedded one);
                              # an agent ignores terms below the highest it has seen
}

# Coordinator -> agent: a piece of a package (manifest.yaml and its one binary).
struct PackagePart {
  name @0 :Text;
  version @1 :Text;
  manifest @2 :Text;          # manifest.yaml as stored by the coordinator
  offset @3 :UInt64;          # of the binary
  totalBytes @4 :UInt64;
  data @5 :Data;
  signature @6 :Text;         # manifest.sig as stored ("" = unsigned); the agent verifies it
}

struct AgentFrame {
  union {
    report @0 :AgentReport;
    desired @1 :DesiredState;
    part @2 :PackagePart;
  }
}
