// The pipeline end to end against real parts: the embedded broker, a redis-server child on a
// free loopback port, the aggregator. Every figure is compared with a brute-force recomputation
// of the same events done here, independently of the aggregation code.

#include "core/event.h"
#include "core/event_generator.h"
#include "kafka/dead_letter_producer.h"
#include "pipeline/aggregator.h"
#include "pipeline/embedded_stack.h"
#include "redis/batch_writer.h"
#include "redis/stats_reader.h"
#include "support/kafka_test_client.h"

#include <QProcess>
#include <QtTest>

#include <csignal>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace pb;
using namespace std::chrono_literals;

namespace {

std::int64_t nowMs() {
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

    void addValid(const std::string &user, const std::string &action, const std::string &page,
                  std::int64_t ts) {
        ++valid;
        ++pages[page];
        ++actions[action];
        auto &seen = lastSeen[user];
        seen = std::max(seen, ts);
        ++userActions[user][action];
    }
    void addInvalid(const std::string &payload, const std::string &reason) {
        ++badReasons[reason];
        badPayloads.insert(payload);
    }
    std::int64_t activeSince(std::int64_t since) const {
        std::int64_t n = 0;
        for (const auto &[user, ts] : lastSeen)
            n += ts > since ? 1 : 0;
        return n;
    }
    std::int64_t bad() const {
        std::int64_t n = 0;
        for (const auto &[reason, count] : badReasons)
            n += count;
        return n;
    }
};

// Malformed events and the reason each must be counted under.
const std::vector<std::pair<std::string, std::string>> &malformedCorpus() {
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
Workload makeWorkload(int valid, int badRounds, std::uint64_t seed, std::int64_t now,
                      bool payloadTime) {
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

std::map<std::string, std::int64_t> toMap(const redisReply *reply) {
    std::map<std::string, std::int64_t> m;
    for (std::size_t i = 0; i + 1 < reply->elements; i += 2)
        m[redis::replyString(reply->element[i])] =
            static_cast<std::int64_t>(std::stod(redis::replyString(reply->element[i + 1])));
    return m;
}

} // namespace

class TestPipeline : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<EmbeddedStack> stack_;
    std::unique_ptr<redis::Connection> redis_;
    int topicCounter_ = 0;
    std::string topic_;

    AggregatorOptions aggregatorOptions(EventTimeSource time) const {
        AggregatorOptions o;
        o.kafka = stack_->kafkaSettings();
        o.topic = topic_;
        o.group = "group-" + topic_;
        o.redis = stack_->redisEndpoint();
        o.aggregation.timeSource = time;
        return o;
    }

    std::int64_t eventsTotal() {
        redis::Schema schema;
        return redis::replyInteger(redis_->command({"GET", schema.eventsTotal()}).get());
    }

    // Compares every aggregate in Redis with the brute-force expectation.
    void verifyExact(const Expected &x, std::int64_t now) {
        redis::Schema schema;
        QCOMPARE(eventsTotal(), x.valid);
        QCOMPARE(redis::replyInteger(redis_->command({"GET", schema.badTotal()}).get()), x.bad());
        const auto seedPages =
            toMap(redis_->command({"ZRANGE", "top_pages", "0", "-1", "WITHSCORES"}).get());
        QCOMPARE(seedPages, x.pages);
        const auto pages =
            toMap(redis_->command({"ZRANGE", schema.pages(), "0", "-1", "WITHSCORES"}).get());
        QCOMPARE(pages, x.pages);
        QCOMPARE(toMap(redis_->command({"HGETALL", schema.actions()}).get()), x.actions);
        QCOMPARE(toMap(redis_->command({"HGETALL", schema.badByReason()}).get()), x.badReasons);

        redis::StatsOptions options;
        options.topPages = 10;
        redis::StatsReader reader(*redis_, options);
        const auto snap = reader.read(now);
        QCOMPARE(snap.activeUsers, x.activeSince(now - 300000));
        QCOMPARE(snap.activeUsers30m, x.activeSince(now - 1800000));
        // the seed key holds the same count, written by the last batch or heartbeat
        QCOMPARE(redis::replyInteger(redis_->command({"GET", "active_users"}).get()),
                 snap.activeUsers);
        std::int64_t perMinute = 0;
        for (const auto &p : snap.perMinute)
            perMinute += p.count;
        QCOMPARE(perMinute, x.valid); // every event is within the last hour
        QCOMPARE(snap.topPagesLastHour.size(), std::min<std::size_t>(10, x.pages.size()));
        for (const auto &p : snap.topPagesLastHour)
            QCOMPARE(p.count, x.pages.at(p.name));
        QCOMPARE(snap.topPagesAllTime.front().count,
                 std::max_element(x.pages.begin(), x.pages.end(), [](auto &a, auto &b) {
                     return a.second < b.second;
                 })->second);
        // per-user lookups for a sample of users
        int checked = 0;
        for (const auto &[user, actions] : x.userActions) {
            if (checked++ % 150 != 0)
                continue;
            const auto activity = reader.user(user, now);
            std::map<std::string, std::int64_t> got;
            for (const auto &a : activity.actionsLastHour)
                got[a.name] = a.count;
            QCOMPARE(got, actions);
            QCOMPARE(activity.lastSeenMs, x.lastSeen.at(user));
        }
    }

    void verifyDeadLetters(const Expected &x) {
        const auto records = test::readAll(stack_->kafkaSettings().brokers, topic_ + ".dlq",
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

private Q_SLOTS:
    void initTestCase() {
        stack_ = std::make_unique<EmbeddedStack>();
        redis_ = std::make_unique<redis::Connection>(stack_->redisEndpoint());
        redis_->connect();
    }

    void init() {
        // A fresh topic and an empty Redis for each case.
        topic_ = "activity-" + std::to_string(++topicCounter_);
        stack_->broker().createTopic(topic_, 4);
        stack_->broker().createTopic(topic_ + ".dlq", 4);
        redis_->command({"FLUSHALL"});
    }

    void givenKnownEvents_whenAggregated_thenEveryAggregateIsExactAndBadOnesReachTheDlq() {
        const auto now = nowMs();
        const auto w = makeWorkload(12000, 10, 11, now, true);
        test::produceAll(stack_->kafkaSettings().brokers, topic_, w.records);

        Aggregator aggregator(aggregatorOptions(EventTimeSource::Payload));
        aggregator.run({60s, 3s});
        const auto stats = aggregator.stats();
        QCOMPARE(stats.validEvents, w.expected.valid);
        QCOMPARE(stats.invalidEvents, w.expected.bad());
        verifyExact(w.expected, nowMs());
        verifyDeadLetters(w.expected);

        // A second group reading the same topic again changes nothing: offsets live in Redis.
        auto again = aggregatorOptions(EventTimeSource::Payload);
        again.group = "another-group";
        Aggregator replay(again);
        replay.run({30s, 3s});
        QCOMPARE(replay.stats().validEvents, 0);
        verifyExact(w.expected, nowMs());
    }

    void givenAnAggregatorStoppedMidStream_whenRestarted_thenTheResultIsExact() {
        const auto now = nowMs();
        const auto w = makeWorkload(30000, 2, 12, now, true);
        test::produceAll(stack_->kafkaSettings().brokers, topic_, w.records);

        auto options = aggregatorOptions(EventTimeSource::Payload);
        options.maxBatchEvents = 500; // many batches, so there is a middle to stop in
        Aggregator first(options);
        std::thread runner([&] { first.run({60s, 0ms}); });
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (eventsTotal() < 3000 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(5ms);
        first.requestStop();
        runner.join();
        const auto part = eventsTotal();
        QVERIFY2(part > 0 && part < w.expected.valid, "the first run should stop mid-stream");

        Aggregator second(options);
        second.run({60s, 3s});
        QCOMPARE(first.stats().validEvents + second.stats().validEvents, w.expected.valid);
        verifyExact(w.expected, nowMs());
    }

    void givenAnAggregatorKilledMidStream_whenAnotherTakesOver_thenTheResultIsExact() {
        const auto now = nowMs();
        const auto w = makeWorkload(40000, 1, 13, now, true);
        test::produceAll(stack_->kafkaSettings().brokers, topic_, w.records);

        QProcess victim;
        victim.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        victim.start(PULSEBOARD_CLI, {"aggregate", "--brokers",
                                      QString::fromStdString(stack_->kafkaSettings().brokers),
                                      "--topic", QString::fromStdString(topic_), "--group",
                                      QString::fromStdString("group-" + topic_), "--redis",
                                      QString::fromStdString(stack_->redisEndpoint().toString()),
                                      "--event-time", "payload", "--batch-events", "300"});
        QVERIFY2(victim.waitForStarted(5000), "pulseboard-cli did not start");
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (eventsTotal() < 2000 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(2ms);
        ::kill(static_cast<pid_t>(victim.processId()), SIGKILL);
        QVERIFY(victim.waitForFinished(5000));
        const auto part = eventsTotal();
        QVERIFY2(part > 0 && part < w.expected.valid, "the victim should die mid-stream");

        // The same group: the dead member's partitions come free after its session timeout.
        const auto takeoverStart = std::chrono::steady_clock::now();
        Aggregator survivor(aggregatorOptions(EventTimeSource::Payload));
        survivor.run({90s, 4s});
        const auto took = std::chrono::steady_clock::now() - takeoverStart;
        QVERIFY2(took < 40s, "takeover took too long");
        verifyExact(w.expected, nowMs());
    }

    void givenAStaleBatch_whenApplied_thenItIsFencedAndNothingChanges() {
        redis::Schema schema;
        AggregationOptions options;
        redis::BatchWriter writer(*redis_, schema, options);
        BatchAggregate batch(options);
        batch.addValid({"1", "view", "/a", std::nullopt}, nowMs(), nowMs(), "{}", "t/0", 0);
        // First write from nothing stored: applies.
        auto result = writer.apply(batch, {{"t", 0, redis::kNoOffset, 1}}, 0, nowMs());
        QVERIFY(result.applied);
        // The same batch again (a replay): refused, and Redis says where it stands.
        result = writer.apply(batch, {{"t", 0, redis::kNoOffset, 1}}, 0, nowMs());
        QVERIFY(!result.applied);
        QCOMPARE(result.mismatches.size(), std::size_t(1));
        QCOMPARE(result.mismatches[0].stored, 1);
        // A zombie that believes the partition is at 0 while another member moved it to 1.
        result = writer.apply(batch, {{"t", 0, 0, 1}}, 0, nowMs());
        QVERIFY(!result.applied);
        QCOMPARE(eventsTotal(), 1);
        QCOMPARE(writer.storedOffsets("t", {0, 1}), (std::vector<std::int64_t>{1, -1}));
    }

    void givenEventsFromKcat_whenAggregated_thenTheSeedKeysAreExact() {
        const auto kcat = QStandardPaths::findExecutable("kcat");
        QVERIFY2(!kcat.isEmpty(), "kcat is not installed: run scripts/install-deps.sh");
        const auto now = nowMs();
        const auto w = makeWorkload(3000, 1, 14, now, false);
        QByteArray input;
        for (const auto &r : w.records) {
            if (r.value.empty() || r.value.find('\n') != std::string::npos)
                continue; // kcat cannot send an empty or multi-line record in this mode
            input += QByteArray::fromStdString(r.value) + '\n';
        }
        // Kafka record time is when kcat sends: all events are active now.
        Expected x;
        for (const auto &r : w.records) {
            if (r.value.empty() || r.value.find('\n') != std::string::npos)
                continue;
            EventValidator v;
            const auto result = v.validate(r.value);
            if (result.ok())
                x.addValid(std::string(result.event.userId), std::string(result.event.action),
                           std::string(result.event.page), now);
        }
        QProcess producer;
        producer.start(kcat, {"-P", "-b", QString::fromStdString(stack_->kafkaSettings().brokers),
                              "-t", QString::fromStdString(topic_)});
        QVERIFY(producer.waitForStarted(5000));
        producer.write(input);
        producer.closeWriteChannel();
        QVERIFY(producer.waitForFinished(30000));
        QCOMPARE(producer.exitCode(), 0);

        Aggregator aggregator(aggregatorOptions(EventTimeSource::KafkaTimestamp));
        aggregator.run({60s, 3s});
        QCOMPARE(eventsTotal(), x.valid);
        QCOMPARE(toMap(redis_->command({"ZRANGE", "top_pages", "0", "-1", "WITHSCORES"}).get()),
                 x.pages);
        QCOMPARE(redis::replyInteger(redis_->command({"GET", "active_users"}).get()),
                 static_cast<std::int64_t>(x.lastSeen.size()));
    }

    void givenRedisRestartedEmpty_whenTheAggregatorNotices_thenItRebuildsFromKafka() {
        const auto now = nowMs();
        const auto w = makeWorkload(8000, 1, 15, now, true);
        const std::vector<test::Record> firstHalf(w.records.begin(), w.records.begin() + 4000);
        const std::vector<test::Record> secondHalf(w.records.begin() + 4000, w.records.end());
        test::produceAll(stack_->kafkaSettings().brokers, topic_, firstHalf);

        Aggregator aggregator(aggregatorOptions(EventTimeSource::Payload));
        std::thread runner([&] { aggregator.run({120s, 0ms}); });
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (eventsTotal() < 3900 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        // Redis goes away and comes back empty (no persistence), the aggregator keeps running.
        stack_->redis().stop();
        std::this_thread::sleep_for(500ms);
        stack_->redis().start();
        test::produceAll(stack_->kafkaSettings().brokers, topic_, secondHalf);
        deadline = std::chrono::steady_clock::now() + 60s;
        std::int64_t total = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            try {
                total = eventsTotal();
            } catch (const Error &) {
                total = 0;
            }
            if (total >= w.expected.valid)
                break;
            std::this_thread::sleep_for(50ms);
        }
        std::this_thread::sleep_for(1s); // anything more would be double counting: let it show
        aggregator.requestStop();
        runner.join();
        QVERIFY(aggregator.stats().rewinds >= 1);
        verifyExact(w.expected, nowMs());
    }
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "tst_pipeline.moc"
