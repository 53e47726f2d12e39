#include "stats_reader.h"

#include "core/batch.h"
#include "core/heartbeat.h"
#include "core/saturating.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

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

// A number another program may have written in any shape; nullopt when it is not one.
std::optional<std::int64_t> numberIn(const redisReply *reply)
{
    try {
        return replyInteger(reply);
    } catch (const Error &) {
        return std::nullopt;
    }
}

std::optional<std::int64_t> numberIn(std::string_view text)
{
    std::int64_t value = 0;
    const char *end = text.data() + text.size();
    if (const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        text.empty() || ec != std::errc() || ptr != end)
        return std::nullopt;
    return value;
}

// HGETALL / WITHSCORES replies: [name, value, name, value, ...]; a value that is not a number
// is skipped and counted against `key`. The counts beyond the caps are named "(other)" unless
// `raw`.
std::vector<NamedCount> pairs(const redisReply *reply, std::string_view key, SkippedFields &skipped,
                              bool raw = false)
{
    std::vector<NamedCount> result;
    if (reply->type != REDIS_REPLY_ARRAY)
        return result;
    result.reserve(reply->elements / 2);
    for (std::size_t i = 0; i + 1 < reply->elements; i += 2) {
        const auto count = numberIn(reply->element[i + 1]);
        if (count && reply->element[i]->type == REDIS_REPLY_STRING) {
            auto name = replyString(reply->element[i]);
            result.push_back(
                {!raw && name == kOtherMember ? kOtherLabel : std::move(name), *count});
        } else
            skipped.add(key);
    }
    return result;
}

std::vector<FeedItem> feedItems(const redisReply *reply, std::string_view key,
                                SkippedFields &skipped)
{
    std::vector<FeedItem> items;
    if (reply->type != REDIS_REPLY_ARRAY)
        return items;
    for (std::size_t i = 0; i < reply->elements; ++i) {
        const auto *entry = reply->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
            entry->element[1]->type != REDIS_REPLY_ARRAY) {
            skipped.add(key);
            continue;
        }
        FeedItem item;
        item.streamId = replyString(entry->element[0]);
        const auto *fields = entry->element[1];
        bool whole = true;
        for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
            if (fields->element[f]->type != REDIS_REPLY_STRING ||
                fields->element[f + 1]->type != REDIS_REPLY_STRING) {
                whole = false;
                continue;
            }
            const auto name = replyString(fields->element[f]);
            const auto *value = fields->element[f + 1];
            if (name == "raw")
                item.raw = replyString(value);
            else if (name == "source")
                item.source = replyString(value);
            else if (name == "reason")
                item.reason = replyString(value);
            else if (name == "offset" || name == "ts") {
                const auto number = numberIn(value);
                whole = whole && number;
                (name == "ts" ? item.timestampMs : item.offset) = number.value_or(0);
            }
        }
        if (!whole)
            skipped.add(key);
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

// A rate bucket: field = second (or minute) number, value = count.
void collect(std::map<std::int64_t, std::int64_t> &into, const redisReply *reply,
             std::string_view key, SkippedFields &skipped)
{
    for (const auto &p : pairs(reply, key, skipped)) {
        if (const auto t = numberIn(p.name))
            into[*t] = addSaturated(into[*t], p.count);
        else
            skipped.add(key);
    }
}

// An error reply for one key: WRONGTYPE (another program's value under our name) is that key
// skipped; anything else (NOAUTH, NOPERM, LOADING, ...) is the read failing.
bool usable(const redisReply *reply, const Command &command, SkippedFields &skipped)
{
    if (reply->type != REDIS_REPLY_ERROR)
        return true;
    if (std::string_view(reply->str, reply->len).starts_with("WRONGTYPE") && command.size() > 1) {
        skipped.add(command[1]);
        return false;
    }
    throwIfError(reply, command[0]);
    return false;
}

// Scores of `members` in a page set, as ZMSCORE answers (0 where absent).
std::vector<std::int64_t> scores(const redisReply *reply, std::size_t members)
{
    std::vector<std::int64_t> out(members, 0);
    if (reply->type != REDIS_REPLY_ARRAY)
        return out;
    for (std::size_t i = 0; i < members && i < reply->elements; ++i)
        out[i] = numberIn(reply->element[i]).value_or(0);
    return out;
}

