#include "batch_writer.h"

#include "lua_script.h"
#include "redis_error.h"

#include <charconv>
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

void BatchWriter::loadFunctions()
{
    auto reply = connection_.command({"FUNCTION", "LOAD", "REPLACE", kFunctionLibrary});
    if (reply->type == REDIS_REPLY_ERROR) {
        const std::string_view text(reply->str, reply->len);
        if (text.find("unknown command") != std::string_view::npos)
            throw Error(ErrorKind::Fatal, "Redis at " + connection_.endpoint().toString() +
                                              " has no Functions: Pulseboard needs Redis 7 or "
                                              "newer");
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

Command BatchWriter::encode(const BatchAggregate &b, const std::vector<PartitionCommit> &commits,
                            std::int64_t lostEvents, std::int64_t nowMs) const
{
    Command c;
    c.reserve(64 + 2 * (b.pages.size() + b.lastSeen.size() + b.actions.size()));
    c.insert(
        c.end(),
        {"FCALL", "pb_apply_v1", "1", schema_.offsets(), schema_.prefix(),
         schema_.seedKeys ? "1" : "0", num(nowMs), num(options_.activeWindow.count()),
         num(kHistory.count()), num(kBucketGrace.count()),
         num(static_cast<std::int64_t>(std::max<std::size_t>(options_.feedPerBatch * 20, 100)))});
    c.push_back(num(static_cast<std::int64_t>(commits.size())));
    for (const auto &commit : commits) {
        c.push_back(partitionField(commit.topic, commit.partition));
        c.push_back(num(commit.expected));
        c.push_back(num(commit.next));
    }
    c.push_back(num(b.validCount));
    c.push_back(num(b.invalidCount));
    c.push_back(num(lostEvents));
    addCounts(c, b.pages);
    c.push_back(num(static_cast<std::int64_t>(b.pagesByMinute.size())));
    for (const auto &[minute, pages] : b.pagesByMinute) {
        c.push_back(num(minute));
        addCounts(c, pages);
    }
    addCounts(c, b.lastSeen);
    addCounts(c, b.actions);
    c.push_back(num(static_cast<std::int64_t>(b.userActionsByMinute.size())));
    for (const auto &[minute, fields] : b.userActionsByMinute) {
        c.push_back(num(minute));
        addCounts(c, fields);
    }
    c.push_back(num(static_cast<std::int64_t>(b.perSecond.size())));
    for (const auto &[second, count] : b.perSecond) {
        c.push_back(num(second));
        c.push_back(num(count));
    }
    c.push_back(num(static_cast<std::int64_t>(b.perMinute.size())));
    for (const auto &[minute, count] : b.perMinute) {
        c.push_back(num(minute));
        c.push_back(num(count));
    }
    std::int64_t reasons = 0;
    for (const auto count : b.invalidByReason)
        reasons += count > 0 ? 1 : 0;
    c.push_back(num(reasons));
    for (std::size_t r = 0; r < b.invalidByReason.size(); ++r) {
        if (b.invalidByReason[r] == 0)
            continue;
        c.emplace_back(reasonName(static_cast<InvalidReason>(r)));
        c.push_back(num(b.invalidByReason[r]));
    }
    c.push_back(num(static_cast<std::int64_t>(b.feed.size())));
    for (std::size_t i = 0; i < b.feed.size(); ++i) {
        const auto &e = b.feed[i];
        c.insert(c.end(), {e.raw, e.source, num(e.offset), num(e.timestampMs)});
    }
    c.push_back(num(static_cast<std::int64_t>(b.badFeed.size())));
    for (std::size_t i = 0; i < b.badFeed.size(); ++i) {
        const auto &e = b.badFeed[i];
        c.insert(c.end(), {e.raw, e.source, num(e.offset), num(e.timestampMs), e.reason});
    }
    return c;
}

ApplyResult BatchWriter::apply(const BatchAggregate &batch,
                               const std::vector<PartitionCommit> &commits, std::int64_t lostEvents,
                               std::int64_t nowMs)
{
    submit(batch, commits, lostEvents, nowMs);
    return collect();
}

void BatchWriter::submit(const BatchAggregate &batch, const std::vector<PartitionCommit> &commits,
                         std::int64_t lostEvents, std::int64_t nowMs)
{
    if (!loaded_)
        loadFunctions();
    pending_ = encode(batch, commits, lostEvents, nowMs);
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
    throwIfError(reply.get(), "pb_apply_v1");
    return parse(reply.get());
}

ApplyResult BatchWriter::parse(const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        throw Error(ErrorKind::Fatal, "pb_apply_v1 answered something unexpected");
    ApplyResult result;
    result.applied = replyInteger(reply->element[0]) == 1;
    for (std::size_t i = 1; i + 1 < reply->elements; i += 2) {
        const auto field = replyString(reply->element[i]);
        const auto slash = field.rfind('/');
        OffsetMismatch m;
        m.topic = field.substr(0, slash);
        m.partition = std::stoi(field.substr(slash + 1));
        m.stored = parseOffset(replyString(reply->element[i + 1]));
        result.mismatches.push_back(std::move(m));
    }
    return result;
}

void BatchWriter::beat(const std::string &aggregatorId, const std::string &json, std::int64_t nowMs)
{
    call({"FCALL", "pb_beat_v1", "2", schema_.heartbeats(), schema_.heartbeatTimes(),
          schema_.prefix(), schema_.seedKeys ? "1" : "0", num(nowMs),
          num(options_.activeWindow.count()), num(kHistory.count()), num(kHeartbeatStale.count()),
          aggregatorId, json});
}

void BatchWriter::leave(const std::string &aggregatorId)
{
    call({"FCALL", "pb_leave_v1", "2", schema_.heartbeats(), schema_.heartbeatTimes(),
          aggregatorId});
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
