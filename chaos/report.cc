#include "chaos/report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "upgrade_coordinator/campaign/names.h"

namespace duplex {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// Reading the run. The run JSON may come from an older runner or be hand-edited, and a
// report is most needed when something went wrong, so every read tolerates a missing field
// or a wrong type by answering "missing" instead of throwing (json::value() would throw).

const json* Field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<std::string> Str(const json& j, const char* key) {
  const json* f = Field(j, key);
  if (f == nullptr || !f->is_string()) return std::nullopt;
  return f->get_ref<const std::string&>();
}

// NaN and infinity can only come from a json built in code, but would break SVG coordinates.
std::optional<double> Num(const json& j, const char* key) {
  const json* f = Field(j, key);
  if (f == nullptr || !f->is_number()) return std::nullopt;
  double v = f->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> Int(const json& j, const char* key) {
  const json* f = Field(j, key);
  if (f == nullptr || !f->is_number_integer()) return std::nullopt;
  return f->get<int64_t>();
}

std::optional<bool> Bool(const json& j, const char* key) {
  const json* f = Field(j, key);
  if (f == nullptr || !f->is_boolean()) return std::nullopt;
  return f->get<bool>();
}

const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json* f = Field(j, key);
  return f != nullptr && f->is_array() ? *f : kEmpty;
}

// Replacing invalid UTF-8 keeps dump() from throwing on strings built in code.
std::string Dump(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------
// Text.

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "950.0 ms" below a second, "12.35 s" above: failovers are milliseconds, runs are seconds.
std::string Duration(double ms) {
  return ms < 1000 ? Fixed(ms, 1) + " ms" : Fixed(ms / 1000, 2) + " s";
}

// A point on the run's clock, with millisecond resolution.
std::string At(double ms) { return Fixed(ms / 1000, 3) + " s"; }

constexpr char kMissing[] = "&ndash;";

std::string OrMissing(const std::optional<std::string>& s) { return s ? HtmlEscape(*s) : kMissing; }

// ---------------------------------------------------------------------------------------
// Header: what ran, the verdict, how to replay it, and the headline numbers.

void AppendVerdict(const json& run, std::string* out) {
  std::optional<std::string> verdict = Str(run, "verdict");
  std::string cls = "unknown";
  if (verdict == "pass") cls = "pass";
  if (verdict == "fail") cls = "fail";
  std::string text = verdict ? *verdict : "no verdict";
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  *out += "<div class=\"verdict " + cls + "\">" + HtmlEscape(text) + "</div>\n";
}

void AppendFact(std::string_view name, const std::string& html, std::string* out) {
  *out += "<tr><th>" + std::string(name) + "</th><td>" + html + "</td></tr>\n";
}

// The runner's own rule (scenario_runner.cc): "either" accepts a campaign that completed or
// rolled back, any other expectation only itself. Both spellings of a rollback are taken, the
// runner's "rolled_back" and the campaign state's "rolled back".
bool OutcomeAccepted(const std::string& expected, const std::string& actual) {
  auto normal = [](std::string s) {
    std::replace(s.begin(), s.end(), ' ', '_');
    return s;
  };
  if (expected == "either") {
    return normal(actual) == "completed" || normal(actual) == "rolled_back";
  }
  return normal(expected) == normal(actual);
}

std::string Outcomes(const json& run) {
  std::optional<std::string> expected = Str(run, "expected_outcome");
  std::optional<std::string> actual = Str(run, "outcome");
  std::string html = "expected " + OrMissing(expected) + ", actual " + OrMissing(actual);
  if (expected && actual && !OutcomeAccepted(*expected, *actual)) {
    html += " <span class=\"bad\">(differs)</span>";
  }
  return html;
}

std::string Ops(const json& run) {
  const json* ops = Field(run, "ops");
  if (ops == nullptr || !ops->is_object()) return kMissing;
  auto count = [&](const char* key) {
    std::optional<int64_t> n = Int(*ops, key);
    return n ? std::to_string(*n) : std::string(kMissing);
  };
  return "ok " + count("ok") + ", fail " + count("fail") + ", info (outcome unknown) " +
         count("info");
}

std::string Failovers(const json& run) {
  std::string html;
  for (const json& f : Array(run, "failover_ms")) {
    if (!f.is_number() || !std::isfinite(f.get<double>())) continue;
    html += (html.empty() ? "" : ", ") + Duration(f.get<double>());
  }
  return html.empty() ? "none measured" : html;
}

void AppendHeader(const json& run, std::string* out) {
  std::optional<std::string> scenario = Str(run, "scenario");
  *out += "<header>\n<h1>" + (scenario ? HtmlEscape(*scenario) : "(unnamed scenario)") + "</h1>\n";
  if (auto description = Str(run, "description")) {
    *out += "<p class=\"description\">" + HtmlEscape(*description) + "</p>\n";
  }
  AppendVerdict(run, out);
  *out += "</header>\n<table class=\"facts\">\n";
  // Dumped rather than read as int64_t: a seed may use all 64 unsigned bits.
  const json* seed = Field(run, "seed");
  AppendFact("seed", seed && seed->is_number_integer() ? Dump(*seed) : kMissing, out);
  std::optional<std::string> replay = Str(run, "replay");
  AppendFact("replay", replay ? "<code>" + HtmlEscape(*replay) + "</code>" : kMissing, out);
  AppendFact("campaign outcome", Outcomes(run), out);
  std::optional<double> duration = Num(run, "duration_ms");
  AppendFact("duration", duration ? Duration(*duration) : kMissing, out);
  AppendFact("client ops", Ops(run), out);
  AppendFact("failover", Failovers(run), out);
  std::optional<double> convergence = Num(run, "convergence_ms");
  AppendFact("convergence", convergence ? Duration(*convergence) : kMissing, out);
  *out += "</table>\n";
}

// ---------------------------------------------------------------------------------------
// Tables.

// Enough to see the pattern of a violation without a page of thousands of lines; the full
// list stays in result.json beside the page.
constexpr size_t kDetailsShownMax = 20;

std::string Details(const json& invariant) {
  const json& details = Array(invariant, "details");
  if (details.empty()) return "";
  std::string html = "<ul>";
  size_t shown = std::min(details.size(), kDetailsShownMax);
  for (size_t i = 0; i < shown; ++i) {
    const json& d = details[i];
    html +=
        "<li>" + HtmlEscape(d.is_string() ? d.get_ref<const std::string&>() : Dump(d)) + "</li>";
  }
  if (details.size() > shown) {
    html += "<li class=\"more\">... and " + std::to_string(details.size() - shown) + " more</li>";
  }
  return html + "</ul>";
}

void AppendInvariants(const json& run, std::string* out) {
  *out += "<h2>Invariants</h2>\n";
  const json& invariants = Array(run, "invariants");
  if (invariants.empty()) {
    *out += "<p class=\"none\">No invariants recorded.</p>\n";
    return;
  }
  *out +=
      "<table class=\"grid\">\n<tr><th>invariant</th><th>status</th><th>violations</th>"
      "<th>details</th></tr>\n";
  for (const json& inv : invariants) {
    std::optional<bool> ok = Bool(inv, "ok");
    std::string cls = !ok ? "unknown" : *ok ? "ok" : "violated";
    std::string status = !ok ? "UNKNOWN" : *ok ? "OK" : "VIOLATED";
    std::optional<int64_t> violations = Int(inv, "violations");
    *out += "<tr class=\"" + cls + "\"><td>" + OrMissing(Str(inv, "name")) +
            "</td><td class=\"status\">" + status + "</td><td class=\"num\">" +
            (violations ? std::to_string(*violations) : kMissing) + "</td><td>" + Details(inv) +
            "</td></tr>\n";
  }
  *out += "</table>\n";
}

void AppendFaults(const json& run, std::string* out) {
  *out += "<h2>Faults</h2>\n";
  const json& faults = Array(run, "faults");
  if (faults.empty()) {
    *out += "<p class=\"none\">No faults injected.</p>\n";
    return;
  }
  *out +=
      "<table class=\"grid\">\n<tr><th>kind</th><th>target</th><th>trigger</th>"
      "<th>start</th><th>end</th><th>note</th></tr>\n";
  for (const json& f : faults) {
    std::optional<double> start = Num(f, "start_ms");
    std::optional<double> end = Num(f, "end_ms");
    *out += "<tr><td>" + OrMissing(Str(f, "kind")) + "</td><td>" + OrMissing(Str(f, "target")) +
            "</td><td>" + OrMissing(Str(f, "trigger")) + "</td><td class=\"num\">" +
            (start ? At(*start) : kMissing) + "</td><td class=\"num\">" +
            (end ? At(*end) : kMissing) + "</td><td>" + OrMissing(Str(f, "note")) + "</td></tr>\n";
  }
  *out += "</table>\n";
}

// ---------------------------------------------------------------------------------------
// The timeline model: what the SVG draws, extracted from the run first so that drawing is
// plain geometry. Times are milliseconds since the run's start.

struct TimedEvent {
  double t_ms;
  const json* event;
};

// One stretch of a replica's life in which its role, version and epoch did not change.
struct Segment {
  double start_ms, end_ms;
  bool alive;
  std::string role, version;
  std::optional<int64_t> epoch;

  bool LooksLike(const Segment& o) const {
    return alive == o.alive && role == o.role && version == o.version && epoch == o.epoch;
  }
};

struct Lane {
  std::string replica;
  std::vector<Segment> segments;
};

struct EpochMark {
  double t_ms;
  int64_t epoch;
  std::string active;
};

struct StepBand {
  double start_ms, end_ms;
  std::optional<int64_t> campaign;
  std::string step, result, reason;
};

// Where a campaign reached a final state ("completed", "rolled back").
struct CampaignEnd {
  double t_ms;
  std::string state;
};

struct FaultWindow {
  double start_ms, end_ms;
  std::string kind, target, trigger, note;
};

struct Bucket {
  double t_ms, ok, fail;
  std::optional<double> p99_ms;
};

struct Timeline {
  double span_ms = 0;
  std::vector<Lane> lanes;
  std::vector<EpochMark> epochs;
  std::vector<StepBand> steps;
  std::vector<CampaignEnd> campaign_ends;
  std::vector<FaultWindow> faults;
  std::vector<Bucket> buckets;
  double bucket_ms = 100;  // the runner's bucket width; inferred from the buckets when it can
};

// Events with a usable time, in time order (stable: the log's order breaks ties).
std::vector<TimedEvent> TimedEvents(const json& run) {
  std::vector<TimedEvent> events;
  for (const json& e : Array(run, "events")) {
    if (std::optional<double> t = Num(e, "t_ms")) events.push_back({std::max(0.0, *t), &e});
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const TimedEvent& a, const TimedEvent& b) { return a.t_ms < b.t_ms; });
  return events;
}

bool IsKind(const json& e, std::string_view kind) { return Str(e, "kind") == kind; }

// Each replica event is the replica's whole reported state, so a segment lasts until the
// next event that changes how it looks; the last one lasts to the end of the run.
std::vector<Lane> ReplicaLanes(const std::vector<TimedEvent>& events, double span_ms) {
  std::vector<Lane> lanes;
  std::map<std::string, size_t> lane_of;
  for (const auto& [t, e] : events) {
    std::optional<std::string> name = Str(*e, "replica");
    if (!IsKind(*e, "replica") || !name) continue;
    auto [it, added] = lane_of.try_emplace(*name, lanes.size());
    if (added) lanes.push_back({*name, {}});
    Segment next{t,
                 span_ms,
                 Bool(*e, "alive").value_or(true),
                 Str(*e, "role").value_or(""),
                 Str(*e, "version").value_or(""),
                 Int(*e, "epoch")};
    std::vector<Segment>& segments = lanes[it->second].segments;
    if (!segments.empty() && segments.back().LooksLike(next)) continue;
    if (!segments.empty()) segments.back().end_ms = t;
    segments.push_back(std::move(next));
  }
  return lanes;
}

// Every fresh cluster starts in epoch 1, so that is no change; any other epoch the cluster
// record moves to gets a marker, even in the first record (the run then began on a cluster
// that had already failed over).
std::vector<EpochMark> EpochMarks(const std::vector<TimedEvent>& events) {
  std::vector<EpochMark> marks;
  int64_t last = 1;
  for (const auto& [t, e] : events) {
    std::optional<int64_t> epoch = Int(*e, "epoch");
    if (!IsKind(*e, "cluster") || !epoch || *epoch == last) continue;
    last = *epoch;
    marks.push_back({t, *epoch, Str(*e, "active").value_or("")});
  }
  return marks;
}

bool IsFinalCampaignState(const std::string& state) {
  std::optional<CampaignState> known = FromName<CampaignState>(state);
  return known && Ended(*known);
}

// Campaign events carry the campaign's state and its latest step. A step's band starts at
// the first event naming it and ends when another step (or campaign) starts or the campaign
// reaches a final state; its colour is the step's latest result.
void CampaignBands(const std::vector<TimedEvent>& events, Timeline* timeline) {
  std::optional<StepBand> open;
  auto close = [&](double t) {
    if (!open) return;
    open->end_ms = t;
    timeline->steps.push_back(std::move(*open));
    open.reset();
  };
  for (const auto& [t, e] : events) {
    if (!IsKind(*e, "campaign")) continue;
    std::optional<int64_t> id = Int(*e, "id");
    std::optional<std::string> step = Str(*e, "step");
    if (open && ((step && *step != open->step) || id != open->campaign)) close(t);
    std::string state = Str(*e, "state").value_or("");
    bool done = IsFinalCampaignState(state);
    // A finished campaign's later events (its state is logged again when any field changes)
    // must not reopen the step that already ended.
    bool ended = !timeline->steps.empty() && timeline->steps.back().campaign == id &&
                 step == timeline->steps.back().step;
    if (step && !open && !(done && ended)) open = StepBand{t, t, id, *step, "", ""};
    if (open) {
      open->result = Str(*e, "result").value_or(open->result);
      open->reason = Str(*e, "reason").value_or(open->reason);
    }
    if (!done) continue;
    close(t);
    if (timeline->campaign_ends.empty() || timeline->campaign_ends.back().state != state) {
      timeline->campaign_ends.push_back({t, state});
    }
  }
  close(timeline->span_ms);
}

// A fault without an end is drawn as an instant rather than guessed to last to the end.
std::vector<FaultWindow> FaultWindows(const json& run) {
  std::vector<FaultWindow> windows;
  for (const json& f : Array(run, "faults")) {
    std::optional<double> start = Num(f, "start_ms");
    if (!start) continue;
    double end = std::max(*start, Num(f, "end_ms").value_or(*start));
    windows.push_back({std::max(0.0, *start), std::max(0.0, end), Str(f, "kind").value_or("?"),
                       Str(f, "target").value_or(""), Str(f, "trigger").value_or(""),
                       Str(f, "note").value_or("")});
  }
  return windows;
}

std::optional<double> NonNegative(std::optional<double> v) {
  return v ? std::optional(std::max(0.0, *v)) : std::nullopt;
}

void ThroughputBuckets(const json& run, Timeline* timeline) {
  for (const json& b : Array(run, "throughput")) {
    std::optional<double> t = Num(b, "t_ms");
    if (!t) continue;
    timeline->buckets.push_back({std::max(0.0, *t), std::max(0.0, Num(b, "ok").value_or(0)),
                                 std::max(0.0, Num(b, "fail").value_or(0)),
                                 NonNegative(Num(b, "p99_ms"))});
  }
  auto& buckets = timeline->buckets;
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const Bucket& a, const Bucket& b) { return a.t_ms < b.t_ms; });
  // The smallest step between buckets is their width; empty buckets may have been skipped.
  double width = 0;
  for (size_t i = 1; i < buckets.size(); ++i) {
    double step = buckets[i].t_ms - buckets[i - 1].t_ms;
    if (step > 0 && (width == 0 || step < width)) width = step;
  }
  if (width > 0) timeline->bucket_ms = width;
}