// The `wanted` highest of `counts` with a positive count, most first, "(other)" named so.
std::vector<NamedCount> topOf(std::vector<NamedCount> counts, int wanted)
{
    std::erase_if(counts, [](const NamedCount &p) { return p.count <= 0; });
    sortMostFirst(counts);
    if (counts.size() > static_cast<std::size_t>(std::max(wanted, 0)))
        counts.resize(static_cast<std::size_t>(std::max(wanted, 0)));
    for (auto &p : counts)
        if (p.name == kOtherMember)
            p.name = kOtherLabel;
    return counts;
}

} // namespace

HourState hourStateFromReplies(const SnapshotQuery &q, const std::vector<ReplyPtr> &replies,
                               SkippedFields &skipped)
{
    HourState hour;
    redisReply empty{};
    empty.type = REDIS_REPLY_NIL;
    const auto reply = [&](std::size_t i) -> const redisReply * {
        return usable(replies[i].get(), q.commands[i], skipped) ? replies[i].get() : &empty;
    };
    hour.top = pairs(reply(SnapshotQuery::kHourTop), q.commands[SnapshotQuery::kHourTop][1],
                     skipped, true);
    if (const auto *through = reply(SnapshotQuery::kHourThrough);
        through->type == REDIS_REPLY_STRING) {
        hour.through = numberIn(replyString(through));
        if (!hour.through)
            skipped.add(q.commands[SnapshotQuery::kHourThrough][1]);
    }
    hour.retiring = numberIn(reply(SnapshotQuery::kHourRetiring)).value_or(0) > 0;
    hour.future = numberIn(reply(SnapshotQuery::kHourFuture)).value_or(0) > 0;
    return hour;
}

std::optional<std::vector<std::string>>
hourCorrections(const StatsOptions &options, const HourState &hour, std::int64_t nowMinute)
{
    if (!hour.through || *hour.through + 1 < nowMinute - kHourSetMaxAgeMinutes)
        return std::nullopt;
    const auto &s = options.schema;
    std::vector<std::string> corrections;
    if (hour.retiring)
        corrections.push_back(s.pagesRetiring());
    for (auto m = *hour.through + 1; m <= nowMinute - 60; ++m)
        corrections.push_back(s.pagesMinute(m));
    if (hour.future)
        for (auto m = std::max(*hour.through, nowMinute) + 1; m <= nowMinute + kFutureMinutes; ++m)
            corrections.push_back(s.pagesMinute(m));
    return corrections;
}

