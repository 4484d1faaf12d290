#include "state_sync/wire_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/assert.h"

namespace duplex {
namespace {

void ToWire(const Mutation& m, wire::Mutation::Builder out) {
  out.setKey(CapnpBytes(m.key));
  out.setValue(CapnpBytes(m.value));
  out.setErase(m.erase);
}

void MutationsToWire(const std::vector<Mutation>& in, capnp::List<wire::Mutation>::Builder out) {
  DUPLEX_ASSERT(out.size() == in.size(), "the wire list is sized for every mutation", out.size(),
                in.size());
  for (size_t i = 0; i < in.size(); ++i) ToWire(in[i], out[i]);
}

std::vector<Mutation> MutationsFromWire(capnp::List<wire::Mutation>::Reader in) {
  std::vector<Mutation> out;
  out.reserve(in.size());
  for (auto m : in)
    out.push_back({FromCapnpData(m.getKey()), FromCapnpData(m.getValue()), m.getErase()});
  DUPLEX_ASSERT(out.size() == in.size(), "every wire mutation is read", out.size(), in.size());
  return out;
}

void PutU64(std::string& out, uint64_t v) {
  const size_t before = out.size();
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  DUPLEX_ASSERT(out.size() == before + sizeof(uint64_t), "a word is eight bytes", out.size(),
                before);
}
uint64_t GetU64(std::string_view in, size_t at) {
  // The callers check the length first: a short entry is a Corruption, never a read past it.
  DUPLEX_ASSERT(at + sizeof(uint64_t) <= in.size(), "a word read inside the entry", at, in.size());
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}

}  // namespace

void ToWire(const Delta& in, wire::Delta::Builder out) {
  // FromWire refuses seq 0, so we never write one: seqs of a history start at 1.
  DUPLEX_ASSERT(in.seq >= 1, "a delta we send or store has a seq", in.epoch, in.seq);
  DUPLEX_ASSERT(in.schema >= 1, "state schemas are numbered from 1", in.schema);
  DUPLEX_ASSERT(in.client_id != 0 || in.session == SessionEntry{},
                "a delta without a client carries no session entry", in.seq, in.client_id);
  out.setEpoch(in.epoch);
  out.setSeq(in.seq);
  out.setSchema(in.schema);
  MutationsToWire(in.mutations, out.initMutations(static_cast<unsigned>(in.mutations.size())));
  out.setClientId(in.client_id);
  out.setRequestSeq(in.session.request_seq);
  out.setResponseCode(in.session.code);
  out.setResponseMessage(in.session.message);
  out.setResponseValue(CapnpBytes(in.session.value));
  out.setUsedMs(in.session.used_ms);
}

StatusOr<Delta> FromWire(wire::Delta::Reader in) {
  Delta d;
  d.epoch = in.getEpoch();
  d.seq = in.getSeq();
  d.schema = in.getSchema();
  if (d.seq == 0) return Corruption("delta: seq 0 is not a delta");
  d.mutations = MutationsFromWire(in.getMutations());
  d.client_id = in.getClientId();
  d.session.request_seq = in.getRequestSeq();
  d.session.code = in.getResponseCode();
  d.session.message = in.getResponseMessage();
  d.session.value = FromCapnpData(in.getResponseValue());
  d.session.used_ms = in.getUsedMs();
  // What ToWire asserts it never writes is refused here: decoded, it would reach that
  // assertion when the standby stores the delta (found by fuzz/stored_fuzz.cc).
  if (d.schema == 0) {
    return Corruption("delta " + std::to_string(d.seq) + ": schema 0 (schemas start at 1)");
  }
  if (d.client_id == 0 && d.session != SessionEntry{}) {
    return Corruption("delta " + std::to_string(d.seq) + ": a session entry without a client");
  }
  DUPLEX_ASSERT(d.seq >= 1, "a decoded delta has a seq (seq 0 was refused above)", d.seq);
  return d;
}

void ToWire(const PeerMessage& in, wire::PeerMessage::Builder out) {
  if (auto* h = std::get_if<Hello>(&in)) {
    auto b = out.initHello();
    b.setReplica(h->replica);
    b.setEpoch(h->epoch);
    b.setLastEpoch(h->last_epoch);
    b.setLastSeq(h->last_seq);
    b.setVersion(h->version);
    b.setSchema(h->schema);
    b.setSessionId(h->session_id);
    b.setNeedsSnapshot(h->needs_snapshot);
  } else if (auto* d = std::get_if<DeltaBatch>(&in)) {
    auto b = out.initDeltas();
    b.setEpoch(d->epoch);
    b.setSentUs(d->sent_us);
    b.setSessionId(d->session_id);
    b.setVersion(d->version);
    b.setCaughtUp(d->caught_up);
    b.setDigestMark(d->digest_at.has_value());
    b.setDigestSeq(d->digest_at.value_or(0));
    auto list = b.initDeltas(static_cast<unsigned>(d->deltas.size()));
    DUPLEX_ASSERT(list.size() == d->deltas.size(), "the wire list holds the whole batch",
                  list.size(), d->deltas.size());
    for (size_t i = 0; i < d->deltas.size(); ++i) {
      // A batch belongs to the epoch it is sent in: no delta of a later epoch rides in it.
      DUPLEX_ASSERT(d->deltas[i].epoch <= d->epoch, "a batch carries no delta of a later epoch",
                    d->deltas[i].epoch, d->epoch);
      ToWire(d->deltas[i], list[i]);
    }
  } else if (auto* c = std::get_if<SnapshotChunk>(&in)) {
    DUPLEX_ASSERT(c->snapshot_epoch <= c->epoch, "a snapshot is of an epoch already adopted",
                  c->snapshot_epoch, c->epoch);
    DUPLEX_ASSERT(c->schema >= 1, "state schemas are numbered from 1", c->schema);
    auto b = out.initSnapshotChunk();
    b.setEpoch(c->epoch);
    b.setSessionId(c->session_id);
    b.setSnapshotEpoch(c->snapshot_epoch);
    b.setSnapshotSeq(c->snapshot_seq);
    b.setIndex(c->index);
    b.setLast(c->last);
    MutationsToWire(c->entries, b.initEntries(static_cast<unsigned>(c->entries.size())));
    b.setSchema(c->schema);
    b.setSentUs(c->sent_us);
  } else if (auto* a = std::get_if<Ack>(&in)) {
    auto b = out.initAck();
    b.setEpoch(a->epoch);
    b.setAppliedSeq(a->applied_seq);
    b.setEchoUs(a->echo_us);
    b.setSessionId(a->session_id);
    b.setReplica(a->replica);
    b.setSnapshotChunks(a->snapshot_chunks);
  } else {
    const auto& r = std::get<Refusal>(in);
    auto b = out.initRefusal();
    b.setEpoch(r.epoch);
    b.setReason(r.reason);
    b.setSessionId(r.session_id);
  }
}

StatusOr<PeerMessage> FromWire(wire::PeerMessage::Reader in) {
  switch (in.which()) {
    case wire::PeerMessage::HELLO: {
      auto r = in.getHello();
      return PeerMessage(Hello{r.getReplica(), r.getEpoch(), r.getLastEpoch(), r.getLastSeq(),
                               r.getVersion(), r.getSchema(), r.getSessionId(),
                               r.getNeedsSnapshot()});
    }
    case wire::PeerMessage::DELTAS: {
      auto r = in.getDeltas();
      DeltaBatch b{r.getEpoch(),   r.getSentUs(),   {},          r.getSessionId(),
                   r.getVersion(), r.getCaughtUp(), std::nullopt};
      if (r.getDigestMark()) b.digest_at = r.getDigestSeq();
      b.deltas.reserve(r.getDeltas().size());
      for (auto d : r.getDeltas()) {
        auto delta = FromWire(d);
        if (!delta.ok()) return delta.status();
        if (delta->epoch > b.epoch) {
          return Corruption("delta batch of epoch " + std::to_string(b.epoch) +
                            ": carries a delta of the later epoch " + std::to_string(delta->epoch));
        }
        b.deltas.push_back(std::move(delta).value());
      }
      DUPLEX_ASSERT(b.deltas.size() == r.getDeltas().size(), "every wire delta is read",
                    b.deltas.size(), r.getDeltas().size());
      return PeerMessage(std::move(b));
    }
    case wire::PeerMessage::SNAPSHOT_CHUNK: {
      auto r = in.getSnapshotChunk();
      if (r.getSnapshotEpoch() > r.getEpoch()) {
        return Corruption("snapshot chunk of epoch " + std::to_string(r.getEpoch()) +
                          ": a snapshot of the later epoch " +
                          std::to_string(r.getSnapshotEpoch()));
      }
      if (r.getSchema() == 0) return Corruption("snapshot chunk: schema 0 (schemas start at 1)");
      return PeerMessage(SnapshotChunk{
          r.getEpoch(), r.getSessionId(), r.getSnapshotEpoch(), r.getSnapshotSeq(), r.getIndex(),
          r.getLast(), MutationsFromWire(r.getEntries()), r.getSchema(), r.getSentUs()});
    }
    case wire::PeerMessage::ACK: {
      auto r = in.getAck();
      return PeerMessage(Ack{r.getEpoch(), r.getAppliedSeq(), r.getEchoUs(), r.getSessionId(),
                             r.getReplica(), r.getSnapshotChunks()});
    }
    case wire::PeerMessage::REFUSAL: {
      auto r = in.getRefusal();
      return PeerMessage(Refusal{r.getEpoch(), r.getReason(), r.getSessionId()});
    }
  }
  return Corruption("peer message: unknown kind " + std::to_string(static_cast<int>(in.which())));
}

namespace {

// Words enough for the whole encoded delta, so its message is one segment: the builder's
// default first segment (8 KiB, zeroed) took 6% of a simulated run's CPU, for deltas
// mostly of a hundred bytes.
unsigned DeltaWordsMax(const Delta& delta) {
  size_t words = 32 + (delta.session.message.size() + delta.session.value.size()) / 8;
  for (const Mutation& m : delta.mutations) words += 6 + (m.key.size() + m.value.size()) / 8;
  return static_cast<unsigned>(std::min<size_t>(words, capnp::SUGGESTED_FIRST_SEGMENT_WORDS));
}

}  // namespace

std::string EncodeDelta(const Delta& delta) {
  capnp::MallocMessageBuilder message(DeltaWordsMax(delta));
  ToWire(delta, message.initRoot<wire::Delta>());
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  // DecodeDelta refuses a size that is not whole words: what we store must pass that check.
  DUPLEX_ASSERT(bytes.size() > 0 && bytes.size() % sizeof(capnp::word) == 0,
                "an encoded delta is whole capnp words", bytes.size());
  return {reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

StatusOr<Delta> DecodeDelta(std::string_view bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0) return Corruption("stored delta: size not aligned");
  // Copy into word-aligned memory: RocksDB slices carry no alignment promise.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  // The limits the frame envelope sets (replica/frame_envelope.cc): Cap'n Proto's default lets a
  // few stored bytes declare millions of empty mutations, each costing a std::string pair here
  // (found by fuzz/stored_fuzz.cc: a 185-byte delta took 700 MB to decode).
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words.size() * 2 + 64;
  options.nestingLimit = 16;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    return FromWire(reader.getRoot<wire::Delta>());
  } catch (const kj::Exception& e) {
    return Corruption(std::string("stored delta: ") + e.getDescription().cStr());
  }
}

// Stored session entries: request seq, code, message length, [used epoch, used ms,]
// message, value. The code's word has the top bit set when the two "used" words follow;
// entries written by releases before session expiry have neither.
constexpr uint64_t kSessionUsedFlag = uint64_t{1} << 63;
constexpr size_t kSessionOldHeaderBytes = 3 * sizeof(uint64_t);  // seq, code, length
constexpr size_t kSessionHeaderBytes = 5 * sizeof(uint64_t);     // and the two "used" words
// The flag shares the code's word: every code must fit below it, or a code would read as the flag.
static_assert(kSessionUsedFlag > std::numeric_limits<decltype(SessionEntry::code)>::max());
static_assert(kSessionOldHeaderBytes < kSessionHeaderBytes);

std::string EncodeSession(const SessionEntry& entry) {
  std::string out;
  PutU64(out, entry.request_seq);
  PutU64(out, entry.code | kSessionUsedFlag);
  PutU64(out, entry.message.size());
  PutU64(out, entry.used_epoch);
  PutU64(out, static_cast<uint64_t>(entry.used_ms));
  DUPLEX_ASSERT(out.size() == kSessionHeaderBytes, "the header is five words", out.size());
  out += entry.message;
  out += entry.value;
  DUPLEX_ASSERT(out.size() == kSessionHeaderBytes + entry.message.size() + entry.value.size(),
                "an encoded session entry is its header, message and value", out.size());
  return out;
}

StatusOr<SessionEntry> DecodeSession(std::string_view bytes) {
  if (bytes.size() < kSessionOldHeaderBytes) return Corruption("session entry: truncated");
  SessionEntry e;
  e.request_seq = GetU64(bytes, 0);
  uint64_t code = GetU64(bytes, 8);
  e.code = static_cast<uint16_t>(code);
  uint64_t len = GetU64(bytes, 16);
  size_t at = kSessionOldHeaderBytes;
  if (code & kSessionUsedFlag) {
    if (bytes.size() < kSessionHeaderBytes) return Corruption("session entry: truncated");
    e.used_epoch = GetU64(bytes, kSessionOldHeaderBytes);
    e.used_ms = static_cast<int64_t>(GetU64(bytes, kSessionOldHeaderBytes + sizeof(uint64_t)));
    at = kSessionHeaderBytes;
  }
  if (len > bytes.size() - at) return Corruption("session entry: message length past the end");
  e.message = std::string(bytes.substr(at, len));
  e.value = std::string(bytes.substr(at + len));
  // The pair of EncodeSession's size check: header, message and value account for every byte.
  DUPLEX_ASSERT(at + e.message.size() + e.value.size() == bytes.size(),
                "a decoded session entry accounts for every byte", at, e.message.size(),
                e.value.size(), bytes.size());
  return e;
}

}  // namespace duplex
