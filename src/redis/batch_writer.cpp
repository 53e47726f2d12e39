#include "batch_writer.h"

#include "lua_script.h"
#include "redis_error.h"

#include <charconv>
#include <iterator>
#include <map>
#include <string_view>

namespace pb::redis {

namespace {

std::string num(std::int64_t v)
{
    return std::to_string(v);
}

void addCounts(Command &c, const CountTable &counts)
{
    c.push_back(num(static_cast<std::int64_t>(counts.size())));
    for (const auto [name, count] : counts) {
        c.emplace_back(name);
        c.push_back(num(count));
    }
}

bool isMissingFunction(std::string_view text)
{
    return text.find("Function not found") != std::string_view::npos ||
           text.find("function not found") != std::string_view::npos;
}

std::int64_t parseOffset(const std::string &text)
{
    std::int64_t value = kNoOffset;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size())
        throw Error(ErrorKind::Fatal, "Redis holds a malformed offset '" + text + "'");
    return value;
}

} // namespace

BatchWriter::BatchWriter(Connection &connection, Schema schema, AggregationOptions options)
    : connection_(connection)
    , schema_(std::move(schema))
    , options_(options)
{
}

namespace {

// The library's code as FUNCTION LIST WITHCODE reports it; empty when absent (or not allowed).
std::string loadedLibraryCode(Connection &connection)
{
    const auto reply =
        connection.command({"FUNCTION", "LIST", "LIBRARYNAME", "pulseboard", "WITHCODE"});
    if (reply->type != REDIS_REPLY_ARRAY)
        return {};
    for (std::size_t l = 0; l < reply->elements; ++l) {
        const auto *library = reply->element[l];
        if (library->type != REDIS_REPLY_ARRAY)
            continue;
        for (std::size_t i = 0; i + 1 < library->elements; i += 2)
            if (replyString(library->element[i]) == "library_code" &&
                library->element[i + 1]->type == REDIS_REPLY_STRING)
                return replyString(library->element[i + 1]);
    }
    return {};
}

} // namespace

void BatchWriter::loadFunctions()
{
    if (loadedLibraryCode(connection_) != kFunctionLibrary)
        replaceFunctions();
    loaded_ = true;
}

void BatchWriter::replaceFunctions()
{
    auto reply = connection_.command({"FUNCTION", "LOAD", "REPLACE", kFunctionLibrary});
    if (reply->type == REDIS_REPLY_ERROR) {
        const std::string_view text(reply->str, reply->len);
        const auto where = "Redis at " + connection_.endpoint().toString();
        if (text.find("unknown command") != std::string_view::npos)
            throw Error(ErrorKind::Fatal,
                        where + " has no Functions: Pulseboard needs Redis 7 or newer");
        if (text.starts_with("NOPERM"))
            throw Error(ErrorKind::Fatal,
                        where + " lacks Pulseboard's functions (or holds another version), and "
                                "this user may not load them: load them once as an admin with "
                                "pulseboard-cli redis-setup --redis ... (same version as this "
                                "aggregator)");
        throwIfError(reply.get(), "loading Pulseboard's Redis functions");
    }
    loaded_ = true;
}

ReplyPtr BatchWriter::call(const Command &command)
{
    if (!loaded_)
        loadFunctions();
    auto reply = connection_.command(command);
    if (reply->type == REDIS_REPLY_ERROR && isMissingFunction({reply->str, reply->len})) {
        // Redis restarted without persistence (or someone flushed functions): load and retry.
        loadFunctions();
        reply = connection_.command(command);
    }
    throwIfError(reply.get(), command[1]);
    return reply;
}

