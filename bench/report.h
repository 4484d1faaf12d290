// The benchmark report: one self-contained HTML page (inline CSS and SVG, no scripts)
// with every figure beside its peer's and the ratio, and SVG charts: a cumulative
// distribution per latency series and a timeline per failover kind (one bar per run,
// from the fault to the first acknowledged write). Pure function of the figures.
#pragma once

#include <string>

#include "bench/figures.h"
#include "common/status.h"

namespace duplex::bench {

std::string RenderBenchReport(const Figures& figures, const std::string& peer_name,
                              const std::string& command);
// Writes the page to path; the error names the path.
Status WriteBenchReport(const Figures& figures, const std::string& peer_name,
                        const std::string& command, const std::string& path);

}  // namespace duplex::bench
