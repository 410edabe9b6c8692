// Bugs found in validated code, counted by Debian's pyflakes: it parses and inspects,
// never imports or runs, so running it outside the sandbox is safe.
#include <stdlib.h>

#include <filesystem>

#include "base/process.h"
#include "crowd/crowd.h"

namespace yantra::crowd {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

struct TempTree {
  std::string dir;
  ~TempTree() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

Result<std::vector<int>> pyflakes_findings(const std::vector<std::string>& codes) {
  std::vector<int> counts(codes.size(), 0);
  if (codes.empty()) return counts;
  TempTree tree;
  std::string tmpl = (std::filesystem::temp_directory_path() / "yantra-pyflakes-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return Error{"cannot create a temporary directory for pyflakes"};
  tree.dir = tmpl;
  for (size_t i = 0; i < codes.size(); ++i)
    if (auto ok = write_file_atomic(tree.dir + "/c" + std::to_string(i) + ".py", codes[i]); !ok)
      return ok.error();
  // -I: a pyflakes in the current directory or on PYTHONPATH never runs instead of Debian's.
  auto run = run_program({kPython, "-I", "-m", "pyflakes", tree.dir});
  if (!run) return Error{"cannot start pyflakes: " + run.error().message};
  int status = run->signaled ? -1 : run->exit_code;
  const std::string out = run->out + run->err;
  // One finding per line "DIR/cN.py:LINE:COL: message"; syntax errors add source lines.
  std::string prefix = tree.dir + "/c";
  size_t findings = 0;
  for (size_t at = 0; at < out.size();) {
    size_t end = out.find('\n', at);
    std::string_view line(out.data() + at, (end == std::string::npos ? out.size() : end) - at);
    at = end == std::string::npos ? out.size() : end + 1;
    if (!line.starts_with(prefix)) continue;
    size_t index = std::strtoul(std::string(line.substr(prefix.size())).c_str(), nullptr, 10);
    if (index < counts.size()) ++counts[index], ++findings;
  }
  if (status != 0 && !(status == 1 && findings > 0))
    return Error{std::string("pyflakes did not run (") + kPython +
                 " -m pyflakes); install Debian's python3-pyflakes, or share patterns without "
                 "bug counts"};
  return counts;
}

}  // namespace yantra::crowd
