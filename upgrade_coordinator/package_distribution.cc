#include "upgrade_coordinator/package_distribution.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/assert.h"
#include "upgrade_coordinator/package_signature.h"

namespace duplex {
namespace {

constexpr uint64_t kPartBytes = 256 << 10;  // well under any frame limit
constexpr int kRefusalsMax = 3;
constexpr int64_t kResendAfterUs = 5'000'000;

StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IOError(path + ": cannot read");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

PackageDistributor::PackageDistributor(const ClusterConfig& config, const AgentLinks* agents)
    : config_(config), agents_(agents) {
  DUPLEX_ASSERT(agents_ != nullptr, "distribution goes through the agents");
}

bool PackageDistributor::Holds(const std::string& host, const PackageManifest& m) const {
  const AgentReport* r = agents_->LastReport(host);
  if (r == nullptr) return false;
  return std::any_of(r->packages.begin(), r->packages.end(), [&](const StoredPackage& p) {
    return p.name == m.name && p.version == m.version.ToString() && p.sha256 == m.sha256;
  });
}

Distribution PackageDistributor::Want(const PackageManifest& m, int64_t now_us) {
  const std::string key = m.name + "-" + m.version.ToString();
  if (key != key_) {
    auto manifest_text = ReadWhole(m.dir + "/manifest.yaml");
    auto binary = ReadWhole(m.BinaryPath());
    if (!manifest_text.ok()) return {false, manifest_text.status().message(), ""};
    if (!binary.ok()) return {false, binary.status().message(), ""};
    StatusOr<std::string> signature = std::string();
    if (!m.signer.empty()) signature = ReadWhole(m.dir + "/" + kSignatureFile);
    if (!signature.ok()) return {false, signature.status().message(), ""};
    key_ = key;
    manifest_ = m;
    manifest_text_ = std::move(manifest_text).value();
    signature_text_ = std::move(signature).value();
    binary_ = std::move(binary).value();
    hosts_.clear();
    spdlog::info("distributing {} ({} bytes) to the hosts", key_, binary_.size());
  }
  Distribution d{true, "", ""};
  for (const HostConfig& h : config_.hosts) {
    if (ReplicasOn(config_, h.name).empty()) continue;
    HostSend& send = hosts_[h.name];
    std::string state;
    if (Holds(h.name, m)) {
      state = "done";
    } else {
      d.done = false;
      const AgentReport* r = agents_->LastReport(h.name);
      const std::string error = r == nullptr ? "" : r->package_error;
      if (!error.empty() && error != send.last_error && error.rfind(key_, 0) == 0) {
        // Refused (a part lost, a checksum that did not match): from the start again.
        send.last_error = error;
        send.offset = 0;
        ++agent_refusals_;
        if (++send.refusals >= kRefusalsMax) d.problem = "host " + h.name + ": " + error;
      }
      if (send.last_us == 0) send.last_us = now_us;
      const uint64_t pct = binary_.empty() ? 100 : send.offset * 100 / binary_.size();
      state = agents_->Connected(h.name, now_us) ? std::to_string(pct) + "%" : "unreachable";
    }
    d.progress += (d.progress.empty() ? "" : ", ") + h.name + " " + state;
  }
  return d;
}

std::vector<std::pair<std::string, PackagePart>> PackageDistributor::TakeParts(int64_t now_us) {
  std::vector<std::pair<std::string, PackagePart>> out;
  if (key_.empty()) return out;
  const double rate = static_cast<double>(config_.agent.distribute_bytes_per_s);
  for (auto& [host, send] : hosts_) {
    auto route = agents_->RouteOf(host);
    if (!route || Holds(host, manifest_) || !agents_->Connected(host, now_us)) continue;
    if (send.offset >= binary_.size()) {
      // All sent, yet not reported held: a part was lost on the way. From the start again.
      if (now_us - send.last_us > kResendAfterUs) send.offset = 0;
      continue;
    }
    // A token bucket of at most one part: the rate holds on average and bursts stay small.
    send.budget_bytes = std::min(send.budget_bytes + rate * (now_us - send.last_us) / 1e6,
                                 static_cast<double>(std::max<uint64_t>(kPartBytes, 1)));
    send.last_us = now_us;
    const uint64_t size = std::min<uint64_t>(kPartBytes, binary_.size() - send.offset);
    if (send.budget_bytes < static_cast<double>(size)) continue;
    send.budget_bytes -= static_cast<double>(size);
    out.push_back({*route,
                   {manifest_.name, manifest_.version.ToString(), manifest_text_, send.offset,
                    binary_.size(), binary_.substr(send.offset, size), signature_text_}});
    send.offset += size;
  }
  return out;
}

}  // namespace duplex
