#pragma once
// Reads the aggregates back: one pipelined round trip per Snapshot. Not thread-safe: one per
// thread (the GUI runs it on a worker thread).

#include "core/snapshot.h"
#include "redis_connection.h"
#include "schema.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pb::redis {

struct StatsOptions {
    Schema schema;
    std::chrono::milliseconds activeWindow{std::chrono::minutes(5)};
    int topPages = 10;
    int rateSeconds = 300; // length of the per-second series
    int feedEvents = 0;    // newest events and bad events to fetch (0: none)
};

// The reply interpretation, apart from the I/O so that it is tested (and fuzzed) on its own:
// what read() and user() send, and what they make of any replies (a reply of the wrong shape
// is skipped and counted; an error reply other than WRONGTYPE throws, as from Redis).
struct SnapshotQuery {
    // Where the hour set's top, state, retiring rest and future minutes are read.
    static constexpr std::size_t kHourTop = 4, kHourThrough = 8, kHourRetiring = 9,
                                 kHourFuture = 10;
    std::vector<Command> commands;
    std::size_t secondBuckets = 0; // commands[secondBuckets, minuteBuckets): HGETALL rate:s:<n>
    std::size_t minuteBuckets = 0; // commands[minuteBuckets, feeds): HGETALL rate:m:<n>
    std::size_t feeds = 0;         // then the two feeds, when feedEvents > 0
    std::int64_t firstSecond = 0, lastSecond = 0, firstMinute = 0, nowMinute = 0;
};
SnapshotQuery snapshotQuery(const StatsOptions &options, std::int64_t nowMs);
// replies[i] answers query.commands[i]. Leaves redisRoundTrip at zero.
Snapshot snapshotFromReplies(const StatsOptions &options, const SnapshotQuery &query,
                             const std::vector<ReplyPtr> &replies, std::int64_t nowMs);
// What the first round trip read of the hour set of pages.
struct HourState {
    std::vector<NamedCount> top;         // its highest scores (raw names)
    std::optional<std::int64_t> through; // its state's "through" minute
    bool retiring = false;               // pages:retiring exists
    bool future = false;                 // a page set of a minute after now exists
};
HourState hourStateFromReplies(const SnapshotQuery &query, const std::vector<ReplyPtr> &replies,
                               SkippedFields &skipped);
// The sets whose scores must come off the hour set's for an exact top of the last hour (empty:
// its top is exact as read); nullopt when there is no usable hour set (read the union).
std::optional<std::vector<std::string>>
hourCorrections(const StatsOptions &options, const HourState &hour, std::int64_t nowMinute);

// user(): the action names from HKEYS, then one ZSCORE and an HMGET per minute of the hour.
std::vector<std::string> actionNames(const redisReply *hkeys, SkippedFields &skipped,
                                     const StatsOptions &options);
std::vector<Command> userQuery(const StatsOptions &options, const std::string &userId,
                               const std::vector<std::string> &actions, std::int64_t nowMs);
UserActivity userFromReplies(const StatsOptions &options, const std::string &userId,
                             const std::vector<std::string> &actions,
                             const std::vector<Command> &commands,
                             const std::vector<ReplyPtr> &replies, SkippedFields skipped);

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
    // The most viewed pages of the minutes nowMinute - 59 to nowMinute, exact.
    std::vector<NamedCount> topPagesLastHour(const HourState &hour, std::int64_t nowMinute,
                                             SkippedFields &skipped);

    Connection &connection_;
    StatsOptions options_;
};

} // namespace pb::redis