constexpr double kSpanMinMs = 100;

// The run's length, or the last thing seen if the run outlived its recorded duration.
double SpanMs(const json& run, const std::vector<TimedEvent>& events, const Timeline& t) {
  double span = Num(run, "duration_ms").value_or(0);
  if (!events.empty()) span = std::max(span, events.back().t_ms);
  for (const FaultWindow& f : t.faults) span = std::max(span, f.end_ms);
  for (const Bucket& b : t.buckets) span = std::max(span, b.t_ms + t.bucket_ms);
  // An empty run still gets an axis, and a degenerate one no axis in microseconds.
  return span > 0 ? std::max(span, kSpanMinMs) : 1000;
}

Timeline BuildTimeline(const json& run) {
  Timeline timeline;
  std::vector<TimedEvent> events = TimedEvents(run);
  timeline.faults = FaultWindows(run);
  ThroughputBuckets(run, &timeline);
  timeline.span_ms = SpanMs(run, events, timeline);
  timeline.lanes = ReplicaLanes(events, timeline.span_ms);
  timeline.epochs = EpochMarks(events);
  CampaignBands(events, &timeline);
  return timeline;
}

// ---------------------------------------------------------------------------------------
// Drawing. One x scale for every lane and the chart, so a fault, an epoch change and a
// throughput dip line up vertically.

