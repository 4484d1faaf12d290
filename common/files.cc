#include "common/files.h"

#include <filesystem>
#include <fstream>

namespace duplex {

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return IOError("write " + tmp + " failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return IOError("rename " + tmp + " to " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace duplex
