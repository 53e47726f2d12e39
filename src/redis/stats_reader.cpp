#include "stats_reader.h"

#include "core/batch.h"
#include "core/heartbeat.h"

#include <algorithm>
#include <map>

namespace pb::redis {

namespace {

std::string num(std::int64_t v)
{
    return std::to_string(v);
}

void sortMostFirst(std::vector<NamedCount> &counts)
{
    std::sort(counts.begin(), counts.end(), [](const NamedCount &a, const NamedCount &b) {
        return a.count != b.count ? a.count > b.count : a.name < b.name;
    });
}

// HGETALL / WITHSCORES replies: [name, value, name, value, ...].
std::vector<NamedCount> pairs(const redisReply *reply)
{
    std::vector<NamedCount> result;
    if (reply->type != REDIS_REPLY_ARRAY)
        return result;
    for (std::size_t i = 0; i + 1 < reply->elements; i += 2)
        result.push_back({replyString(reply->element[i]), replyInteger(reply->element[i + 1])});
    return result;
}

std::vector<FeedItem> feedItems(const redisReply *reply)
{
    std::vector<FeedItem> items;
    if (reply->type != REDIS_REPLY_ARRAY)
        return items;
    for (std::size_t i = 0; i < reply->elements; ++i) {
        const auto *entry = reply->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2)
            continue;
        FeedItem item;
        item.streamId = replyString(entry->element[0]);
        const auto *fields = entry->element[1];
        for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
            const auto name = replyString(fields->element[f]);
            const auto *value = fields->element[f + 1];
            if (name == "raw")
                item.raw = replyString(value);
            else if (name == "source")
                item.source = replyString(value);
            else if (name == "offset")
                item.offset = replyInteger(value);
            else if (name == "ts")
                item.timestampMs = replyInteger(value);
            else if (name == "reason")
                item.reason = replyString(value);
        }
        items.push_back(std::move(item));
    }
    return items;
}

std::vector<RatePoint> series(const std::map<std::int64_t, std::int64_t> &counts,
                              std::int64_t first, std::int64_t last, std::int64_t unitSeconds)
{
    std::vector<RatePoint> points;
    points.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, last - first + 1)));
    for (auto t = first; t <= last; ++t) {
        const auto it = counts.find(t);
        points.push_back({t * unitSeconds, it == counts.end() ? 0 : it->second});
    }
    return points;
}

void collect(std::map<std::int64_t, std::int64_t> &into, const redisReply *reply)
{
    for (const auto &p : pairs(reply))
        into[std::stoll(p.name)] += p.count;
}

} // namespace

StatsReader::StatsReader(Connection &connection, StatsOptions options)
    : connection_(connection)
    , options_(std::move(options))
{
}

