// Hostile input end to end (issue #11): the corpus of tests/hostile/corpus.h, mixed among good
// events over several partitions and rounds, goes through the embedded broker to the
// aggregator as users run it (pulseboard-cli aggregate) and into a real redis-server. Each bad
// record must reach the dead-letter topic once, with its reason and its source position, the
// good ones must count exactly as a brute-force recomputation says, and the aggregator must
// keep up and leave cleanly.

#include "hostile/corpus.h"
#include "support/pipeline_fixture.h"

#include <QProcess>
#include <QtTest>

#include <set>
#include <thread>

using namespace pb;
using namespace pb::test;
using namespace std::chrono_literals;

namespace {

constexpr int kPartitions = 4; // PipelineFixture::nextCase()
constexpr int kRounds = 3;
constexpr int kGoodPerRound = 4000;

// A hostile record as sent.
struct Sent {
    hostile::Case c;
    Position at;
};

QString q(const std::string &s)
{
    return QString::fromStdString(s);
}

// What the dead-letter copy of `c` must hold: the record, cut to kMaxDeadLetterBytes (payload
// first) when the payload and key together are larger.
struct DeadLetter {
    std::string payload, key;
    bool cut = false;
};

DeadLetter deadLetterOf(const hostile::Case &c)
{
    const auto key = c.nullKey ? std::string() : c.key;
    DeadLetter d{c.payload, key, false};
    if (c.payload.size() + key.size() > kafka::kMaxDeadLetterBytes) {
        d.payload = c.payload.substr(0, kafka::kMaxDeadLetterBytes);
        d.key = key.substr(0, kafka::kMaxDeadLetterBytes - d.payload.size());
        d.cut = true;
    }
    return d;
}

// Stops the aggregator when a check fails before it was stopped cleanly.
struct KillOnExit {
    QProcess &process;
    ~KillOnExit()
    {
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished(5000);
        }
    }
};

} // namespace

class TestHostile : public QObject {
    Q_OBJECT

    PipelineFixture f_;

    // The stored offsets reach every partition's end, or `timeout` passes: true if they did.
    bool waitForEnd(std::chrono::milliseconds timeout)
    {
        std::map<std::string, std::int64_t> ends;
        for (int p = 0; p < kPartitions; ++p)
            ends[redis::partitionField(f_.topic, p)] = watermarks(f_.brokers(), f_.topic, p).second;
        redis::Schema schema;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        do {
            auto stored = toMap(f_.redisConnection->command({"HGETALL", schema.offsets()}).get());
            bool done = true;
            for (const auto &[field, end] : ends)
                done = done && (stored.count(field) ? stored.at(field) == end : end == 0);
            if (done)
                return true;
            std::this_thread::sleep_for(100ms);
        } while (std::chrono::steady_clock::now() < deadline);
        return false;
    }

    void run(EventTimeSource mode)
    {
        const bool payloadMode = mode == EventTimeSource::Payload;
        // Given an aggregator as users start it, on a topic that receives rounds of good events
        // with the corpus mixed in, each hostile record on the partition holding the fewest
        // bytes so far (the embedded broker keeps about 5 MB a partition).
        QProcess aggregator;
        aggregator.setProcessChannelMode(QProcess::SeparateChannels);
        aggregator.start(PULSEBOARD_CLI, {"aggregate", "--brokers", q(f_.brokers()), "--topic",
                                          q(f_.topic), "--group", q("group-" + f_.topic), "--redis",
                                          q(f_.stack->redisEndpoint().toString()), "--event-time",
                                          payloadMode ? "payload" : "kafka"});
        QVERIFY2(aggregator.waitForStarted(5000), "pulseboard-cli did not start");
        const KillOnExit guard{aggregator};

        const auto start = nowMs();
        auto w =
            makeWorkload(kRounds * kGoodPerRound, 0, payloadMode ? 41 : 42, start, payloadMode);
        auto &x = w.expected;
        std::vector<Sent> sent;
        std::array<std::size_t, kPartitions> bytes{};
        for (int round = 0; round < kRounds; ++round) {
            const auto readFrom = nowMs();
            const auto cases = hostile::corpus(readFrom);
            std::vector<Record> records;
            std::vector<std::size_t> hostileAt; // index in records -> index in cases
            const auto good = w.records.begin() + round * kGoodPerRound;
            const auto every = kGoodPerRound / static_cast<int>(cases.size());
            for (std::size_t i = 0; i < cases.size(); ++i) {
                records.insert(records.end(), good + static_cast<long>(i) * every,
                               good + static_cast<long>(i + 1) * every);
                const auto &c = cases[i];
                const auto partition =
                    static_cast<int>(std::min_element(bytes.begin(), bytes.end()) - bytes.begin());
                bytes[static_cast<std::size_t>(partition)] += c.payload.size() + c.key.size();
                Record r{c.key, c.payload, partition, c.kafkaTimeMs};
                r.nullKey = c.nullKey;
                r.nullValue = c.tombstone;
                r.headers = c.headers;
                hostileAt.push_back(records.size());
                records.push_back(std::move(r));
            }
            records.insert(records.end(), good + static_cast<long>(cases.size()) * every,
                           good + kGoodPerRound);

            // When they are produced while the aggregator runs,
            const auto positions =
                produceAll(f_.brokers(), f_.topic, records, {{"message.max.bytes", "4000000"}});
            for (std::size_t i = 0; i < cases.size(); ++i)
                sent.push_back({cases[i], positions[hostileAt[i]]});

            // then it reaches the end of every partition (nothing stalls) and is still running.
            QVERIFY2(waitForEnd(60s),
                     qPrintable(QString("round %1: the stored offsets did not reach the "
                                        "partitions' ends; the aggregator said: %2")
                                    .arg(round)
                                    .arg(QString::fromUtf8(aggregator.readAllStandardError()))));
            QVERIFY2(aggregator.state() == QProcess::Running,
                     qPrintable("the aggregator ended: " + aggregator.readAllStandardError()));

            // What each hostile record must count as (good events: makeWorkload's expectation).
            for (const auto &c : cases) {
                if (!c.valid()) {
                    x.addInvalid(c.payload, c.expect);
                    continue;
                }
                const auto time = payloadMode ? c.payloadModeTime : c.kafkaModeTime;
                x.alwaysCheck.insert(c.user);
                if (time == hostile::kReadTime) {
                    x.addValidAtReadTime(c.user, c.action, c.page, readFrom);
                } else if (time < start - 2 * 3'600'000) {
                    x.addValidBeforeTheHour(c.user, c.action, c.page, time);
                } else {
                    // Nothing near the hour's edge or ahead of now: either is ambiguous.
                    QVERIFY2(time > readFrom - 1'800'000 && time < readFrom, c.name.c_str());
                    x.addValid(c.user, c.action, c.page, time);
                }
            }
        }

        // And it leaves cleanly on SIGTERM, saying what it counted.
        aggregator.terminate();
        QVERIFY2(aggregator.waitForFinished(30000), "the aggregator did not stop on SIGTERM");
        const auto err = aggregator.readAllStandardError();
        QVERIFY2(aggregator.exitStatus() == QProcess::NormalExit && aggregator.exitCode() == 0,
                 err.constData());
        const auto out = QString::fromUtf8(aggregator.readAllStandardOutput());
        QVERIFY2(out.contains(QString("aggregated %1 valid and %2 bad").arg(x.valid).arg(x.bad())),
                 qPrintable(out));

        // Every aggregate, the bad counters by reason included, is the recomputation's.
        f_.verifyExact(x, nowMs());
        verifyDeadLetters(sent);
    }

