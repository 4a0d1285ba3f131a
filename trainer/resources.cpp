// Finding shipped resources (see resources.h).
#include "trainer/resources.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace grpo {

namespace fs = std::filesystem;

std::optional<std::string> find_resource(const std::string& relative) {
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("GRPO_RESOURCES_DIR"); env && *env) roots.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    roots.push_back(exe.parent_path() / "../share/grpo-studio");
    roots.push_back(exe.parent_path() / "resources");
  }
#ifdef GRPO_SOURCE_RESOURCES_DIR
  roots.emplace_back(GRPO_SOURCE_RESOURCES_DIR);
#endif
  for (const auto& r : roots) {
    const fs::path p = r / relative;
    if (fs::exists(p, ec)) return fs::canonical(p, ec).string();
  }
  return std::nullopt;
}

std::string resource_roots_description() {
  return "$GRPO_RESOURCES_DIR, <exe dir>/../share/grpo-studio, <exe dir>/resources and the source tree's resources/";
}

}  // namespace grpo
