// `limits:` values out of the range each bound can take are refused when the config is read,
// naming the field, the range and the value.
#include "upgrade_coordinator/limits_config.h"

#include <gtest/gtest.h>

#include <string>

#include "upgrade_coordinator/cluster_config.h"

namespace duplex {
namespace {

constexpr char kMinimal[] = R"(name: small
data_dir: /var/lib/small
admin_port: 7400
control_port: 7401
processor: {binary: /opt/kv, version: 2.1.0}
replicas:
  - {name: a, port: 7410, client_port: 7416, http_port: 7411}
  - {name: b, port: 7420, client_port: 7426, http_port: 7421}
)";

std::string ErrorOf(const std::string& limits) {
  StatusOr<ClusterConfig> config = ParseClusterConfig(std::string(kMinimal) + limits, "/base");
  return config.ok() ? "parsed" : config.status().message();
}

TEST(LimitsConfig, ValuesOutOfTheirRangeAreRefusedNamingTheField) {
  EXPECT_EQ(ErrorOf("limits: {zmq_parts_max: 2}\n"),
            "limits.zmq_parts_max: must be 3 to 64 (a duplex message has up to 3 parts), got 2");
  EXPECT_EQ(ErrorOf("limits: {zmq_parts_max: 65}\n"),
            "limits.zmq_parts_max: must be 3 to 64 (a duplex message has up to 3 parts), got 65");
  EXPECT_EQ(ErrorOf("limits: {client_connections_max: 2000000}\n"),
            "limits.client_connections_max: must be 1 to 1048576 (each one is a file "
            "descriptor), got 2000000");
  EXPECT_EQ(ErrorOf("limits: {client_partial_frame_ms: 2000000000000}\n"),
            "limits.client_partial_frame_ms: must be 1 to 1099511627776 (milliseconds), got "
            "2000000000000");
  EXPECT_EQ(ErrorOf("limits: {client_input_bytes_max: 1048576}\n"),
            "limits.client_input_bytes_max: must be 16777216 to 1125899906842624 (bytes; at least "
            "one whole client frame of 16 MiB), got 1048576");
  EXPECT_EQ(ErrorOf("limits: {zmq_parts_max: 3, client_connections_max: 6000, "
                    "client_idle_timeout_ms: 1000, epoch_step_max: 10}\n"),
            "parsed");
}

}  // namespace
}  // namespace duplex
