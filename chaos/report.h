// The report of one chaos run: a single self-contained HTML page (inline CSS and SVG, no
// scripts, no external resources) that reads offline and can be attached to a bug. It shows
// the verdict and how to replay the run, the invariants and faults as tables, and one SVG
// timeline: a lane per replica coloured by role, epoch changes, the campaign's steps, fault
// windows across all lanes, and client throughput and p99 latency under them on the same
// time axis. Pure functions over the run JSON that the scenario runner writes; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace duplex {

// The page for one run. Any field of `run` may be missing or of the wrong type (a wrong
// type is shown as missing): the page renders what is there and never throws. Every
// string from the run is HTML-escaped, since scenario names and details come from user files.
std::string RenderRunReport(const nlohmann::json& run);

// Text made safe for HTML content and attribute values (& < > " ').
std::string HtmlEscape(std::string_view s);

// Writes <dir>/result.json (run.dump(2)) and <dir>/report.html, creating `dir`. The
// error names the path that could not be created or written.
Status WriteRunReport(const nlohmann::json& run, const std::string& dir);

}  // namespace duplex
