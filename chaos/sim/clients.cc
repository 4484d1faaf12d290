#include "chaos/sim/clients.h"

#include <algorithm>

namespace duplex::sim {

Clients::Clients(SimContext& sim, Network& network, Processes& processes)
    : sim_(sim), network_(network), processes_(processes) {
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

void Clients::NextOp(Client& c) {
  if (!loading_) return;
  OpRecord op;
  op.client = c.index;
  op.request_seq = ++c.seq;
  if (c.seq % 2 == 1) {
    op.op = "PUT";
    op.key = "k-" + std::to_string(c.index) + "-" + std::to_string(++c.puts);
    op.value = "v" + std::to_string(c.seq);
  } else {
    op.op = "INCR";
    op.key = "ctr-" + std::to_string(c.index);
  }
  history_.push_back(op);
  c.record = history_.size() - 1;
  c.busy = true;
  c.deadline = sim_.now() + 3000 * kMs;
  SendRequest(c);
}

void Clients::SendRequest(Client& c) {
  const OpRecord& op = history_[c.record];
  Request q{c.id, op.request_seq, op.op, {}, 0};
  q.args = op.op == "PUT" ? std::vector<std::string>{op.key, op.value}
                          : std::vector<std::string>{op.key, "1"};
  std::string to = c.target == 0 ? "a" : "b";
  std::string name = Name(c);
  uint64_t attempt = ++c.attempt;
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
    history_[c.record].outcome = OpOutcome::kInfo;
    Done(c, sim_.rng.Uniform(1, 3));
    return;
  }
  SendRequest(c);
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
    op.outcome = OpOutcome::kOk;
    if (op.op == "INCR") op.value = reply.response.value;
  } else {
    op.outcome = OpOutcome::kFail;
  }
  Done(c, sim_.rng.Uniform(0, 3));
}

}  // namespace duplex::sim
