// ParseArena and tree-sitter's process-wide allocator that routes to the active one.
#include "graph/parse_arena.h"

#include <tree_sitter/api.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace yantra::graph {
namespace {

// Each block is preceded by its size, so reallocate knows how much to copy; 16 bytes keep
// blocks aligned as malloc's are.
constexpr size_t kHeader = 16;
constexpr size_t kAlign = 16;

size_t round_up(size_t n) {
  return (n + kAlign - 1) & ~(kAlign - 1);
}

size_t& size_of(void* block) {
  return *reinterpret_cast<size_t*>(static_cast<char*>(block) - kHeader);
}

thread_local ParseArena* active_arena = nullptr;

// Tree-sitter never checks for null: like its own default allocator, stop with a message.
void* checked(void* block, size_t bytes) {
  if (!block && bytes) {
    std::fprintf(stderr, "yantra: out of memory allocating %zu bytes for the parser\n", bytes);
    std::abort();
  }
  return block;
}

void* ts_arena_malloc(size_t bytes) {
  if (active_arena) return active_arena->allocate(bytes);
  return checked(std::malloc(bytes), bytes);
}

void* ts_arena_calloc(size_t count, size_t size) {
  if (!active_arena) return checked(std::calloc(count, size), count * size);
  if (size && count > SIZE_MAX / size) return checked(nullptr, SIZE_MAX);
  void* block = active_arena->allocate(count * size);
  std::memset(block, 0, count * size);
  return block;
}

void* ts_arena_realloc(void* block, size_t bytes) {
  if (active_arena && (!block || active_arena->owns(block)))
    return active_arena->reallocate(block, bytes);
  return checked(std::realloc(block, bytes), bytes);  // a block from before the scope
}

void ts_arena_free(void* block) {
  if (active_arena && active_arena->owns(block)) return;  // dropped with the arena
  std::free(block);
}

void install_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    ts_set_allocator(ts_arena_malloc, ts_arena_calloc, ts_arena_realloc, ts_arena_free);
  });
}

}  // namespace

ParseArena::~ParseArena() {
  for (const Chunk& c : chunks_) std::free(c.begin);
}

void ParseArena::add_chunk(size_t at_least) {
  size_t size = std::max(kChunkBytes, at_least);
  char* begin = static_cast<char*>(checked(std::malloc(size), size));
  chunks_.push_back({begin, size});
  next_ = begin, end_ = begin + size;
  peak_ = std::max(peak_, reserved_bytes());
}

void* ParseArena::allocate(size_t bytes) {
  size_t need = kHeader + round_up(std::max<size_t>(bytes, 1));
  if (size_t(end_ - next_) < need) add_chunk(need);
  char* block = next_ + kHeader;
  next_ += need;
  size_of(block) = need - kHeader;
  newest_ = block;
  return block;
}

void* ParseArena::reallocate(void* block, size_t bytes) {
  if (!block) return allocate(bytes);
  size_t had = size_of(block);
  if (bytes <= had) return block;
  // The newest block grows in place while its chunk has room (an array being appended to).
  if (block == newest_ && size_t(end_ - static_cast<char*>(block)) >= round_up(bytes)) {
    next_ = static_cast<char*>(block) + round_up(bytes);
    size_of(block) = round_up(bytes);
    return block;
  }
  void* moved = allocate(bytes);
  std::memcpy(moved, block, had);
  return moved;
}

bool ParseArena::owns(const void* block) const {
  auto p = static_cast<const char*>(block);
  // Newest chunk first: that is where recent blocks live.
  for (auto c = chunks_.rbegin(); c != chunks_.rend(); ++c)
    if (p >= c->begin && p < c->begin + c->size) return true;
  return false;
}

void ParseArena::release() {
  // Keep the first chunk only if it is an ordinary one; a huge file's chunk goes back.
  size_t keep = !chunks_.empty() && chunks_.front().size == kChunkBytes ? 1 : 0;
  for (size_t i = keep; i < chunks_.size(); ++i) std::free(chunks_[i].begin);
  chunks_.resize(keep);
  next_ = keep ? chunks_.front().begin : nullptr;
  end_ = keep ? next_ + kChunkBytes : nullptr;
  newest_ = nullptr;
}

size_t ParseArena::reserved_bytes() const {
  size_t total = 0;
  for (const Chunk& c : chunks_) total += c.size;
  return total;
}

ArenaScope::ArenaScope(ParseArena& arena) : arena_(arena) {
  assert(!active_arena && "arena scopes do not nest");
  install_allocator();
  active_arena = &arena;
}

ArenaScope::~ArenaScope() {
  active_arena = nullptr;
  arena_.release();
}

}  // namespace yantra::graph
