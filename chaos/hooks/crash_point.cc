#include "chaos/hooks/crash_point.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "common/assert.h"
#include "common/files.h"

namespace duplex {
namespace {

class CrashPointRecordStore final : public RecordStore {
 public:
  CrashPointRecordStore(std::unique_ptr<RecordStore> inner, std::string control_file)
      : inner_(std::move(inner)), file_(std::move(control_file)) {
    DUPLEX_ASSERT(inner_ != nullptr && !file_.empty(), "a crash point wraps a store", file_);
  }

  StatusOr<std::optional<ClusterRecord>> Load() override {
    auto loaded = inner_->Load();
    if (loaded.ok()) last_ = *loaded;
    return loaded;
  }
  Status Save(const ClusterRecord& record) override {
    const WriteKinds kinds = KindsOf(record);
    Status s = inner_->Save(record);
    if (!s.ok()) return s;
    last_ = record;
    AfterWrite(kinds);
    return s;
  }
  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    return inner_->Get(key);
  }
  Status Put(const std::string& key, const std::string& value) override {
    Status s = inner_->Put(key, value);
    if (s.ok()) AfterWrite({});
    return s;
  }

 private:
  // What a record write changes, against the record last loaded or saved.
  struct WriteKinds {
    bool reload = false;    // a replica's assigned version
    bool epoch = false;     // the epoch: a promotion (failover, switchover) recorded
    bool finalize = false;  // the cluster version rises from one set before: Finalize
    bool Has(const std::string& what) const {
      return what == "any" || (what == "reload" && reload) || (what == "epoch" && epoch) ||
             (what == "finalize" && finalize);
    }
  };
  WriteKinds KindsOf(const ClusterRecord& record) const {
    WriteKinds k;
    k.reload =
        last_ ? last_->replica_version != record.replica_version : !record.replica_version.empty();
    k.epoch = record.epoch > (last_ ? last_->epoch : 0);
    // The first record sets the initial version: that is no finalize.
    k.finalize = last_ && !last_->cluster_version.empty() &&
                 last_->cluster_version != record.cluster_version;
    return k;
  }

  void AfterWrite(const WriteKinds& kinds) {
    std::ifstream in(file_);
    if (!in) return;  // not armed
    std::stringstream text;
    text << in.rdbuf();
    std::string what;
    int n = 0;
    Status parsed = ParseCrashPoint(text.str(), &what, &n);
    if (!parsed.ok()) {
      spdlog::error("crash point {}: {}", file_, parsed.ToString());
      return;
    }
    DUPLEX_ASSERT(n >= 1 && IsCrashPointKind(what), "a parsed crash point", what, n);
    if (!kinds.Has(what)) return;
    if (n > 1) {
      (void)WriteFileAtomically(file_, what + " " + std::to_string(n - 1) + "\n");
      return;
    }
    std::error_code ec;
    std::filesystem::remove(file_, ec);
    spdlog::warn("crash point: exiting right after a durable write ({}), before acting on it",
                 what);
    std::fflush(nullptr);
    ::_exit(137);
  }

  std::unique_ptr<RecordStore> inner_;
  std::string file_;
  std::optional<ClusterRecord> last_;
};

}  // namespace

std::unique_ptr<RecordStore> WithCrashPoint(std::unique_ptr<RecordStore> store,
                                            std::string control_file) {
  return std::make_unique<CrashPointRecordStore>(std::move(store), std::move(control_file));
}

bool IsCrashPointKind(const std::string& what) {
  return what == "any" || what == "reload" || what == "epoch" || what == "finalize";
}

Status ParseCrashPoint(const std::string& text, std::string* what, int* n) {
  std::istringstream in(text);
  *n = 1;
  if (!(in >> *what) || !IsCrashPointKind(*what)) {
    return InvalidArgument("crash point \"" + text +
                           "\": expected any, reload, epoch or finalize, then a count");
  }
  std::string count;
  if (in >> count) {
    try {
      size_t used = 0;
      *n = std::stoi(count, &used);
      if (used != count.size() || *n < 1) throw std::invalid_argument(count);
    } catch (const std::exception&) {
      return InvalidArgument("crash point \"" + text + "\": the count must be a number >= 1");
    }
  }
  DUPLEX_ASSERT(*n >= 1, "a crash point counts from one", *n);
  return Status::Ok();
}

}  // namespace duplex
