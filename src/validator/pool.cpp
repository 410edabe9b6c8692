// The pool: one warm sandbox per worker thread, jobs handed out in order.
//
// Each sandbox is started, and restarted, from its own long-lived thread: bubblewrap's
// --die-with-parent follows the thread that spawned it, so a sandbox started from a
// short-lived thread would die with that thread.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "validator/internal.h"

namespace yantra::validator {
namespace {

class Pool : public Validator {
 public:
  Pool(int workers, const std::function<std::unique_ptr<Launcher>()>& make_launcher) {
    for (int i = 0; i < workers; ++i) {
      launchers_.push_back(make_launcher());
      workers_.push_back(std::make_unique<Worker>(*launchers_.back()));
    }
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { serve(*workers_[i]); });
  }

  ~Pool() override {
    {
      std::lock_guard lock(mutex_);
      quitting_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  RunResult run(const Job& job) override {
    return run_all(std::span<const Job>(&job, 1), {}).front();
  }

  std::vector<RunResult> run_all(
      std::span<const Job> jobs,
      const std::function<void(size_t, const RunResult&)>& on_done) override {
    std::lock_guard batch_lock(batch_mutex_);
    std::vector<RunResult> results(jobs.size());
    std::unique_lock lock(mutex_);
    batch_ = Batch{jobs, &results, &on_done, {}};
    busy_ = static_cast<int>(workers_.size());
    ++generation_;
    wake_.notify_all();
    finished_.wait(lock, [&] { return busy_ == 0; });
    return results;
  }

  int workers() const override { return static_cast<int>(workers_.size()); }

  void reset() override {
    std::lock_guard batch_lock(batch_mutex_);
    std::unique_lock lock(mutex_);
    stopping_ = true;
    busy_ = static_cast<int>(workers_.size());
    ++generation_;
    wake_.notify_all();
    finished_.wait(lock, [&] { return busy_ == 0; });
    stopping_ = false;
  }

 private:
  struct Batch {
    std::span<const Job> jobs;
    std::vector<RunResult>* results = nullptr;
    const std::function<void(size_t, const RunResult&)>* on_done = nullptr;
    std::atomic<size_t> next{0};
    Batch& operator=(Batch&& o) noexcept {
      jobs = o.jobs, results = o.results, on_done = o.on_done;
      next.store(0);
      return *this;
    }
  };

  void serve(Worker& worker) {
    uint64_t seen = 0;
    for (;;) {
      bool stop_sandbox = false;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return quitting_ || generation_ != seen; });
        if (quitting_) return;
        seen = generation_;
        stop_sandbox = stopping_;
      }
      if (stop_sandbox) {
        worker.stop();
      } else {
        drain(worker);
      }
      std::lock_guard lock(mutex_);
      if (--busy_ == 0) finished_.notify_all();
    }
  }

  void drain(Worker& worker) {
    for (size_t i = batch_.next++; i < batch_.jobs.size(); i = batch_.next++) {
      (*batch_.results)[i] = worker.run(batch_.jobs[i]);
      if (*batch_.on_done) {
        std::lock_guard lock(done_mutex_);
        (*batch_.on_done)(i, (*batch_.results)[i]);
      }
    }
  }

  std::vector<std::unique_ptr<Launcher>> launchers_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::mutex batch_mutex_;  // one batch at a time
  std::mutex mutex_, done_mutex_;
  std::condition_variable wake_, finished_;
  Batch batch_;
  uint64_t generation_ = 0;
  int busy_ = 0;
  bool quitting_ = false, stopping_ = false;
};

}  // namespace

Result<std::unique_ptr<Validator>> Validator::start(PoolOptions options) {
  // A harness that dies mid-write must not take this process down with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  int workers = options.workers > 0 ? options.workers : static_cast<int>(core_count());
  if (!options.make_launcher) {
    if (auto why = sandbox_unavailable()) return Error{*why};
    options.make_launcher = [] { return bubblewrap_launcher(); };
  }
  return std::unique_ptr<Validator>(new Pool(workers, options.make_launcher));
}

}  // namespace yantra::validator
