#include "chaos/sim/clients.h"

#include <algorithm>

namespace duplex::sim {

Clients::Clients(SimContext& sim, Network& network, Processes& processes,
                 const Coordinators& coordinators)
    : sim_(sim), network_(network), processes_(processes), coordinators_(coordinators) {
  for (int i = 0; i < sim.options.clients; ++i) clients_.push_back(Client{i});
}

void Clients::Start() {
  for (auto& c : clients_) {
    sim_.queue.At(sim_.rng.Uniform(1, 5) * kMs + 200 * kMs, [this, &c] { NextOp(c); });
  }
}

bool Clients::Busy() const {
  return std::any_of(clients_.begin(), clients_.end(), [](const Client& c) { return c.busy; });
}

// Every operation carries the client's next seq, reads too: a read's reply then names the
// read it answers, and a late reply to an earlier read (sent to the other replica before a
// retry) is never taken for a later one's. A read changes nothing, so the replicas keep no
// session entry for it and a retry runs it again.
void Clients::NextOp(Client& c) {
  if (!loading_) return;
  OpRecord op;
  ++c.seq;
  if (Reader(c)) {
    op.hot = true;
    op.op = "GET";
    op.key = "hot-" + std::to_string(sim_.rng.Uniform(0, kHotKeys - 1));
  } else if (c.seq % 2 == 0) {
    op = HotOp(c);
  } else if (c.seq % 4 == 1) {
    op.op = "PUT";
    op.key = "k-" + std::to_string(c.index) + "-" + std::to_string(++c.puts);
    op.value = "v" + std::to_string(c.seq);
  } else {
    op.op = "INCR";
    op.key = "ctr-" + std::to_string(c.index);
  }
  op.client = c.index;
  op.request_seq = c.seq;
  op.invoke_us = sim_.now();
  history_.push_back(op);
  c.record = history_.size() - 1;
  c.busy = true;
  // A client gives up before the replicas could forget its answer: a retry that outlasts
  // session_expiry_ms may run again (README, "Exactly-once client retries"), so a client
  // retrying longer than that would be a client misconfigured, not a replica bug (seed 3815).
  const int64_t expiry_ms = sim_.profile.session_expiry_ms;
  c.deadline =
      sim_.now() + (expiry_ms > 0 ? std::min<int64_t>(3000, expiry_ms * 3 / 4) : 3000) * kMs;
  SendRequest(c);
}

// Reads are the most frequent, so that a stale or premature answer meets a later write; a
// PUT writes a decimal unique to (client, seq), so that an INCR after it always applies.
OpRecord Clients::HotOp(const Client& c) {
  OpRecord op;
  op.hot = true;
  op.key = "hot-" + std::to_string(sim_.rng.Uniform(0, kHotKeys - 1));
  int64_t draw = sim_.rng.Uniform(0, 19);
  if (draw < 10) {
    op.op = "GET";
  } else if (draw < 14) {
    op.op = "PUT";
    op.value = std::to_string(static_cast<uint64_t>(c.index) * 1000000 + c.seq);
  } else if (draw < 18) {
    op.op = "INCR";
  } else {
    op.op = "DEL";
  }
  return op;
}

int Clients::RecordedActive(int otherwise) const {
  const Arbiter* arbiter = coordinators_.arbiter();
  if (arbiter == nullptr) return otherwise;
  const std::string& active = arbiter->record().active;
  return active == "a" ? 0 : active == "b" ? 1 : otherwise;
}

void Clients::SendRequest(Client& c) {
  if (Routed(c)) c.target = RecordedActive(c.target);
  const OpRecord& op = history_[c.record];
  Request q{c.id, op.request_seq, op.op, {op.key}, 0};
  if (op.op == "PUT") q.args.push_back(op.value);
  if (op.op == "INCR") q.args.push_back("1");
  std::string to = c.target == 0 ? "a" : "b";
  std::string name = Name(c);
  uint64_t attempt = ++c.attempt;
  ++history_[c.record].attempts;
  network_.Send(name, to, op.op + " " + std::to_string(op.request_seq), [this, to, name, q] {
    processes_.OnReplica(to, [this, name, q, to](ReplicaCore& core) {
      Request stamped = q;
      stamped.now_ms = processes_.WallMs(to);  // the daemon stamps requests with its own clock
      core.OnClientRequest(name, stamped, sim_.now());
    });
  });
  sim_.queue.After(100 * kMs, [this, &c, attempt] {
    if (!c.busy || c.attempt != attempt) return;
    c.target = 1 - c.target;  // no answer: try the other replica, same seq
    Retry(c);
  });
}

void Clients::Retry(Client& c) {
  if (sim_.now() >= c.deadline) {
    Complete(c, OpOutcome::kInfo);
    Done(c, sim_.rng.Uniform(1, 3));
    return;
  }
  SendRequest(c);
}

void Clients::Complete(Client& c, OpOutcome outcome) {
  OpRecord& op = history_[c.record];
  op.outcome = outcome;
  op.complete_us = sim_.now();
}

// The operation in flight has its outcome: the next one starts after `pause_ms`,
// sometimes under a new client id (churn).
void Clients::Done(Client& c, int64_t pause_ms) {
  c.busy = false;
  if (sim_.profile.churn > 0 && sim_.rng.Chance(sim_.profile.churn)) {
    c.id += 1000;
    sim_.trace.Line(Name(c) + " goes on as client " + std::to_string(c.id));
  }
  sim_.queue.After(pause_ms * kMs, [this, &c] { NextOp(c); });
}

void Clients::OnReply(int index, const ClientReply& reply) {
  Client& c = clients_.at(index);
  if (!c.busy || reply.request_seq != history_[c.record].request_seq) return;
  Code code = reply.response.code;
  if (code == Code::kNotActive || code == Code::kUnavailable) {
    c.target = 1 - c.target;
    uint64_t attempt = ++c.attempt;
    sim_.queue.After(sim_.rng.Uniform(1, 5) * kMs, [this, &c, attempt] {
      if (c.busy && c.attempt == attempt) Retry(c);
    });
    return;
  }
  OpRecord& op = history_[c.record];
  if (code == Code::kOk) {
    if (op.op != "PUT") op.value = reply.response.value;
    Complete(c, OpOutcome::kOk);
  } else if (code == Code::kNotFound && op.op == "GET") {
    op.absent = true;  // an answer: the key is absent
    Complete(c, OpOutcome::kOk);
  } else {
    Complete(c, OpOutcome::kFail);
  }
  Done(c, sim_.rng.Uniform(0, 3));
}

}  // namespace duplex::sim
