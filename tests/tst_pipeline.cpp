// The pipeline end to end against real parts: the embedded broker, a redis-server child on a
// free loopback port, the aggregator. Every figure is compared with a brute-force recomputation
// of the same events done here, independently of the aggregation code.

#include "support/pipeline_fixture.h"

#include <QProcess>
#include <QtTest>

#include <csignal>
#include <thread>

using namespace pb;
using namespace pb::test;
using namespace std::chrono_literals;

class TestPipeline : public QObject {
    Q_OBJECT

private:
    PipelineFixture f_;

    // For events whose time is "now" (Kafka record time): totals, actions and the seed keys.
    void aggregateAndCheckSeedKeys(const Expected &x)
    {
        Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::KafkaTimestamp));
        aggregator.run({60s, 3s});
        QCOMPARE(f_.eventsTotal(), x.valid);
        QCOMPARE(toMap(f_.redisConnection->command({"ZRANGE", "top_pages", "0", "-1", "WITHSCORES"})
                           .get()),
                 x.pages);
        QCOMPARE(toMap(f_.redisConnection->command({"HGETALL", redis::Schema{}.actions()}).get()),
                 x.actions);
        QCOMPARE(redis::replyInteger(f_.redisConnection->command({"GET", "active_users"}).get()),
                 static_cast<std::int64_t>(x.lastSeen.size()));
    }