SnapshotQuery snapshotQuery(const StatsOptions &options, std::int64_t nowMs)
{
    const auto &s = options.schema;
    SnapshotQuery q;
    const auto nowSecond = floorDiv(nowMs, 1000);
    q.nowMinute = floorDiv(nowSecond, 60);
    q.firstSecond = nowSecond - options.rateSeconds;
    q.lastSecond = nowSecond - 1;
    q.firstMinute = q.nowMinute - 59;

    auto &commands = q.commands;
    commands.push_back(
        {"ZCOUNT", s.lastSeen(), "(" + num(nowMs - options.activeWindow.count()), "+inf"});
    commands.push_back({"ZCOUNT", s.lastSeen(), "(" + num(nowMs - 30 * 60'000), "+inf"});
    commands.push_back({"MGET", s.eventsTotal(), s.badTotal(), s.lostTotal()});
    commands.push_back({"ZREVRANGE", s.pages(), "0", num(options.topPages - 1), "WITHSCORES"});
    commands.push_back({"ZREVRANGE", s.pagesHour(), "0", num(options.topPages - 1), "WITHSCORES"});
    commands.push_back({"HGETALL", s.actions()});
    commands.push_back({"HGETALL", s.badByReason()});
    commands.push_back({"HGETALL", s.heartbeats()});
    commands.push_back({"HGET", s.pagesHourState(), "through"});
    commands.push_back({"EXISTS", s.pagesRetiring()});
    Command future{"EXISTS"};
    for (auto m = q.nowMinute + 1; m <= q.nowMinute + kFutureMinutes; ++m)
        future.push_back(s.pagesMinute(m));
    commands.push_back(std::move(future));
    q.secondBuckets = commands.size();
    const auto firstSecBucket = floorDiv(q.firstSecond, kSecondsPerRateBucket);
    const auto lastSecBucket = floorDiv(q.lastSecond, kSecondsPerRateBucket);
    for (auto b = firstSecBucket; b <= lastSecBucket; ++b)
        commands.push_back({"HGETALL", s.rateSecondsBucket(b)});
    q.minuteBuckets = commands.size();
    for (auto b = floorDiv(q.firstMinute, kMinutesPerRateBucket);
         b <= floorDiv(q.nowMinute, kMinutesPerRateBucket); ++b)
        commands.push_back({"HGETALL", s.rateMinutesBucket(b)});
    q.feeds = commands.size();
    if (options.feedEvents > 0) {
        commands.push_back({"XREVRANGE", s.feed(), "+", "-", "COUNT", num(options.feedEvents)});
        commands.push_back({"XREVRANGE", s.badFeed(), "+", "-", "COUNT", num(options.feedEvents)});
    }
    return q;
}

Snapshot snapshotFromReplies(const StatsOptions &options, const SnapshotQuery &q,
                             const std::vector<ReplyPtr> &replies, std::int64_t nowMs)
{
    const auto &s = options.schema;
    const auto &commands = q.commands;
    assert(replies.size() == commands.size());
    Snapshot snap;
    auto &skipped = snap.skipped;
    // A key of the wrong type reads as empty (and is reported); the rest is shown.
    redisReply empty{};
    empty.type = REDIS_REPLY_NIL;
    const auto reply = [&](std::size_t i) -> const redisReply * {
        return usable(replies[i].get(), commands[i], skipped) ? replies[i].get() : &empty;
    };
    const auto number = [&](const redisReply *r, std::string_view key) {
        const auto n = numberIn(r);
        if (!n)
            skipped.add(key);
        return n.value_or(0);
    };
    snap.takenAtMs = nowMs;
    snap.activeWindow = options.activeWindow;
    snap.activeUsers = number(reply(0), s.lastSeen());
    snap.activeUsers30m = number(reply(1), s.lastSeen());
    if (const auto *totals = reply(2); totals->type == REDIS_REPLY_ARRAY && totals->elements == 3) {
        snap.eventsTotal = number(totals->element[0], s.eventsTotal());
        snap.badEventsTotal = number(totals->element[1], s.badTotal());
        snap.lostEvents = number(totals->element[2], s.lostTotal());
    }
    snap.topPagesAllTime = pairs(reply(3), s.pages(), skipped);
    // The hour set's top as read; StatsReader::read() corrects it when the state says so.
    snap.topPagesLastHour = topOf(hourStateFromReplies(q, replies, skipped).top, options.topPages);
    snap.actions = pairs(reply(5), s.actions(), skipped);
    sortMostFirst(snap.actions);
    snap.badByReason = pairs(reply(6), s.badByReason(), skipped);
    sortMostFirst(snap.badByReason);

    const auto *beats = reply(7);
    std::int64_t lag = 0;
    bool lagKnown = false;
    for (std::size_t i = 0; i + 1 < beats->elements; i += 2) {
        const auto *value = beats->element[i + 1];
        auto health = value->type == REDIS_REPLY_STRING
                          ? decodeHeartbeat(std::string_view(value->str, value->len))
                          : std::nullopt;
        if (!health) {
            skipped.add(s.heartbeats());
            continue;
        }
        if (health->lastBeatMs < nowMs - kHeartbeatStale.count()) // beat_ms may be INT64_MIN
            continue;
        for (const auto &p : health->partitions) {
            if (p.lag >= 0) {
                lag = addSaturated(lag, p.lag);
                lagKnown = true;
            }
        }
        snap.aggregators.push_back(std::move(*health));
    }
    std::sort(snap.aggregators.begin(), snap.aggregators.end(),
              [](const auto &a, const auto &b) { return a.id < b.id; });
    snap.consumerLag = lagKnown ? lag : -1;

    std::map<std::int64_t, std::int64_t> seconds;
    for (auto i = q.secondBuckets; i < q.minuteBuckets; ++i)
        collect(seconds, reply(i), commands[i][1], skipped);
    snap.perSecond = series(seconds, q.firstSecond, q.lastSecond, 1);
    std::map<std::int64_t, std::int64_t> minutes;
    for (auto i = q.minuteBuckets; i < q.feeds; ++i)
        collect(minutes, reply(i), commands[i][1], skipped);
    snap.perMinute = series(minutes, q.firstMinute, q.nowMinute, 60);
    if (options.feedEvents > 0) {
        snap.latestEvents = feedItems(reply(q.feeds), s.feed(), skipped);
        snap.latestBadEvents = feedItems(reply(q.feeds + 1), s.badFeed(), skipped);
    }
    return snap;
}

std::vector<std::string> actionNames(const redisReply *hkeys, SkippedFields &skipped,
                                     const StatsOptions &options)
{
    const Command keysOfActions{"HKEYS", options.schema.actions()};
    std::vector<std::string> actions;
    if (usable(hkeys, keysOfActions, skipped))
        for (std::size_t i = 0; i < hkeys->elements; ++i)
            actions.push_back(replyString(hkeys->element[i]));
    return actions;
}

std::vector<Command> userQuery(const StatsOptions &options, const std::string &userId,
                               const std::vector<std::string> &actions, std::int64_t nowMs)
{
    const auto &s = options.schema;
    const auto nowMinute = floorDiv(nowMs, 60'000);
    std::vector<Command> commands;
    commands.push_back({"ZSCORE", s.lastSeen(), userId});
    for (auto m = nowMinute - 59; m <= nowMinute && !actions.empty(); ++m) {
        Command c{"HMGET", s.userActionsMinute(m)};
        for (const auto &a : actions)
            c.push_back(a + kFieldSeparator + userId);
        commands.push_back(std::move(c));
    }
    return commands;
}

UserActivity userFromReplies(const StatsOptions &options, const std::string &userId,
                             const std::vector<std::string> &actions,
                             const std::vector<Command> &commands,
                             const std::vector<ReplyPtr> &replies, SkippedFields skipped)
{
    assert(!commands.empty() && replies.size() == commands.size());
    const auto &s = options.schema;
    UserActivity result;
    result.userId = userId;
    result.skipped = std::move(skipped);
    if (usable(replies[0].get(), commands[0], result.skipped) && !replyIsNil(replies[0].get())) {
        const auto text = replyString(replies[0].get());
        double ms = 0;
        if (const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
            ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(ms))
            result.lastSeenMs = static_cast<std::int64_t>(std::clamp(ms, -9e18, 9e18));
        else
            result.skipped.add(s.lastSeen());
    }
    std::vector<std::int64_t> perAction(actions.size(), 0);
    for (std::size_t i = 1; i < replies.size(); ++i) {
        if (!usable(replies[i].get(), commands[i], result.skipped))
            continue;
        for (std::size_t a = 0; a < actions.size() && a < replies[i]->elements; ++a) {
            const auto n = numberIn(replies[i]->element[a]);
            if (!n)
                result.skipped.add(commands[i][1]);
            perAction[a] = addSaturated(perAction[a], n.value_or(0));
        }
    }
    for (std::size_t a = 0; a < actions.size(); ++a) {
        if (perAction[a] == 0)
            continue;
        result.actionsLastHour.push_back({actions[a], perAction[a]});
        result.eventsLastHour = addSaturated(result.eventsLastHour, perAction[a]);
    }
    sortMostFirst(result.actionsLastHour);
    return result;
}

StatsReader::StatsReader(Connection &connection, StatsOptions options)
    : connection_(connection)
    , options_(std::move(options))
{
}

std::vector<NamedCount> StatsReader::topPagesLastHour(const HourState &hour, std::int64_t nowMinute,
                                                      SkippedFields &skipped)
{
    const auto &s = options_.schema;
    const auto wanted = static_cast<std::size_t>(options_.topPages);
    const auto finish = [&](std::vector<NamedCount> top) {
        return topOf(std::move(top), options_.topPages);
    };
    // Without a current hour set (a new Redis before the first heartbeat, one written by an
    // older version, a state far behind): the union of the minutes, exact and slow.
    const auto byUnion = [&] {
        Command lastHour{"ZUNION", "60"};
        for (auto m = nowMinute - 59; m <= nowMinute; ++m)
            lastHour.push_back(s.pagesMinute(m));
        lastHour.push_back("WITHSCORES");
        const auto reply = connection_.command(lastHour);
        return finish(usable(reply.get(), lastHour, skipped)
                          ? pairs(reply.get(), "the per-minute pages", skipped)
                          : std::vector<NamedCount>{});
    };
    // The hour set holds the minutes after `through`: besides the hour, the rest of a retiring
    // minute, minutes past the hour a heartbeat has not retired yet, and future minutes (event
    // times up to 5 minutes ahead). They come off each candidate's score; the hour set's scores
    // bound every other page's from above, so the top is exact once the k-th corrected score
    // reaches the next one unread (Fagin's threshold algorithm): no more round trips when
    // nothing needs correcting, a few when something does.
    const auto corrections = hourCorrections(options_, hour, nowMinute);
    if (!corrections)
        return byUnion();
    if (corrections->empty())
        return finish(hour.top);
    std::size_t depth = std::max<std::size_t>(wanted * 4, 64);
    for (;;) {
        const Command range{"ZREVRANGE", s.pagesHour(), "0",
                            num(static_cast<std::int64_t>(depth - 1)), "WITHSCORES"};
        const auto reply = connection_.command(range);
        if (!usable(reply.get(), range, skipped))
            return byUnion();
        auto candidates = pairs(reply.get(), s.pagesHour(), skipped, true);
        if (candidates.empty())
            return {};
        std::vector<Command> commands;
        for (const auto &key : *corrections) {
            Command c{"ZMSCORE", key};
            for (const auto &p : candidates)
                c.push_back(p.name);
            commands.push_back(std::move(c));
        }
        const auto replies = connection_.pipeline(commands);
        const auto bound = candidates.back().count; // no unread page scores more
        for (std::size_t k = 0; k < replies.size(); ++k) {
            if (!usable(replies[k].get(), commands[k], skipped))
                continue;
            const auto taken = scores(replies[k].get(), candidates.size());
            for (std::size_t i = 0; i < candidates.size(); ++i)
                candidates[i].count -= taken[i];
        }
        const bool all = candidates.size() < depth;
        auto top = finish(std::move(candidates));
        if (all || (top.size() == wanted && top.back().count >= bound))
            return top;
        if (depth * 4 > 65'536)
            return byUnion(); // a pathological spread: the slow exact way
        depth *= 4;
    }
}

Snapshot StatsReader::read(std::int64_t nowMs)
{
    const auto query = snapshotQuery(options_, nowMs);
    const auto started = std::chrono::steady_clock::now();
    const auto replies = connection_.pipeline(query.commands);
    const auto roundTrip = std::chrono::steady_clock::now() - started;
    auto snap = snapshotFromReplies(options_, query, replies, nowMs);
    snap.redisRoundTrip = std::chrono::duration_cast<std::chrono::microseconds>(roundTrip);
    SkippedFields counted; // snapshotFromReplies counted the hour set's fields already
    const auto hour = hourStateFromReplies(query, replies, counted);
    if (const auto corrections = hourCorrections(options_, hour, query.nowMinute);
        !corrections || !corrections->empty())
        snap.topPagesLastHour = topPagesLastHour(hour, query.nowMinute, snap.skipped);
    return snap;
}

UserActivity StatsReader::user(const std::string &userId, std::int64_t nowMs)
{
    SkippedFields skipped;
    const auto actionsReply = connection_.command({"HKEYS", options_.schema.actions()});
    const auto actions = actionNames(actionsReply.get(), skipped, options_);
    const auto commands = userQuery(options_, userId, actions, nowMs);
    const auto replies = connection_.pipeline(commands);
    return userFromReplies(options_, userId, actions, commands, replies, std::move(skipped));
}

} // namespace pb::redis
