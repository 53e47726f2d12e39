#pragma once
// Shared by the pipeline and robustness tests: a known workload with its brute-force
// expectation (computed the slow, obvious way, independently of the aggregation code), and a
// fixture with the embedded stack that compares everything in Redis with that expectation.
// The checks use QtTest macros: call them from a test function.

#include "core/event.h"
#include "core/event_generator.h"
#include "kafka/dead_letter_producer.h"
#include "pipeline/aggregator.h"
#include "pipeline/embedded_stack.h"
#include "redis/batch_writer.h"
#include "redis/stats_reader.h"
#include "support/kafka_test_client.h"

#include <QtTest>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>

namespace pb::test {

using namespace std::chrono_literals;

inline std::int64_t nowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What the test expects, computed the slow and obvious way.
struct Expected {
    std::int64_t valid = 0;
    std::map<std::string, std::int64_t> pages;
    std::map<std::string, std::int64_t> actions;
    std::map<std::string, std::int64_t> lastSeen; // user -> newest event time
    std::map<std::string, std::map<std::string, std::int64_t>> userActions;
    std::map<std::string, std::int64_t> badReasons;
    std::multiset<std::string> badPayloads;
    // Valid events older than the per-minute buckets' hour: in the all-time figures only.
    std::int64_t beforeTheHour = 0;
    std::map<std::string, std::int64_t> pagesBeforeTheHour;
    // Users last seen at the aggregator's clock (an event time it did not trust): lastSeen
    // holds the earliest that can be.
    std::set<std::string> seenAtReadTime;
    std::set<std::string> alwaysCheck; // users verifyExact looks up besides its sample

    void addValid(const std::string &user, const std::string &action, const std::string &page,
                  std::int64_t ts)
    {
        ++valid;
        ++pages[page];
        ++actions[action];
        auto &seen = lastSeen[user];
        seen = std::max(seen, ts);
        ++userActions[user][action];
    }
    // An event counted at the aggregator's clock, which read it after `readFrom`.
    void addValidAtReadTime(const std::string &user, const std::string &action,
                            const std::string &page, std::int64_t readFrom)
    {
        addValid(user, action, page, readFrom);
        seenAtReadTime.insert(user);
    }
    // An event more than an hour old: no per-minute bucket, not in the last hour's lookups.
    void addValidBeforeTheHour(const std::string &user, const std::string &action,
                               const std::string &page, std::int64_t ts)
    {
        ++valid;
        ++pages[page];
        ++actions[action];
        auto &seen = lastSeen[user];
        seen = std::max(seen, ts);
        ++beforeTheHour;
        ++pagesBeforeTheHour[page];
    }
    std::map<std::string, std::int64_t> pagesLastHour() const
    {
        auto m = pages;
        for (const auto &[page, n] : pagesBeforeTheHour)
            if ((m[page] -= n) == 0)
                m.erase(page);
        return m;
    }
    void addInvalid(const std::string &payload, const std::string &reason)
    {
        ++badReasons[reason];
        badPayloads.insert(payload);
    }
    std::int64_t activeSince(std::int64_t since) const
    {
        std::int64_t n = 0;
        for (const auto &[user, ts] : lastSeen)
            n += ts > since ? 1 : 0;
        return n;
    }
    std::int64_t bad() const
    {
        std::int64_t n = 0;
        for (const auto &[reason, count] : badReasons)
            n += count;
        return n;
    }
};

// Malformed events and the reason each must be counted under.
inline const std::vector<std::pair<std::string, std::string>> &malformedCorpus()
{
    static const std::vector<std::pair<std::string, std::string>> corpus{
        {"", "not_json"},
        {"not json at all", "not_json"},
        {R"({"user_id":1,"action":"view","page":"/x")", "not_json"},
        {R"({"user_id":1,"action":"view","page":"/x"} trailing)", "not_json"},
        {"[1,2,3]", "not_object"},
        {"\"just a string\"", "not_object"},
        {R"({"action":"view","page":"/x"})", "user_id_missing"},
        {R"({"user_id":1.5,"action":"view","page":"/x"})", "user_id_type"},
        {R"({"user_id":true,"action":"view","page":"/x"})", "user_id_type"},
        {R"({"user_id":null,"action":"view","page":"/x"})", "user_id_type"},
        {R"({"user_id":99999999999999999999,"action":"view","page":"/x"})", "user_id_range"},
        {R"({"user_id":"","action":"view","page":"/x"})", "user_id_range"},
        {R"({"user_id":1,"page":"/x"})", "action_missing"},
        {R"({"user_id":1,"action":7,"page":"/x"})", "action_type"},
        {R"({"user_id":1,"action":"","page":"/x"})", "action_range"},
        {R"({"user_id":1,"action":"view"})", "page_missing"},
        {R"({"user_id":1,"action":"view","page":42})", "page_type"},
        {R"({"user_id":1,"action":"view","page":""})", "page_range"},
        {R"({"user_id":1,"action":"view","page":"/x","timestamp":true})", "timestamp_type"},
        {R"({"user_id":1,"action":"view","page":"/x","timestamp":"yesterday"})",
         "timestamp_format"},
        {"{\"user_id\":1,\"action\":\"view\",\"page\":\"/\xc3\x28\"}", "invalid_utf8"},
    };
    return corpus;
}

struct Workload {
    std::vector<test::Record> records;
    Expected expected;
};

// `valid` generated events (payload timestamps spread over the last `spread`, away from the
// 5-minute window edge) with the malformed corpus mixed in `badRounds` times.
inline Workload makeWorkload(int valid, int badRounds, std::uint64_t seed, std::int64_t now,
                             bool payloadTime)
{
    Workload w;
    GeneratorOptions options;
    options.users = 3000;
    options.pages = 80;
    options.seed = seed;
    EventGenerator generator(options);
    std::mt19937_64 rng(seed);
    const auto &corpus = malformedCorpus();
    const int badTotal = badRounds * static_cast<int>(corpus.size());
    const int every = badTotal ? std::max(1, valid / badTotal) : 0;
    int badDone = 0;
    for (int i = 0; i < valid; ++i) {
        // Times in [now-20m, now-6m] or [now-4m, now-30s]: never near the 5-minute edge.
        const bool recent = rng() % 2 == 0;
        const auto ts = recent ? now - 240000 + static_cast<std::int64_t>(rng() % 210000)
                               : now - 1200000 + static_cast<std::int64_t>(rng() % 840000);
        const auto e = generator.next(ts);
        const auto user = std::to_string(e.userId);
        w.records.push_back({user, std::string(e.json), -1, payloadTime ? 0 : ts});
        w.expected.addValid(user, std::string(e.action), std::string(e.page), ts);
        if (every && i % every == 0 && badDone < badTotal) {
            const auto &[payload, reason] =
                corpus[static_cast<std::size_t>(badDone) % corpus.size()];
            w.records.push_back({"bad", payload, -1, 0});
            w.expected.addInvalid(payload, reason);
            ++badDone;
        }
    }
    for (; badDone < badTotal; ++badDone) {
        const auto &[payload, reason] = corpus[static_cast<std::size_t>(badDone) % corpus.size()];
        w.records.push_back({"bad", payload, -1, 0});
        w.expected.addInvalid(payload, reason);
    }
    return w;
}

inline std::map<std::string, std::int64_t> toMap(const redisReply *reply)
{
    std::map<std::string, std::int64_t> m;
    for (std::size_t i = 0; i + 1 < reply->elements; i += 2)
        m[redis::replyString(reply->element[i])] =
            static_cast<std::int64_t>(std::stod(redis::replyString(reply->element[i + 1])));
    return m;
}

class PipelineFixture {
public:
    std::unique_ptr<EmbeddedStack> stack;
    std::unique_ptr<redis::Connection> redisConnection;
    int topicCounter = 0;
    std::string topic;

