#pragma once
// One micro-batch, pre-aggregated in memory: what the aggregator writes to Redis in one atomic
// call. Per-event cost is a few table updates; once the tables are warm, nothing here allocates
// per event, or per batch. Not thread-safe. No I/O.

#include "count_table.h"
#include "event.h"

#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pb {

// Which clock an event's time comes from.
enum class EventTimeSource {
    KafkaTimestamp, // when the event entered Kafka (the default)
    Payload,        // the payload "timestamp"; falls back to the Kafka timestamp when absent
};

struct AggregationOptions {
    std::chrono::milliseconds activeWindow{std::chrono::minutes(5)};
    EventTimeSource timeSource = EventTimeSource::KafkaTimestamp;
    // Per-minute and per-second buckets cover this much history; older events still count in
    // the all-time totals and in last-seen, not in buckets that would expire at once.
    std::chrono::milliseconds bucketHistory{std::chrono::hours(1)};
    std::size_t feedPerBatch = 50; // newest events (and bad events) kept for the live feed
    // An event time further ahead of the aggregator's clock than this counts as that clock's
    // time (see eventTime()).
    // (resources/redis/pulseboard.lua trims last_seen scores beyond now + the same 5 minutes.)
    std::chrono::milliseconds maxFutureSkew{std::chrono::minutes(5)};
    // The most distinct pages Redis keeps in the all-time set and in the hour's set (a tenth of
    // it in each minute's), and distinct actions: producers choose the names, so memory and
    // reads must not grow with them. The lowest counts beyond a cap add up under "(other)".
    std::int64_t maxPages = 1'000'000;
    std::int64_t maxActions = 1000;
    // How far this aggregator's clock may be from Redis's: minutes leave the hour by the one and
    // their sets expire by the other (0: unchecked, for tests with a simulated clock).
    std::chrono::milliseconds maxClockSkew{std::chrono::seconds(60)};
};

// The time an event counts at: its Kafka timestamp, or with EventTimeSource::Payload the
// payload's (Kafka's when the payload has none). Producers set both, so neither is trusted: a
// time missing, before 1970, or more than maxFutureSkew ahead of nowMs (a wrong clock, or
// nanoseconds where milliseconds belong) counts as nowMs, the time the aggregator read it.
// Otherwise a far-future time would create per-minute keys that outlive their hour by years and
// keep its user "active" for ever. Past times are kept: they count in the all-time figures and,
// within the last hour, in their minute.
std::int64_t eventTime(std::optional<std::int64_t> payloadMs, std::int64_t kafkaMs,
                       std::int64_t nowMs, const AggregationOptions &options);

// One CountTable per epoch minute (a batch mostly spans one or two). Tables are kept for the
// next batch; iterates the minutes in use in the order they came.
class MinuteTables {
public:
    using Entry = std::pair<std::int64_t, CountTable>;
    CountTable &operator[](std::int64_t minute);
    std::size_t size() const { return used_; }
    bool empty() const { return used_ == 0; }
    void clear();
    std::vector<Entry>::const_iterator begin() const { return tables_.begin(); }
    std::vector<Entry>::const_iterator end() const
    {
        return tables_.begin() + static_cast<std::ptrdiff_t>(used_);
    }

private:
    std::vector<Entry> tables_;
    std::size_t used_ = 0;
};

// The most of a payload a live feed keeps: the dashboard reads hundreds of entries a second,
// so one 800 KB event must not make each read megabytes. A longer one is cut (at a UTF-8
// boundary) and marked; the whole record stays in Kafka and, when bad, in the dead-letter topic.
inline constexpr std::size_t kMaxFeedPayloadBytes = 4096;
// The payload as a feed keeps it: as is, or its first kMaxFeedPayloadBytes and
// " [... cut: N bytes in all]".
std::string feedPayload(std::string_view raw);

struct FeedEntry {
    std::string raw;    // the payload, cut to kMaxFeedPayloadBytes (feedPayload())
    std::string source; // "topic/partition"
    std::int64_t offset = 0;
    std::int64_t timestampMs = 0;
    std::string reason; // bad events only: reasonName()
};

// Separates the action and the user id in a per-user field; 0xFF never occurs in UTF-8.
inline constexpr char kFieldSeparator = '\xff';

