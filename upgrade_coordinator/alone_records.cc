#include "upgrade_coordinator/alone_records.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"

namespace duplex {

AloneRecords::AloneRecords(std::string path, rocksdb::Env* env, std::unique_ptr<RecordStore> first)
    : path_(std::move(path)), env_(env), first_(std::move(first)) {
  DUPLEX_ASSERT(first_ != nullptr, "a coordinator alone starts on its opened store", path_);
}

StatusOr<std::unique_ptr<RecordStore>> AloneRecords::Open() {
  if (first_ != nullptr) return std::move(first_);
  return OpenRecordStore(path_, env_);
}

void AloneRecords::Failed(int64_t now_us, const std::string& why) {
  not_acting_ = "cannot persist its record: " + why;
  retry_us_ = now_us + backoff_us_;
  spdlog::error("coordinator: not acting: {}; trying again in {} ms", not_acting_,
                backoff_us_ / 1000);
  backoff_us_ = std::min(2 * backoff_us_, kRetryMaxUs);
}

void AloneRecords::Acting() {
  if (!not_acting_.empty()) {
    spdlog::warn("coordinator: its record store writes again: acting (was: {})", not_acting_);
  }
  not_acting_.clear();
  backoff_us_ = kRetryFirstUs;
}

int64_t AloneRecords::RetryInMs(int64_t now_us) const {
  return std::max<int64_t>(0, (retry_us_ - now_us) / 1000);
}

nlohmann::json AloneRecords::Json(bool acting, int64_t now_us) const {
  if (acting) return {{"acting", true}};
  return {{"acting", false}, {"not_acting", not_acting_}, {"retry_in_ms", RetryInMs(now_us)}};
}

}  // namespace duplex
