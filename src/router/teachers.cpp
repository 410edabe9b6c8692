// The teacher ladder: configured providers as clients, budgets checked before a paid
// call, every call that reached a provider written to the ledger.
#include <algorithm>
#include <cmath>

#include "router/router.h"

namespace yantra::router {
namespace {

// A typical answer to a code request, for estimates made before the reply exists.
constexpr int64_t kTypicalAnswerTokens = 200;

int tier_rank(config::Tier tier) {
  switch (tier) {
    case config::Tier::open_local:
      return 0;
    case config::Tier::open_cloud:
      return 1;
    case config::Tier::premium:
      return 2;
  }
  return 3;
}

teacher::ProviderKind client_kind(config::ProviderKind kind) {
  switch (kind) {
    case config::ProviderKind::anthropic:
      return teacher::ProviderKind::anthropic;
    case config::ProviderKind::gemini:
      return teacher::ProviderKind::gemini;
    case config::ProviderKind::openai:
      break;
  }
  return teacher::ProviderKind::openai_compatible;
}

int64_t estimate_tokens(std::string_view text) {
  return static_cast<int64_t>((text.size() + 3) / 4);
}

ledger::CallRecord call_record(const TeacherInfo& t) {
  ledger::CallRecord call;
  call.provider = t.provider;
  call.model = t.model;
  call.tier = ledger_tier(t.tier);
  call.price = t.price;
  return call;
}

}  // namespace

ledger::Tier ledger_tier(config::Tier tier) {
  switch (tier) {
    case config::Tier::open_local:
      return ledger::Tier::open_local;
    case config::Tier::open_cloud:
      return ledger::Tier::open_cloud;
    case config::Tier::premium:
      break;
  }
  return ledger::Tier::premium;
}

Teachers::Teachers(Teachers&&) noexcept = default;
Teachers& Teachers::operator=(Teachers&&) noexcept = default;
Teachers::~Teachers() = default;

Result<Teachers> Teachers::from_settings(const config::Settings& settings, TeacherOptions options) {
  KeyLookup lookup = options.lookup_key;
  if (!lookup) lookup = [](const config::ProviderSettings& p) { return config::lookup_key(p); };
  struct Pending {
    TeacherInfo info;
    const config::ProviderSettings* provider;
    std::optional<std::string> key;
  };
  std::vector<Pending> pending;
  for (const config::ProviderSettings& p : settings.providers) {
    auto key = lookup(p);
    if (!key) return key.error();
    for (const std::string& model : p.models) {
      TeacherInfo info{.provider = p.name,
                       .model = model,
                       .tier = p.tier,
                       .price = {p.price_in_per_1k, p.price_out_per_1k},
                       .budget_month_usd = p.budget_month_usd,
                       .has_key = key->has_value()};
      pending.push_back({std::move(info), &p, *key});
    }
  }
  // Cheapest first: tier, then the price of a typical call, then as configured.
  std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    if (tier_rank(a.info.tier) != tier_rank(b.info.tier))
      return tier_rank(a.info.tier) < tier_rank(b.info.tier);
    return ledger::cost_usd(1000, 200, a.info.price) < ledger::cost_usd(1000, 200, b.info.price);
  });
  Teachers teachers;
  teachers.max_tokens_ = options.max_tokens;
  for (Pending& item : pending) {
    teacher::ProviderConfig cfg{.name = item.provider->name,
                                .kind = client_kind(item.provider->kind),
                                .base_url = item.provider->base_url,
                                .api_key = item.key.value_or(""),
                                .timeout_s = item.provider->timeout_s,
                                .api_key_env = item.provider->key_env};
    teachers.clients_.push_back(
        teacher::make_client(std::move(cfg), options.transport, options.sleeper));
    teachers.ladder_.push_back(std::move(item.info));
  }
  return teachers;
}

std::optional<size_t> Teachers::first_of(config::Tier tier) const {
  for (size_t i = 0; i < ladder_.size(); ++i)
    if (ladder_[i].tier == tier) return i;
  return std::nullopt;
}

double Teachers::estimate_cost(size_t i, std::string_view request, int n) const {
  const TeacherInfo& t = ladder_.at(i);
  int64_t prompt = estimate_tokens(request) + 60;  // the template around the request
  return ledger::cost_usd(prompt * n, kTypicalAnswerTokens * n, t.price);
}

Result<TeacherAnswer> Teachers::generate(size_t i, std::string_view request,
                                         std::string_view entry_point, int n,
                                         ledger::Ledger* ledger) {
  teacher::TaskOptions task;
  task.max_tokens = max_tokens_;
  return send(i, teacher::code_request(ladder_.at(i).model, request, entry_point, n, task), request,
              entry_point, ledger);
}

