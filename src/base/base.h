// base: the small vocabulary every part of Yantra shares.
//
//   Result<int> parse_port(std::string_view s);
//
//   auto port = parse_port(text);
//   if (!port) return port.error();          // expected failure: a value, not an exception
//   listen(*port);
//
//   Error e = Error::at("pkg/mod.py", 12, 4, "unexpected indent");
//   e.message  // "pkg/mod.py:12:4: unexpected indent"
//
//   write_file_atomic("out.json", text);     // temp file + rename: never half-written
//
// Exceptions are only for what aborts a whole command (FatalError), caught in main.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace yantra {

// An expected failure, with its location already in the message.
struct Error {
  std::string message;

  static Error at(std::string_view path, uint32_t line, uint32_t col, std::string_view what);
  static Error in(std::string_view path, std::string_view what);  // "path: what"
};

// Aborts the current command; main() prints `message` and exits non-zero.
class FatalError : public std::runtime_error {
 public:
  explicit FatalError(const std::string& message) : std::runtime_error(message) {}
  explicit FatalError(const Error& e) : std::runtime_error(e.message) {}
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  explicit operator bool() const { return v_.index() == 0; }
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  // The value, or a FatalError carrying the message: for command-level code.
  T take() && {
    if (!ok()) throw FatalError(error());
    return std::get<0>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT
  explicit operator bool() const { return !error_; }
  bool ok() const { return !error_; }
  const Error& error() const { return *error_; }
  void take() && {
    if (error_) throw FatalError(*error_);
  }

 private:
  std::optional<Error> error_;
};

// 64-bit content hash (XXH3): file change detection and fingerprints.
uint64_t hash64(std::string_view bytes);
uint64_t hash64_combine(uint64_t seed, std::string_view bytes);

// Writes `bytes` to `path` through a temp file in the same directory and rename(2),
// so readers see the old file or the new one, never a torn one.
Result<void> write_file_atomic(const std::string& path, std::string_view bytes);
Result<std::string> read_file(const std::string& path);

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, if any is close enough to be a plausible typo.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

// An advisory exclusive lock on a file (flock), released by the destructor.
class FileLock {
 public:
  // Fails with a message naming `path` if another process holds the lock.
  static Result<FileLock> try_acquire(const std::string& path, std::string_view what);
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Progress of long work on stderr: a bar redrawn in place when stderr is a terminal; off
// a terminal (a log, CI), a plain line every few seconds once the work has run that long
// ("yantra: indexing 120/1643 (7.3 %), 24.1/s, about 1 min left") and a last one when it
// ends. YANTRA_PROGRESS_SECONDS sets the interval (0: a line per step); set_quiet silences
// both (`--quiet`, YANTRA_QUIET). stdout is never written.
class Progress {
 public:
  Progress(std::string label, uint64_t total);
  ~Progress();
  void advance(uint64_t n = 1);  // thread-safe
  void finish();
  static bool stderr_is_terminal();
  static void set_quiet(bool quiet);
  static bool quiet();

 private:
  enum class Mode { off, bar, lines };
  void draw(bool force);
  void line(bool last);
  std::string label_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  Mode mode_;
  bool finished_ = false;
  bool printed_ = false;  // lines mode: a line was written
  std::mutex draw_mutex_;
  int64_t started_ns_ = 0, last_draw_ns_ = 0, interval_ns_ = 0;
};

// Rows of text printed as aligned columns; numbers (cells starting with a digit, '-' or
// '+' followed by a digit) are right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The current time as ISO 8601 UTC to the second: "2026-11-21T14:05:09Z".
std::string utc_now_iso();

// Monotonic seconds, for timing.
double monotonic_seconds();
// Peak resident set size of this process, in bytes.
uint64_t peak_rss_bytes();
// The cores this machine has online, at least 1: the default number of workers.
unsigned core_count();

std::string human_bytes(uint64_t bytes);

// A data file compiled into the binary (cmake/embed.cmake); empty if unknown.
std::string_view embedded_file(std::string_view name);
std::string format_fixed(double value, int decimals);

}  // namespace yantra
