#include "chaos/sim/profile.h"

#include <cstdio>

#include "chaos/sim/event_queue.h"

namespace duplex::sim {

Profile Profile::Draw(Rng& rng, Rng& later, Rng& latest) {
  Profile p;
  bool hostile = rng.Chance(0.6);
  if (hostile) {
    if (rng.Chance(0.5)) p.drop = rng.Unit() * 0.05;
    if (rng.Chance(0.3)) p.duplicate = rng.Unit() * 0.05;
    if (rng.Chance(0.5)) p.delay_max_us = rng.Uniform(300, 20 * kMs);
    if (rng.Chance(0.5)) p.crash_per_s = rng.Unit() * 1.0;
    if (rng.Chance(0.3)) p.pause_per_s = rng.Unit() * 0.5;
    if (rng.Chance(0.4)) p.partition_per_s = rng.Unit() * 0.7;
    if (rng.Chance(0.3)) p.coordinator_restart_per_s = rng.Unit() * 0.7;
    if (rng.Chance(0.2)) p.write_error_per_s = rng.Unit() * 0.3;
    if (rng.Chance(0.2)) p.power_loss_per_s = rng.Unit() * 0.3;
    if (rng.Chance(0.2)) p.clock_jump_per_s = rng.Unit() * 0.5;
    p.swizzle = rng.Chance(0.2);
  }
  p.upgrade = rng.Chance(0.7);
  if (p.upgrade) {
    static const char* kVariants[] = {"", "", "", "", "crash", "unhealthy", "corrupt"};
    p.variant = kVariants[rng.Uniform(0, 6)];
    p.abort = rng.Chance(0.15) ? 1.0 : 0.0;
    p.auto_finalize = rng.Chance(0.8);
    p.digest_by_hold = rng.Chance(0.25);
  }
  if (later.Chance(0.3)) {
    p.churn = 0.02;
    p.session_expiry_ms = later.Uniform(1600, 2400);
  }
  if (hostile) {
    if (later.Chance(0.3)) p.host_crash_per_s = later.Unit() * 0.5;
    if (later.Chance(0.3)) p.host_freeze_per_s = later.Unit() * 0.5;
    if (later.Chance(0.3)) p.host_isolate_per_s = later.Unit() * 0.5;
    if (later.Chance(0.3)) p.agent_kill_per_s = later.Unit() * 0.7;
  }
  if (p.upgrade) p.distribute = !later.Chance(0.05);
  if (later.Chance(0.75)) {
    p.coordinators = 3;
    p.lease_ttl_s = later.Chance(0.7) ? 1 : 2;
    if (hostile) {
      if (later.Chance(0.3)) p.leader_freeze_per_s = later.Unit() * 0.5;
      if (later.Chance(0.3)) p.leader_isolate_per_s = later.Unit() * 0.5;
      if (later.Chance(0.25)) p.etcd_quorum_loss_per_s = later.Unit() * 0.3;
      if (later.Chance(0.25)) p.etcd_member_kill_per_s = later.Unit() * 0.5;
    }
  }
  if (hostile && p.coordinators == 1 && later.Chance(0.3)) {
    p.coordinator_disk_per_s = later.Unit() * 0.5;
  }
  p.split_clients = latest.Chance(0.25);
  if (hostile && latest.Chance(0.3)) p.control_cut_per_s = latest.Unit() * 0.5;
  return p;
}

// Only when drawn, as split-clients: the runs without it keep their traces byte for byte.
std::string Profile::ControlCutText() const {
  if (control_cut_per_s == 0) return "";
  char text[48];
  std::snprintf(text, sizeof(text), " control-cut/s %.2f", control_cut_per_s);
  return text;
}

std::string Profile::Describe() const {
  char text[1024];
  std::snprintf(text, sizeof(text),
                "drop %.3f dup %.3f delay %lld-%lld us crash/s %.2f pause/s %.2f "
                "partition/s %.2f coordinator-restart/s %.2f write-error/s %.2f "
                "power-loss/s %.2f clock-jump/s %.2f swizzle %d upgrade %d%s%s abort %d "
                "auto-finalize %d digest-by-hold %d churn %.2f session-expiry %lld ms "
                "host-crash/s %.2f host-freeze/s %.2f host-isolate/s %.2f agent-kill/s %.2f "
                "distribute %d coordinators %d lease-ttl %d s leader-freeze/s %.2f "
                "leader-isolate/s %.2f etcd-quorum-loss/s %.2f etcd-member-kill/s %.2f "
                "coordinator-disk/s %.2f%s%s",
                drop, duplicate, static_cast<long long>(delay_min_us),
                static_cast<long long>(delay_max_us), crash_per_s, pause_per_s, partition_per_s,
                coordinator_restart_per_s, write_error_per_s, power_loss_per_s, clock_jump_per_s,
                swizzle, upgrade, variant.empty() ? "" : " variant ", variant.c_str(), abort > 0,
                auto_finalize, digest_by_hold, churn, static_cast<long long>(session_expiry_ms),
                host_crash_per_s, host_freeze_per_s, host_isolate_per_s, agent_kill_per_s,
                distribute, coordinators, lease_ttl_s, leader_freeze_per_s, leader_isolate_per_s,
                etcd_quorum_loss_per_s, etcd_member_kill_per_s, coordinator_disk_per_s,
                // Only when drawn: the runs without it keep their traces byte for byte.
                split_clients ? " split-clients 1" : "", ControlCutText().c_str());
  return text;
}

}  // namespace duplex::sim
