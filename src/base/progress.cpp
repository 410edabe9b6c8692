// Progress on stderr: a bar on a terminal, plain lines every few seconds elsewhere, so a
// log or CI shows that long work is alive and how far it got.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/base.h"

namespace yantra {
namespace {

std::atomic<bool> g_quiet{false};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Off a terminal, a line at most this often: often enough to see life in a log, rarely
// enough that a long run's log stays short.
constexpr double kDefaultLineSeconds = 5;

int64_t line_interval_ns() {
  const char* env = std::getenv("YANTRA_PROGRESS_SECONDS");
  double seconds = kDefaultLineSeconds;
  if (env && *env) {
    char* end = nullptr;
    double v = std::strtod(env, &end);
    if (end && *end == '\0' && v >= 0) seconds = v;
  }
  return static_cast<int64_t>(seconds * 1e9);
}

// "45 s", "3 min 5 s", "1 h 2 min".
std::string duration_text(double seconds) {
  auto s = static_cast<long long>(seconds + 0.5);
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
}

}  // namespace

bool Progress::stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

void Progress::set_quiet(bool quiet) {
  g_quiet = quiet;
}

bool Progress::quiet() {
  return g_quiet;
}

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      mode_(quiet()                ? Mode::off
            : stderr_is_terminal() ? Mode::bar
                                   : Mode::lines),
      started_ns_(now_ns()),
      last_draw_ns_(started_ns_),
      interval_ns_(line_interval_ns()) {}

Progress::~Progress() {
  finish();
}

void Progress::advance(uint64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  if (mode_ == Mode::bar) draw(false);
  if (mode_ == Mode::lines) line(false);
}

void Progress::draw(bool force) {
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  int64_t now = now_ns();
  if (!force && now - last_draw_ns_ < 100'000'000) return;  // 10 redraws a second at most
  last_draw_ns_ = now;
  uint64_t done = std::min(done_.load(std::memory_order_relaxed), total_);
  constexpr int kWidth = 30;
  int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r%s [%s] %llu/%llu", label_.c_str(), bar.c_str(),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_));
  std::fflush(stderr);
}

void Progress::line(bool last) {
  std::unique_lock lock(draw_mutex_, std::defer_lock);
  if (last)
    lock.lock();
  else if (!lock.try_lock())
    return;
  if (finished_) return;
  int64_t now = now_ns();
  if (!last && now - last_draw_ns_ < interval_ns_) return;
  if (last && !printed_) return;  // short work stays silent
  last_draw_ns_ = now;
  printed_ = true;
  uint64_t done = std::min(done_.load(std::memory_order_relaxed), total_);
  double elapsed = static_cast<double>(now - started_ns_) / 1e9;
  std::string text =
      "yantra: " + label_ + " " + std::to_string(done) + "/" + std::to_string(total_);
  if (last) {
    text += " done in " + duration_text(elapsed);
  } else {
    if (total_) text += " (" + format_fixed(100.0 * double(done) / double(total_), 1) + " %)";
    double rate = elapsed > 0 ? double(done) / elapsed : 0;
    text += ", " + format_fixed(rate, 1) + "/s";
    if (rate > 0 && done < total_)
      text += ", about " + duration_text(double(total_ - done) / rate) + " left";
  }
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (mode_ == Mode::lines) {
    line(true);
    std::lock_guard lock(draw_mutex_);
    finished_ = true;
    return;
  }
  if (mode_ != Mode::bar || finished_) return;
  draw(true);
  std::lock_guard lock(draw_mutex_);
  finished_ = true;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace yantra
