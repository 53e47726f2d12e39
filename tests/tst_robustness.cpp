// Faults: stops, crashes, rebalances and a Redis that comes back empty. After each, Redis must
// hold exactly what a brute-force recomputation of the same events gives: nothing lost,
// nothing counted twice.

#include "support/pipeline_fixture.h"

#include <QProcess>
#include <QtTest>

#include <csignal>
#include <thread>

using namespace pb;
using namespace pb::test;
using namespace std::chrono_literals;

namespace {

QStringList aggregateArgs(const PipelineFixture &f)
{
    return {"aggregate",
            "--brokers",
            QString::fromStdString(f.brokers()),
            "--topic",
            QString::fromStdString(f.topic),
            "--group",
            QString::fromStdString("group-" + f.topic),
            "--redis",
            QString::fromStdString(f.stack->redisEndpoint().toString()),
            "--event-time",
            "payload",
            "--batch-events",
            "300"};
}

} // namespace

class TestRobustness : public QObject {
    Q_OBJECT

    PipelineFixture f_;

private Q_SLOTS:
    void initTestCase() { f_.start(); }
    void init() { f_.nextCase(); }

    void givenAnAggregatorStoppedMidStream_whenRestarted_thenTheResultIsExact()
    {
        const auto now = nowMs();
        const auto w = makeWorkload(30000, 2, 12, now, true);
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, w.records);

        auto options = f_.aggregatorOptions(EventTimeSource::Payload);
        options.maxBatchEvents = 500; // many batches, so there is a middle to stop in
        Aggregator first(options);
        std::thread runner([&] { first.run({60s, 0ms}); });
        f_.waitForEvents(3000);
        first.requestStop();
        runner.join();
        const auto part = f_.eventsTotal();
        QVERIFY2(part > 0 && part < w.expected.valid, "the first run should stop mid-stream");

