#include "bench/system.h"

namespace duplex::bench {

LoadShape ShapeOf(const LoadSpec& spec, const std::string& key_prefix) {
  LoadShape shape;
  shape.connections = spec.clients;
  shape.pipeline = spec.pipeline;
  shape.seconds = spec.seconds;
  shape.key_prefix = key_prefix;
  shape.key_bytes = kKeyBytes;
  shape.value_bytes = kValueBytes;
  return shape;
}

LoadShape BulkLoadShape(uint64_t keys) {
  LoadShape shape = ShapeOf(LoadSpec{.clients = 50, .pipeline = 8, .seconds = 3600}, "k");
  shape.total_ops = keys;
  shape.timeout_ms = 10000;
  return shape;
}

Status CheckBulkLoaded(uint64_t keys, const LoadResult& loaded) {
  if (loaded.ok == keys) return Status::Ok();
  return Unavailable("loading " + std::to_string(keys) + " keys: " + std::to_string(loaded.ok) +
                     " acknowledged (" + loaded.first_error + ")");
}

}  // namespace duplex::bench
