// ParseArena: blocks, growth in place, release; and tree-sitter parsing real standard
// library files inside a scope exactly as it does with libc, with threads that open no scope
// left on libc.
#include <gtest/gtest.h>
#include <tree_sitter/api.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "graph/facts.h"
#include "graph/parse_arena.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace yantra::graph {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The tree as an S-expression, parsed with whatever allocator is current on this thread;
// `libc`: no scope is open, so the string is a libc block to free.
std::string sexp_of(const std::string& source, bool libc = true) {
  TSParser* parser = ts_parser_new();
  ts_parser_set_language(parser, tree_sitter_python());
  TSTree* tree =
      ts_parser_parse_string(parser, nullptr, source.data(), static_cast<uint32_t>(source.size()));
  char* text = ts_node_string(ts_tree_root_node(tree));
  std::string out(text);
  if (libc) std::free(text);
  ts_tree_delete(tree);
  ts_parser_delete(parser);
  return out;
}

TEST(ParseArena, BlocksAreAlignedAndKeepTheirBytesWhenTheyMove) {
  ParseArena arena;
  auto* a = static_cast<char*>(arena.allocate(3));
  auto* b = static_cast<char*>(arena.allocate(40));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 16, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 16, 0u);
  EXPECT_GE(b - a, 16);  // a's bytes never overlap b's
  std::memcpy(a, "ab", 3);
  // a is not the newest block: growing it moves it, with its bytes.
  auto* a2 = static_cast<char*>(arena.reallocate(a, 1000));
  EXPECT_NE(a2, a);
  EXPECT_STREQ(a2, "ab");
  EXPECT_TRUE(arena.owns(a2));
  EXPECT_FALSE(arena.owns(&arena));
}

TEST(ParseArena, TheNewestBlockGrowsInPlace) {
  ParseArena arena;
  arena.allocate(8);
  void* grown = arena.allocate(64);
  std::memset(grown, 7, 64);
  EXPECT_EQ(arena.reallocate(grown, 4096), grown);
  EXPECT_EQ(static_cast<unsigned char*>(grown)[63], 7);
  EXPECT_EQ(arena.reallocate(grown, 16), grown);  // shrinking keeps the block
  void* after = arena.allocate(8);
  EXPECT_GE(static_cast<char*>(after) - static_cast<char*>(grown), 4096);
}

TEST(ParseArena, AHugeBlockGetsItsOwnChunkWhichReleaseReturns) {
  ParseArena arena;
  arena.allocate(100);
  void* huge = arena.allocate(3 * ParseArena::kChunkBytes);
  EXPECT_TRUE(arena.owns(huge));
  EXPECT_GE(arena.reserved_bytes(), 4 * ParseArena::kChunkBytes);
  arena.release();
  EXPECT_EQ(arena.reserved_bytes(), ParseArena::kChunkBytes);  // one ordinary chunk kept
  EXPECT_FALSE(arena.owns(huge));
  EXPECT_GE(arena.peak_reserved_bytes(), 4 * ParseArena::kChunkBytes);
}

TEST(ParseArena, TreeSitterParsesARealFileInAScopeAsItDoesWithLibc) {
  std::string source = read_file("/usr/lib/python3.11/json/decoder.py");
  ASSERT_GT(source.size(), 5000u);
  std::string with_libc = sexp_of(source);
  ParseArena arena;
  std::string in_scope;
  {
    ArenaScope scope(arena);
    in_scope = sexp_of(source, false);
    // Tree-sitter's blocks came from the arena: an S-expression of this file alone is
    // tens of kilobytes.
    EXPECT_GT(arena.peak_reserved_bytes(), 0u);
  }
  EXPECT_EQ(in_scope, with_libc);
  EXPECT_NE(in_scope.find("(function_definition name: (identifier)"), std::string::npos);
  // After the scope, tree-sitter is back on libc.
  size_t peak = arena.peak_reserved_bytes();
  EXPECT_EQ(sexp_of(source), with_libc);
  EXPECT_EQ(arena.peak_reserved_bytes(), peak);
}

TEST(ParseArena, AThreadWithoutAScopeStaysOnLibc) {
  std::string source = read_file("/usr/lib/python3.11/json/encoder.py");
  std::string expected = sexp_of(source);
  ParseArena arena;
  ArenaScope scope(arena);
  size_t before = arena.reserved_bytes();
  std::string other;
  std::thread([&] { other = sexp_of(source); }).join();  // frees its blocks with libc
  EXPECT_EQ(other, expected);
  EXPECT_EQ(arena.reserved_bytes(), before);
}

TEST(ParseArena, TheLargestStandardLibraryFileIsExtractedInTheArena) {
  // pydoc_data/topics.py: 0.7 MB, mostly one dictionary of long strings; extracted twice on
  // one thread, so the second run reuses the arena the first released.
  std::string source = read_file("/usr/lib/python3.11/pydoc_data/topics.py");
  ASSERT_GT(source.size(), 500'000u);
  for (int run = 0; run < 2; ++run) {
    FileFacts facts = extract_facts(source, module_name_for("pydoc_data/topics.py", ""), false);
    EXPECT_EQ(facts.syntax_errors, 0u);
    EXPECT_EQ(facts.module_qname, "pydoc_data.topics");
    ASSERT_FALSE(facts.scopes.empty());
    EXPECT_GT(facts.scopes.front().end_line, 10'000u);
  }
}

}  // namespace
}  // namespace yantra::graph