constexpr double kSvgWidth = 1000;
constexpr double kPlotLeft = 120;   // room for lane labels
constexpr double kPlotRight = 940;  // room for the p99 axis labels
constexpr double kEpochRowY = 14;   // epoch labels
constexpr double kFaultRowY = 30;   // fault labels
constexpr double kLanesTop = 40;
constexpr double kLaneHeight = 22;
constexpr double kLaneGap = 6;
constexpr double kChartGap = 28;
constexpr double kChartHeight = 130;
constexpr double kAxisHeight = 34;
constexpr double kCharWidthPx = 6.6;  // 11 px sans-serif, generously: labels must not overflow
constexpr size_t kLaneLabelCharsMax = 16;
static_assert(kLaneLabelCharsMax * kCharWidthPx + 8 <= kPlotLeft, "lane labels fit");

struct Scale {
  double span_ms;
  double X(double t_ms) const {
    return kPlotLeft + std::clamp(t_ms / span_ms, 0.0, 1.0) * (kPlotRight - kPlotLeft);
  }
};

std::string Px(double v) { return Fixed(v, 1); }

double TextWidth(std::string_view s) { return static_cast<double>(s.size()) * kCharWidthPx; }

void Text(double x, double y, std::string_view cls, std::string_view text, std::string* out,
          std::string_view anchor = "start", std::string_view title = "") {
  *out += "<text class=\"" + std::string(cls) + "\" x=\"" + Px(x) + "\" y=\"" + Px(y) +
          "\" text-anchor=\"" + std::string(anchor) + "\">" + HtmlEscape(text);
  if (!title.empty()) *out += "<title>" + HtmlEscape(title) + "</title>";
  *out += "</text>\n";
}

