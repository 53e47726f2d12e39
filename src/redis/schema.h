#pragma once
// Key names: the one C++ place that knows them (resources/redis/pulseboard.lua builds the same
// names from the prefix). Documented in docs/redis-schema.md. Plain values, thread-safe.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace pb::redis {

// Seed-compatible keys: dashboards written for the original design read these.
inline constexpr const char *kSeedActiveUsers = "active_users";
inline constexpr const char *kSeedTopPages = "top_pages";

// How long time-bucketed data is kept beyond the hour it serves, so a reader at the edge of a
// bucket still finds it.
inline constexpr std::chrono::milliseconds kBucketGrace{std::chrono::minutes(5)};
inline constexpr std::chrono::milliseconds kHistory{std::chrono::hours(1)};
inline constexpr std::int64_t kSecondsPerRateBucket = 600; // rate:s:<n> holds 10 minutes
inline constexpr std::int64_t kMinutesPerRateBucket = 60;  // rate:m:<n> holds one hour
inline constexpr std::chrono::milliseconds kHeartbeatStale{std::chrono::seconds(15)};

inline constexpr const char *kDefaultNamespace = "pulseboard";

struct Schema {
    std::string ns = kDefaultNamespace;
    std::string shard = "all"; // hash tag: one shard for now, one per partition in cluster mode
    // Also maintain active_users and top_pages. They are global names, so only the default
    // namespace writes them: two namespaces must never share a key.
    bool seedKeys = true;
    bool writesSeedKeys() const { return seedKeys && ns == kDefaultNamespace; }

    std::string prefix() const { return ns + ":{" + shard + "}:"; }
    std::string key(const std::string &name) const { return prefix() + name; }

    std::string offsets() const { return key("offsets"); }
    std::string eventsTotal() const { return key("events_total"); }
    std::string badTotal() const { return key("bad_total"); }
    std::string lostTotal() const { return key("lost_total"); }
    std::string pages() const { return key("pages"); }
    std::string pagesMinute(std::int64_t minute) const
    {
        return key("pages:m:" + std::to_string(minute));
    }
    // Pages in the last hour: the sum of the minutes after pagesHourState's "through" field,
    // kept by the functions; pagesRetiring holds what is still to come off it of a minute past
    // the hour.
    std::string pagesHour() const { return key("pages:h"); }
    std::string pagesHourState() const { return key("pages:h:state"); }
    std::string pagesRetiring() const { return key("pages:retiring"); }
    std::string lastSeen() const { return key("last_seen"); }
    std::string actions() const { return key("actions"); }
    std::string userActionsMinute(std::int64_t minute) const
    {
        return key("user_actions:m:" + std::to_string(minute));
    }
    std::string rateSecondsBucket(std::int64_t bucket) const
    {
        return key("rate:s:" + std::to_string(bucket));
    }
    std::string rateMinutesBucket(std::int64_t bucket) const
    {
        return key("rate:m:" + std::to_string(bucket));
    }
    std::string badByReason() const { return key("bad"); }
    std::string feed() const { return key("feed"); }
    std::string badFeed() const { return key("bad_feed"); }
    std::string heartbeats() const { return key("heartbeats"); }
    std::string heartbeatTimes() const { return key("heartbeat_times"); }
};

// The member (in the page sets) and field (in the actions hash) under which the counts beyond
// the caps add up; 0xFF never occurs in UTF-8, so no page or action can have this name.
inline constexpr std::string_view kOtherMember{"\xff(other)"};
inline constexpr const char *kOtherLabel = "(other)";
// The functions retire minutes past the hour from the hour set at each heartbeat; the sets of
// the minutes from now - kBeatPastMinutes to now + kBeatFutureMinutes go with each (by the
// aggregator's clock; the functions use Redis's, at most a minute apart).
inline constexpr std::int64_t kBeatPastMinutes = 67;
inline constexpr std::int64_t kBeatFutureMinutes = 7;
// The hour set is current while the oldest minute it still holds is at most this old: its set
// is kept 66 minutes, so three are left for a heartbeat to retire it (the functions rebuild the
// hour set beyond; readers read the union of the minutes meanwhile).
inline constexpr std::int64_t kHourSetMaxAgeMinutes = 62;
// Future minutes (event times up to 5 minutes ahead of an aggregator's clock, itself up to a
// minute off) that readers take off the hour set.
inline constexpr std::int64_t kFutureMinutes = 7;

// The offsets hash field of a partition: "topic/partition".
inline std::string partitionField(const std::string &topic, int partition)
{
    return topic + "/" + std::to_string(partition);
}

} // namespace pb::redis
