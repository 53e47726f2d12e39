// Unit tests for the exactly-once bookkeeping: what a batch may claim, table-tested for every
// way a message can arrive out of place (stale, from before a seek or an earlier assignment,
// below the stored offset, past a retention gap, past a compacted offset) and every way a
// batch can fail.

#include "core/offset_tracker.h"

#include <QtTest>

#include <map>
#include <random>
#include <set>

using namespace pb;
using Action = MessageDecision::Action;

Q_DECLARE_METATYPE(std::vector<std::int64_t>)

namespace {

// Feeds offsets to partition 0; returns the actions taken, 'C' count, 'D' drop, 'S' seek,
// and applies each seek to the tracker's own position (as the consumer would).
QString feed(OffsetTracker &t, const std::vector<std::int64_t> &offsets)
{
    QString actions;
    for (const auto offset : offsets) {
        const auto d = t.onMessage(0, offset);
        actions += d.action == Action::Count ? 'C' : d.action == Action::Drop ? 'D' : 'S';
    }
    return actions;
}

} // namespace

class TestOffsetTracker : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void givenMessagesInOrder_thenTheBatchClaimsFromTheStoredOffsetToTheLastOne_data()
    {
        QTest::addColumn<std::int64_t>("stored");
        QTest::addColumn<std::int64_t>("start");
        QTest::addColumn<std::vector<std::int64_t>>("offsets");
        QTest::addColumn<QString>("actions");
        QTest::addColumn<std::int64_t>("claimNext"); // -1: no claim
        QTest::addColumn<std::int64_t>("position");

        using V = std::vector<std::int64_t>;
        QTest::newRow("in order from the stored offset")
            << std::int64_t{10} << std::int64_t{0} << V{10, 11, 12} << "CCC" << std::int64_t{13}
            << std::int64_t{13};
        QTest::newRow("nothing stored: from the resolved start")
            << kNoOffset << std::int64_t{5} << V{5, 6} << "CC" << std::int64_t{7}
            << std::int64_t{7};
        QTest::newRow("below the stored offset: dropped (stale or counted already)")
            << std::int64_t{10} << std::int64_t{0} << V{7, 8, 9, 10} << "DDDC" << std::int64_t{11}
            << std::int64_t{11};
        QTest::newRow("a duplicate within the batch: dropped")
            << std::int64_t{10} << std::int64_t{0} << V{10, 11, 11, 10, 12} << "CCDDC"
            << std::int64_t{13} << std::int64_t{13};
        QTest::newRow("first message past the seek position: seek again, not counted")
            << std::int64_t{10} << std::int64_t{0} << V{14} << "S" << kNoOffset << std::int64_t{10};
        QTest::newRow("the same gap after the second seek: compaction or a marker, counted")
            << std::int64_t{10} << std::int64_t{0} << V{14, 14, 15} << "SCC" << std::int64_t{16}
            << std::int64_t{16};
        QTest::newRow("a leftover of an earlier fetch, then the real one: only that counts")
            << std::int64_t{10} << std::int64_t{0} << V{14, 10, 11} << "SCC" << std::int64_t{12}
            << std::int64_t{12};
        QTest::newRow("two different leftovers: each one seeks again")
            << std::int64_t{10} << std::int64_t{0} << V{14, 20, 10} << "SSC" << std::int64_t{11}
            << std::int64_t{11};
        QTest::newRow("a gap within a fetch (transaction marker): counted")
            << std::int64_t{10} << std::int64_t{0} << V{10, 11, 13, 14} << "CCCC"
            << std::int64_t{15} << std::int64_t{15};
    }
    void givenMessagesInOrder_thenTheBatchClaimsFromTheStoredOffsetToTheLastOne()
    {
        QFETCH(std::int64_t, stored);
        QFETCH(std::int64_t, start);
        QFETCH(std::vector<std::int64_t>, offsets);
        QFETCH(QString, actions);
        QFETCH(std::int64_t, claimNext);
        QFETCH(std::int64_t, position);

        OffsetTracker t;
        QCOMPARE(t.assign(0, stored, start), stored != kNoOffset ? stored : start);
        QCOMPARE(feed(t, offsets), actions);
        const auto claims = t.claims();
        if (claimNext == kNoOffset) {
            QVERIFY(claims.empty());
            QVERIFY(!t.hasClaims());
        } else {
            QCOMPARE(claims.size(), std::size_t{1});
            QCOMPARE(claims[0], (OffsetClaim{0, stored, claimNext, 0}));
        }
        QCOMPARE(t.position(0), position);
    }

    void givenAMessageOfAPartitionNotAssigned_thenItIsDropped()
    {
        OffsetTracker t;
        t.assign(1, 10, 0);
        QCOMPARE(t.onMessage(0, 10).action, Action::Drop);
        t.revoke(1);
        QCOMPARE(t.onMessage(1, 10).action, Action::Drop);
        QVERIFY(!t.hasClaims());
    }

    void givenAGapConfirmed_whenTheNextBatchStarts_thenItsFirstMessageNeedsNoSeek()
    {
        // Continuous consumption across batches is not a seek: a marker right after a batch
        // boundary must not cost a seek.
        OffsetTracker t;
        t.assign(0, 10, 0);
        QCOMPARE(feed(t, {10, 11}), QString("CC"));
        t.submitted(t.claims());
        QCOMPARE(feed(t, {13}), QString("C"));
        QCOMPARE(t.claims(), (std::vector<OffsetClaim>{{0, 12, 14, 0}}));
    }

    void givenSubmittedBatches_thenEachClaimsFromWhereThePreviousEnds()
    {
        OffsetTracker t;
        t.assign(0, kNoOffset, 3);
        t.assign(1, 7, 0);
        feed(t, {3, 4});
        QCOMPARE(t.onMessage(1, 7).action, Action::Count);
        const auto first = t.claims();
        QCOMPARE(first, (std::vector<OffsetClaim>{{0, kNoOffset, 5, 0}, {1, 7, 8, 0}}));
        t.submitted(first);
        QVERIFY(!t.hasClaims());
        feed(t, {5});
        QCOMPARE(t.claims(), (std::vector<OffsetClaim>{{0, 5, 6, 0}}));
        QCOMPARE(t.confirmed(0), kNoOffset);
        t.applied(first);
        QCOMPARE(t.confirmed(0), std::int64_t{5});
        QCOMPARE(t.confirmed(1), std::int64_t{8});
    }

    void givenARetentionGap_thenTheLostOffsetsAreClaimedAsLostNotCounted_data()
    {
        QTest::addColumn<std::int64_t>("stored");
        QTest::addColumn<std::vector<std::int64_t>>("before"); // counted before the error
        QTest::addColumn<std::int64_t>("low");
        QTest::addColumn<std::int64_t>("high");
        QTest::addColumn<std::int64_t>("seekTo");
        QTest::addColumn<std::int64_t>("lost");

        using V = std::vector<std::int64_t>;
        QTest::newRow("gone before the first message")
            << std::int64_t{10000} << V{} << std::int64_t{63406} << std::int64_t{110000}
            << std::int64_t{63406} << std::int64_t{53406};
        QTest::newRow("gone after some were counted")
            << std::int64_t{10} << V{10, 11} << std::int64_t{20} << std::int64_t{30}
            << std::int64_t{20} << std::int64_t{8};
        QTest::newRow("in range again by the time we asked: no loss, resume")
            << std::int64_t{10} << V{10} << std::int64_t{5} << std::int64_t{30} << std::int64_t{11}
            << std::int64_t{0};
    }
    void givenARetentionGap_thenTheLostOffsetsAreClaimedAsLostNotCounted()
    {
        QFETCH(std::int64_t, stored);
        QFETCH(std::vector<std::int64_t>, before);
        QFETCH(std::int64_t, low);
        QFETCH(std::int64_t, high);
        QFETCH(std::int64_t, seekTo);
        QFETCH(std::int64_t, lost);

        OffsetTracker t;
        t.assign(0, stored, 0);
        feed(t, before);
        const auto d = t.onOutOfRange(0, low, high, "t/0");
        QCOMPARE(d.action, OutOfRangeDecision::Action::Seek);
        QCOMPARE(d.seekTo, seekTo);
        QCOMPARE(d.lost, lost);
        // The first message at the new position counts without a confirming seek only when it
        // is the one seeked to.
        QCOMPARE(t.onMessage(0, seekTo).action, Action::Count);
        const auto claims = t.claims();
        QCOMPARE(claims.size(), std::size_t{1});
        QCOMPARE(claims[0], (OffsetClaim{0, stored, seekTo + 1, lost}));
    }

    void givenARetentionGapAndNoMessageYet_thenTheBatchClaimsTheLostRangeAlone()
    {
        OffsetTracker t;
        t.assign(0, 100, 0);
        const auto d = t.onOutOfRange(0, 150, 150, "t/0");
        QCOMPARE(d.lost, std::int64_t{50});
        QVERIFY(t.hasClaims());
        QCOMPARE(t.claims(), (std::vector<OffsetClaim>{{0, 100, 150, 50}}));
    }

    void givenAStoredOffsetBeyondTheEndOfThePartition_thenItIsFatal()
    {
        // Redis's offsets belong to another incarnation of the topic: counting on from the
        // start would count everything twice.
        OffsetTracker t;
        t.assign(0, 5000, 0);
        const auto d = t.onOutOfRange(0, 0, 1200, "user-activity/0");
        QCOMPARE(d.action, OutOfRangeDecision::Action::Fatal);
        QVERIFY(d.problem.find("user-activity/0 ends at offset 1200") != std::string::npos);
        QVERIFY(!t.hasClaims());
    }

    void givenARefusedBatch_whenRewound_thenEachPartitionRestartsFromWhatRedisHolds()
    {
        OffsetTracker t;
        t.assign(0, 10, 0);
        t.assign(1, 20, 0);
        t.assign(2, 30, 0);
        feed(t, {10, 11});
        QCOMPARE(t.onMessage(1, 20).action, Action::Count);
        const auto inFlight = t.claims(); // 0: [10,12), 1: [20,21)
        t.submitted(inFlight);
        feed(t, {12, 13});                                  // the batch in hand: 0: [12,14)
        QCOMPARE(t.onMessage(2, 30).action, Action::Count); // and 2: [30,31)

        // Redis holds 25 for partition 1 (another member applied further): nothing of the
        // in-flight batch applied.
        const auto targets = t.rewind(inFlight, {{1, 25}});
        QCOMPARE(targets, (std::map<int, std::int64_t>{{0, 10}, {1, 25}, {2, 30}}));
        QVERIFY(!t.hasClaims());
        // Messages of the dropped batches arriving late are stale now, or seek again.
        QCOMPARE(t.onMessage(0, 13).action, Action::Seek);
        QCOMPARE(t.onMessage(1, 21).action, Action::Drop);
        QCOMPARE(feed(t, {10}), QString("C"));
        QCOMPARE(t.claims().front(), (OffsetClaim{0, 10, 11, 0}));
    }

    void givenAnOutcomeUnknown_whenRewound_thenTheNextBatchExpectsWhatWasThereBefore()
    {
        OffsetTracker t;
        t.assign(0, kNoOffset, 0);
        feed(t, {0, 1, 2});
        const auto inFlight = t.claims();
        t.submitted(inFlight);
        const auto targets = t.rewind(inFlight, {});
        QCOMPARE(targets, (std::map<int, std::int64_t>{{0, 0}}));
        feed(t, {0, 1, 2});
        QCOMPARE(t.claims(), (std::vector<OffsetClaim>{{0, kNoOffset, 3, 0}}));
        // It had applied after all: Redis says 3, and the next attempt starts there.
        QCOMPARE(t.rewind(t.claims(), {{0, 3}}), (std::map<int, std::int64_t>{{0, 3}}));
        QCOMPARE(feed(t, {3}), QString("C"));
        QCOMPARE(t.claims(), (std::vector<OffsetClaim>{{0, 3, 4, 0}}));
    }

    void givenNothingStored_whenRewound_thenTheResolvedStartIsKept()
    {
        // --from latest: the start resolved once (the end at assignment) is where a rewind
        // goes back to, not the end at the time of the rewind (events read would be skipped).
        OffsetTracker t;
        t.assign(0, kNoOffset, 500);
        feed(t, {500, 501, 502});
        QCOMPARE(t.rewind({}, {}), (std::map<int, std::int64_t>{{0, 500}}));
        QCOMPARE(t.position(0), std::int64_t{500});
    }

    void givenAPartitionOutsideTheBatch_whenRewound_thenItIsNotSeeked()
    {
        OffsetTracker t;
        t.assign(0, 10, 0);
        t.assign(1, 20, 0);
        feed(t, {10});
        QCOMPARE(t.rewind({}, {}), (std::map<int, std::int64_t>{{0, 10}}));
        QCOMPARE(t.position(1), std::int64_t{20});
    }

    void givenRandomDeliveries_thenEveryOffsetBelowTheStoredOneIsCountedOnce()
    {
        // Property: whatever arrives (stale offsets, leftovers of an earlier fetch after a
        // seek, transaction markers that are never delivered) and however batches fare
        // (applied, refused), a model Redis ends up having counted every real offset below its
        // stored offset exactly once, and nothing else.
        const auto isMarker = [](std::int64_t o) {
            return o % 17 == 16;
        };
        std::mt19937 rng(12345);
        for (int round = 0; round < 300; ++round) {
            OffsetTracker t;
            std::int64_t redis = kNoOffset; // the model's stored offset
            std::map<std::int64_t, int> countedInRedis;
            std::set<std::int64_t> batch;
            std::int64_t cursor = t.assign(0, kNoOffset, 0); // where the consumer reads
            // Leftovers of the fetch before a rewind: offsets from where the consumer was,
            // rising (a queue never repeats a message), until the fetcher catches up.
            std::int64_t leftover = kNoOffset;
            int leftovers = 0;
            for (int step = 0; step < 400; ++step) {
                const auto roll = rng() % 10;
                if (roll < 6) {
                    auto offset = cursor;
                    while (isMarker(offset))
                        ++offset; // what the broker delivers next
                    if (leftovers > 0) {
                        offset = leftover++;
                        --leftovers;
                    } else if (roll == 5) {
                        offset = std::max<std::int64_t>(
                            0, cursor - 1 - static_cast<std::int64_t>(rng() % 3)); // stale
                    }
                    const auto d = t.onMessage(0, offset);
                    if (d.action == Action::Count) {
                        QVERIFY(batch.insert(offset).second);
                        cursor = offset + 1;
                    } else if (d.action == Action::Seek) {
                        cursor = d.seekTo;
                    }
                } else if (t.hasClaims()) {
                    const auto claims = t.claims();
                    QCOMPARE(claims.size(), std::size_t{1});
                    t.submitted(claims);
                    if (rng() % 4 != 0 && claims[0].expected == redis) {
                        for (const auto o : batch)
                            ++countedInRedis[o];
                        redis = claims[0].next;
                        t.applied(claims);
                    } else {
                        leftover = cursor + static_cast<std::int64_t>(rng() % 3);
                        leftovers = static_cast<int>(rng() % 4);
                        cursor = t.rewind(claims, {{0, redis}}).at(0);
                    }
                    batch.clear();
                }
            }
            for (std::int64_t o = 0; o < redis; ++o) {
                const auto it = countedInRedis.find(o);
                const int times = it == countedInRedis.end() ? 0 : it->second;
                QVERIFY2(times == (isMarker(o) ? 0 : 1),
                         qPrintable(QString("offset %1 counted %2 times").arg(o).arg(times)));
            }
            QVERIFY(countedInRedis.empty() || countedInRedis.rbegin()->first < redis);
        }
    }
};

QTEST_GUILESS_MAIN(TestOffsetTracker)
#include "tst_offset_tracker.moc"
