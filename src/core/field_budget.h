#pragma once
// How many distinct Redis fields the next batch may hold so that its call keeps Redis busy for
// about a target time, whatever the workload. Redis's time per field varies several-fold (repeat
// users land in warm hash slots; a catch-up of new users grows every hash) and each call has a
// fixed part, so no constant fits: the budget follows the calls' own time inside Redis. Pure,
// no I/O. Not thread-safe.

#include <array>
#include <chrono>
#include <cstdint>

namespace pb {

struct FieldBudgetOptions {
    std::chrono::microseconds target{150'000}; // one call's time inside Redis, at most
    std::int64_t initial = 32'000;             // before any call was measured
    std::int64_t min = 2'000;
    std::int64_t max = 1'000'000; // --max-batch-fields
};

class FieldBudget {
public:
    explicit FieldBudget(FieldBudgetOptions options = {});

    std::int64_t fields() const { return budget_; }
    // Fields that `events` events not yet counted may bring: as many per event as the most of
    // the recent batches (two, a new user and its action, before any was seen).
    std::int64_t fieldsFor(std::int64_t events) const;
    // A call that wrote `fields` fields for `events` events and took `inRedis` inside Redis.
    // Slower than the target: the budget shrinks in proportion at once. Well under it (below
    // half): it grows by half, so that a wrong guess costs one call, never a giant one.
    void observe(std::int64_t fields, std::int64_t events, std::chrono::microseconds inRedis);

private:
    static constexpr std::size_t kRemembered = 8;
    FieldBudgetOptions options_;
    std::array<double, kRemembered> fieldsPerEvent_{};
    std::size_t next_ = 0;
    std::int64_t budget_;
};

} // namespace pb