// Zero-length stretches still get a sliver, so that they (and their tooltips) exist.
void Rect(double x0, double x1, double y, double h, std::string_view cls, std::string_view title,
          std::string* out) {
  *out += "<rect class=\"" + std::string(cls) + "\" x=\"" + Px(x0) + "\" y=\"" + Px(y) +
          "\" width=\"" + Px(std::max(1.5, x1 - x0)) + "\" height=\"" + Px(h) + "\">";
  if (!title.empty()) *out += "<title>" + HtmlEscape(title) + "</title>";
  *out += "</rect>\n";
}

void VLine(double x, double y0, double y1, std::string_view cls, std::string* out,
           std::string_view title = "") {
  *out += "<line class=\"" + std::string(cls) + "\" x1=\"" + Px(x) + "\" y1=\"" + Px(y0) +
          "\" x2=\"" + Px(x) + "\" y2=\"" + Px(y1) + "\"";
  if (title.empty()) {
    *out += "/>\n";
  } else {
    *out += "><title>" + HtmlEscape(title) + "</title></line>\n";
  }
}

// 1, 2 or 5 times a power of ten, so that axis labels are round numbers.
double NiceStep(double raw) {
  if (!(raw > 0)) return 1;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / magnitude;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
}

// Cut at a UTF-8 character boundary, so that a long non-ASCII name stays valid text.
std::string Truncated(const std::string& s, size_t chars_max) {
  if (s.size() <= chars_max) return s;
  size_t cut = chars_max - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

const char* RoleClass(const Segment& s) {
  if (!s.alive) return "r-down";
  if (s.role.starts_with("Active")) return "r-active";
  if (s.role == "Standby/InSync") return "r-insync";
  if (s.role.starts_with("Standby")) return "r-catchingup";
  if (s.role.starts_with("Promoting")) return "r-promoting";
  if (s.role.starts_with("OutOfService")) return "r-oos";
  return "r-unknown";
}

std::string SegmentTitle(const std::string& replica, const Segment& s) {
  std::string title = replica + ": ";
  if (!s.alive) {
    title += "down (process not running)";
  } else {
    title += s.role.empty() ? "role not reported" : s.role;
    if (!s.version.empty()) title += ", version " + s.version;
    if (s.epoch) title += ", epoch " + std::to_string(*s.epoch);
  }
  return title + ", " + At(s.start_ms) + " - " + At(s.end_ms);
}

// The version is written where it changes, not on every segment, so an upgrade stands out;
// a label that would run into the previous one is left to the tooltip.
void DrawLane(const Lane& lane, const Scale& scale, double y, std::string* out) {
  Text(kPlotLeft - 8, y + kLaneHeight * 0.7, "lane-label",
       "replica " + Truncated(lane.replica, kLaneLabelCharsMax - 8), out, "end",
       "replica " + lane.replica);
  std::string last_version;
  double label_free_x = 0;
  for (const Segment& s : lane.segments) {
    double x0 = scale.X(s.start_ms), x1 = scale.X(s.end_ms);
    Rect(x0, x1, y, kLaneHeight, RoleClass(s), SegmentTitle(lane.replica, s), out);
    if (!s.alive || s.version.empty() || s.version == last_version) continue;
    last_version = s.version;
    if (x0 + 3 < label_free_x || x0 + 3 + TextWidth(s.version) > kPlotRight) continue;
    Text(x0 + 3, y + kLaneHeight * 0.7, "seg-label", s.version, out);
    label_free_x = x0 + 3 + TextWidth(s.version) + 4;
  }
}

const char* StepClass(const std::string& result) {
  std::optional<StepOutcome> known = FromName<StepOutcome>(result);
  if (!known) return "s-other";
  switch (*known) {
    case StepOutcome::kOk:
      return "s-ok";
    case StepOutcome::kNok:
      return "s-nok";
    case StepOutcome::kRunning:
      return "s-running";
  }
  return "s-other";
}

void DrawCampaignLane(const Timeline& t, const Scale& scale, double y, std::string* out) {
  Text(kPlotLeft - 8, y + kLaneHeight * 0.7, "lane-label", "campaign", out, "end");
  for (const StepBand& band : t.steps) {
    double x0 = scale.X(band.start_ms), x1 = scale.X(band.end_ms);
    std::string title = band.step + " (" + (band.result.empty() ? "no result" : band.result) +
                        "), " + At(band.start_ms) + " - " + At(band.end_ms);
    if (band.campaign) title = "campaign " + std::to_string(*band.campaign) + ": " + title;
    if (!band.reason.empty()) title += ": " + band.reason;
    Rect(x0, x1, y, kLaneHeight, StepClass(band.result), title, out);
    if (TextWidth(band.step) + 6 <= x1 - x0) {
      Text(x0 + 3, y + kLaneHeight * 0.7, "seg-label", band.step, out);
    }
  }
  for (const CampaignEnd& end : t.campaign_ends) {
    double x = scale.X(end.t_ms);
    VLine(x, y - 2, y + kLaneHeight + 2, "campaign-end", out);
    std::string title = "campaign " + end.state + " at " + At(end.t_ms);
    if (x + 4 + TextWidth(end.state) <= kPlotRight) {
      Text(x + 4, y + kLaneHeight * 0.7, "seg-label", end.state, out, "start", title);
    }
  }
}

// Translucent windows over every lane and the chart, so a fault lines up with its effects.
// The windows let the pointer through to the segments below; their tooltip is on the label.
void DrawFaults(const Timeline& t, const Scale& scale, double bottom, std::string* out) {
  for (const FaultWindow& f : t.faults) {
    double x0 = scale.X(f.start_ms), x1 = scale.X(f.end_ms);
    if (f.end_ms > f.start_ms) {
      Rect(x0, x1, kLanesTop - 4, bottom - kLanesTop + 4, "fault", "", out);
    } else {
      VLine(x0, kLanesTop - 4, bottom, "fault-instant", out);
    }
    std::string label = f.target.empty() ? f.kind : f.kind + " " + f.target;
    std::string title = label + ", " + At(f.start_ms) + " - " + At(f.end_ms);
    if (!f.trigger.empty()) title += ", trigger: " + f.trigger;
    if (!f.note.empty()) title += ", " + f.note;
    // A fault near the end of the run is labelled to the left of its start, inside the SVG.
    bool fits_right = x0 + 2 + TextWidth(label) <= kSvgWidth;
    Text(fits_right ? x0 + 2 : x0 - 2, kFaultRowY, "fault-label", label, out,
         fits_right ? "start" : "end", title);
  }
}

// Epochs that change within a few ms would draw their labels over each other ("e1" and "e23"
// as one smudge). Labels are placed from the right: the latest epoch of a burst, the one that
// held, keeps its label, and an earlier one whose label would touch it is not labelled; every
// epoch keeps its line, and the line's tooltip names it.
void DrawEpochs(const Timeline& t, const Scale& scale, double bottom, std::string* out) {
  constexpr double kLabelGapPx = 4;
  double left_of_next_label = std::numeric_limits<double>::infinity();
  std::vector<std::string> labels;
  for (auto m = t.epochs.rbegin(); m != t.epochs.rend(); ++m) {
    double x = scale.X(m->t_ms);
    std::string title = "epoch " + std::to_string(m->epoch) + " from " + At(m->t_ms);
    if (!m->active.empty()) title += ", active " + m->active;
    VLine(x, kEpochRowY + 4, bottom, "epoch", out, title);
    std::string label = "e" + std::to_string(m->epoch);
    double half_width = TextWidth(label) / 2;
    if (x + half_width + kLabelGapPx > left_of_next_label) continue;
    left_of_next_label = x - half_width;
    std::string text;
    Text(x, kEpochRowY, "epoch-label", label, &text, "middle", title);
    labels.push_back(std::move(text));
  }
  for (const std::string& text : labels) *out += text;
}

// Time ticks at round seconds, with grid lines through the lanes and the chart.
void DrawTimeAxis(const Scale& scale, double bottom, std::string* out) {
  double step_s = NiceStep(scale.span_ms / 1000 / 10);
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step_s) + 1e-9)));
  int ticks = static_cast<int>(std::floor(scale.span_ms / 1000 / step_s + 1e-9));
  for (int i = 0; i <= ticks; ++i) {
    double x = scale.X(i * step_s * 1000);
    VLine(x, kLanesTop - 4, bottom + 4, "grid", out);
    Text(x, bottom + 16, "tick", Fixed(i * step_s, decimals), out, "middle");
  }
  Text(kPlotRight, bottom + 30, "axis-label", "time since start (s)", out, "end");
}