Snapshot StatsReader::read(std::int64_t nowMs)
{
    const auto &s = options_.schema;
    const auto nowSecond = floorDiv(nowMs, 1000);
    const auto nowMinute = floorDiv(nowSecond, 60);
    const auto firstSecond = nowSecond - options_.rateSeconds;
    const auto lastSecond = nowSecond - 1;
    const auto firstMinute = nowMinute - 59;

    std::vector<Command> commands;
    commands.push_back(
        {"ZCOUNT", s.lastSeen(), "(" + num(nowMs - options_.activeWindow.count()), "+inf"});
    commands.push_back({"ZCOUNT", s.lastSeen(), "(" + num(nowMs - 30 * 60'000), "+inf"});
    commands.push_back({"MGET", s.eventsTotal(), s.badTotal(), s.lostTotal()});
    commands.push_back({"ZREVRANGE", s.pages(), "0", num(options_.topPages - 1), "WITHSCORES"});
    Command lastHour{"ZUNION", "60"};
    for (auto m = firstMinute; m <= nowMinute; ++m)
        lastHour.push_back(s.pagesMinute(m));
    lastHour.push_back("WITHSCORES");
    commands.push_back(std::move(lastHour));
    commands.push_back({"HGETALL", s.actions()});
    commands.push_back({"HGETALL", s.badByReason()});
    commands.push_back({"HGETALL", s.heartbeats()});
    const std::size_t fixed = commands.size();
    const auto firstSecBucket = floorDiv(firstSecond, kSecondsPerRateBucket);
    const auto lastSecBucket = floorDiv(lastSecond, kSecondsPerRateBucket);
    for (auto b = firstSecBucket; b <= lastSecBucket; ++b)
        commands.push_back({"HGETALL", s.rateSecondsBucket(b)});
    const std::size_t minuteBuckets = commands.size();
    for (auto b = floorDiv(firstMinute, kMinutesPerRateBucket);
         b <= floorDiv(nowMinute, kMinutesPerRateBucket); ++b)
        commands.push_back({"HGETALL", s.rateMinutesBucket(b)});
    const std::size_t feeds = commands.size();
    if (options_.feedEvents > 0) {
        commands.push_back({"XREVRANGE", s.feed(), "+", "-", "COUNT", num(options_.feedEvents)});
        commands.push_back({"XREVRANGE", s.badFeed(), "+", "-", "COUNT", num(options_.feedEvents)});
    }

    const auto started = std::chrono::steady_clock::now();
    const auto replies = connection_.pipeline(commands);
    const auto roundTrip = std::chrono::steady_clock::now() - started;
    for (std::size_t i = 0; i < replies.size(); ++i)
        throwIfError(replies[i].get(), commands[i][0]);

    Snapshot snap;
    snap.takenAtMs = nowMs;
    snap.activeWindow = options_.activeWindow;
    snap.redisRoundTrip = std::chrono::duration_cast<std::chrono::microseconds>(roundTrip);
    snap.activeUsers = replyInteger(replies[0].get());
    snap.activeUsers30m = replyInteger(replies[1].get());
    const auto *totals = replies[2].get();
    snap.eventsTotal = replyInteger(totals->element[0]);
    snap.badEventsTotal = replyInteger(totals->element[1]);
    snap.lostEvents = replyInteger(totals->element[2]);
    snap.topPagesAllTime = pairs(replies[3].get());
    snap.topPagesLastHour = pairs(replies[4].get());
    sortMostFirst(snap.topPagesLastHour);
    if (snap.topPagesLastHour.size() > static_cast<std::size_t>(options_.topPages))
        snap.topPagesLastHour.resize(static_cast<std::size_t>(options_.topPages));
    snap.actions = pairs(replies[5].get());
    sortMostFirst(snap.actions);
    snap.badByReason = pairs(replies[6].get());
    sortMostFirst(snap.badByReason);

    const auto *beats = replies[7].get();
    std::int64_t lag = 0;
    bool lagKnown = false;
    for (std::size_t i = 0; i + 1 < beats->elements; i += 2) {
        auto health = decodeHeartbeat(replyString(beats->element[i + 1]));
        if (!health || nowMs - health->lastBeatMs > kHeartbeatStale.count())
            continue;
        for (const auto &p : health->partitions) {
            if (p.lag >= 0) {
                lag += p.lag;
                lagKnown = true;
            }
        }
        snap.aggregators.push_back(std::move(*health));
    }
    std::sort(snap.aggregators.begin(), snap.aggregators.end(),
              [](const auto &a, const auto &b) { return a.id < b.id; });
    snap.consumerLag = lagKnown ? lag : -1;

    std::map<std::int64_t, std::int64_t> seconds;
    for (auto i = fixed; i < minuteBuckets; ++i)
        collect(seconds, replies[i].get());
    snap.perSecond = series(seconds, firstSecond, lastSecond, 1);
    std::map<std::int64_t, std::int64_t> minutes;
    for (auto i = minuteBuckets; i < feeds; ++i)
        collect(minutes, replies[i].get());
    snap.perMinute = series(minutes, firstMinute, nowMinute, 60);
    if (options_.feedEvents > 0) {
        snap.latestEvents = feedItems(replies[feeds].get());
        snap.latestBadEvents = feedItems(replies[feeds + 1].get());
    }
    return snap;
}

UserActivity StatsReader::user(const std::string &userId, std::int64_t nowMs)
{
    const auto &s = options_.schema;
    UserActivity result;
    result.userId = userId;
    const auto actionsReply = connection_.command({"HKEYS", s.actions()});
    throwIfError(actionsReply.get(), "HKEYS");
    std::vector<std::string> actions;
    for (std::size_t i = 0; i < actionsReply->elements; ++i)
        actions.push_back(replyString(actionsReply->element[i]));

    const auto nowMinute = floorDiv(nowMs, 60'000);
    std::vector<Command> commands;
    commands.push_back({"ZSCORE", s.lastSeen(), userId});
    for (auto m = nowMinute - 59; m <= nowMinute && !actions.empty(); ++m) {
        Command c{"HMGET", s.userActionsMinute(m)};
        for (const auto &a : actions)
            c.push_back(a + kFieldSeparator + userId);
        commands.push_back(std::move(c));
    }
    const auto replies = connection_.pipeline(commands);
    for (std::size_t i = 0; i < replies.size(); ++i)
        throwIfError(replies[i].get(), commands[i][0]);
    if (!replyIsNil(replies[0].get()))
        result.lastSeenMs = static_cast<std::int64_t>(std::stod(replyString(replies[0].get())));
    std::vector<std::int64_t> perAction(actions.size(), 0);
    for (std::size_t i = 1; i < replies.size(); ++i)
        for (std::size_t a = 0; a < actions.size() && a < replies[i]->elements; ++a)
            perAction[a] += replyInteger(replies[i]->element[a]);
    for (std::size_t a = 0; a < actions.size(); ++a) {
        if (perAction[a] == 0)
            continue;
        result.actionsLastHour.push_back({actions[a], perAction[a]});
        result.eventsLastHour += perAction[a];
    }
    sortMostFirst(result.actionsLastHour);
    return result;
}

} // namespace pb::redis
