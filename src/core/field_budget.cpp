#include "field_budget.h"

#include <algorithm>
#include <cmath>

namespace pb {

FieldBudget::FieldBudget(FieldBudgetOptions options)
    : options_(options)
    , budget_(std::clamp(options.initial, options.min, std::max(options.min, options.max)))
{
    fieldsPerEvent_.fill(2.0);
}

std::int64_t FieldBudget::fieldsFor(std::int64_t events) const
{
    const double most = *std::max_element(fieldsPerEvent_.begin(), fieldsPerEvent_.end());
    return static_cast<std::int64_t>(std::ceil(most * static_cast<double>(events)));
}

void FieldBudget::observe(std::int64_t fields, std::int64_t events,
                          std::chrono::microseconds inRedis)
{
    // A small batch (an idle stream) tells little about the events of a backlog.
    if (events >= 1000) {
        fieldsPerEvent_[next_] = static_cast<double>(fields) / static_cast<double>(events);
        next_ = (next_ + 1) % kRemembered;
    }
    const auto target = static_cast<double>(options_.target.count());
    const auto took = static_cast<double>(inRedis.count());
    if (took <= 0 || fields <= 0)
        return;
    double next = static_cast<double>(budget_);
    if (took > target)
        next = static_cast<double>(std::min(budget_, fields)) * target / took;
    else if (took < target / 2 && fields >= budget_ / 2)
        next = 1.5 * static_cast<double>(budget_); // only when the batch used the budget
    budget_ = std::clamp(static_cast<std::int64_t>(next), options_.min,
                         std::max(options_.min, options_.max));
}

} // namespace pb