// The smallest round number at or above `max`, so the axis top is a readable label.
double NiceCeil(double max) {
  if (!(max > 0)) return 1;
  double step = NiceStep(max / 4);
  return std::ceil(max / step - 1e-9) * step;
}

// A step line over the buckets: each bucket holds its value for its whole width, and a
// missing bucket drops to zero (no operation finished then). Returns SVG path data.
std::string StepPath(const Timeline& t, const Scale& scale, double bottom, double per_px,
                     double (*value)(const Bucket&)) {
  std::string d;
  double prev_end_ms = -1;
  for (const Bucket& b : t.buckets) {
    double y = bottom - value(b) * 1000 / t.bucket_ms / per_px;
    if (prev_end_ms >= 0 && b.t_ms > prev_end_ms + 1e-6) {
      d += " L" + Px(scale.X(prev_end_ms)) + "," + Px(bottom) + " L" + Px(scale.X(b.t_ms)) + "," +
           Px(bottom);
    }
    d += (d.empty() ? "M" : " L") + Px(scale.X(b.t_ms)) + "," + Px(y);
    prev_end_ms = b.t_ms + t.bucket_ms;
    d += " L" + Px(scale.X(prev_end_ms)) + "," + Px(y);
  }
  return d;
}

// p99 at each bucket's middle; a bucket without a p99 (nothing finished) breaks the line.
std::string LatencyPath(const Timeline& t, const Scale& scale, double bottom, double ms_per_px) {
  std::string d;
  bool pen_down = false;
  for (const Bucket& b : t.buckets) {
    if (!b.p99_ms) {
      pen_down = false;
      continue;
    }
    d += std::string(pen_down ? " L" : " M") + Px(scale.X(b.t_ms + t.bucket_ms / 2)) + "," +
         Px(bottom - *b.p99_ms / ms_per_px);
    pen_down = true;
  }
  return d;
}

// Whole numbers without decimals; halves of a small axis top keep theirs ("0.5", not "0").
std::string AxisNumber(double v) {
  if (v == std::floor(v)) return Fixed(v, 0);
  return Fixed(v, v >= 1 ? 1 : 2);
}

void DrawPath(std::string_view cls, const std::string& d, std::string* out) {
  if (!d.empty()) *out += "<path class=\"" + std::string(cls) + "\" d=\"" + d + "\"/>\n";
}