    // Each bad record is in the dead-letter topic exactly once: its reason, where it came from,
    // its payload and key (null ones null), cut with the sizes in a header only when too large,
    // and none of its own headers.
    void verifyDeadLetters(const std::vector<Sent> &sent)
    {
        const auto dlq = f_.topic + ".dlq";
        std::map<std::string, const Sent *> bad; // "topic/partition/offset" -> record
        for (const auto &s : sent)
            if (!s.c.valid())
                bad[f_.topic + "/" + std::to_string(s.at.partition) + "/" +
                    std::to_string(s.at.offset)] = &s;
        std::int64_t held = 0;
        for (int p = 0; p < kPartitions; ++p) {
            const auto [low, high] = watermarks(f_.brokers(), dlq, p);
            held += high - low;
        }
        QCOMPARE(held, static_cast<std::int64_t>(bad.size())); // no more, no fewer

        const auto records = readAll(f_.brokers(), dlq, bad.size(), 30s);
        QCOMPARE(records.size(), bad.size());
        std::set<std::string> seen;
        for (const auto &r : records) {
            QVERIFY(r.headers.count(kafka::kHeaderSource));
            const auto source = r.headers.at(kafka::kHeaderSource);
            const auto it = bad.find(source);
            QVERIFY2(it != bad.end(), source.c_str());
            QVERIFY2(seen.insert(source).second, source.c_str());
            const auto &c = it->second->c;
            const auto whatText = q(c.name + " at " + source).toUtf8();
            const char *what = whatText.constData();
            QVERIFY2(r.headers.count(kafka::kHeaderReason), what);
            QVERIFY2(r.headers.at(kafka::kHeaderReason) == c.expect,
                     qPrintable(q(c.name + ": " + r.headers.at(kafka::kHeaderReason))));
            const auto expected = deadLetterOf(c);
            QVERIFY2(r.value == expected.payload, what);
            QVERIFY2(r.nullValue == c.tombstone, what);
            QVERIFY2(r.key == expected.key, what);
            QVERIFY2(r.nullKey == c.nullKey, what);
            QVERIFY2(r.headerCount == (expected.cut ? 3u : 2u), what);
            if (expected.cut)
                QVERIFY2(r.headers.at(kafka::kHeaderTruncated) ==
                             std::to_string(c.payload.size()) + "," + std::to_string(c.key.size()),
                         what);
        }
    }

private Q_SLOTS:
    void initTestCase() { f_.start(); }
    void init() { f_.nextCase(); }

    void givenHostileRecordsAmongGoodEvents_whenAggregatedByPayloadTime_thenEachIsAccounted()
    {
        run(EventTimeSource::Payload);
    }

    void givenHostileRecordsAmongGoodEvents_whenAggregatedByKafkaTime_thenEachIsAccounted()
    {
        run(EventTimeSource::KafkaTimestamp);
    }
};

QTEST_GUILESS_MAIN(TestHostile)
#include "tst_hostile.moc"
