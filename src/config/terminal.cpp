// Reading an API key from stdin: a prompt with echo off on a terminal, one line from a pipe.
// Never from the command line, where it would land in shell history and `ps`.
#include <signal.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "config/internal.h"

namespace yantra::config {
namespace {

constexpr size_t kMaxKeyBytes = 8192;

struct termios g_saved_termios;

// Ctrl-C at the prompt must not leave the terminal without echo.
void restore_and_reraise(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Echo off until destroyed.
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    struct termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    old_int_ = ::signal(SIGINT, restore_and_reraise);
    old_term_ = ::signal(SIGTERM, restore_and_reraise);
    active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    if (old_int_) ::signal(SIGINT, old_int_);
    if (old_term_) ::signal(SIGTERM, old_term_);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  bool active_ = false;
  sighandler_t old_int_ = nullptr, old_term_ = nullptr;
};

// One line (without its newline), read byte by byte so nothing after it is consumed.
Result<std::string> read_line() {
  std::string line;
  char c;
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{std::string("cannot read stdin: ") + std::strerror(errno)};
    if (n == 0 || c == '\n') break;
    if (line.size() >= kMaxKeyBytes) {
      sodium_memzero(line.data(), line.size());
      return Error{"the line on stdin is longer than any API key (" + std::to_string(kMaxKeyBytes) +
                   " bytes); pipe the key alone"};
    }
    line.push_back(c);
  }
  return line;
}

}  // namespace

Result<std::string> read_key_from_stdin(std::string_view provider) {
  std::string line;
  if (::isatty(STDIN_FILENO)) {
    NoEcho quiet;  // first: TCSAFLUSH drops what was typed before it, so prompt after it
    std::cerr << "API key for " << provider << ": " << std::flush;
    auto read = read_line();
    if (!read) return read.error();
    line = std::move(*read);
  } else {
    auto read = read_line();
    if (!read) return read.error();
    line = std::move(*read);
  }
  size_t begin = line.find_first_not_of(" \t\r"), end = line.find_last_not_of(" \t\r");
  std::string key = begin == std::string::npos ? "" : line.substr(begin, end - begin + 1);
  sodium_memzero(line.data(), line.size());
  if (key.empty()) {
    return Error{
        "no key on stdin: type it at the prompt, or pipe it, e.g. "
        "`printf '%s\\n' \"$KEY\" | yantra keys set " +
        std::string(provider) + "`"};
  }
  for (unsigned char c : key) {
    if (c < 0x21 || c == 0x7f) {
      sodium_memzero(key.data(), key.size());
      return Error{
          "the key read from stdin contains spaces or control characters; an API key "
          "is one word"};
    }
  }
  return key;
}

}  // namespace yantra::config