// Client throughput (ok and failed operations per second, left axis) and p99 latency
// (right axis) under the lanes.
void DrawChart(const Timeline& t, const Scale& scale, double top, std::string* out) {
  double bottom = top + kChartHeight;
  double rate_max = 0, p99_max = 0;
  for (const Bucket& b : t.buckets) {
    rate_max = std::max({rate_max, b.ok * 1000 / t.bucket_ms, b.fail * 1000 / t.bucket_ms});
    p99_max = std::max(p99_max, b.p99_ms.value_or(0));
  }
  double rate_top = NiceCeil(rate_max), p99_top = NiceCeil(p99_max);
  for (double f : {0.5, 1.0}) {
    double y = bottom - f * kChartHeight;
    *out += "<line class=\"hgrid\" x1=\"" + Px(kPlotLeft) + "\" y1=\"" + Px(y) + "\" x2=\"" +
            Px(kPlotRight) + "\" y2=\"" + Px(y) + "\"/>\n";
    Text(kPlotLeft - 6, y + 4, "tick ok-axis", AxisNumber(f * rate_top), out, "end");
    Text(kPlotRight + 6, y + 4, "tick p99-axis", AxisNumber(f * p99_top), out, "start");
  }
  Text(kPlotLeft - 6, bottom + 4, "tick", "0", out, "end");
  Text(kPlotLeft - 6, top - 8, "axis-label ok-axis", "ok ops/s", out, "end");
  Text(kPlotRight + 6, top - 8, "axis-label p99-axis", "p99 ms", out, "start");
  *out += "<line class=\"baseline\" x1=\"" + Px(kPlotLeft) + "\" y1=\"" + Px(bottom) + "\" x2=\"" +
          Px(kPlotRight) + "\" y2=\"" + Px(bottom) + "\"/>\n";
  if (t.buckets.empty()) {
    Text(kPlotLeft + 6, bottom - 8, "none", "no throughput recorded", out);
    return;
  }
  double per_px = rate_top / kChartHeight;
  std::string ok = StepPath(t, scale, bottom, per_px, [](const Bucket& b) { return b.ok; });
  DrawPath("tp-ok",
           ok + " L" + Px(scale.X(t.buckets.back().t_ms + t.bucket_ms)) + "," + Px(bottom) + " L" +
               Px(scale.X(t.buckets.front().t_ms)) + "," + Px(bottom) + " Z",
           out);
  bool any_fail =
      std::any_of(t.buckets.begin(), t.buckets.end(), [](const Bucket& b) { return b.fail > 0; });
  if (any_fail) {
    DrawPath("tp-fail", StepPath(t, scale, bottom, per_px, [](const Bucket& b) { return b.fail; }),
             out);
  }
  DrawPath("p99", LatencyPath(t, scale, bottom, p99_top / kChartHeight), out);
}

std::string RenderTimelineSvg(const Timeline& t) {
  Scale scale{t.span_ms};
  size_t lanes = std::max<size_t>(t.lanes.size(), 1) + 1;  // replicas (or a note) + campaign
  double lanes_bottom = kLanesTop + static_cast<double>(lanes) * (kLaneHeight + kLaneGap);
  double chart_top = lanes_bottom + kChartGap;
  double bottom = chart_top + kChartHeight;
  double height = bottom + kAxisHeight;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Px(kSvgWidth) +
                    "\" height=\"" + Px(height) + "\" viewBox=\"0 0 " + Px(kSvgWidth) + " " +
                    Px(height) + "\" role=\"img\" aria-label=\"timeline of the run\">\n";
  DrawTimeAxis(scale, bottom, &svg);
  double y = kLanesTop;
  for (const Lane& lane : t.lanes) {
    DrawLane(lane, scale, y, &svg);
    y += kLaneHeight + kLaneGap;
  }
  if (t.lanes.empty()) {
    Text(kPlotLeft + 6, y + kLaneHeight * 0.7, "none", "no replica events recorded", &svg);
    y += kLaneHeight + kLaneGap;
  }
  DrawCampaignLane(t, scale, y, &svg);
  if (t.steps.empty()) Text(kPlotLeft + 6, y + kLaneHeight * 0.7, "none", "no campaign", &svg);
  DrawChart(t, scale, chart_top, &svg);
  DrawFaults(t, scale, bottom, &svg);
  DrawEpochs(t, scale, bottom, &svg);
  return svg + "</svg>\n";
}

// A key for the colours, as HTML under the SVG so it wraps with the page.
constexpr std::string_view kLegend = R"(<div class="legend">
<span><i class="r-active"></i>Active</span> <span><i class="r-promoting"></i>Promoting</span>
<span><i class="r-insync"></i>Standby/InSync</span>
<span><i class="r-catchingup"></i>Standby/CatchingUp</span>
<span><i class="r-oos"></i>OutOfService</span> <span><i class="r-down"></i>down</span>
<span><i class="s-ok"></i>step ok</span> <span><i class="s-nok"></i>step nok</span>
<span><i class="s-running"></i>step running</span> <span><i class="fault"></i>fault</span>
<span><i class="tp-ok"></i>ok ops/s</span> <span><i class="tp-fail"></i>failed ops/s</span>
<span><i class="p99"></i>p99 latency</span> <span>e<var>N</var>: epoch N begins</span>
</div>
)";

// ---------------------------------------------------------------------------------------
// Linearizability: the smallest failing key's history, and async mode's loss per failover.

// One operation of the failing key's history, as a table row.
std::string OperationRow(const json& op, size_t n, std::string_view cls, std::string_view role) {
  std::optional<double> invoke = Num(op, "invoke_ms");
  std::optional<double> complete = Num(op, "complete_ms");
  std::string output =
      Bool(op, "absent").value_or(false) ? "(absent)" : OrMissing(Str(op, "output"));
  return "<tr class=\"" + std::string(cls) + "\"><td class=\"num\">" + std::to_string(n) +
         "</td><td>" + std::string(role) + "</td><td class=\"num\">" +
         (Int(op, "client") ? std::to_string(*Int(op, "client")) : kMissing) + "</td><td>" +
         OrMissing(Str(op, "f")) + "</td><td>" + OrMissing(Str(op, "input")) + "</td><td>" +
         output + "</td><td>" + OrMissing(Str(op, "outcome")) + "</td><td class=\"num\">" +
         (invoke ? Fixed(*invoke, 3) : kMissing) + "</td><td class=\"num\">" +
         (complete ? Fixed(*complete, 3) : "open") + "</td></tr>\n";
}

// The linearizable prefix's last operations are drawn, those the failing ones are read
// against; the whole prefix stays in result.json.
constexpr size_t kPrefixShownMax = 30;

// The last kPrefixShownMax operations of the prefix.
std::vector<const json*> PrefixShown(const json& prefix) {
  std::vector<const json*> out;
  const size_t from = prefix.size() > kPrefixShownMax ? prefix.size() - kPrefixShownMax : 0;
  for (size_t i = from; i < prefix.size(); ++i) out.push_back(&prefix[i]);
  return out;
}

