# Frames on a replica's data-plane socket: client requests and answers, the
# replication stream (sync.capnp), and the control exchange with the coordinator.
# Evolves only compatibly: new fields get new ordinals.
@0xb2b219c974d9fc21;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("duplex::wire");

using Sync = import "/state_sync/sync.capnp";

struct ClientRequest {
  clientId @0 :UInt64;
  requestSeq @1 :UInt64;   # 0 = read-only, not deduplicated
  op @2 :Text;
  args @3 :List(Data);
}

struct ClientResponse {
  clientId @0 :UInt64;
  requestSeq @1 :UInt64;
  code @2 :UInt16;         # duplex::Code
  message @3 :Text;
  value @4 :Data;
  epoch @5 :UInt64;
  activeHint @6 :Text;     # endpoint of the active when this replica is not it
}

enum Role {
  outOfService @0;
  standby @1;
  active @2;
}

# Replica -> coordinator, every heartbeat and on every change.
struct Status {
  replica @0 :Text;
  pid @1 :Int32;
  version @2 :Text;
  schema @3 :UInt32;
  role @4 :Role;
  epoch @5 :UInt64;
  appliedEpoch @6 :UInt64;
  appliedSeq @7 :UInt64;
  sentUs @8 :Int64;
  inSync @9 :Bool;           # standby: caught up with the active's live stream
  healthy @10 :Bool;
  healthDetail @11 :Text;
  # Active only: the standby's progress and the solo protocol (DESIGN.md, "Solo").
  peerAckedSeq @12 :UInt64;
  soloRequestId @13 :UInt64; # asks the coordinator to record the standby out of sync
  wantSolo @14 :Bool;
  peerCaughtUp @15 :Bool;    # the standby acked everything committed; solo is given up
  digest @16 :UInt64;        # state digest at appliedSeq (0 when not computed)
  stateKeys @17 :UInt64;
  promotedReady @18 :Bool;   # the lease wait after promotion is over
  demoted @19 :Bool;         # answered a planned switchover: drained and stepped down
  lagOps @20 :UInt64;
  refusedFrames @21 :UInt64;
  rolePath @22 :Text;        # e.g. "Standby/CatchingUp"
  staleEpochFrames @23 :UInt64;
  vetoReason @24 :Text;      # non-empty: the application refuses an upgrade now
  clusterVersion @25 :Text;  # the cluster version this replica enables features for
  needsResync @26 :Bool;     # its stored state is in another schema: it must resync first
  requestsTotal @27 :UInt64;     # client requests answered as the active
  serverErrorsTotal @28 :UInt64; # of which failed on our side (unavailable, I/O, internal)
  latencyP99Us @29 :UInt64;      # client-visible latency inside the replica, recent p99
  catchupKeys @30 :UInt64;       # active: snapshot entries sent to the standby this session
  catchupBytes @31 :UInt64;      # ... and their bytes
  holds @32 :Bool;               # understands Assignment.hold (older releases are drained instead)
  marks @33 :Bool;               # understands digest marks (digests without a hold)
  adminFrames @34 :Bool;         # takes AdminRequest frames (older releases: "_digest..." ops)
  leaseLostMs @35 :UInt64;       # active: how long it has served nothing for want of a lease
                                 # (0: it holds one). It hears nobody: to be replaced.
  followsActive @36 :Bool;       # standby: heard (and acked) its active within the ack timeout
  staleTermAssignments @37 :UInt64; # assignments refused: from a coordinator term below the highest seen
  coordinatorTerm @38 :UInt64;   # the highest coordinator term it has taken an assignment of
                                 # (a coordinator that reads a higher one than its own is deposed)
  storeCorrupt @39 :Text;        # what its store's open found corrupt at rest ("" = nothing): it
                                 # holds no state until a full resync from its peer completes
  peerSilentMs @40 :UInt64;      # active: how long it has heard nothing from its standby, beyond
                                 # the ack timeout (0: heard within it). With a standby that
                                 # follows its stream, the acks are cut one way: to be replaced.
}

# Coordinator -> replica: what the replica should be. Level-triggered: the
# replica converges to the newest assignment it has received.
struct Assignment {
  epoch @0 :UInt64;
  role @1 :Role;
  peerEndpoint @2 :Text;     # standby: the active to follow; active: the standby
  leaseEchoUs @3 :Int64;     # renews the active's lease, measured from this Status.sentUs
  skipLeaseWait @4 :Bool;    # the old active's process is known dead
  standbyInSync @5 :Bool;    # the coordinator's durable record of the standby
  soloGrantId @6 :UInt64;    # the solo request recorded durably (see Status.soloRequestId)
  drain @7 :Bool;            # planned switchover: stop taking writes, replicate, step down
  peerName @8 :Text;
  clusterVersion @9 :Text;   # features introduced up to this version are on (feature flags)
  syncId @10 :UInt64;        # highest solo request id recorded: a restarted active numbers above it
  standbyOut @11 :Bool;      # active: the standby was taken out of service, ask to go solo now
  hold @12 :Bool;            # active: queue requests but commit none (a digest comparison)
  coordinatorTerm @13 :UInt64; # the sending coordinator's leadership term (0: the embedded one)
}

# The admin path: whole-state operations the coordinator (or a test) asks one replica
# for, on the client port. A ClientRequest whose op starts with "_" is refused; releases
# older than Status.adminFrames took these as ClientRequest ops named as in the comments.
enum AdminOp {
  digest @0;       # "_digest [schema]": the digest of the state now
  digestOpen @1;   # "_digest_open [schema]": open a snapshot now -> token, seq
  digestMark @2;   # "_digest_mark [schema]" (active): open one and mark its seq -> token, seq
  digestAt @3;     # "_digest_at seq [schema]" (standby): the digest of the marked snapshot
  digestOf @4;     # "_digest_of token": the digest of a snapshot opened by token
  checkpoint @5;   # "_checkpoint path": a RocksDB checkpoint below the archive directory
}

struct AdminRequest {
  id @0 :UInt64;             # echoed in the reply
  op @1 :AdminOp;
  schema @2 :UInt32;         # digests: read the state in this schema (0: the replica's own)
  seq @3 :UInt64;            # digestAt
  token @4 :UInt64;          # digestOf
  path @5 :Text;             # checkpoint
}

struct AdminReply {
  id @0 :UInt64;
  code @1 :UInt16;           # duplex::Code
  message @2 :Text;
  digest @3 :UInt64;         # digest, digestAt, digestOf: the state digest ...
  keys @4 :UInt64;           # ... of this many keys ...
  seq @5 :UInt64;            # ... at this seq; digestOpen, digestMark: the snapshot's seq
  token @6 :UInt64;          # digestOpen, digestMark
  path @7 :Text;             # checkpoint: the directory written
}

# A client's credentials, its connection's first frame when the replica requires a password
# or client certificates (Redis's AUTH): anything else first is answered "NOAUTH ..." and the
# connection closed; a wrong password is answered "WRONGPASS ..." (a ClientResponse for
# clientId with requestSeq 0) and the connection closed. Nothing answers a right one.
struct Auth {
  clientId @0 :UInt64;
  password @1 :Text;
}

struct Frame {
  union {
    clientRequest @0 :ClientRequest;
    clientResponse @1 :ClientResponse;
    peer @2 :Sync.PeerMessage;
    status @3 :Status;
    assignment @4 :Assignment;
    adminRequest @5 :AdminRequest;
    adminReply @6 :AdminReply;
    auth @7 :Auth;
  }
}
