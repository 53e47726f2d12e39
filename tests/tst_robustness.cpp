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
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (f_.eventsTotal() < 3000 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(5ms);
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
        victim.start(PULSEBOARD_CLI, {"aggregate", "--brokers",
                                      QString::fromStdString(f_.stack->kafkaSettings().brokers),
                                      "--topic", QString::fromStdString(f_.topic), "--group",
                                      QString::fromStdString("group-" + f_.topic), "--redis",
                                      QString::fromStdString(f_.stack->redisEndpoint().toString()),
                                      "--event-time", "payload", "--batch-events", "300"});
        QVERIFY2(victim.waitForStarted(5000), "pulseboard-cli did not start");
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (f_.eventsTotal() < 2000 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(2ms);
        ::kill(static_cast<pid_t>(victim.processId()), SIGKILL);
        QVERIFY(victim.waitForFinished(5000));
        const auto part = f_.eventsTotal();
        QVERIFY2(part > 0 && part < w.expected.valid, "the victim should die mid-stream");

        // The same group: the dead member's partitions come free after its session timeout
        // (6 s), then the survivor resumes from the offsets in Redis.
        const auto killedAt = std::chrono::steady_clock::now();
        Aggregator survivor(f_.aggregatorOptions(EventTimeSource::Payload));
        std::thread runner([&] { survivor.run({90s, 4s}); });
        while (survivor.stats().batches == 0 && std::chrono::steady_clock::now() - killedAt < 60s)
            std::this_thread::sleep_for(10ms);
        const auto takeover = survivor.stats().firstAccounted - killedAt;
        runner.join();
        QVERIFY2(
            takeover < 15s,
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
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (f_.eventsTotal() < 3900 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        // Redis goes away and comes back empty (no persistence), the aggregator keeps running.
        f_.stack->redis().stop();
        std::this_thread::sleep_for(500ms);
        f_.stack->redis().start();
        test::produceAll(f_.stack->kafkaSettings().brokers, f_.topic, secondHalf);
        deadline = std::chrono::steady_clock::now() + 60s;
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
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (f_.eventsTotal() < 3000 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(2ms);
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
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (f_.eventsTotal() < 1000 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(2ms);
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
};

QTEST_GUILESS_MAIN(TestRobustness)
#include "tst_robustness.moc"