Command BatchWriter::encode(const BatchAggregate &b, const std::string &topic,
                            const std::vector<OffsetClaim> &claims, std::int64_t nowMs) const
{
    // Every key the call touches goes in KEYS (the Lua builds no names): Redis Cluster routes
    // by them, and a resharding answers TRYAGAIN instead of letting a call write half on the
    // wrong node. Order: see pb_apply_v3 in resources/redis/pulseboard.lua.
    std::vector<std::string> keys{
        schema_.offsets(), schema_.eventsTotal(), schema_.badTotal(),  schema_.lostTotal(),
        schema_.pages(),   schema_.lastSeen(),    schema_.actions(),   schema_.badByReason(),
        schema_.feed(),    schema_.badFeed(),     schema_.pagesHour(), schema_.pagesHourState()};
    if (schema_.writesSeedKeys()) {
        keys.emplace_back(kSeedTopPages);
        keys.emplace_back(kSeedActiveUsers);
    }
    Command args;
    args.reserve(64 + 2 * (b.pages.size() + b.lastSeen.size() + b.actions.size()));
    args.insert(
        args.end(),
        {schema_.writesSeedKeys() ? "1" : "0", num(nowMs), num(options_.activeWindow.count()),
         num(kHistory.count()), num(kBucketGrace.count()),
         num(static_cast<std::int64_t>(std::max<std::size_t>(options_.feedPerBatch * 20, 100))),
         num(options_.maxPages), num(options_.maxActions)});
    args.push_back(num(static_cast<std::int64_t>(claims.size())));
    std::int64_t lost = 0;
    for (const auto &claim : claims) {
        args.push_back(partitionField(topic, claim.partition));
        args.push_back(num(claim.expected));
        args.push_back(num(claim.next));
        lost += claim.lost;
    }
    args.push_back(num(b.validCount));
    args.push_back(num(b.invalidCount));
    args.push_back(num(lost));
    addCounts(args, b.pages);
    args.push_back(num(static_cast<std::int64_t>(b.pagesByMinute.size())));
    for (const auto &[minute, pages] : b.pagesByMinute) {
        keys.push_back(schema_.pagesMinute(minute));
        args.push_back(num(minute));
        addCounts(args, pages);
    }
    addCounts(args, b.lastSeen);
    addCounts(args, b.actions);
    args.push_back(num(static_cast<std::int64_t>(b.userActionsByMinute.size())));
    for (const auto &[minute, fields] : b.userActionsByMinute) {
        keys.push_back(schema_.userActionsMinute(minute));
        args.push_back(num(minute));
        addCounts(args, fields);
    }
    // Per-second and per-minute counts, grouped by the hash that holds them.
    const auto addRates = [&](const std::map<std::int64_t, std::int64_t> &counts,
                              std::int64_t perBucket, auto keyOf) {
        std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::int64_t>>> buckets;
        for (const auto &[unit, count] : counts)
            buckets[floorDiv(unit, perBucket)].emplace_back(unit, count);
        args.push_back(num(static_cast<std::int64_t>(buckets.size())));
        for (const auto &[bucket, units] : buckets) {
            keys.push_back(keyOf(bucket));
            args.push_back(num(bucket));
            args.push_back(num(static_cast<std::int64_t>(units.size())));
            for (const auto &[unit, count] : units) {
                args.push_back(num(unit));
                args.push_back(num(count));
            }
        }
    };
    addRates(b.perSecond, kSecondsPerRateBucket,
             [this](std::int64_t n) { return schema_.rateSecondsBucket(n); });
    addRates(b.perMinute, kMinutesPerRateBucket,
             [this](std::int64_t n) { return schema_.rateMinutesBucket(n); });
    std::int64_t reasons = 0;
    for (const auto count : b.invalidByReason)
        reasons += count > 0 ? 1 : 0;
    args.push_back(num(reasons));
    for (std::size_t r = 0; r < b.invalidByReason.size(); ++r) {
        if (b.invalidByReason[r] == 0)
            continue;
        args.emplace_back(reasonName(static_cast<InvalidReason>(r)));
        args.push_back(num(b.invalidByReason[r]));
    }
    args.push_back(num(static_cast<std::int64_t>(b.feed.size())));
    for (std::size_t i = 0; i < b.feed.size(); ++i) {
        const auto &e = b.feed[i];
        args.insert(args.end(), {e.raw, e.source, num(e.offset), num(e.timestampMs)});
    }
    args.push_back(num(static_cast<std::int64_t>(b.badFeed.size())));
    for (std::size_t i = 0; i < b.badFeed.size(); ++i) {
        const auto &e = b.badFeed[i];
        args.insert(args.end(), {e.raw, e.source, num(e.offset), num(e.timestampMs), e.reason});
    }

    Command c{"FCALL", "pb_apply_v3", num(static_cast<std::int64_t>(keys.size()))};
    c.reserve(3 + keys.size() + args.size());
    std::move(keys.begin(), keys.end(), std::back_inserter(c));
    std::move(args.begin(), args.end(), std::back_inserter(c));
    return c;
}

ApplyResult BatchWriter::apply(const BatchAggregate &batch, const std::string &topic,
                               const std::vector<OffsetClaim> &claims, std::int64_t nowMs)
{
    submit(batch, topic, claims, nowMs);
    return collect();
}

void BatchWriter::submit(const BatchAggregate &batch, const std::string &topic,
                         const std::vector<OffsetClaim> &claims, std::int64_t nowMs)
{
    if (!loaded_)
        loadFunctions();
    pending_ = encode(batch, topic, claims, nowMs);
    try {
        connection_.send(pending_);
    } catch (...) {
        pending_.clear();
        throw;
    }
}