        Aggregator second(options);
        second.run({60s, 3s});
        QCOMPARE(first.stats().validEvents + second.stats().validEvents, w.expected.valid);
        f_.verifyExact(w.expected, nowMs());
    }

    void givenAnAggregatorKilledMidStream_whenAnotherTakesOver_thenTheResultIsExact()
    {
        const auto now = nowMs();
        const auto w = makeWorkload(40000, 1, 13, now, true);
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, w.records);

        QProcess victim;
        victim.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        victim.start(PULSEBOARD_CLI,
                     {"aggregate", "--brokers",
                      QString::fromStdString(f_.stack->kafkaSettings().brokers), "--topic",
                      QString::fromStdString(f_.topic), "--group",
                      QString::fromStdString("group-" + f_.topic), "--redis",
                      QString::fromStdString(f_.stack->redisEndpoint().toString()), "--event-time",
                      "payload", "--batch-events", "300", "--session-timeout", "3s"});
        QVERIFY2(victim.waitForStarted(5000), "pulseboard-cli did not start");
        f_.waitForEvents(2000);
        ::kill(static_cast<pid_t>(victim.processId()), SIGKILL);
        QVERIFY(victim.waitForFinished(5000));
        const auto part = f_.eventsTotal();
        QVERIFY2(part > 0 && part < w.expected.valid, "the victim should die mid-stream");

        // The same group: the dead member's partitions come free after its session timeout,
        // then the survivor resumes from the offsets in Redis (3 s: kEmbeddedSessionTimeout, as
        // the embedded stack uses).
        const auto killedAt = std::chrono::steady_clock::now();
        auto options = f_.aggregatorOptions(EventTimeSource::Payload);
        options.sessionTimeout = kEmbeddedSessionTimeout;
        Aggregator survivor(options);
        std::thread runner([&] { survivor.run({90s, 4s}); });
        while (survivor.stats().batches == 0 && std::chrono::steady_clock::now() - killedAt < 60s)
            std::this_thread::sleep_for(10ms);
        const auto stats = survivor.stats();
        runner.join();
        QVERIFY2(stats.batches > 0, "the survivor never applied a batch");
        const auto takeover = stats.firstAccounted - killedAt;
        QVERIFY2(
            takeover > 0s && takeover < 10s,
            qPrintable(
                QString("takeover took %1 ms")
                    .arg(std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count())));
        f_.verifyExact(w.expected, nowMs());
    }

    void givenRedisRestartedEmpty_whenTheAggregatorNotices_thenItRebuildsFromKafka()
    {
        const auto now = nowMs();
        const auto w = makeWorkload(8000, 1, 15, now, true);
        const std::vector<test::Record> firstHalf(w.records.begin(), w.records.begin() + 4000);
        const std::vector<test::Record> secondHalf(w.records.begin() + 4000, w.records.end());
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, firstHalf);

        Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::Payload));
        std::thread runner([&] { aggregator.run({120s, 0ms}); });
        f_.waitForEvents(3900);
        // Redis goes away and comes back empty (no persistence), the aggregator keeps running.
        f_.stack->redis().stop();
        std::this_thread::sleep_for(500ms);
        f_.stack->redis().start();
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, secondHalf);
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        std::int64_t total = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            try {
                total = f_.eventsTotal();
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
        f_.verifyExact(w.expected, nowMs());
    }

    void givenTwoAggregators_whenTheSecondJoinsMidStream_thenTheRebalanceLosesAndRepeatsNothing()
    {
        // Events keep coming for about 8 s, so the rebalance happens mid-stream.
        const auto w = makeWorkload(60000, 1, 16, nowMs(), true);
        std::thread producer([&] {
            constexpr std::size_t chunk = 1500;
            for (std::size_t i = 0; i < w.records.size(); i += chunk) {
                const auto end = std::min(w.records.size(), i + chunk);
                test::produceAll(f_.brokers(), f_.topic,
                                 {w.records.begin() + static_cast<long>(i),
                                  w.records.begin() + static_cast<long>(end)});
                std::this_thread::sleep_for(200ms);
            }
        });
        auto options = f_.aggregatorOptions(EventTimeSource::Payload);
        options.maxBatchEvents = 300;
        Aggregator first(options);
        Aggregator second(options);
        std::thread a([&] { first.run({90s, 4s}); });
        f_.waitForEvents(3000);
        std::thread b([&] { second.run({90s, 4s}); });
        producer.join();
        a.join();
        b.join();
        QVERIFY2(first.stats().validEvents > 0 && second.stats().validEvents > 0,
                 "both members should have aggregated a share");
        QCOMPARE(first.stats().validEvents + second.stats().validEvents, w.expected.valid);
        f_.verifyExact(w.expected, nowMs());
    }

    void givenTheCliAggregator_whenItGetsSigterm_thenItFlushesAndLeavesCleanly()
    {
        const auto w = makeWorkload(20000, 1, 17, nowMs(), true);
        test::produceAll(f_.brokers(), f_.topic, w.records);
        QProcess aggregator;
        aggregator.start(PULSEBOARD_CLI, aggregateArgs(f_));
        QVERIFY2(aggregator.waitForStarted(5000), "pulseboard-cli did not start");
        f_.waitForEvents(1000);
        aggregator.terminate(); // SIGTERM
        QVERIFY(aggregator.waitForFinished(20000));
        QCOMPARE(aggregator.exitStatus(), QProcess::NormalExit);
        QCOMPARE(aggregator.exitCode(), 0);
        const auto reported = QString::fromUtf8(aggregator.readAllStandardOutput());
        // What it says it aggregated is what Redis holds: the batch in hand was flushed.
        QVERIFY2(reported.contains(QString("aggregated %1 valid").arg(f_.eventsTotal())),
                 qPrintable(reported));
        // Its heartbeat is gone: it left cleanly.
        redis::Schema schema;
        QCOMPARE(f_.redisConnection->command({"HLEN", schema.heartbeats()})->integer, 0);

        Aggregator rest(f_.aggregatorOptions(EventTimeSource::Payload));
        rest.run({60s, 3s});
        f_.verifyExact(w.expected, nowMs());
    }
    void givenRetentionRemovedUncountedEvents_whenTheAggregatorReturns_thenTheyCountAsLost()
    {
        // The loss seen after repeated crashes (#10): while no aggregator ran, the broker's
        // retention (the embedded one keeps about 5 MB per partition) removed events past the
        // offset Redis had stored. librdkafka then jumped silently to the earliest offset left,
        // and the first message, taken at any offset, let the batch claim the whole gap as
        // counted: offsets at the end of the partition, events missing, lost_total unset.
        const auto now = nowMs();
        const std::string padding(100, 'x');
        std::map<std::int64_t, std::string> pageAt; // offset -> page
        std::vector<test::Record> early;
        std::vector<test::Record> late;
        for (int i = 0; i < 62000; ++i) {
            const auto page = "/p" + std::to_string(i % 37);
            pageAt[i] = page;
            (i < 2000 ? early : late)
                .push_back({"u",
                            "{\"user_id\":" + std::to_string(i % 500) +
                                ",\"action\":\"view\",\"page\":\"" + page + "\",\"pad\":\"" +
                                padding + "\"}",
                            0, now});
        }
        test::produceAll(f_.brokers(), f_.topic, early);
        {
            Aggregator first(f_.aggregatorOptions(EventTimeSource::KafkaTimestamp));
            first.run({60s, 2s});
        }
        QCOMPARE(f_.eventsTotal(), 2000);
        test::produceAll(f_.brokers(), f_.topic, late);
        const auto [low, high] = test::watermarks(f_.brokers(), f_.topic, 0);
        QCOMPARE(high, 62000);
        QVERIFY2(low > 2000, "the broker's retention should have removed uncounted events");

        Aggregator second(f_.aggregatorOptions(EventTimeSource::KafkaTimestamp));
        second.run({60s, 3s});
        redis::Schema schema;
        const auto lost =
            redis::replyInteger(f_.redisConnection->command({"GET", schema.lostTotal()}).get());
        QCOMPARE(lost, low - 2000);
        QCOMPARE(f_.eventsTotal(), 2000 + (high - low));
        QCOMPARE(second.stats().lostEvents, low - 2000);
        std::map<std::string, std::int64_t> pages;
        for (const auto &[offset, page] : pageAt)
            if (offset < 2000 || offset >= low)
                ++pages[page];
        QCOMPARE(
            toMap(f_.redisConnection->command({"ZRANGE", schema.pages(), "0", "-1", "WITHSCORES"})
                      .get()),
            pages);
        QCOMPARE(redis::replyString(
                     f_.redisConnection
                         ->command({"HGET", schema.offsets(), redis::partitionField(f_.topic, 0)})
                         .get()),
                 std::to_string(high));
    }

    void givenRedisOffsetsBeyondTheEndOfThePartition_whenAggregating_thenItRefusesAndCountsNothing()
    {
        // Offsets from another incarnation of the topic: before, everything was recounted from
        // the start (events_total doubled, no error).
        const auto w = makeWorkload(500, 0, 21, nowMs(), true);
        test::produceAll(f_.brokers(), f_.topic, w.records);
        redis::Schema schema;
        for (int p = 0; p < 4; ++p)
            f_.redisConnection->command(
                {"HSET", schema.offsets(), redis::partitionField(f_.topic, p), "1000000"});
        Aggregator aggregator(f_.aggregatorOptions(EventTimeSource::Payload));
        try {
            aggregator.run({30s, 3s});
            QFAIL("the aggregator ran on offsets beyond the end of the partitions");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("the topic was re-created"), e.what());
        }
        QCOMPARE(f_.eventsTotal(), 0);
    }
    void givenADeadMemberHoldingPartitions_whenAnIdleExitAggregatorStarts_thenItCountsAll()
    {
        // Before, --idle-exit started its clock at the first assignment, which may give it
        // nothing while a dead member still holds the partitions: it exited with a backlog.
        const auto w = makeWorkload(20000, 1, 41, nowMs(), true);
        test::produceAll(f_.brokers(), f_.topic, w.records);
        QProcess victim;
        victim.start(PULSEBOARD_CLI, aggregateArgs(f_) << "--session-timeout"
                                                       << "3s");
        QVERIFY2(victim.waitForStarted(5000), "pulseboard-cli did not start");
        f_.waitForEvents(1);
        ::kill(static_cast<pid_t>(victim.processId()), SIGKILL);
        QVERIFY(victim.waitForFinished(5000));
        QVERIFY2(f_.eventsTotal() < w.expected.valid, "the victim should die mid-stream");

        QProcess next;
        next.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        next.start(PULSEBOARD_CLI, aggregateArgs(f_) << "--session-timeout"
                                                     << "3s"
                                                     << "--idle-exit"
                                                     << "1s");
        QVERIFY(next.waitForFinished(60000));
        QCOMPARE(next.exitCode(), 0);
        f_.verifyExact(w.expected, nowMs());
    }

    void givenARedisStall_whenAnIdleExitAggregatorWaitsOnIt_thenItDoesNotExitWithABacklog()
    {
        const auto w = makeWorkload(30000, 1, 42, nowMs(), true);
        test::produceAll(f_.brokers(), f_.topic, w.records);
        QProcess aggregator;
        aggregator.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        aggregator.start(PULSEBOARD_CLI, aggregateArgs(f_) << "--idle-exit"
                                                           << "1s");
        QVERIFY2(aggregator.waitForStarted(5000), "pulseboard-cli did not start");
        f_.waitForEvents(1);
        // Redis stops answering for 3 s, longer than --idle-exit, while a backlog waits.
        f_.redisConnection->command({"CLIENT", "PAUSE", "3000", "ALL"});
        QVERIFY(aggregator.waitForFinished(60000));
        QCOMPARE(aggregator.exitCode(), 0);
        f_.verifyExact(w.expected, nowMs());
    }
    void givenFromLatest_whenRedisLosesEverything_thenTheRebuildStartsWhereCountingStarted()
    {
        // --from latest resolves "latest" once, at assignment. Before, a rewind with nothing
        // stored resolved it again, to the end: events already read were skipped for good.
        auto makeRecords = [](int n, int first) {
            std::vector<test::Record> records;
            for (int i = first; i < first + n; ++i)
                records.push_back(
                    {"k",
                     "{\"user_id\":" + std::to_string(i) + ",\"action\":\"view\",\"page\":\"/l\"}",
                     0, 0});
            return records;
        };
        test::produceAll(f_.brokers(), f_.topic, makeRecords(1000, 0)); // before: not counted
        auto options = f_.aggregatorOptions(EventTimeSource::KafkaTimestamp);
        options.startFrom = StartFrom::Latest;
        Aggregator aggregator(options);
        std::thread runner([&] { aggregator.run({60s, 0ms}); });
        // Wait until it holds partition 0 (its heartbeat lists it), then produce.
        redis::Schema schema;
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (aggregator.stats().partitions.size() < 4 &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        test::produceAll(f_.brokers(), f_.topic, makeRecords(500, 1000));
        f_.waitForEvents(500);
        QCOMPARE(f_.eventsTotal(), 500);
        // Redis loses everything; the next batch finds nothing stored and the aggregator
        // re-reads from where it started counting, not from the end.
        f_.redisConnection->command({"FLUSHALL"});
        test::produceAll(f_.brokers(), f_.topic, makeRecords(1, 1500));
        f_.waitForEvents(501);
        std::this_thread::sleep_for(500ms); // anything more would be double counting
        aggregator.requestStop();
        runner.join();
        QCOMPARE(f_.eventsTotal(), 501);
        QVERIFY(aggregator.stats().rewinds >= 1);
    }
};

QTEST_GUILESS_MAIN(TestRobustness)
#include "tst_robustness.moc"