// The newest `capacity` entries, oldest first; entries are reused so that a warm feed does not
// allocate per event.
class FeedRing {
public:
    explicit FeedRing(std::size_t capacity)
        : slots_(capacity)
    {
    }
    // A slot to overwrite with the newest entry (evicts the oldest when full).
    FeedEntry &push();
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const FeedEntry &operator[](std::size_t i) const; // 0 = oldest
    void clear() { size_ = head_ = 0; }

private:
    std::vector<FeedEntry> slots_;
    std::size_t head_ = 0; // index of the oldest entry
    std::size_t size_ = 0;
};

class BatchAggregate {
public:
    explicit BatchAggregate(const AggregationOptions &options = {})
        : feed(options.feedPerBatch)
        , badFeed(options.feedPerBatch)
        , bucketHistoryMs_(options.bucketHistory.count())
    {
    }

    // Counts a valid event at the next stageValid() or settle(), and meanwhile loads the table
    // slots it lands in from memory: a caller that parses its next event in between finds
    // them in the cache. The event's strings are copied; raw and source must stay valid until
    // the event is counted. nowMs decides which events are recent enough for the time buckets.
    void stageValid(const EventView &event, std::int64_t eventTimeMs, std::int64_t nowMs,
                    std::string_view raw, std::string_view source, std::int64_t offset);
    void settle(); // counts the staged event, if any: the counts include it only then
    // Both in one step.
    void addValid(const EventView &event, std::int64_t eventTimeMs, std::int64_t nowMs,
                  std::string_view raw, std::string_view source, std::int64_t offset);
    void addInvalid(InvalidReason reason, std::string_view raw, std::string_view source,
                    std::int64_t offset, std::int64_t timestampMs);
    void clear(); // also drops a staged event

    std::int64_t events() const { return validCount + invalidCount; }
    // Distinct fields the batch writes to Redis (pages, users, actions, per minute and second):
    // what Redis's time for it follows.
    std::int64_t fields() const;
    bool empty() const { return events() == 0; }

    std::int64_t validCount = 0;
    std::int64_t invalidCount = 0;
    CountTable pages;           // all-time views per page
    MinuteTables pagesByMinute; // epoch minute -> page -> count
    CountTable lastSeen;        // user -> newest event time (ms)
    CountTable actions;
    MinuteTables userActionsByMinute;               // minute -> action\xffuser -> n
    std::map<std::int64_t, std::int64_t> perSecond; // epoch second -> count
    std::map<std::int64_t, std::int64_t> perMinute; // epoch minute -> count
    std::array<std::int64_t, kInvalidReasonCount> invalidByReason{};
    FeedRing feed;
    FeedRing badFeed;

private:
    static constexpr std::int64_t kNoBucket = INT64_MIN;
    std::int64_t bucketHistoryMs_;
    // A valid event with its keys copied and hashed; two, reused from event to event, so that
    // staging does not allocate once warm.
    struct Staged {
        std::string page;
        std::string field; // action, kFieldSeparator, user id: the per-minute per-user key
        std::size_t actionLength = 0;
        std::uint64_t pageHash = 0;
        std::uint64_t actionHash = 0;
        std::uint64_t userHash = 0;
        std::uint64_t fieldHash = 0;
        std::int64_t timeMs = 0;
        std::int64_t nowMs = 0;
        std::string_view raw;
        std::string_view source;
        std::int64_t offset = 0;
    };
    void count(const Staged &event);
    std::array<Staged, 2> staged_;
    std::size_t nextStage_ = 0; // staged_[nextStage_ ^ 1] waits to be counted when hasStaged_
    bool hasStaged_ = false;
    // The buckets of the last event's second and minute (std::map values do not move).
    std::int64_t cachedSecond_ = kNoBucket;
    std::int64_t cachedMinute_ = kNoBucket;
    std::int64_t *secondCount_ = nullptr;
    std::int64_t *minuteCount_ = nullptr;
    CountTable *minutePages_ = nullptr;
    CountTable *minuteUserActions_ = nullptr;
};

// Floor division for epoch arithmetic (times before 1970 stay in the right bucket).
constexpr std::int64_t floorDiv(std::int64_t a, std::int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

} // namespace pb