// The operations as bars from invoke to completion, a row each, on one time axis: the
// linearizable prefix green, the operations that cannot follow it red.
std::string OperationBars(const std::vector<const json*>& prefix, const json& cannot) {
  std::vector<const json*> failing;
  for (const json& op : cannot) failing.push_back(&op);
  std::vector<std::pair<const json*, bool>> ops;
  double lo = 0, hi = 0;
  const std::vector<const json*>& failing_ref = failing;
  for (const std::vector<const json*>* list : {&prefix, &failing_ref}) {
    for (const json* each : *list) {
      const json& op = *each;
      std::optional<double> a = Num(op, "invoke_ms");
      if (!a) continue;
      const double b = Num(op, "complete_ms").value_or(*a);
      lo = ops.empty() ? *a : std::min(lo, *a);
      hi = ops.empty() ? b : std::max(hi, b);
      ops.emplace_back(&op, list == &failing_ref);
    }
  }
  if (ops.empty()) return "";
  constexpr double kWidth = 900, kRow = 14, kLeft = 150;
  const double span = std::max(hi - lo, 1e-3);
  const double height = kRow * static_cast<double>(ops.size()) + 20;
  std::string svg = "<svg class=\"ops\" width=\"" + Px(kLeft + kWidth + 10) + "\" height=\"" +
                    Px(height) + "\">\n";
  double y = 4;
  for (const auto& [op, bad] : ops) {
    const double a = *Num(*op, "invoke_ms");
    const double b = Num(*op, "complete_ms").value_or(hi);
    const double x0 = kLeft + (a - lo) / span * kWidth;
    const double x1 = std::max(x0 + 2, kLeft + (b - lo) / span * kWidth);
    const std::string label = "c" + std::to_string(Int(*op, "client").value_or(-1)) + " " +
                              Str(*op, "f").value_or("?") + " " + Str(*op, "input").value_or("") +
                              " -> " + Str(*op, "output").value_or("");
    Text(2, y + kRow - 4, "op-label", Truncated(label, 24), &svg);
    Rect(x0, x1, y, kRow - 3, bad ? "op-bad" : "op-ok", label, &svg);
    y += kRow;
  }
  Text(kLeft, y + 12, "tick", Fixed(lo, 1) + " ms", &svg);
  Text(kLeft + kWidth - 60, y + 12, "tick", Fixed(hi, 1) + " ms", &svg);
  return svg + "</svg>\n";
}

void AppendFailedKey(const json& key, std::string* out) {
  *out += "<p>Smallest failing key <code>" + OrMissing(Str(key, "key")) + "</code> (" +
          (Int(key, "operations") ? std::to_string(*Int(key, "operations")) : kMissing) +
          " operations): the longest linearizable order found, then the operations none of "
          "which can follow it.</p>\n";
  if (auto detail = Str(key, "detail")) {
    *out += "<p class=\"description\">" + HtmlEscape(*detail) + "</p>\n";
  }
  const json& prefix = Array(key, "prefix");
  const json& cannot = Array(key, "cannot_follow");
  *out +=
      "<table class=\"grid\">\n<tr><th>#</th><th></th><th>client</th><th>op</th><th>input</th>"
      "<th>output</th><th>outcome</th><th>invoke ms</th><th>complete ms</th></tr>\n";
  const std::vector<const json*> shown = PrefixShown(prefix);
  size_t n = prefix.size() - shown.size();
  if (n > 0) {
    *out += "<tr><td colspan=\"9\" class=\"more\">" + std::to_string(n) +
            " earlier operations of the order (in result.json)</td></tr>\n";
  }
  for (const json* op : shown) *out += OperationRow(*op, ++n, "ok", "linearized");
  for (const json& op : cannot) *out += OperationRow(op, ++n, "violated", "cannot follow");
  *out += "</table>\n<div class=\"timeline\">\n" + OperationBars(shown, cannot) + "</div>\n";
}

void AppendLinearizability(const json& run, std::string* out) {
  const json* lin = Field(run, "linearizability");
  if (lin == nullptr || !lin->is_object()) return;
  *out += "<h2>Linearizability</h2>\n<table class=\"facts\">\n";
  AppendFact("verdict", OrMissing(Str(*lin, "verdict")), out);
  AppendFact("judged", OrMissing(Str(*lin, "judged")), out);
  std::optional<int64_t> keys = Int(*lin, "keys"), ops = Int(*lin, "operations");
  AppendFact("history",
             (ops ? std::to_string(*ops) : kMissing) + " operations on " +
                 (keys ? std::to_string(*keys) : kMissing) + " keys",
             out);
  std::optional<double> elapsed = Num(*lin, "elapsed_ms");
  AppendFact("checked in", elapsed ? Duration(*elapsed) : kMissing, out);
  *out += "</table>\n";
  if (const json* key = Field(*lin, "failed_key"); key != nullptr && key->is_object()) {
    AppendFailedKey(*key, out);
  }
}

void AppendAsyncLoss(const json& run, std::string* out) {
  const json* loss = Field(run, "async_loss");
  if (loss == nullptr || !loss->is_object()) return;
  std::optional<int64_t> bound = Int(*loss, "lag_ops_max");
  *out += "<h2>Async mode: acknowledged writes lost per failover</h2>\n<p>Allowed: at most " +
          (bound ? std::to_string(*bound) : kMissing) +
          " (replication.max_lag_ops) per failover, and only writes the standby had not "
          "acknowledged. Reported tail: the old active's last reported seq less the promoted "
          "replica's, in deltas (hot writes included; -1: not logged).</p>\n";
  const json& failovers = Array(*loss, "failovers");
  if (failovers.empty()) {
    *out += "<p class=\"none\">No failover.</p>\n";
    return;
  }
  *out +=
      "<table class=\"grid\">\n<tr><th>at</th><th>from</th><th>to</th><th>lost</th>"
      "<th>PUTs</th><th>INCRs</th><th>reported tail</th><th>examples</th></tr>\n";
  for (const json& f : failovers) {
    std::optional<double> at = Num(f, "t_ms");
    json examples = {{"details", Array(f, "examples")}};
    *out += "<tr><td class=\"num\">" + (at ? At(*at) : kMissing) + "</td><td>" +
            OrMissing(Str(f, "from")) + "</td><td>" + OrMissing(Str(f, "to")) +
            "</td><td class=\"num\">" + std::to_string(Int(f, "lost").value_or(0)) +
            "</td><td class=\"num\">" + std::to_string(Int(f, "lost_puts").value_or(0)) +
            "</td><td class=\"num\">" + std::to_string(Int(f, "lost_incrs").value_or(0)) +
            "</td><td class=\"num\">" + std::to_string(Int(f, "reported_tail_ops").value_or(-1)) +
            "</td><td>" + Details(examples) + "</td></tr>\n";
  }
  *out += "</table>\n";
}