ApplyResult BatchWriter::collect()
{
    const auto command = std::move(pending_);
    pending_.clear();
    auto reply = connection_.receive();
    if (reply->type == REDIS_REPLY_ERROR && isMissingFunction({reply->str, reply->len}))
        reply = call(command); // Redis lost its functions (restart without persistence)
    throwIfError(reply.get(), "pb_apply_v3");
    return parseApplyReply(reply.get());
}

ApplyResult parseApplyReply(const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        throw Error(ErrorKind::Fatal, "pb_apply_v3 answered something unexpected");
    ApplyResult result;
    result.applied = replyInteger(reply->element[0]) == 1;
    if (result.applied) {
        if (reply->elements > 1)
            result.inRedis = std::chrono::microseconds(replyInteger(reply->element[1]));
        return result;
    }
    for (std::size_t i = 1; i + 1 < reply->elements; i += 2) {
        const auto field = replyString(reply->element[i]);
        const auto slash = field.rfind('/');
        OffsetMismatch m;
        m.topic = field.substr(0, slash);
        const auto number = field.substr(slash == std::string::npos ? 0 : slash + 1);
        if (const auto [ptr, ec] =
                std::from_chars(number.data(), number.data() + number.size(), m.partition);
            ec != std::errc() || ptr != number.data() + number.size())
            throw Error(ErrorKind::Fatal,
                        "pb_apply_v3 named an offsets field that is not topic/partition");
        m.stored = parseOffset(replyString(reply->element[i + 1]));
        result.mismatches.push_back(std::move(m));
    }
    return result;
}

void BatchWriter::beat(const std::string &aggregatorId, const std::string &json, std::int64_t nowMs)
{
    // Every key goes in KEYS, the page sets of the minutes it may retire or rebuild from too.
    const auto nowMinute = floorDiv(nowMs, 60'000);
    const auto firstMinute = nowMinute - kBeatPastMinutes;
    Command keys{schema_.heartbeats(), schema_.heartbeatTimes(), schema_.lastSeen(),
                 schema_.pagesHour(),  schema_.pagesHourState(), schema_.pagesRetiring()};
    if (schema_.writesSeedKeys())
        keys.emplace_back(kSeedActiveUsers);
    for (auto m = firstMinute; m <= nowMinute + kBeatFutureMinutes; ++m)
        keys.push_back(schema_.pagesMinute(m));
    Command c{"FCALL", "pb_beat_v3", num(static_cast<std::int64_t>(keys.size()))};
    std::move(keys.begin(), keys.end(), std::back_inserter(c));
    c.insert(c.end(), {num(nowMs), num(options_.activeWindow.count()), num(kHistory.count()),
                       num(kHeartbeatStale.count()), aggregatorId, json,
                       schema_.writesSeedKeys() ? "1" : "0", num(firstMinute),
                       num(options_.maxPages), num(options_.maxClockSkew.count())});
    call(c);
}

void BatchWriter::leave(const std::string &aggregatorId)
{
    call({"FCALL", "pb_leave_v3", "2", schema_.heartbeats(), schema_.heartbeatTimes(),
          aggregatorId});
}

std::vector<std::int64_t> BatchWriter::storeStarts(const std::string &topic,
                                                   const std::vector<int> &partitions,
                                                   const std::vector<std::int64_t> &starts)
{
    if (partitions.empty())
        return {};
    Command c{"FCALL", "pb_start_v3", "1", schema_.offsets()};
    for (std::size_t i = 0; i < partitions.size(); ++i) {
        c.push_back(partitionField(topic, partitions[i]));
        c.push_back(num(starts[i]));
    }
    const auto reply = call(c);
    std::vector<std::int64_t> stored;
    for (std::size_t i = 0; i < partitions.size() && i < reply->elements; ++i)
        stored.push_back(replyIsNil(reply->element[i])
                             ? kNoOffset
                             : parseOffset(replyString(reply->element[i])));
    if (stored.size() != partitions.size())
        throw Error(ErrorKind::Fatal, "pb_start_v3 answered something unexpected");
    return stored;
}

std::vector<std::int64_t> BatchWriter::storedOffsets(const std::string &topic,
                                                     const std::vector<int> &partitions)
{
    std::vector<std::int64_t> result(partitions.size(), kNoOffset);
    if (partitions.empty())
        return result;
    Command c{"HMGET", schema_.offsets()};
    for (const int p : partitions)
        c.push_back(partitionField(topic, p));
    const auto reply = connection_.command(c);
    throwIfError(reply.get(), "reading stored offsets");
    for (std::size_t i = 0; i < partitions.size() && i < reply->elements; ++i)
        if (!replyIsNil(reply->element[i]))
            result[i] = parseOffset(replyString(reply->element[i]));
    return result;
}

} // namespace pb::redis
