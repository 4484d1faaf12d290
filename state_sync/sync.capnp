# Replication protocol between the active and its standby. Evolves only
# compatibly: new fields get new ordinals; nothing is renumbered or removed.
@0x90890c5e9f4a076f;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("duplex::wire");

struct Mutation {
  key @0 :Data;
  value @1 :Data;
  erase @2 :Bool;
}

# One state change, numbered (epoch, seq); seq is gapless within the history.
struct Delta {
  epoch @0 :UInt64;
  seq @1 :UInt64;
  schema @2 :UInt32;
  mutations @3 :List(Mutation);
  # The session-table entry this delta writes, so a retried request gets its original answer.
  clientId @4 :UInt64;
  requestSeq @5 :UInt64;
  responseCode @6 :UInt16;
  responseMessage @7 :Text;
  responseValue @8 :Data;
  usedMs @9 :Int64;       # when the request ran, on the active's clock in this delta's epoch
}

# Standby -> active on (re)connect: what it has.
struct Hello {
  replica @0 :Text;
  epoch @1 :UInt64;       # highest epoch this standby has seen
  lastEpoch @2 :UInt64;   # epoch of its last applied delta
  lastSeq @3 :UInt64;     # its last applied seq
  version @4 :Text;       # software version, e.g. "1.0.0"
  schema @5 :UInt32;      # state schema it reads and writes
  sessionId @6 :UInt64;   # names this connection; chunks and deltas echo it
  needsSnapshot @7 :Bool; # its state is unusable (a snapshot install was cut off)
}

# Active -> standby: live deltas or a heartbeat (empty list).
struct Deltas {
  epoch @0 :UInt64;
  sentUs @1 :Int64;       # echoed in the ack; the active's lease is measured from it
  deltas @2 :List(Delta);
  sessionId @3 :UInt64;
  version @4 :Text;       # the active's software version (answer to Hello)
  caughtUp @5 :Bool;      # after these, the standby has everything the active committed
  digestMark @6 :Bool;    # before these: the active opened a digest snapshot at digestSeq;
  digestSeq @7 :UInt64;   # the standby opens one when it has applied exactly that far
}

# Active -> standby: one chunk of a snapshot taken at (snapshotEpoch, snapshotSeq).
struct SnapshotChunk {
  epoch @0 :UInt64;
  sessionId @1 :UInt64;
  snapshotEpoch @2 :UInt64;
  snapshotSeq @3 :UInt64;
  index @4 :UInt32;
  last @5 :Bool;
  entries @6 :List(Mutation);
  schema @7 :UInt32;
  sentUs @8 :Int64;
}

# Standby -> active: durably applied through appliedSeq.
struct Ack {
  epoch @0 :UInt64;
  appliedSeq @1 :UInt64;
  echoUs @2 :Int64;
  sessionId @3 :UInt64;
  replica @4 :Text;
  snapshotChunks @5 :UInt32;  # chunks of the current snapshot installed so far
}

# Either side: the peer's message was refused (stale epoch, gap, bad session).
struct Refusal {
  epoch @0 :UInt64;
  reason @1 :Text;
  sessionId @2 :UInt64;
}

struct PeerMessage {
  union {
    hello @0 :Hello;
    deltas @1 :Deltas;
    snapshotChunk @2 :SnapshotChunk;
    ack @3 :Ack;
    refusal @4 :Refusal;
  }
}
