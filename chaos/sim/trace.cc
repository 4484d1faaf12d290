#include "chaos/sim/trace.h"

namespace duplex::sim {

void Trace::Line(const std::string& line) {
  std::string text = std::to_string(clock_.now()) + " " + line + "\n";
  hash_.Add(text);
  if (keep_text_) text_ += text;
}

}  // namespace duplex::sim
