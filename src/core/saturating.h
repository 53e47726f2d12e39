#pragma once
// Sums of numbers another program may have written (Redis values, heartbeats): they saturate at
// the int64 limits instead of overflowing. Pure.

#include <cstdint>
#include <limits>

namespace pb {

inline std::int64_t addSaturated(std::int64_t a, std::int64_t b)
{
    std::int64_t sum = 0;
    if (!__builtin_add_overflow(a, b, &sum))
        return sum;
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
}

} // namespace pb
