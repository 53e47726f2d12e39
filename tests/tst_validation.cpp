// Event validation: every reason, the boundaries, canonical user ids, timestamps.

#include "core/event.h"
#include "validation_cases.h"

#include <QtTest>

#include <string>

using namespace pb;

Q_DECLARE_METATYPE(std::string)

class TestValidation : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void givenAPayload_whenValidated_thenTheVerdictIsRight_data()
    {
        QTest::addColumn<std::string>("payload");
        QTest::addColumn<QString>("reason"); // empty: valid
        for (const auto &c : validationCases())
            QTest::newRow(c.name) << c.payload << QString(c.reason);
    }

    void givenAPayload_whenValidated_thenTheVerdictIsRight()
    {
        QFETCH(std::string, payload);
        QFETCH(QString, reason);
        EventValidator validator;
        const auto result = validator.validate(payload);
        if (reason.isEmpty()) {
            QVERIFY2(result.ok(), result.error ? reasonName(*result.error).data() : "");
        } else {
            QVERIFY2(!result.ok(), "accepted an invalid event");
            QCOMPARE(QString::fromUtf8(reasonName(*result.error).data(),
                                       static_cast<qsizetype>(reasonName(*result.error).size())),
                     reason);
        }
    }

    void givenIntegerAndStringIds_whenValidated_thenBothGiveTheSameCanonicalUser()
    {
        EventValidator validator;
        QCOMPARE(std::string(validator.validate(makeEvent("123")).event.userId),
                 std::string("123"));
        QCOMPARE(std::string(validator.validate(makeEvent(R"("123")")).event.userId),
                 std::string("123"));
        QCOMPARE(std::string(validator.validate(makeEvent("-5")).event.userId), std::string("-5"));
    }

    void givenDuplicateKeys_whenValidated_thenTheFirstWins()
    {
        EventValidator validator;
        const auto r =
            validator.validate(R"({"user_id":1,"action":"first","action":"second","page":"/"})");
        QVERIFY(r.ok());
        QCOMPARE(std::string(r.event.action), std::string("first"));
    }

    void givenEscapes_whenValidated_thenViewsHoldUnescapedText()
    {
        EventValidator validator;
        // A plain literal: Qt 6.4 moc misreads a backslash-quote inside a raw string.
        const auto r = validator.validate(
            "{\"user_id\":\"a\\\"b\",\"action\":\"v\",\"page\":\"/caf\\u00e9\"}");
        QVERIFY(r.ok());
        QCOMPARE(std::string(r.event.userId), std::string("a\"b"));
        QCOMPARE(std::string(r.event.page), std::string("/caf\xc3\xa9"));
    }

    void givenIsoTimestamps_whenParsed_thenEpochMillisecondsAreRight_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("expected"); // -1: rejected
        QTest::newRow("Z") << "2023-10-01T12:00:00Z" << qint64(1696161600000);
        QTest::newRow("+02:00") << "2023-10-01T14:00:00+02:00" << qint64(1696161600000);
        QTest::newRow("-0130") << "2023-10-01T10:30:00-0130" << qint64(1696161600000);
        QTest::newRow("no zone is UTC") << "2023-10-01T12:00:00" << qint64(1696161600000);
        QTest::newRow("space, lower z") << "2023-10-01 12:00:00z" << qint64(1696161600000);
        QTest::newRow("millis") << "2023-10-01T12:00:00.123Z" << qint64(1696161600123);
        QTest::newRow("micros truncated") << "2023-10-01T12:00:00.123999Z" << qint64(1696161600123);
        QTest::newRow("one digit") << "2023-10-01T12:00:00.5Z" << qint64(1696161600500);
        QTest::newRow("epoch") << "1970-01-01T00:00:00Z" << qint64(0);
        QTest::newRow("leap day") << "2024-02-29T00:00:00Z" << qint64(1709164800000);
        QTest::newRow("leap second") << "2016-12-31T23:59:60Z" << qint64(1483228800000);
        QTest::newRow("not a leap day") << "2023-02-29T00:00:00Z" << qint64(-1);
        QTest::newRow("month 13") << "2023-13-01T00:00:00Z" << qint64(-1);
        QTest::newRow("hour 24") << "2023-10-01T24:00:00Z" << qint64(-1);
        QTest::newRow("minute 60") << "2023-10-01T12:60:00Z" << qint64(-1);
        QTest::newRow("short year") << "23-10-01T12:00:00Z" << qint64(-1);
        QTest::newRow("date only") << "2023-10-01" << qint64(-1);
        QTest::newRow("empty fraction") << "2023-10-01T12:00:00.Z" << qint64(-1);
        QTest::newRow("bad offset") << "2023-10-01T12:00:00+25:00" << qint64(-1);
        QTest::newRow("trailing") << "2023-10-01T12:00:00Zx" << qint64(-1);
    }
    void givenIsoTimestamps_whenParsed_thenEpochMillisecondsAreRight()
    {
        QFETCH(QString, text);
        QFETCH(qint64, expected);
        const auto parsed = parseIso8601Ms(text.toStdString());
        if (expected < 0)
            QVERIFY2(!parsed, "accepted");
        else
            QCOMPARE(parsed.value_or(-1), expected);
    }

    void givenEpochMilliseconds_whenFormatted_thenTheyRoundTrip()
    {
        for (const std::int64_t ms :
             {0LL, 1696161600123LL, 1709164800000LL, -1LL, -86400001LL, 253402300799999LL}) {
            const auto text = formatIso8601Ms(ms);
            QCOMPARE(parseIso8601Ms(text).value_or(INT64_MIN), ms);
        }
        QCOMPARE(formatIso8601Ms(1696161600123), std::string("2023-10-01T12:00:00.123Z"));
        QCOMPARE(formatIso8601Ms(-1), std::string("1969-12-31T23:59:59.999Z"));
    }

    void givenEveryReason_whenNamed_thenTheNameMapsBack()
    {
        for (std::size_t i = 0; i < kInvalidReasonCount; ++i) {
            const auto reason = static_cast<InvalidReason>(i);
            QVERIFY(!reasonDescription(reason).empty());
            QCOMPARE(reasonFromName(reasonName(reason)).value(), reason);
        }
        QVERIFY(!reasonFromName("no_such_reason"));
    }

    void givenOneValidator_whenReusedManyTimes_thenEveryResultIsRight()
    {
        EventValidator validator;
        for (int i = 0; i < 10000; ++i) {
            const bool good = i % 2 == 0;
            const auto payload = good ? makeEvent(std::to_string(i), R"("click")", R"("/p")")
                                      : makeEvent(std::to_string(i), R"("click")", "42");
            const auto r = validator.validate(payload);
            QCOMPARE(r.ok(), good);
            if (good)
                QCOMPARE(std::string(r.event.userId), std::to_string(i));
            else
                QCOMPARE(*r.error, InvalidReason::PageType);
        }
    }
};

QTEST_APPLESS_MAIN(TestValidation)
#include "tst_validation.moc"