    void start(EmbeddedStackOptions options = {})
    {
        stack = std::make_unique<EmbeddedStack>(std::move(options));
        // The embedded Redis wants its (random) password: CLI children find it here.
        qputenv("PULSEBOARD_REDIS_PASSWORD",
                QByteArray::fromStdString(stack->redisEndpoint().password));
        redisConnection = std::make_unique<redis::Connection>(stack->redisEndpoint());
        redisConnection->connect();
    }

    // A fresh topic and an empty Redis for each case.
    void nextCase(int partitions = 4)
    {
        topic = "activity-" + std::to_string(++topicCounter);
        stack->broker().createTopic(topic, partitions);
        stack->broker().createTopic(topic + ".dlq", partitions);
        redisConnection->command({"FLUSHALL"});
    }

    std::string brokers() const { return stack->kafkaSettings().brokers; }

    AggregatorOptions aggregatorOptions(EventTimeSource time) const
    {
        AggregatorOptions o;
        o.kafka = stack->kafkaSettings();
        o.topic = topic;
        o.group = "group-" + topic;
        o.redis = stack->redisEndpoint();
        o.aggregation.timeSource = time;
        return o;
    }

    std::int64_t eventsTotal()
    {
        redis::Schema schema;
        return redis::replyInteger(redisConnection->command({"GET", schema.eventsTotal()}).get());
    }