void AppendTimeline(const json& run, std::string* out) {
  *out +=
      "<h2>Timeline</h2>\n<p class=\"hint\">Hover over a segment, band or label for "
      "details.</p>\n<div class=\"timeline\">\n";
  *out += RenderTimelineSvg(BuildTimeline(run));
  *out += "</div>\n";
  *out += kLegend;
}

// Plain and printable; the SVG shapes are styled here too, since inline SVG shares the
// page's style sheet. Legend swatches (<i>) reuse the shape classes through background.
constexpr std::string_view kStyle = R"(<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #222; margin: 24px auto; max-width: 1040px; padding: 0 12px; }
h1 { margin: 0 0 4px; font-size: 24px; word-break: break-word; }
h2 { margin: 28px 0 8px; font-size: 18px; border-bottom: 1px solid #ddd; }
.description { margin: 0 0 10px; color: #555; white-space: pre-wrap; }
.verdict { display: inline-block; font-size: 32px; font-weight: 700; padding: 2px 18px;
           border-radius: 6px; color: #fff; background: #757575; letter-spacing: 2px; }
.verdict.pass { background: #2e7d32; } .verdict.fail { background: #c62828; }
table { border-collapse: collapse; margin-top: 12px; }
th, td { text-align: left; vertical-align: top; padding: 4px 10px; }
.facts th { color: #555; font-weight: 600; white-space: nowrap; }
.grid th { background: #f2f2f2; } .grid td, .grid th { border: 1px solid #ddd; }
.grid ul { margin: 0; padding-left: 18px; } .grid li { word-break: break-word; }
td.num { text-align: right; white-space: nowrap; }
tr.ok .status { color: #2e7d32; font-weight: 700; }
tr.violated .status { color: #c62828; font-weight: 700; } tr.violated { background: #fff3f3; }
tr.unknown .status { color: #757575; }
.bad { color: #c62828; font-weight: 600; } .none, .hint, .more { color: #777; }
code { background: #f4f4f4; padding: 2px 6px; border-radius: 3px; word-break: break-all;
       font: 13px ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.timeline { overflow-x: auto; }
svg text { font: 11px system-ui, Helvetica, Arial, sans-serif; fill: #222; }
svg .lane-label { font-weight: 600; } svg .tick { fill: #555; } svg .none { fill: #888; }
svg .axis-label { fill: #555; font-style: italic; }
svg .fault-label { fill: #b71c1c; font-weight: 600; } svg .epoch-label { font-weight: 700; }
svg .ok-axis { fill: #1565c0; } svg .p99-axis { fill: #6a1b9a; }
svg rect { stroke: #fff; stroke-width: 0.5; }
line.grid, line.hgrid { stroke: #eee; }
line.baseline { stroke: #999; }
line.epoch { stroke: #333; stroke-dasharray: 4 3; }
line.campaign-end { stroke: #333; stroke-width: 2; }
rect.fault { fill: #e53935; fill-opacity: 0.14; stroke: #e53935; stroke-opacity: 0.5;
             pointer-events: none; }
line.fault-instant { stroke: #e53935; stroke-width: 2; pointer-events: none; }
.r-active { fill: #81c784; background: #81c784; }
.r-promoting { fill: #ffcc80; background: #ffcc80; }
.r-insync { fill: #90caf9; background: #90caf9; }
.r-catchingup { fill: #fff59d; background: #fff59d; }
.r-oos { fill: #d6d6d6; background: #d6d6d6; } .r-down { fill: #9e9e9e; background: #9e9e9e; }
.r-unknown { fill: #eeeeee; background: #eeeeee; }
.s-ok { fill: #a5d6a7; background: #a5d6a7; } .s-nok { fill: #ef9a9a; background: #ef9a9a; }
.s-running { fill: #ffe082; background: #ffe082; }
.s-other { fill: #e0e0e0; background: #e0e0e0; }
path.tp-ok { fill: #bbdefb; stroke: #1e88e5; stroke-width: 1; }
path.tp-fail { fill: none; stroke: #e53935; stroke-width: 1.5; }
path.p99 { fill: none; stroke: #8e24aa; stroke-width: 1.5; }
.legend { margin-top: 6px; color: #444; font-size: 12px; }
.legend span { margin-right: 12px; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: -2px; border: 1px solid #bbb; }
.legend i.fault { background: rgba(229, 57, 53, 0.25); }
.legend i.tp-ok { background: #bbdefb; } .legend i.tp-fail { background: #e53935; }
.legend i.p99 { background: #8e24aa; }
svg .op-label { font: 10px ui-monospace, Menlo, Consolas, monospace; }
rect.op-ok { fill: #a5d6a7; } rect.op-bad { fill: #ef9a9a; }
</style>
)";

}  // namespace

std::string RenderRunReport(const json& run) {
  std::optional<std::string> scenario = Str(run, "scenario");
  std::optional<std::string> verdict = Str(run, "verdict");
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  page += "<title>duplex chaos: " + HtmlEscape(scenario.value_or("run")) + " - " +
          HtmlEscape(verdict.value_or("no verdict")) + "</title>\n";
  page += kStyle;
  page += "</head>\n<body>\n";
  AppendHeader(run, &page);
  AppendInvariants(run, &page);
  AppendLinearizability(run, &page);
  AppendAsyncLoss(run, &page);
  AppendFaults(run, &page);
  AppendTimeline(run, &page);
  page += "</body>\n</html>\n";
  return page;
}

namespace {

Status WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return IOError("cannot open " + path.string() + ": " + std::strerror(errno));
  file.write(content.data(), static_cast<std::streamsize>(content.size()));
  file.close();
  if (!file) return IOError("cannot write " + path.string());
  return Status::Ok();
}

}  // namespace

Status WriteRunReport(const json& run, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IOError("cannot create report directory " + dir + ": " + ec.message());
  std::filesystem::path root(dir);
  DUPLEX_RETURN_IF_ERROR(WriteFile(root / "result.json", Dump(run, 2) + "\n"));
  return WriteFile(root / "report.html", RenderRunReport(run));
}

}  // namespace duplex
