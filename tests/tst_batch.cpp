// Unit tests for the pure parts of the core: pre-aggregation and its time buckets, the feed
// ring, the event generator, durations and CSV.

#include "core/batch.h"
#include "core/csv.h"
#include "core/duration.h"
#include "core/event.h"
#include "core/event_generator.h"
#include "core/field_budget.h"
#include "core/visible_text.h"

#include <QtTest>

#include <map>
#include <random>
#include <set>
#include <sstream>

using namespace pb;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::int64_t> toMap(const CountTable &table)
{
    std::map<std::string, std::int64_t> m;
    for (const auto &[key, value] : table)
        m.emplace(key, value);
    return m;
}

std::map<std::int64_t, std::map<std::string, std::int64_t>> minuteMaps(const MinuteTables &tables)
{
    std::map<std::int64_t, std::map<std::string, std::int64_t>> m;
    for (const auto &[minute, table] : tables)
        m.emplace(minute, toMap(table));
    return m;
}

} // namespace

class TestBatch : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void givenEventsInOneMinute_whenAdded_thenCountsAndBucketsMatch()
    {
        BatchAggregate batch;
        const std::int64_t now = 1700000000000; // a minute boundary is not needed
        const EventView a{"1", "view", "/home", std::nullopt};
        const EventView b{"2", "click", "/home", std::nullopt};
        const EventView c{"1", "view", "/cart", std::nullopt};
        batch.addValid(a, now - 1000, now, "{}", "t/0", 1);
        batch.addValid(b, now - 500, now, "{}", "t/0", 2);
        batch.addValid(c, now - 2000, now, "{}", "t/1", 7);

        QCOMPARE(batch.validCount, 3);
        QCOMPARE(batch.pages.at("/home"), 2);
        QCOMPARE(batch.pages.at("/cart"), 1);
        QCOMPARE(batch.actions.at("view"), 2);
        // last seen keeps the newest time per user, whatever the arrival order
        QCOMPARE(batch.lastSeen.at("1"), now - 1000);
        QCOMPARE(batch.lastSeen.at("2"), now - 500);
        std::int64_t perSecond = 0;
        for (const auto &[second, n] : batch.perSecond)
            perSecond += n;
        QCOMPARE(perSecond, 3);
        const std::string field = std::string("view") + kFieldSeparator + "1";
        std::int64_t userViews = 0;
        for (const auto &[minute, fields] : batch.userActionsByMinute)
            if (const auto *n = fields.find(field))
                userViews += *n;
        QCOMPARE(userViews, 2);
    }

    void givenAnEventOlderThanTheHistory_whenAdded_thenOnlyAllTimeCountsSeeIt()
    {
        BatchAggregate batch;
        const std::int64_t now = 1700000000000;
        batch.addValid({"9", "view", "/old", std::nullopt}, now - 2 * 3600000, now, "{}", "t/0", 1);
        QCOMPARE(batch.pages.at("/old"), 1);
        QCOMPARE(batch.lastSeen.at("9"), now - 2 * 3600000);
        QVERIFY(batch.perSecond.empty());
        QVERIFY(batch.pagesByMinute.empty());
        QVERIFY(batch.userActionsByMinute.empty());
    }

    void givenTimesBefore1970_whenBucketed_thenFloorDivisionKeepsThemInTheirMinute()
    {
        QCOMPARE(floorDiv(-1, 60), -1);
        QCOMPARE(floorDiv(-60, 60), -1);
        QCOMPARE(floorDiv(-61, 60), -2);
        QCOMPARE(floorDiv(59, 60), 0);
    }

    void givenMoreBadEventsThanTheFeedHolds_whenAdded_thenTheNewestAreKeptInOrder()
    {
        AggregationOptions options;
        options.feedPerBatch = 3;
        BatchAggregate batch(options);
        for (int i = 0; i < 10; ++i)
            batch.addInvalid(InvalidReason::NotJson, "x" + std::to_string(i), "t/0", i, 0);
        QCOMPARE(batch.invalidCount, 10);
        QCOMPARE(batch.invalidByReason[static_cast<std::size_t>(InvalidReason::NotJson)], 10);
        QCOMPARE(batch.badFeed.size(), std::size_t(3));
        QCOMPARE(batch.badFeed[0].raw, std::string("x7"));
        QCOMPARE(batch.badFeed[2].raw, std::string("x9"));
        QCOMPARE(batch.badFeed[2].reason, std::string("not_json"));
        batch.clear();
        QVERIFY(batch.empty());
        QCOMPARE(batch.badFeed.size(), std::size_t(0));
    }

    void givenAHugePayload_whenItEntersAFeed_thenItIsCutAtACharacterAndMarked()
    {
        AggregationOptions options;
        BatchAggregate batch(options);
        // 4095 ASCII bytes then 3-byte characters: byte 4096 falls inside one.
        std::string huge(kMaxFeedPayloadBytes - 1, 'a');
        while (huge.size() < 800'000)
            huge += "â¬"; // the euro sign
        batch.addInvalid(InvalidReason::NotJson, huge, "t/0", 1, 0);
        const auto &kept = batch.badFeed[0].raw;
        QCOMPARE(kept, std::string(kMaxFeedPayloadBytes - 1, 'a') +
                           " [... cut: " + std::to_string(huge.size()) + " bytes in all]");
        // At the limit exactly, nothing is cut.
        const std::string fits(kMaxFeedPayloadBytes, 'b');
        batch.addInvalid(InvalidReason::NotJson, fits, "t/0", 2, 0);
        QCOMPARE(batch.badFeed[1].raw, fits);
        QCOMPARE(feedPayload(fits + "c").size(),
                 kMaxFeedPayloadBytes + std::string(" [... cut: 4097 bytes in all]").size());
    }

    void givenManyKeys_whenCountedTwiceWithAClearBetween_thenTheTableMatchesAStdMap()
    {
        // Growth, collisions, keys that share prefixes, hold 0x00/0xFF, or are empty; then a
        // clear() that keeps the memory and a second round with different keys.
        CountTable table;
        for (int round = 0; round < 2; ++round) {
            std::map<std::string, std::int64_t> expected;
            std::mt19937 random(static_cast<std::uint32_t>(42 + round));
            for (int i = 0; i < 20000; ++i) {
                std::string key = "u" + std::to_string(random() % (round == 0 ? 5000 : 300));
                if (i % 7 == 0)
                    key += std::string(1, '\0') + "x";
                if (i % 11 == 0)
                    key = std::string("view") + kFieldSeparator + key;
                if (i % 13 == 0) // past the 16 bytes kept in the slot
                    key += std::string(static_cast<std::size_t>(i % 40), 'L');
                if (i % 997 == 0)
                    key.clear();
                ++expected[key];
                ++table[key];
            }
            QCOMPARE(table.size(), expected.size());
            std::map<std::string, std::int64_t> seen;
            for (const auto [key, count] : table)
                seen.emplace(std::string(key), count);
            QCOMPARE(seen, expected);
            for (const auto &[key, count] : expected)
                QCOMPARE(table.at(key), count);
            QVERIFY(table.find("absent") == nullptr);
            QVERIFY_THROWS_EXCEPTION(std::out_of_range, table.at("absent"));
            table.clear();
            QVERIFY(table.empty());
            QVERIFY(table.find("u1") == nullptr);
        }
    }

    void givenAnExistingKey_whenTryEmplaced_thenTheStoredValueIsKept()
    {
        CountTable table;
        const auto [first, inserted] = table.tryEmplace("1", 5);
        QVERIFY(inserted);
        QCOMPARE(*first, 5);
        const auto [again, insertedAgain] = table.tryEmplace("1", 9);
        QVERIFY(!insertedAgain);
        QCOMPARE(*again, 5);
    }

    void givenEventsOverManyMinutes_whenBatchesAreCleared_thenEachBatchStandsAlone()
    {
        BatchAggregate batch;
        const std::int64_t now = 1700000000000;
        for (int b = 0; b < 3; ++b) {
            // minutes now-9 .. now: more minutes than the pool keeps
            for (int m = 0; m < 10; ++m)
                batch.addValid({"u" + std::to_string(b), "view", "/p", std::nullopt},
                               now - m * 60000, now, "{}", "t/0", m);
            QCOMPARE(batch.pagesByMinute.size(), std::size_t(10));
            QCOMPARE(batch.userActionsByMinute.size(), std::size_t(10));
            for (const auto &[minute, pages] : batch.pagesByMinute)
                QCOMPARE(pages.at("/p"), 1);
            const auto field = std::string("view") + kFieldSeparator + "u" + std::to_string(b);
            for (const auto &[minute, fields] : batch.userActionsByMinute) {
                QCOMPARE(fields.size(), std::size_t(1));
                QCOMPARE(fields.at(field), 1);
            }
            QCOMPARE(batch.lastSeen.at("u" + std::to_string(b)), now);
            batch.clear();
            QVERIFY(batch.pagesByMinute.empty());
            QVERIFY(batch.lastSeen.empty());
        }
    }

    void givenStagedEvents_whenSettled_thenTheyCountExactlyLikeAddedOnes()
    {
        const std::int64_t now = 1700000000000;
        EventGenerator generator;
        std::mt19937_64 rng(5);
        std::vector<std::string> raws; // must outlive the count; the views below need not
        std::vector<std::int64_t> times;
        for (int i = 0; i < 5000; ++i) {
            // over several minutes, some older than the buckets' history
            times.push_back(now - static_cast<std::int64_t>(rng() % (i % 50 ? 300000 : 8000000)));
            raws.push_back(std::string(generator.next(times.back()).json));
        }
        EventValidator validator;
        BatchAggregate staged;
        BatchAggregate added;
        std::string scratch;
        for (std::size_t i = 0; i < raws.size(); ++i) {
            const auto result = validator.validate(raws[i]);
            QVERIFY(result.ok());
            // The staged copy must not depend on the strings it was given.
            scratch.assign(result.event.page);
            EventView view = result.event;
            view.page = scratch;
            staged.stageValid(view, times[i], now, raws[i], "t/0", static_cast<std::int64_t>(i));
            scratch.assign(scratch.size(), '#');
            added.addValid(result.event, times[i], now, raws[i], "t/0",
                           static_cast<std::int64_t>(i));
        }
        QCOMPARE(staged.validCount, added.validCount - 1); // the last one waits for settle()
        staged.settle();
        staged.settle(); // counts it once
        QCOMPARE(staged.validCount, added.validCount);
        QCOMPARE(toMap(staged.pages), toMap(added.pages));
        QCOMPARE(toMap(staged.actions), toMap(added.actions));
        QCOMPARE(toMap(staged.lastSeen), toMap(added.lastSeen));
        QCOMPARE(staged.perSecond, added.perSecond);
        QCOMPARE(staged.perMinute, added.perMinute);
        QCOMPARE(minuteMaps(staged.pagesByMinute), minuteMaps(added.pagesByMinute));
        QCOMPARE(minuteMaps(staged.userActionsByMinute), minuteMaps(added.userActionsByMinute));
        QVERIFY(minuteMaps(staged.userActionsByMinute).size() > 1);
        QCOMPARE(staged.feed.size(), added.feed.size());
        for (std::size_t i = 0; i < staged.feed.size(); ++i) {
            QCOMPARE(staged.feed[i].raw, added.feed[i].raw);
            QCOMPARE(staged.feed[i].offset, added.feed[i].offset);
        }

        // clear() drops a staged event.
        staged.clear();
        staged.stageValid({"1", "view", "/x", std::nullopt}, now, now, "{}", "t/0", 0);
        staged.clear();
        staged.settle();
        QCOMPARE(staged.validCount, 0);
        QVERIFY(staged.pages.empty());
    }

    void givenASeed_whenGenerating_thenEventsAreValidDeterministicAndZipfSkewed()
    {
        GeneratorOptions options;
        options.users = 100;
        options.pages = 50;
        options.seed = 7;
        EventGenerator first(options);
        EventGenerator second(options);
        EventValidator validator;
        std::map<std::string, int> pageCounts;
        for (int i = 0; i < 5000; ++i) {
            const auto a = first.next(1700000000000 + i);
            const std::string json(a.json);
            const auto b = second.next(1700000000000 + i);
            QCOMPARE(json, std::string(b.json));
            const auto result = validator.validate(json);
            QVERIFY2(result.ok(), json.c_str());
            QCOMPARE(std::string(result.event.userId), std::to_string(a.userId));
            QVERIFY(a.userId >= 1 && a.userId <= 100);
            ++pageCounts[std::string(result.event.page)];
        }
        // page 1 ("/home") is the most popular by a wide margin under Zipf(1.1)
        QVERIFY(pageCounts["/home"] > 3 * pageCounts["/about"]);
    }

    void givenBadGeneratorOptions_whenChecked_thenTheyAreRejected()
    {
        GeneratorOptions options;
        options.users = 0;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, EventGenerator::check(options));
        options.users = 1;
        options.actions = {{"view", 0.0}};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, EventGenerator::check(options));
    }

    void givenRedisCallTimes_whenObserved_thenTheFieldBudgetKeepsCallsNearTheTarget()
    {
        using std::chrono::microseconds;
        FieldBudget budget({microseconds(150'000), 32'000, 2'000, 1'000'000});
        QCOMPARE(budget.fields(), 32'000);
        QCOMPARE(budget.fieldsFor(1'000), 2'000); // before any batch: two fields an event

        // A Redis that takes 1 us a field plus 5 ms a call: batches that fill their budget grow
        // by half until a call passes half the target, and never past it.
        const auto redisTime = [](std::int64_t fields, double usPerField) {
            return microseconds(
                5'000 + static_cast<std::int64_t>(usPerField * static_cast<double>(fields)));
        };
        std::int64_t slowest = 0;
        for (int call = 0; call < 40; ++call) {
            const auto fields = budget.fields();
            const auto took = redisTime(fields, 1.0);
            slowest = std::max<std::int64_t>(slowest, took.count());
            budget.observe(fields, fields * 4, took);
        }
        const auto settledTime = redisTime(budget.fields(), 1.0).count();
        QVERIFY2(settledTime >= 75'000 && settledTime <= 150'000,
                 qPrintable(QString::number(budget.fields())));
        QVERIFY2(slowest <= 150'000, qPrintable(QString::number(slowest)));
        QCOMPARE(budget.fieldsFor(1'000), 250); // learned: a field for every fourth event

        // The workload turns to new users, each field 8 times dearer: one slow call, then the
        // budget shrinks in proportion at once.
        const auto before = budget.fields();
        budget.observe(before, before / 2, redisTime(before, 8.0));
        QVERIFY2(budget.fields() < before / 3, qPrintable(QString::number(budget.fields())));
        QVERIFY2(redisTime(budget.fields(), 8.0).count() <= 160'000,
                 qPrintable(QString::number(budget.fields())));
        QCOMPARE(budget.fieldsFor(1'000), 2'000); // the most of the recent batches

        // Small batches (an idle stream) leave it as it is; it never leaves [min, max].
        const auto settled = budget.fields();
        budget.observe(50, 100, microseconds(3'000));
        QCOMPARE(budget.fields(), settled);
        for (int i = 0; i < 20; ++i)
            budget.observe(budget.fields(), budget.fields(), microseconds(10'000'000));
        QCOMPARE(budget.fields(), 2'000);
        FieldBudget capped({microseconds(150'000), 32'000, 2'000, 40'000});
        for (int i = 0; i < 20; ++i)
            capped.observe(capped.fields(), capped.fields(), microseconds(1'000));
        QCOMPARE(capped.fields(), 40'000);
    }

    void givenDurationTexts_whenParsed_thenMillisecondsOrNothing()
    {
        QCOMPARE(parseDuration("5m").value(), std::chrono::milliseconds(5min));
        QCOMPARE(parseDuration("30").value(), std::chrono::milliseconds(30s));
        QCOMPARE(parseDuration("500ms").value(), 500ms);
        QCOMPARE(parseDuration("1.5s").value(), 1500ms);
        QCOMPARE(parseDuration("1h").value(), std::chrono::milliseconds(1h));
        QVERIFY(!parseDuration("").has_value());
        QVERIFY(!parseDuration("5 minutes").has_value());
        QVERIFY(!parseDuration("-3s").has_value());
        QVERIFY(!parseDuration("abc").has_value());
        // Found by fuzzing: from_chars reads "nan" and "inf" as numbers.
        QVERIFY(!parseDuration("nan").has_value());
        QVERIFY(!parseDuration("nanms").has_value());
        QVERIFY(!parseDuration("inf").has_value());
    }

    void givenEventNames_whenMadeVisible_thenControlsAndBidiShowAsEscapes_data()
    {
        QTest::addColumn<QByteArray>("name");
        QTest::addColumn<QByteArray>("shown");
        QTest::newRow("plain") << QByteArray("/home") << QByteArray("/home");
        QTest::newRow("markup is text already") << QByteArray("<b>x</b>") << QByteArray("<b>x</b>");
        QTest::newRow("formula is text on a terminal") << QByteArray("=1+2") << QByteArray("=1+2");
        QTest::newRow("ESC sequence")
            << QByteArray("\x1b[31mRED\x1b[0m") << QByteArray("\\x1b[31mRED\\x1b[0m");
        QTest::newRow("CR") << QByteArray("a\rb") << QByteArray("a\\x0db");
        QTest::newRow("DEL and BEL") << QByteArray("a\x7f\x07") << QByteArray("a\\x7f\\x07");
        QTest::newRow("right-to-left override") << QByteArray("\xe2\x80\xae"
                                                              "evil")
                                                << QByteArray("\\u{202e}evil");
        QTest::newRow("isolate") << QByteArray("\xe2\x81\xa6x") << QByteArray("\\u{2066}x");
        QTest::newRow("C1 control") << QByteArray("\xc2\x9bx") << QByteArray("\\u{009b}x");
        QTest::newRow("backslash") << QByteArray("a\\b") << QByteArray("a\\\\b");
        QTest::newRow("other UTF-8 kept")
            << QByteArray("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")
            << QByteArray("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    }
    void givenEventNames_whenMadeVisible_thenControlsAndBidiShowAsEscapes()
    {
        QFETCH(QByteArray, name);
        QFETCH(QByteArray, shown);
        QCOMPARE(QByteArray::fromStdString(visibleText(name.toStdString())), shown);
    }

    void givenFieldsNeedingQuotes_whenCsvEncoded_thenRfc4180()
    {
        // Cells that would start a formula in a spreadsheet are made inert.
        QCOMPARE(csvField("=1+2"), std::string("'=1+2"));
        QCOMPARE(csvField("+cmd|' /C calc'!A0"), std::string("'+cmd|' /C calc'!A0"));
        QCOMPARE(csvField("-2+3"), std::string("'-2+3"));
        QCOMPARE(csvField("@SUM(1)"), std::string("'@SUM(1)"));
        // Control and bidi characters show as escapes: a leading tab or CR no longer starts a
        // formula, a cell cannot reverse its neighbours or recolour a terminal.
        QCOMPARE(csvField("\tx"), std::string("\\x09x"));
        QCOMPARE(csvField("\r=1"), std::string("\\x0d=1"));
        QCOMPARE(csvField("a\x1b[31mred\x7f"), std::string("a\\x1b[31mred\\x7f"));
        QCOMPARE(csvField("x\xe2\x80\xae"
                          "evil"),
                 std::string("x\\u{202e}evil"));
        QCOMPARE(csvField("back\\slash"), std::string("back\\\\slash"));
        QCOMPARE(csvField("/a=b"), std::string("/a=b"));
        QCOMPARE(csvField("plain"), std::string("plain"));
        QCOMPARE(csvField("a,b"), std::string("\"a,b\""));
        QCOMPARE(csvField("say \"hi\""), std::string("\"say \"\"hi\"\"\""));
        QCOMPARE(csvField("two\nlines"), std::string("two\\x0alines"));
    }

    void givenAKnownSnapshot_whenExported_thenTheCsvMatchesByteForByte()
    {
        Snapshot s;
        s.takenAtMs = 1696161600000; // 2023-10-01T12:00:00Z
        s.activeWindow = 5min;
        s.activeUsers = 3;
        s.activeUsers30m = 4;
        s.eventsTotal = 10;
        s.badEventsTotal = 1;
        s.topPagesAllTime = {{"/home", 6}, {"/a,b", 4}};
        s.actions = {{"view", 10}};
        s.perSecond = {{1696161599, 2}};
        std::ostringstream out;
        writeSnapshotCsv(s, out);
        const std::string expected = "metric,key,time_utc,value\r\n"
                                     "active_users,window_300s,2023-10-01T12:00:00.000Z,3\r\n"
                                     "active_users,window_1800s,2023-10-01T12:00:00.000Z,4\r\n"
                                     "events_total,,2023-10-01T12:00:00.000Z,10\r\n"
                                     "bad_events_total,,2023-10-01T12:00:00.000Z,1\r\n"
                                     "lost_events_total,,2023-10-01T12:00:00.000Z,0\r\n"
                                     "page_views_all_time,/home,2023-10-01T12:00:00.000Z,6\r\n"
                                     "page_views_all_time,\"/a,b\",2023-10-01T12:00:00.000Z,4\r\n"
                                     "action_count,view,2023-10-01T12:00:00.000Z,10\r\n"
                                     "events_per_second,,2023-10-01T11:59:59.000Z,2\r\n";
        QCOMPARE(out.str(), expected);
    }
};

QTEST_APPLESS_MAIN(TestBatch)
#include "tst_batch.moc"
