// The benchmark report: one self-contained HTML page (inline CSS and SVG, no scripts)
// with every figure beside its peer's and the ratio, and SVG charts: a cumulative
// distribution per latency series and a timeline per failover kind (one bar per run,
// from the fault to the first acknowledged write). Pure function of the figures.
#pragma once

#include <string>

#include "bench/figures.h"
#include "common/status.h"

namespace duplex::bench {

// `appendix_html` goes at the end of the page (the profile's section).
std::string RenderBenchReport(const Figures& figures, const std::string& peer_name,
                              const std::string& command, const std::string& appendix_html = "");
// Writes the page to path; the error names the path.
Status WriteBenchReport(const Figures& figures, const std::string& peer_name,
                        const std::string& command, const std::string& path,
                        const std::string& appendix_html = "");

// The profile's section: per process, CPU, context switches and system calls per write and the
// shares by component and thread (bench/profile.h's JSON), then the flame graph `svg` inline
// with a link to `svg_path`.
std::string ProfileHtml(const nlohmann::json& profile, const std::string& svg,
                        const std::string& svg_path);

}  // namespace duplex::bench
