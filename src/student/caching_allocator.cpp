// A caching CPU allocator for LibTorch's large tensors during training.
//
// A training step allocates and frees the same tensor sizes every time: gathered inputs,
// per-layer activations, their gradients. LibTorch's CPU allocator hands each to glibc,
// which maps blocks above its mmap threshold straight from the kernel and unmaps them when
// freed, so every step page-faults its memory in again (a fifth of an epoch on the stdlib
// graph, measured with perf). mallopt caps that threshold at 32 MiB; the activations are
// bigger. This allocator keeps freed large blocks in size classes and reuses them, the way
// PyTorch's CUDA caching allocator does on a GPU. Small blocks go to the default allocator.
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "student/student.h"

namespace yantra::student {
namespace {

constexpr size_t kMinCached = size_t(1) << 20;  // below: glibc's own free lists do well
constexpr size_t kAlignment = 64;
constexpr size_t kHeader = 64;  // keeps the block's size class in front of the data

// Sizes round up to one of 8 classes per power of two, so reuse wastes at most 12.5 %.
size_t size_class(size_t n) {
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(c10::Allocator* fallback, size_t max_cached)
      : fallback_(fallback), max_cached_(max_cached) {}

  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached) return fallback_->allocate(n);
    size_t size = size_class(n + kHeader);
    char* block = take(size);
    if (!block) {
      block = static_cast<char*>(std::aligned_alloc(kAlignment, size));
      if (!block) throw std::bad_alloc();
      *reinterpret_cast<size_t*>(block) = size;
    }
    return {block + kHeader, block, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }

 private:
  // The smallest cached block that fits, if it wastes at most a quarter: sampled blocks
  // differ in size from step to step, so exact classes alone would rarely be reused.
  char* take(size_t size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(size);
    if (it == free_.end() || it->first > size + size / 4) return nullptr;
    char* block = it->second;
    cached_ -= it->first;
    free_.erase(it);
    return block;
  }

  static void release(void* ctx);

  c10::Allocator* fallback_;
  size_t max_cached_;
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, char*> free_;
  mutable size_t cached_ = 0;
};

CachingCpuAllocator* g_allocator = nullptr;

void CachingCpuAllocator::release(void* ctx) {
  char* block = static_cast<char*>(ctx);
  size_t size = *reinterpret_cast<size_t*>(block);
  CachingCpuAllocator& a = *g_allocator;
  {
    std::lock_guard<std::mutex> lock(a.mutex_);
    if (a.cached_ + size <= a.max_cached_) {
      a.free_.emplace(size, block);
      a.cached_ += size;
      return;
    }
  }
  std::free(block);
}

}  // namespace

void use_caching_cpu_allocator(size_t max_cached_bytes) {
  static std::once_flag once;
  std::call_once(once, [&] {
    // Never freed: tensors allocated through it may outlive any scope, up to exit.
    g_allocator = new CachingCpuAllocator(c10::GetDefaultCPUAllocator(), max_cached_bytes);
    c10::SetCPUAllocator(g_allocator, /*priority=*/1);
  });
}

}  // namespace yantra::student