Result<TeacherAnswer> Teachers::repair(size_t i, std::string_view request,
                                       std::string_view entry_point, std::string_view code,
                                       std::string_view failure, ledger::Ledger* ledger) {
  teacher::TaskOptions task;
  task.max_tokens = max_tokens_;
  teacher::ChatRequest chat =
      teacher::code_request(ladder_.at(i).model, request, entry_point, 1, task);
  chat.messages.push_back({"assistant", "```python\n" + std::string(code) + "\n```"});
  chat.messages.push_back({"user", "This implementation fails a test from the request:\n\n" +
                                       std::string(failure) +
                                       "\n\nFix it. Write the complete corrected `" +
                                       std::string(entry_point) + "` in one ```python block."});
  return send(i, chat, request, entry_point, ledger);
}

Result<void> Teachers::admit(size_t i, std::string_view request, int n,
                             ledger::Ledger* ledger) const {
  if (!ledger) return {};
  const TeacherInfo& t = ladder_.at(i);
  auto allowed = ledger->check_budget(t.provider, ledger_tier(t.tier), t.price.free(),
                                      t.budget_month_usd, estimate_cost(i, request, n));
  if (allowed) return {};
  ledger::CallRecord refused = call_record(t);
  refused.outcome = ledger::Outcome::budget_refused;
  if (auto r = ledger->record_call(refused); !r) return r.error();
  return allowed.error();
}

Result<WrittenTests> Teachers::write_tests(size_t i, std::string_view request,
                                           std::string_view entry_point, std::string_view code,
                                           ledger::Ledger* ledger) {
  const TeacherInfo& t = ladder_.at(i);
  ledger::CallRecord call = call_record(t);
  if (auto ok = admit(i, request, 1, ledger); !ok) return ok.error();
  teacher::TaskOptions task;
  task.max_tokens = max_tokens_;
  auto reply = clients_[i]->chat(teacher::tests_request(t.model, request, code, entry_point, task));
  if (!reply) {
    call.outcome = ledger::Outcome::http_error;
    if (ledger)
      if (auto r = ledger->record_call(call); !r) return r.error();
    return reply.error();
  }
  teacher::GeneratedTests tests = teacher::tests_from_reply(*reply, entry_point);
  WrittenTests out{.teacher = t,
                   .asserts = std::move(tests.asserts),
                   .usage = tests.usage,
                   .cost_usd = ledger::cost_usd(tests.usage.prompt_tokens,
                                                tests.usage.completion_tokens, t.price),
                   .latency_s = reply->recorded_latency_s.value_or(reply->latency_s)};
  call.prompt_tokens = out.usage.prompt_tokens;
  call.completion_tokens = out.usage.completion_tokens;
  call.tokens_estimated = out.usage.estimated;
  call.latency_s = out.latency_s;
  call.outcome = out.asserts.empty() ? ledger::Outcome::failed : ledger::Outcome::passed;
  if (ledger)
    if (auto r = ledger->record_call(call); !r) return r.error();
  return out;
}

Result<TeacherAnswer> Teachers::send(size_t i, const teacher::ChatRequest& chat,
                                     std::string_view request, std::string_view entry_point,
                                     ledger::Ledger* ledger) {
  const TeacherInfo& t = ladder_.at(i);
  if (auto ok = admit(i, request, chat.n, ledger); !ok) return ok.error();
  auto reply = clients_[i]->chat(chat);
  if (!reply) {
    if (ledger) {
      ledger::CallRecord failed = call_record(t);
      failed.outcome = ledger::Outcome::http_error;
      if (auto r = ledger->record_call(failed); !r) return r.error();
    }
    return reply.error();
  }
  teacher::Generation gen = teacher::code_candidates(*reply, entry_point);
  TeacherAnswer answer{.teacher = t,
                       .candidates = std::move(gen.candidates),
                       .empty_replies = gen.empty_replies,
                       .usage = gen.usage,
                       .latency_s = gen.latency_s,
                       .recorded_latency_s = gen.recorded_latency_s,
                       .attempts = gen.attempts};
  return answer;
}

Result<void> Teachers::record(const TeacherAnswer& answer, ledger::Outcome outcome,
                              ledger::Ledger& ledger) const {
  ledger::CallRecord call = call_record(answer.teacher);
  call.prompt_tokens = answer.usage.prompt_tokens;
  call.completion_tokens = answer.usage.completion_tokens;
  call.tokens_estimated = answer.usage.estimated;
  // The replay server's recorded latency is what the call took when it was made.
  call.latency_s = answer.recorded_latency_s.value_or(answer.latency_s);
  call.outcome = outcome;
  return ledger.record_call(call);
}

Result<void> Teachers::record_avoided(size_t i, std::string_view request,
                                      ledger::Ledger& ledger) const {
  const TeacherInfo& t = ladder_.at(i);
  ledger::AvoidedRecord avoided{.provider = t.provider,
                                .model = t.model,
                                .tier = ledger_tier(t.tier),
                                .prompt_tokens = estimate_tokens(request) + 60,
                                .completion_tokens = kTypicalAnswerTokens,
                                .price = t.price};
  return ledger.record_avoided(avoided);
}

}  // namespace yantra::router
