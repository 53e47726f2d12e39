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
        // And nothing of any batch is in Redis.
        redis::Schema schema;
        auto &redis = *f_.redisConnection;
        QCOMPARE(redis::replyInteger(redis.command({"HLEN", schema.offsets()}).get()), 0);
        QCOMPARE(redis::replyInteger(redis.command({"EXISTS", schema.eventsTotal()}).get()), 0);
        QCOMPARE(redis::replyInteger(redis.command({"EXISTS", schema.pages()}).get()), 0);

        // Once the key is gone, the same events count exactly, once.
        redis.command({"DEL", args[1]});
        Aggregator again(f_.aggregatorOptions(EventTimeSource::Payload));
        again.run({60s, 3s});
        f_.verifyExact(w.expected, nowMs());
    }

    void givenAStaleBatch_whenApplied_thenItIsFencedAndNothingChanges()
    {
        redis::Schema schema;
        AggregationOptions options;
        redis::BatchWriter writer(*f_.redisConnection, schema, options);
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
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "tst_pipeline.moc"
