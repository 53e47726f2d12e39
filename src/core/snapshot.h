#pragma once
// What the stats reader hands to the dashboard and the CLI: a value type, cheap to copy across
// threads through a queued signal.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pb {

struct NamedCount {
    std::string name;
    std::int64_t count = 0;
    friend bool operator==(const NamedCount &, const NamedCount &) = default;
};

struct RatePoint {
    std::int64_t epochSeconds = 0; // start of the second (or minute) it counts
    std::int64_t count = 0;
    friend bool operator==(const RatePoint &, const RatePoint &) = default;
};

struct PartitionHealth {
    std::string topic;
    int partition = 0;
    std::int64_t nextOffset = -1;    // the next offset to aggregate (stored in Redis)
    std::int64_t highWatermark = -1; // -1: not known yet
    std::int64_t lag = -1;           // highWatermark - nextOffset; -1: not known yet
};

struct AggregatorHealth {
    std::string id;
    std::string host;
    std::string group;
    std::int64_t pid = 0;
    std::int64_t startedMs = 0;
    std::int64_t lastBeatMs = 0;
    std::int64_t eventsProcessed = 0;
    std::vector<PartitionHealth> partitions;
};

struct FeedItem {
    std::string streamId;
    std::int64_t timestampMs = 0;
    std::string raw;
    std::string source; // "topic/partition"
    std::int64_t offset = 0;
    std::string reason; // bad events only
};

// Fields another program left in a shape Pulseboard cannot read: skipped and counted, so that
// one bad field hides nothing else.
struct SkippedFields {
    std::int64_t count = 0;
    std::vector<std::string> keys; // where they were (each key once, the first few)
    bool moreKeys = false;         // and in other keys too

    void add(std::string_view key, std::int64_t n = 1);
    // "skipped 3 malformed fields in pulseboard:actions, ..."; empty when nothing was skipped.
    std::string text() const;
    friend bool operator==(const SkippedFields &, const SkippedFields &) = default;
};

struct Snapshot {
    std::int64_t takenAtMs = 0;
    std::chrono::milliseconds activeWindow{0};
    std::int64_t activeUsers = 0;              // distinct users in the configured window
    std::int64_t activeUsers30m = 0;           // distinct users in the last 30 minutes
    std::int64_t eventsTotal = 0;              // valid events, all time
    std::int64_t badEventsTotal = 0;           // invalid events, all time
    std::int64_t lostEvents = 0;               // offsets Kafka no longer had when we got there
    std::vector<NamedCount> topPagesAllTime;   // most first
    std::vector<NamedCount> topPagesLastHour;  // most first
    std::vector<NamedCount> actions;           // most first
    std::vector<NamedCount> badByReason;       // most first
    std::vector<RatePoint> perSecond;          // oldest first, zero-filled, ends at takenAt
    std::vector<RatePoint> perMinute;          // oldest first, zero-filled, last 60 minutes
    std::vector<AggregatorHealth> aggregators; // alive ones (recent heartbeat)
    std::int64_t consumerLag = -1;             // sum over partitions; -1: unknown
    std::vector<FeedItem> latestEvents;        // newest first
    std::vector<FeedItem> latestBadEvents;     // newest first
    std::chrono::microseconds redisRoundTrip{0};
    SkippedFields skipped;
};

struct UserActivity {
    std::string userId;
    std::vector<NamedCount> actionsLastHour; // most first
    std::int64_t eventsLastHour = 0;
    std::int64_t lastSeenMs = -1; // -1: not seen in the retained history
    SkippedFields skipped;
};

} // namespace pb
