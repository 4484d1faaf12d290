// Fuzzes the readers of recorded histories (chaos/history_formats.h) that `duplex
// check-history` runs on a user's file: the first byte picks the format (modulo 3: Jepsen's
// etcd log, Porcupine's EDN lines, duplex's history.jsonl), the rest is the file. What parses
// is then checked on its model (chaos/linearizability.h) under a short time bound, and
// explained: no reader, model or search may crash, throw or hang on any history.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chaos/history_formats.h"
#include "chaos/linearizability.h"
#include "common/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using duplex::lin::ModelKind;
  if (size == 0) return 0;
  constexpr ModelKind kModels[] = {ModelKind::kCasRegister, ModelKind::kKvAppend,
                                   ModelKind::kDuplexKv};
  const ModelKind model = kModels[data[0] % 3];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto history = duplex::lin::ParseHistory(model, text);
  if (!history.ok()) {
    DUPLEX_ASSERT(history.status().message().starts_with("line "),
                  "a parse error names its line:", history.status().message());
    return 0;
  }
  for (const auto& op : *history) DUPLEX_ASSERT(op.line > 0, "an operation names its line");
  const auto result = duplex::lin::Check(model, *history, {.time_limit_ms = 200, .threads_max = 1});
  DUPLEX_ASSERT(result.operations == history->size(), result.operations, history->size());
  (void)result.Explain();
  return 0;
}