    // Waits until Redis counts at least `atLeast` valid events, or `timeout` passes.
    void waitForEvents(std::int64_t atLeast, std::chrono::milliseconds timeout = 30s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (eventsTotal() < atLeast && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(2ms);
    }

    // Compares every aggregate in Redis with the brute-force expectation.
    void verifyExact(const Expected &x, std::int64_t now)
    {
        redis::Schema schema;
        QCOMPARE(eventsTotal(), x.valid);
        QCOMPARE(redis::replyInteger(redisConnection->command({"GET", schema.badTotal()}).get()),
                 x.bad());
        const auto seedPages =
            toMap(redisConnection->command({"ZRANGE", "top_pages", "0", "-1", "WITHSCORES"}).get());
        QCOMPARE(seedPages, x.pages);
        const auto pages = toMap(
            redisConnection->command({"ZRANGE", schema.pages(), "0", "-1", "WITHSCORES"}).get());
        QCOMPARE(pages, x.pages);
        QCOMPARE(toMap(redisConnection->command({"HGETALL", schema.actions()}).get()), x.actions);
        QCOMPARE(toMap(redisConnection->command({"HGETALL", schema.badByReason()}).get()),
                 x.badReasons);

        redis::StatsOptions options;
        options.topPages = 10;
        redis::StatsReader reader(*redisConnection, options);
        const auto snap = reader.read(now);
        QCOMPARE(snap.activeUsers, x.activeSince(now - 300000));
        QCOMPARE(snap.activeUsers30m, x.activeSince(now - 1800000));
        // the seed key holds the same count, written by the last batch or heartbeat
        QCOMPARE(redis::replyInteger(redisConnection->command({"GET", "active_users"}).get()),
                 snap.activeUsers);
        std::int64_t perMinute = 0;
        for (const auto &p : snap.perMinute)
            perMinute += p.count;
        QCOMPARE(perMinute, x.valid - x.beforeTheHour);
        const auto pagesLastHour = x.pagesLastHour();
        QCOMPARE(snap.topPagesLastHour.size(), std::min<std::size_t>(10, pagesLastHour.size()));
        for (const auto &p : snap.topPagesLastHour)
            QCOMPARE(p.count, pagesLastHour.at(p.name));
        QCOMPARE(snap.topPagesAllTime.front().count,
                 std::max_element(x.pages.begin(), x.pages.end(), [](auto &a, auto &b) {
                     return a.second < b.second;
                 })->second);
        // per-user lookups for a sample of users, and for those the test names
        int checked = 0;
        for (const auto &[user, seen] : x.lastSeen) {
            if (checked++ % 150 != 0 && !x.alwaysCheck.count(user))
                continue;
            const auto activity = reader.user(user, now);
            std::map<std::string, std::int64_t> got;
            for (const auto &a : activity.actionsLastHour)
                got[a.name] = a.count;
            const auto found = x.userActions.find(user);
            const auto actions = found == x.userActions.end() ? decltype(got){} : found->second;
            QCOMPARE(got, actions);
            if (seen < now - 3'600'000) // last_seen keeps the last hour
                QCOMPARE(activity.lastSeenMs, -1);
            else if (x.seenAtReadTime.count(user))
                QVERIFY2(activity.lastSeenMs >= seen && activity.lastSeenMs <= now, user.c_str());
            else
                QCOMPARE(activity.lastSeenMs, seen);
        }
    }

    // The invariant itself: whatever Redis holds is exactly the events of the topic below the
    // offsets it stores, recounted here the slow way (totals, bad reasons, pages, actions).
    void verifyMatchesStoredOffsets(std::size_t produced)
    {
        redis::Schema schema;
        auto &redis = *redisConnection;
        std::map<int, std::int64_t> stored;
        for (const auto &[field, offset] :
             toMap(redis.command({"HGETALL", schema.offsets()}).get()))
            stored[std::stoi(field.substr(field.rfind('/') + 1))] = offset;
        Expected x;
        EventValidator validator;
        for (const auto &r : test::readAll(brokers(), topic, produced, 30s)) {
            const auto it = stored.find(r.partition);
            if (it == stored.end() || r.offset >= it->second)
                continue;
            const auto result = validator.validate(r.value);
            if (result.ok())
                x.addValid(std::string(result.event.userId), std::string(result.event.action),
                           std::string(result.event.page), 0);
            else
                x.addInvalid(r.value, std::string(reasonName(*result.error)));
        }
        const auto counter = [&](const std::string &key) {
            const auto reply = redis.command({"GET", key});
            return redis::replyIsNil(reply.get()) ? 0 : std::stoll(redis::replyString(reply.get()));
        };
        QCOMPARE(counter(schema.eventsTotal()), x.valid);
        QCOMPARE(counter(schema.badTotal()), x.bad());
        QCOMPARE(toMap(redis.command({"ZRANGE", schema.pages(), "0", "-1", "WITHSCORES"}).get()),
                 x.pages);
        // The per-minute rates are written last but one: a batch that stopped midway shows here
        // (every event of these workloads is within the last hour).
        std::int64_t perMinute = 0;
        const auto keys = redis.command({"KEYS", schema.key("rate:m:*")});
        for (std::size_t i = 0; i < keys->elements; ++i)
            for (const auto &[minute, count] :
                 toMap(redis.command({"HGETALL", redis::replyString(keys->element[i])}).get()))
                perMinute += count;
        QCOMPARE(perMinute, x.valid);
    }

    void verifyDeadLetters(const Expected &x)
    {
        const auto records = test::readAll(stack->kafkaSettings().brokers, topic + ".dlq",
                                           x.badPayloads.size(), 20s);
        std::multiset<std::string> payloads;
        std::map<std::string, std::int64_t> reasons;
        for (const auto &r : records) {
            payloads.insert(r.value);
            ++reasons[r.headers.at(kafka::kHeaderReason)];
            QVERIFY(r.headers.count(kafka::kHeaderSource));
        }
        QCOMPARE(payloads, x.badPayloads);
        QCOMPARE(reasons, x.badReasons);
    }
};

} // namespace pb::test
