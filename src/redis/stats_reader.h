#pragma once
// Reads the aggregates back: one pipelined round trip per Snapshot. Not thread-safe: one per
// thread (the GUI runs it on a worker thread).

#include "core/snapshot.h"
#include "redis_connection.h"
#include "schema.h"

#include <chrono>
#include <optional>
#include <string>

namespace pb::redis {

struct StatsOptions {
    Schema schema;
    std::chrono::milliseconds activeWindow{std::chrono::minutes(5)};
    int topPages = 10;
    int rateSeconds = 300; // length of the per-second series
    int feedEvents = 0;    // newest events and bad events to fetch (0: none)
};

class StatsReader {
public:
    StatsReader(Connection &connection, StatsOptions options);

    // Active users count users whose newest event is after nowMs - window. perSecond ends at
    // the last complete second; perMinute ends with the current (partial) minute.
    Snapshot read(std::int64_t nowMs);
    // One user's events in the last hour by action (two round trips).
    UserActivity user(const std::string &userId, std::int64_t nowMs);

    const StatsOptions &options() const { return options_; }

private:
    // What the first round trip read of the hour set.
    struct HourState {
        std::vector<NamedCount> top;         // its highest scores
        std::optional<std::int64_t> through; // its state's "through" minute
        bool retiring = false;               // pages:retiring exists
        bool future = false;                 // a page set of a minute after now exists
    };
    // The most viewed pages of the minutes nowMinute - 59 to nowMinute, exact.
    std::vector<NamedCount> topPagesLastHour(const HourState &hour, std::int64_t nowMinute,
                                             SkippedFields &skipped);

    Connection &connection_;
    StatsOptions options_;
};

} // namespace pb::redis