private Q_SLOTS:
    void initTestCase() { f_.start(); }
    void init() { f_.nextCase(); }

    void givenKnownEvents_whenAggregated_thenEveryAggregateIsExactAndBadOnesReachTheDlq()
    {
        const auto now = nowMs();
        const auto w = makeWorkload(12000, 10, 11, now, true);
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, w.records);

        Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::Payload));
        aggregator.run({60s, 3s});
        const auto stats = aggregator.stats();
        QCOMPARE(stats.validEvents, w.expected.valid);
        QCOMPARE(stats.invalidEvents, w.expected.bad());
        f_.verifyExact(w.expected, nowMs());
        f_.verifyDeadLetters(w.expected);

        // A second group reading the same topic again changes nothing: offsets live in Redis.
        auto again = f_.aggregatorOptions(EventTimeSource::Payload);
        again.group = "another-group";
        Aggregator replay(again);
        replay.run({30s, 3s});
        QCOMPARE(replay.stats().validEvents, 0);
        f_.verifyExact(w.expected, nowMs());
    }

    void givenABacklogFetchedInSmallPieces_whenAggregated_thenBatchesGrowToTheLimitAndStayExact()
    {
        const auto now = nowMs();
        const auto w = makeWorkload(20000, 0, 12, now, true);
        // Small record batches and small fetches: the local queue runs empty many times while
        // Kafka still holds most of the backlog. Flushing each time (plain group commit) made 8-10
        // batches here instead of 4.
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, w.records,
                         {{"batch.num.messages", "20"}});

        auto options = f_.aggregatorOptions(EventTimeSource::Payload);
        options.maxBatchEvents = 5000;
        options.catchUpInterval = 30s;
        options.kafka.properties.emplace_back("max.partition.fetch.bytes", "1000");
        options.kafka.properties.emplace_back("fetch.max.bytes", "1000");
        options.kafka.properties.emplace_back("message.max.bytes", "1000");
        Aggregator aggregator(options);
        aggregator.run({60s, 3s});
        const auto stats = aggregator.stats();
        QCOMPARE(stats.validEvents, w.expected.valid);
        // Full batches, plus at most one before the first fetch told how much is waiting and
        // one for the last tenth of a batch, which is live again.
        QVERIFY2(stats.batches <= 20000 / 5000 + 2,
                 qPrintable(QStringLiteral("%1 batches").arg(stats.batches)));
        f_.verifyExact(w.expected, nowMs());
    }

    void givenBigEvents_whenAggregated_thenBatchesStayWithinTheByteBudgetAndExact()
    {
        // 3,000 valid events of about 3.5 KB: a 2,000-byte page each, distinct, and an unknown
        // field (ignored, but carried). A 256 KB byte budget must split them into at least
        // 10.5 MB / 256 KB batches, every one applied exactly.
        const auto now = nowMs();
        Workload w;
        const std::string padding(1500, 'x');
        for (int i = 0; i < 3000; ++i) {
            auto page = "/p" + std::to_string(i) + "/";
            page.resize(2000, 'a' + static_cast<char>(i % 26));
            const auto user = std::to_string(i % 700);
            const auto ts = now - 60'000 + i;
            const auto json = "{\"user_id\":" + user + ",\"action\":\"view\",\"page\":\"" + page +
                              "\",\"timestamp\":" + std::to_string(ts) + ",\"note\":\"" + padding +
                              "\"}";
            w.records.push_back({user, json, -1, 0});
            w.expected.addValid(user, "view", page, ts);
        }
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, w.records);
        auto options = f_.aggregatorOptions(EventTimeSource::Payload);
        options.maxBatchBytes = 256 << 10;
        options.catchUpInterval = 30s; // only the byte budget closes a batch
        Aggregator aggregator(options);
        aggregator.run({60s, 3s});
        const auto stats = aggregator.stats();
        QCOMPARE(stats.validEvents, w.expected.valid);
        const auto bytes = 3000 * (static_cast<std::int64_t>(w.records[0].value.size()) + 3);
        QVERIFY2(stats.batches >= bytes / ((256 << 10) + 4096), // one event over, at most
                 qPrintable(QStringLiteral("%1 batches").arg(stats.batches)));
        f_.verifyExact(w.expected, nowMs());
    }

    void givenAUserSeenInTheFarFuture_whenABatchComes_thenTheScoreIsTrimmedAndNotActive()
    {
        // A last_seen score from before event times were bounded (or from another program):
        // the year 9999. It must not count as an active user for ever.
        redis::Schema schema;
        f_.redisConnection->command({"ZADD", schema.lastSeen(), "253402300799000", "ghost"});
        const auto now = nowMs();
        const auto w = makeWorkload(2000, 0, 33, now, true);
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, w.records);
        Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::Payload));
        aggregator.run({60s, 3s});
        QVERIFY(redis::replyIsNil(
            f_.redisConnection->command({"ZSCORE", schema.lastSeen(), "ghost"}).get()));
        f_.verifyExact(w.expected, nowMs()); // active users: exactly the workload's
    }

    void givenAnotherProgramsKeyInOurNamespace_whenABatchComes_thenNothingIsWritten_data()
    {
        QTest::addColumn<QStringList>("command");
        redis::Schema schema;
        // Both are written after the offsets and the totals: a function failing there would
        // leave those behind.
        QTest::newRow("a list where last seen goes")
            << QStringList{"RPUSH", QString::fromStdString(schema.lastSeen()), "not", "ours"};
        QTest::newRow("text where a counter goes")
            << QStringList{"SET", QString::fromStdString(schema.badTotal()), "lots"};
        // Digits Lua's pattern took for an integer, which INCRBY then refused after the offsets
        // were written (#10).
        QTest::newRow("a counter with a leading zero")
            << QStringList{"SET", QString::fromStdString(schema.eventsTotal()), "007"};
        QTest::newRow("a counter beyond int64") << QStringList{
            "SET", QString::fromStdString(schema.lostTotal()), "99999999999999999999"};
        // Fields of our hashes that HINCRBY would refuse after the offsets were written (found
        // in review).
        QTest::newRow("an action count next to the int64 limit") << QStringList{
            "HSET", QString::fromStdString(schema.actions()), "view", "9223372036854775800"};
        QTest::newRow("text where a bad-reason count goes") << QStringList{
            "HSET", QString::fromStdString(schema.badByReason()), "not_json", "many"};
        QTest::newRow("a string where a minute's pages go") << QStringList{
            "SET", QString::fromStdString(schema.pagesMinute(nowMs() / 60000 - 1)), "x"};
        QTest::newRow("a list where the hour's pages go")
            << QStringList{"RPUSH", QString::fromStdString(schema.pagesHour()), "x"};
        QTest::newRow("text where the hour set's state says its minute") << QStringList{
            "HSET", QString::fromStdString(schema.pagesHourState()), "through", "soon"};
    }

    void givenAnotherProgramsKeyInOurNamespace_whenABatchComes_thenNothingIsWritten()
    {
        QFETCH(QStringList, command);
        const auto now = nowMs();
        const auto w = makeWorkload(3000, 2, 13, now, true);
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, w.records);
        std::vector<std::string> args;
        for (const auto &arg : command)
            args.push_back(arg.toStdString());
        f_.redisConnection->command(args);

        // Then the aggregator stops with an error naming the key and what to do.
        QString message;
        try {
            Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::Payload));
            aggregator.run({30s, 3s});
        } catch (const Error &e) {
            message = QString::fromUtf8(e.what());
        }
        QVERIFY2(message.contains(command[1]) && message.contains("--namespace"),
                 qPrintable(message));
        // And no batch was half-applied: Redis holds exactly the events below its offsets (a
        // batch without the planted key may have applied before one with it).
        redis::Schema schema;
        auto &redis = *f_.redisConnection;
        if (args[1] == schema.eventsTotal() || args[1] == schema.badTotal()) {
            // Every batch checks the counters: none applied, the offsets are where counting
            // starts.
            for (const auto &[field, offset] :
                 toMap(redis.command({"HGETALL", schema.offsets()}).get()))
                QCOMPARE(offset, 0);
        } else {
            f_.verifyMatchesStoredOffsets(w.records.size());
        }
        QCOMPARE(redis::replyInteger(redis.command({"EXISTS", args[1]}).get()), 1);

        // Once the key is gone, the same events count exactly, once.
        redis.command({"DEL", args[1]});
        Aggregator again(f_.aggregatorOptions(EventTimeSource::Payload));
        again.run({60s, 3s});
        f_.verifyExact(w.expected, nowMs());
    }

    void givenStoredCountsOfEveryLength_whenABatchAddsToThem_thenEachSumIsExact()
    {
        // pb_apply_v3 adds in Lua what has at most 15 digits (exact below 2^53) and leaves
        // longer counters to HINCRBY: both sides of that line, negative counters too.
        redis::Schema schema;
        AggregationOptions options;
        redis::BatchWriter writer(*f_.redisConnection, schema, options);
        auto &redis = *f_.redisConnection;
        const auto now = nowMs();
        const auto userField = schema.userActionsMinute(now / 60000);
        const std::vector<std::int64_t> stored{0,
                                               1,
                                               -7,
                                               99'999'999'999'999,
                                               999'999'999'999'999,
                                               -99'999'999'999'999,
                                               1'000'000'000'000'000,
                                               9'007'199'254'740'993,
                                               999'999'999'999'999'996};
        const auto user = [](const char *id) {
            return std::string("view") + kFieldSeparator + id;
        };
        const auto hget = [&redis](const std::string &key, const std::string &field) {
            return redis::replyString(redis.command({"HGET", key, field}).get());
        };
        for (std::size_t i = 0; i < stored.size(); ++i) {
            const auto value = std::to_string(stored[i]);
            redis.command({"HSET", schema.actions(), "view", value});
            redis.command({"HSET", userField, user("1"), value});
            BatchAggregate batch(options);
            for (int e = 0; e < 3; ++e)
                batch.addValid({"1", "view", "/a", std::nullopt}, now, now, "{}", "t/0", e);
            // a field next to them that is new, in the same call
            batch.addValid({"2", "view", "/a", std::nullopt}, now, now, "{}", "t/0", 3);
            const auto result =
                writer.apply(batch, "t", {{static_cast<int>(i), kNoOffset, 4, 0}}, now);
            QVERIFY(result.applied);
            QCOMPARE(hget(schema.actions(), "view"), std::to_string(stored[i] + 4));
            QCOMPARE(hget(userField, user("1")), std::to_string(stored[i] + 3));
            QCOMPARE(hget(userField, user("2")), std::string("1"));
            redis.command({"DEL", userField});
        }
    }

    void givenAStaleBatch_whenApplied_thenItIsFencedAndNothingChanges()
    {
        redis::Schema schema;
        AggregationOptions options;
        redis::BatchWriter writer(*f_.redisConnection, schema, options);
        BatchAggregate batch(options);
        batch.addValid({"1", "view", "/a", std::nullopt}, nowMs(), nowMs(), "{}", "t/0", 0);
        // First write from nothing stored: applies.
        auto result = writer.apply(batch, "t", {{0, kNoOffset, 1, 0}}, nowMs());
        QVERIFY(result.applied);
        // The same batch again (a replay): refused, and Redis says where it stands.
        result = writer.apply(batch, "t", {{0, kNoOffset, 1, 0}}, nowMs());
        QVERIFY(!result.applied);
        QCOMPARE(result.mismatches.size(), std::size_t(1));
        QCOMPARE(result.mismatches[0].stored, 1);
        // A zombie that believes the partition is at 0 while another member moved it to 1.
        result = writer.apply(batch, "t", {{0, 0, 1, 0}}, nowMs());
        QVERIFY(!result.applied);
        QCOMPARE(f_.eventsTotal(), 1);
        QCOMPARE(writer.storedOffsets("t", {0, 1}), (std::vector<std::int64_t>{1, -1}));
    }

    void givenEventsFromKcat_whenAggregated_thenTheSeedKeysAreExact()
    {
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
        producer.start(kcat, {"-P", "-b", QString::fromStdString(f_.stack->kafkaSettings().brokers),
                              "-t", QString::fromStdString(f_.topic)});
        QVERIFY(producer.waitForStarted(5000));
        producer.write(input);
        producer.closeWriteChannel();
        QVERIFY(producer.waitForFinished(30000));
        QCOMPARE(producer.exitCode(), 0);

        aggregateAndCheckSeedKeys(x);
    }

    void givenEventsFromKafkaPython_whenAggregated_thenTheyAreExact()
    {
        // Debian's python3-kafka lives in the system interpreter, not in any virtualenv.
        const QString python = "/usr/bin/python3";
        QVERIFY2(QFileInfo::exists(python), "no /usr/bin/python3: run scripts/install-deps.sh");
        const char *script = R"PY(
import json, sys
from kafka import KafkaProducer
brokers, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = KafkaProducer(bootstrap_servers=brokers, acks="all")
for i in range(n):
    e = {"user_id": "py-%d" % (i % 97), "action": ["view", "click"][i % 2],
         "page": "/py/%d" % (i % 13), "ignored": {"nested": [i]}}
    p.send(topic, json.dumps(e).encode())
p.flush()
)PY";
        QProcess producer;
        producer.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        producer.start(python, {"-c", script, QString::fromStdString(f_.brokers()),
                                QString::fromStdString(f_.topic), "2000"});
        QVERIFY(producer.waitForFinished(60000));
        QVERIFY2(producer.exitCode() == 0, "kafka-python could not produce: is python3-kafka "
                                           "installed (scripts/install-deps.sh)?");
        Expected x;
        for (int i = 0; i < 2000; ++i)
            x.addValid("py-" + std::to_string(i % 97), i % 2 ? "click" : "view",
                       "/py/" + std::to_string(i % 13), nowMs());
        aggregateAndCheckSeedKeys(x);
    }
    void givenKafkaTimestampsInNanoseconds_whenAggregated_thenTheyCountAtTheTimeTheyCame()
    {
        // A producer that sets nanoseconds: before, PEXPIREAT got Lua's exponent form and failed
        // after the offsets and totals were written, half-applying the batch for ever.
        std::vector<test::Record> records;
        const auto nanos = nowMs() * 1'000'000;
        for (int i = 0; i < 300; ++i)
            records.push_back({"k",
                               "{\"user_id\":" + std::to_string(i % 30) +
                                   ",\"action\":\"view\",\"page\":\"/ns\"}",
                               -1, nanos});
        const auto before = nowMs();
        test::produceAll(f_.brokers(), f_.topic, records);
        Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::KafkaTimestamp));
        aggregator.run({30s, 3s});
        const auto after = nowMs();
        QCOMPARE(f_.eventsTotal(), 300);
        redis::Schema schema;
        auto &redis = *f_.redisConnection;
        // Every user was last seen when the aggregator read them, not in the year 55,000.
        const auto seen =
            toMap(redis.command({"ZRANGE", schema.lastSeen(), "0", "-1", "WITHSCORES"}).get());
        QCOMPARE(seen.size(), std::size_t{30});
        for (const auto &[user, ms] : seen)
            QVERIFY2(ms >= before && ms <= after, qPrintable(QString::number(ms)));
        // And no key outlives the hour it serves (its minute, an hour and a 5-minute grace; a
        // per-minute rate hash holds a whole hour).
        const auto keys = redis.command({"KEYS", schema.prefix() + "*:m:*"});
        QVERIFY(keys->elements >= 3);
        for (std::size_t i = 0; i < keys->elements; ++i) {
            const auto key = redis::replyString(keys->element[i]);
            const auto ttl = redis::replyInteger(redis.command({"PTTL", key}).get());
            const std::int64_t limit = key.find(":rate:m:") != std::string::npos ? 126 : 66;
            QVERIFY2(ttl > 0 && ttl <= limit * 60 * 1000,
                     qPrintable(QString("%1: %2 ms").arg(key.c_str()).arg(ttl)));
        }
    }

    void givenTwoNamespaces_whenBothAggregate_thenTheyShareNoKey()
    {
        // The seed keys (active_users, top_pages) are global names: only the default namespace
        // writes them, or two namespaces would add into one another's.
        const auto w = makeWorkload(2000, 1, 31, nowMs(), true);
        test::produceAll(f_.brokers(), f_.topic, w.records);
        auto options = f_.aggregatorOptions(EventTimeSource::Payload);
        options.schema.ns = "tenant-b";
        options.group = "group-b";
        Aggregator aggregator(options);
        aggregator.run({30s, 3s});
        auto &redis = *f_.redisConnection;
        const auto keys = redis.command({"KEYS", "*"});
        QVERIFY(keys->elements > 0);
        for (std::size_t i = 0; i < keys->elements; ++i) {
            const auto key = redis::replyString(keys->element[i]);
            QVERIFY2(key.rfind("tenant-b:", 0) == 0, key.c_str());
        }
        QCOMPARE(redis::replyInteger(redis.command({"GET", options.schema.eventsTotal()}).get()),
                 w.expected.valid);
    }

    void givenCooperativeRebalancing_whenASecondMemberJoins_thenBothConsumeAndTheResultIsExact()
    {
        // Before, the eager assign() in a cooperative group was refused: nothing was consumed
        // and nothing reported. The second member joins while the first holds every partition
        // and has a batch in hand; the rest of the events come once it has its share.
        const auto w = makeWorkload(40000, 1, 32, nowMs(), true);
        const auto quarter = static_cast<long>(w.records.size() / 4);
        auto options = f_.aggregatorOptions(EventTimeSource::Payload);
        options.kafka.properties.emplace_back("partition.assignment.strategy",
                                              "cooperative-sticky");
        options.maxBatchEvents = 500;
        // Cooperative rebalancing takes two rounds; the embedded broker's delay per round
        // follows the session timeout.
        options.sessionTimeout = kEmbeddedSessionTimeout;
        Aggregator first(options);
        Aggregator second(options);
        std::thread a([&] { first.run({90s, 4s}); });
        test::produceAll(f_.brokers(), f_.topic, {w.records.begin(), w.records.begin() + quarter});
        f_.waitForEvents(2000);
        QVERIFY2(f_.eventsTotal() >= 2000, "the first cooperative member consumed nothing");
        std::thread b([&] { second.run({90s, 4s}); });
        std::thread producer([&] {
            // A steady trickle while the group rebalances, the rest once both hold partitions.
            auto next = w.records.begin() + quarter;
            const auto deadline = std::chrono::steady_clock::now() + 40s;
            while (next != w.records.end() && std::chrono::steady_clock::now() < deadline &&
                   (second.stats().partitions.empty() || first.stats().partitions.size() == 4)) {
                const auto end = std::min(next + 100, w.records.end());
                test::produceAll(f_.brokers(), f_.topic, {next, end});
                next = end;
                std::this_thread::sleep_for(100ms);
            }
            test::produceAll(f_.brokers(), f_.topic, {next, w.records.end()});
        });
        producer.join();
        a.join();
        b.join();
        QVERIFY2(second.stats().validEvents > 0, "the second member was given nothing");
        QCOMPARE(first.stats().validEvents + second.stats().validEvents, w.expected.valid);
        f_.verifyExact(w.expected, nowMs());
    }

    void givenAnOversizedBadRecord_whenAggregated_thenItReachesTheDlqCutShortAndNothingStops()
    {
        // A 1.5 MB record that is not JSON: forwarding it whole failed with MSG_SIZE_TOO_LARGE,
        // fatal, and every restart died on it again. And a tiny one with a 700 KB key.
        const std::string huge(1'500'000, '<');
        const std::string hugeKey(700'000, 'k');
        const std::vector<test::Record> records{
            {"k", R"({"user_id":1,"action":"view","page":"/a"})", 0, 0},
            {"k", huge, 0, 0},
            {hugeKey, "nah", 0, 0},
            {"k", R"({"user_id":2,"action":"view","page":"/b"})", 0, 0}};
        test::produceAll(f_.brokers(), f_.topic, records, {{"message.max.bytes", "4000000"}});
        Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::KafkaTimestamp));
        aggregator.run({30s, 3s});
        QCOMPARE(f_.eventsTotal(), 2);
        redis::Schema schema;
        QCOMPARE(redis::replyInteger(f_.redisConnection->command({"GET", schema.badTotal()}).get()),
                 2);
        auto dead = test::readAll(f_.brokers(), f_.topic + ".dlq", 2, 20s);
        QCOMPARE(dead.size(), std::size_t{2});
        std::sort(dead.begin(), dead.end(),
                  [](const auto &a, const auto &b) { return a.value.size() > b.value.size(); });
        QCOMPARE(dead[0].value, huge.substr(0, kafka::kMaxDeadLetterBytes));
        QCOMPARE(dead[0].key, std::string("")); // the budget went to the payload
        QCOMPARE(dead[0].headers.at(kafka::kHeaderTruncated), std::string("1500000,1"));
        QCOMPARE(dead[0].headers.at(kafka::kHeaderSource), f_.topic + "/0/1");
        QCOMPARE(dead[0].headers.at(kafka::kHeaderReason), std::string("not_json"));
        QCOMPARE(dead[1].value, std::string("nah"));
        QCOMPARE(dead[1].key.size(), kafka::kMaxDeadLetterBytes - 3);
        QCOMPARE(dead[1].headers.at(kafka::kHeaderTruncated), std::string("3,700000"));
        QCOMPARE(dead[1].headers.at(kafka::kHeaderSource), f_.topic + "/0/2");
    }
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "tst_pipeline.moc"
