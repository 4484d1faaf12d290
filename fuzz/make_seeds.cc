// Writes the binary seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the real
// encoders: one valid example of each frame kind, each agent frame, each stored record. Run
// by hand after a schema change (README.md); its output is checked in. Not a fuzz target.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz/envelope_input.h"
#include "replica/frame.h"
#include "state_sync/store.h"
#include "state_sync/wire_codec.h"
#include "upgrade_coordinator/agent/agent_protocol.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// A sealed frame in both modes of fuzz/envelope_input.h.
void WriteFrame(const fs::path& dir, const std::string& name, const std::string& frame) {
  Write(dir, name + ".raw", fuzz::RawSeed(frame));
  Write(dir, name + ".sealed", fuzz::SealedSeed(frame));
}

Delta SampleDelta() {
  Delta d;
  d.epoch = 3;
  d.seq = 41;
  d.schema = 2;
  d.mutations = {{"akey", "value", false}, {"aold", "", true}};
  d.client_id = 7;
  d.session = {9, 0, "", "OK", 3, 1234};
  return d;
}

void FrameSeeds(const fs::path& dir) {
  WriteFrame(dir, "request", EncodeFrame(Request{7, 9, "PUT", {"k", "v"}, 0}));
  WriteFrame(dir, "client_reply",
             EncodeFrame(ClientReply{7, 9, {Code::kOk, "", "v"}, 3, "tcp://127.0.0.1:7102"}));
  WriteFrame(dir, "hello", EncodeFrame(PeerMessage{Hello{"b", 3, 2, 40, "1.0.0", 1, 5, false}}));
  DeltaBatch batch;
  batch.epoch = 3;
  batch.deltas = {SampleDelta()};
  batch.session_id = 5;
  batch.version = "1.0.0";
  batch.digest_at = 40;
  WriteFrame(dir, "delta_batch", EncodeFrame(PeerMessage{batch}));
  SnapshotChunk chunk;
  chunk.epoch = 3;
  chunk.session_id = 5;
  chunk.snapshot_seq = 40;
  chunk.entries = {{"akey", "value", false}, {"s\x01", EncodeSession({9, 0, "", "OK"}), false}};
  chunk.last = true;
  WriteFrame(dir, "snapshot_chunk", EncodeFrame(PeerMessage{chunk}));
  WriteFrame(dir, "ack", EncodeFrame(PeerMessage{Ack{3, 41, 100, 5, "b", 0}}));
  WriteFrame(dir, "refusal", EncodeFrame(PeerMessage{Refusal{4, "stale epoch", 5}}));
  StatusReport status;
  status.replica = "a";
  status.pid = 1234;
  status.version = "1.0.0";
  status.role = WireRole::kActive;
  status.role_path = "Active/Serving";
  status.epoch = 3;
  status.in_sync = true;
  status.veto_reason = "busy";
  WriteFrame(dir, "status", EncodeFrame(status));
  Assignment assignment;
  assignment.epoch = 3;
  assignment.role = WireRole::kStandby;
  assignment.peer_endpoint = "tcp://127.0.0.1:7101";
  assignment.peer_name = "a";
  assignment.cluster_version = "1.0.0";
  assignment.coordinator_term = 2;
  WriteFrame(dir, "assignment", EncodeFrame(assignment));
  AdminRequest admin;
  admin.id = 11;
  admin.op = AdminOp::kCheckpoint;
  admin.path = "/tmp/archive/1";
  WriteFrame(dir, "admin_request", EncodeFrame(admin));
  AdminReply reply = AdminAnswer(11);
  reply.digest = 0xfeed;
  reply.keys = 2;
  reply.seq = 41;
  WriteFrame(dir, "admin_reply", EncodeFrame(reply));
}

// Length-prefixed frames as a client sends them; the first byte is client_stream_fuzz.cc's:
// a 2 KiB frame limit, read in pieces of `piece_bits`.
std::string Stream(uint8_t piece_bits, const std::vector<std::string>& frames) {
  std::string out(1, static_cast<char>(7 | piece_bits << 3));
  for (const std::string& frame : frames) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(frame.size() >> shift);
    out += frame;
  }
  return out;
}

void StreamSeeds(const fs::path& dir) {
  const std::string put = EncodeFrame(Request{7, 9, "PUT", {"k", "v"}, 0});
  const std::string get = EncodeFrame(Request{7, 0, "GET", {"k"}, 0});
  AdminRequest digest;
  digest.id = 1;
  Write(dir, "requests", Stream(7, {put, get, EncodeFrame(digest)}));
  Write(dir, "requests_in_small_pieces", Stream(2, {put, get}));
}

void AgentSeeds(const fs::path& dir) {
  AgentReport report;
  report.host = "h1";
  report.agent_pid = 99;
  report.generation = 4;
  report.processes = {{"a", 2, 1234, "kv-1.0.0", "1.0.0", 1, "exit 0", 1, false}};
  report.facts = {"x86_64", 1024, 2048, "/var/lib/duplex"};
  report.packages = {{"kv", "1.0.0", std::string(64, 'a')}};
  report.term = 2;
  WriteFrame(dir, "report", EncodeAgentFrame(report));
  DesiredState desired;
  desired.host = "h1";
  desired.generation = 4;
  desired.replicas = {{"a", 2, true, "kv", "1.0.0", {"--name", "a"}, 3000}};
  desired.term = 2;
  WriteFrame(dir, "desired", EncodeAgentFrame(desired));
  WriteFrame(dir, "package_part",
             EncodeAgentFrame(PackagePart{"kv", "1.0.0", "name: kv\n", 0, 4,
                                          "\x7f"
                                          "ELF"}));
}

void StoredSeeds(const fs::path& dir) {
  // The first byte picks the decoder (stored_fuzz.cc): 0 delta, 1 session, 2 meta.
  Write(dir, "delta", std::string(1, '\0') + EncodeDelta(SampleDelta()));
  Write(dir, "session", std::string(1, '\1') + EncodeSession({9, 0, "", "OK", 3, 1234}));
  StoreMeta meta;
  meta.epoch = 3;
  meta.applied_epoch = 3;
  meta.applied_seq = 41;
  meta.cluster_version = "1.0.0";
  Write(dir, "meta", std::string(1, '\2') + EncodeMeta(meta));
}

}  // namespace
}  // namespace duplex

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <fuzz/corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path corpus = argv[1];
  duplex::FrameSeeds(corpus / "frame");
  duplex::StreamSeeds(corpus / "client_stream");
  duplex::AgentSeeds(corpus / "agent_frame");
  duplex::StoredSeeds(corpus / "stored");
  return 0;
}
