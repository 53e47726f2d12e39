#pragma once
// Wall-clock time as epoch milliseconds UTC: what event times, Kafka timestamps and Redis keys
// are measured in.

#include <chrono>
#include <cstdint>

namespace pb {

inline std::int64_t wallClockMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace pb
