// What the router was asked to run and what its teachers were sent, recorded: the
// benchmarks' tests prove with them that hidden tests never reach the system under test.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "teacher/teacher.h"
#include "validator/validator.h"

namespace yantra::testing {

// Records everything the router's validator is asked to run.
class RecordingValidator : public yantra::validator::Validator {
 public:
  explicit RecordingValidator(std::unique_ptr<Validator> inner) : inner_(std::move(inner)) {}
  yantra::validator::RunResult run(const yantra::validator::Job& job) override {
    note(job);
    return inner_->run(job);
  }
  std::vector<yantra::validator::RunResult> run_all(
      std::span<const yantra::validator::Job> jobs,
      const std::function<void(size_t, const yantra::validator::RunResult&)>& on_done) override {
    for (const auto& j : jobs) note(j);
    return inner_->run_all(jobs, on_done);
  }
  int workers() const override { return inner_->workers(); }
  void reset() override { inner_->reset(); }
  std::string seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void note(const yantra::validator::Job& job) {
    std::lock_guard lock(mutex_);
    seen_ += job.code + "\n" + job.tests.source + "\n" + job.tests.setup + "\n";
    for (const auto& c : job.tests.cases) seen_ += c.code + "\n" + c.want + "\n";
  }
  std::unique_ptr<Validator> inner_;
  std::mutex mutex_;
  std::string seen_;
};

// Records every request body the teacher clients send.
class RecordingTransport : public yantra::teacher::Transport {
 public:
  RecordingTransport() : inner_(yantra::teacher::make_http_transport()) {}
  yantra::Result<yantra::teacher::HttpResponse> post(const std::string& url,
                                                     const yantra::teacher::HttpHeaders& headers,
                                                     const std::string& body,
                                                     double timeout_s) override {
    {
      std::lock_guard lock(mutex_);
      seen_ += body + "\n";
    }
    return inner_->post(url, headers, body, timeout_s);
  }
  std::string seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::shared_ptr<Transport> inner_;
  std::mutex mutex_;
  std::string seen_;
};

}  // namespace yantra::testing
