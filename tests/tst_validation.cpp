// Event validation: every reason, the boundaries, canonical user ids, timestamps, reuse.
// The shared table of payloads lives in validation_cases.h; the cases below it add malformed
// values hidden in ignored fields, check order, duplicate keys, escapes and non-object roots.

#include "core/event.h"
#include "core/event_generator.h"
#include "hostile/corpus.h"
#include "validation_cases.h"

#include <QDateTime>
#include <QtTest>

#include <climits>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace pb;
namespace hostile = pb::test::hostile;

Q_DECLARE_METATYPE(std::string)

namespace {

QString toQString(std::string_view s)
{
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

// The reason's machine name, or "ok" for a valid event: readable in a failed QCOMPARE.
QString verdict(const ValidationResult &r)
{
    return r.ok() ? QStringLiteral("ok") : toQString(reasonName(*r.error));
}

// An event with `extra` (starting with a comma) appended after the required fields.
std::string withExtra(const std::string &extra)
{
    return makeEvent("1", R"("v")", R"("/")", extra);
}

std::string nested(int depth)
{
    return std::string(static_cast<std::size_t>(depth), '[') +
           std::string(static_cast<std::size_t>(depth), ']');
}

// Cases beyond the shared table.
std::vector<ValidationCase> moreCases()
{
    std::vector<ValidationCase> c;
    // Given malformed JSON hidden in a field we ignore, then the whole payload is not JSON.
    c.push_back({"unknown: bad literal", withExtra(R"(,"x":tru)"), "not_json"});
    c.push_back({"unknown: literal with a tail", withExtra(R"(,"x":truex)"), "not_json"});
    c.push_back({"unknown: bad null", withExtra(R"(,"x":nul)"), "not_json"});
    c.push_back({"unknown: missing comma in array", withExtra(R"(,"x":[1 2])"), "not_json"});
    c.push_back({"unknown: trailing comma in array", withExtra(R"(,"x":[1,])"), "not_json"});
    c.push_back({"unknown: missing colon", withExtra(R"(,"x":{"a" 1})"), "not_json"});
    c.push_back({"unknown: trailing comma in object", withExtra(R"(,"x":{"a":1,})"), "not_json"});
    // (On-Demand steps over a ':' after a string it skips, as if the string were a key.)
    c.push_back(
        {"unknown: colon after a string in an array", withExtra(R"(,"x":["a":1])"), "not_json"});
    c.push_back({"unknown: colon after a string value", withExtra(R"(,"x":"a":1)"), "not_json"});
    c.push_back({"colon after the page", makeEvent("1", R"("v")", R"("/":1)"), "not_json"});
    c.push_back({"colon after a string user id", makeEvent(R"("u":1)"), "not_json"});
    c.push_back({"colon in a root array", std::string(R"(["a":1])"), "not_json"});
    c.push_back({"unknown: array closed by a brace", withExtra(R"(,"x":[1,"a"})"), "not_json"});
    c.push_back({"unknown: leading zero", withExtra(R"(,"x":01)"), "not_json"});
    c.push_back({"unknown: bare minus", withExtra(R"(,"x":-)"), "not_json"});
    c.push_back({"unknown: dot without digits", withExtra(R"(,"x":1.)"), "not_json"});
    c.push_back({"unknown: empty exponent", withExtra(R"(,"x":1e)"), "not_json"});
    c.push_back({"unknown: plus sign", withExtra(R"(,"x":+1)"), "not_json"});
    c.push_back({"unknown: no value", withExtra(R"(,"x":)"), "not_json"});
    c.push_back({"unknown: bad escape", withExtra(",\"x\":\"\\q\""), "not_json"});
    c.push_back({"unknown: short unicode escape", withExtra(",\"x\":\"\\u12\""), "not_json"});
    c.push_back(
        {"unknown: bad escape in a nested key", withExtra(",\"x\":{\"\\q\":1}"), "not_json"});
    c.push_back({"unknown: nested 5000 deep", withExtra(R"(,"x":)" + nested(5000)), "not_json"});
    c.push_back({"trailing comma in the object", withExtra(","), "not_json"});
    c.push_back({"extra closing brace", makeEvent("1") + "}", "not_json"});
    c.push_back({"extra closing bracket", makeEvent("1") + "]", "not_json"});
    c.push_back({"NUL after the object", makeEvent("1") + std::string(1, '\0'), "not_json"});
    c.push_back({"byte order mark", "\xef\xbb\xbf" + makeEvent("1"), "not_json"});
    c.push_back({"whitespace only", std::string(" \n\t "), "not_json"});
    c.push_back({"raw tab in page", makeEvent("1", R"("v")", "\"/a\tb\""), "not_json"});
    c.push_back(
        {"raw control character in an unknown field", withExtra(",\"x\":\"\x01\""), "not_json"});
    c.push_back({"bad escape in page", makeEvent("1", R"("v")", "\"/\\x\""), "not_json"});
    c.push_back({"bad escape in a key", std::string("{\"\\q\":1}"), "not_json"});
    c.push_back({"user id with a leading zero", makeEvent("01"), "not_json"});
    c.push_back({"user id with a plus sign", makeEvent("+1"), "not_json"});
    c.push_back({"bad null timestamp", withExtra(R"(,"timestamp":nul)"), "not_json"});

    // Given valid JSON that is not an object.
    c.push_back({"empty array", std::string("[]"), "not_object"});
    c.push_back({"nested array", std::string(R"([{"user_id":1},[2,"x"]])"), "not_object"});
    c.push_back({"string", std::string(R"("text")"), "not_object"});
    c.push_back({"true", std::string("true"), "not_object"});
    c.push_back({"null", std::string(" null "), "not_object"});
    c.push_back({"negative float", std::string("-1.5e3"), "not_object"});
    // ... unless it is not JSON at all.
    c.push_back({"number with a tail", std::string("42x"), "not_json"});
    c.push_back({"two numbers", std::string("42 43"), "not_json"});
    c.push_back({"string with a tail", std::string(R"("text" x)"), "not_json"});
    c.push_back({"bad array", std::string("[1 2]"), "not_json"});
    c.push_back({"unclosed array", std::string("[1,2"), "not_json"});
    c.push_back({"array with a tail", std::string("[1]x"), "not_json"});
    c.push_back({"bad literal", std::string("nul"), "not_json"});

    // Given escapes that cannot become UTF-8 (lone surrogates), then the UTF-8 is invalid.
    c.push_back(
        {"lone high surrogate in page", makeEvent("1", R"("v")", "\"/\\ud800\""), "invalid_utf8"});
    c.push_back({"lone low surrogate in user id", makeEvent("\"\\udc00\""), "invalid_utf8"});
    c.push_back(
        {"lone surrogate in an unknown field", withExtra(",\"x\":\"\\ud800x\""), "invalid_utf8"});
    c.push_back({"invalid UTF-8 in a key", std::string("{\"\xff\":1}"), "invalid_utf8"});
    c.push_back(
        {"overlong UTF-8 encoding", makeEvent("1", R"("v")", "\"/\xc0\xaf\""), "invalid_utf8"});
    c.push_back(
        {"truncated UTF-8 sequence at the end", makeEvent("1") + "\xe2\x82", "invalid_utf8"});
    c.push_back({"escaped NUL is fine", makeEvent("1", R"("v")", R"("/\u0000")"), ""});
    c.push_back({"surrogate pair is fine", makeEvent("1", R"("v")", "\"/\\ud83d\\ude00\""), ""});
    c.push_back({"raw 4-byte UTF-8 is fine", makeEvent("1", "\"\xf0\x9f\x98\x80\""), ""});

    // Given several problems, then document-level ones win, then user_id, action, page, ts.
    c.push_back(
        {"bad JSON after a bad user id", std::string(R"({"user_id":1.5,"x":tru})"), "not_json"});
    c.push_back({"bad UTF-8 after a bad user id", std::string("{\"user_id\":1.5,\"x\":\"\xff\"}"),
                 "invalid_utf8"});
    c.push_back({"trailing garbage after a bad user id",
                 std::string(R"({"user_id":true,"action":5} x)"), "not_json"});
    c.push_back({"user id missing before a bad action", std::string(R"({"action":5,"page":6})"),
                 "user_id_missing"});
    c.push_back({"action before page", makeEvent("1", R"("")", "7"), "action_range"});
    c.push_back({"page before timestamp", makeEvent("1", R"("v")", "7", R"(,"timestamp":"soon")"),
                 "page_type"});
    c.push_back({"fields in any order",
                 std::string(R"({"timestamp":1,"page":"/","action":"v","user_id":"u"})"), ""});
    c.push_back({"empty object", std::string("{}"), "user_id_missing"});

    // Given duplicate keys, then the first occurrence wins.
    c.push_back({"duplicate user id, second bad",
                 std::string(R"({"user_id":1,"user_id":true,"action":"v","page":"/"})"), ""});
    c.push_back({"duplicate user id, first bad",
                 std::string(R"({"user_id":true,"user_id":1,"action":"v","page":"/"})"),
                 "user_id_type"});
    c.push_back({"duplicate page, second malformed",
                 std::string(R"({"user_id":1,"action":"v","page":"/","page":[1 2]})"), "not_json"});
    c.push_back(
        {"duplicate timestamp, second bad", withExtra(R"(,"timestamp":1,"timestamp":"x")"), ""});

    // Given other types in the known fields.
    c.push_back({"array user id", makeEvent("[1]"), "user_id_type"});
    c.push_back({"string action", makeEvent("1", R"(["v"])"), "action_type"});
    c.push_back({"null action", makeEvent("1", "null"), "action_type"});
    c.push_back({"object page", makeEvent("1", R"("v")", R"({"p":"/"})"), "page_type"});
    c.push_back({"false page", makeEvent("1", R"("v")", "false"), "page_type"});
    c.push_back({"negative zero user id", makeEvent("-0"), ""});
    c.push_back({"user id 0", makeEvent("0"), ""});
    c.push_back(
        {"escaped user id 128 bytes", makeEvent("\"" + std::string(126, 'a') + "\\u00e9\""), ""});
    c.push_back({"escaped user id 129 bytes", makeEvent("\"" + std::string(127, 'a') + "\\u00e9\""),
                 "user_id_range"});
    c.push_back({"escaped page 2048 bytes",
                 makeEvent("1", R"("v")", "\"" + std::string(2046, 'a') + "\\n\\t\""), ""});
    c.push_back({"escaped page 2049 bytes",
                 makeEvent("1", R"("v")", "\"" + std::string(2047, 'a') + "\\n\\t\""),
                 "page_range"});
    c.push_back({"escaped key is the same key",
                 std::string(R"({"user\u005fid":1,"action":"v","page":"/"})"), ""});
    c.push_back({"unknown fields of every type",
                 withExtra(R"(,"a":"s","b":-1.5E+3,"c":true,"d":false,"e":null,"f":[],)"
                           R"("g":{},"h":[{"i":[[]]}],"j":0,"k":1e-7,"l":"\u00e9\n")"),
                 ""});
    // Nesting: 1000 levels counting the root are fine, 1001 are not (simdjson's limit is 1024).
    c.push_back({"1000 levels", withExtra(R"(,"x":)" + nested(999)), ""});
    c.push_back({"1001 levels", withExtra(R"(,"x":)" + nested(1000)), "not_json"});
    c.push_back({"1001 levels in user_id", makeEvent(nested(1000)), "not_json"});
    c.push_back({"root array of 1000 levels", nested(1000), "not_object"});
    c.push_back({"root array of 1001 levels", nested(1001), "not_json"});
    c.push_back({"huge float in an unknown field", withExtra(R"(,"x":1e999999)"), ""});
    c.push_back({"whitespace everywhere",
                 std::string(" {\n \"user_id\" :\t1 ,\r\n\"action\": \"v\" , \"page\" :\"/\" } "),
                 ""});

    // Given timestamps of every kind.
    c.push_back({"timestamp 0", withExtra(R"(,"timestamp":0)"), ""});
    c.push_back({"timestamp year 9999", withExtra(R"(,"timestamp":253402300799999)"), ""});
    c.push_back({"timestamp negative zero", withExtra(R"(,"timestamp":-0)"), ""});
    c.push_back({"timestamp beyond 64 bits", withExtra(R"(,"timestamp":99999999999999999999)"),
                 "timestamp_format"});
    c.push_back({"timestamp 1.0", withExtra(R"(,"timestamp":1.0)"), "timestamp_type"});
    c.push_back({"timestamp object", withExtra(R"(,"timestamp":{"ms":1})"), "timestamp_type"});
    c.push_back({"timestamp array", withExtra(R"(,"timestamp":[1])"), "timestamp_type"});
    c.push_back(
        {"timestamp with offset", withExtra(R"(,"timestamp":"2023-10-01T14:00:00+02:00")"), ""});
    c.push_back({"timestamp before 1970", withExtra(R"(,"timestamp":"1969-07-20T20:17:40Z")"), ""});
    c.push_back({"timestamp empty string", withExtra(R"(,"timestamp":"")"), "timestamp_format"});
    c.push_back({"timestamp digits in a string", withExtra(R"(,"timestamp":"1696161600000")"),
                 "timestamp_format"});
    return c;
}

} // namespace

class TestValidation : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void givenAPayload_whenValidated_thenTheVerdictIsRight_data()
    {
        QTest::addColumn<std::string>("payload");
        QTest::addColumn<QString>("reason"); // empty: valid
        for (const auto &c : validationCases())
            QTest::newRow(c.name) << c.payload << QString(c.reason);
        for (const auto &c : moreCases())
            QTest::newRow(c.name) << c.payload << QString(c.reason);
    }

    void givenAPayload_whenValidated_thenTheVerdictIsRight()
    {
        QFETCH(std::string, payload);
        QFETCH(QString, reason);
        EventValidator validator;
        const auto result = validator.validate(payload);
        QCOMPARE(verdict(result), reason.isEmpty() ? QStringLiteral("ok") : reason);
        if (result.ok()) {
            QVERIFY(!result.event.userId.empty());
            QVERIFY(!result.event.action.empty());
            QVERIFY(!result.event.page.empty());
        }
    }

    void givenEveryReason_whenTheTableIsChecked_thenEachReasonIsCovered()
    {
        // Given both tables; then every InvalidReason is expected by at least one row.
        std::vector<bool> covered(kInvalidReasonCount, false);
        auto cases = validationCases();
        const auto more = moreCases();
        cases.insert(cases.end(), more.begin(), more.end());
        for (const auto &c : cases)
            if (const auto reason = reasonFromName(c.reason))
                covered[static_cast<std::size_t>(*reason)] = true;
        for (std::size_t i = 0; i < kInvalidReasonCount; ++i)
            QVERIFY2(covered[i], reasonName(static_cast<InvalidReason>(i)).data());
    }

    void givenAPayloadInsideALargerBuffer_whenValidated_thenOnlyThePayloadIsRead()
    {
        // Given a valid event followed by garbage the payload view does not include (Kafka
        // payloads are neither padded nor NUL-terminated).
        const std::string event = makeEvent("7");
        const std::string buffer = event + "garbage}}}";
        EventValidator validator;
        // When validated, then the garbage is not seen.
        const auto r = validator.validate(std::string_view(buffer).substr(0, event.size()));
        QCOMPARE(verdict(r), QStringLiteral("ok"));
        QCOMPARE(toQString(r.event.userId), QStringLiteral("7"));
        // And a view cut mid-event is truncated JSON.
        QCOMPARE(verdict(validator.validate(std::string_view(buffer).substr(0, event.size() - 1))),
                 QStringLiteral("not_json"));
    }

    void givenIntegerAndStringIds_whenValidated_thenBothGiveTheSameCanonicalUser_data()
    {
        QTest::addColumn<std::string>("userId");
        QTest::addColumn<QString>("canonical");
        QTest::newRow("integer") << std::string("123") << "123";
        QTest::newRow("string") << std::string(R"("123")") << "123";
        QTest::newRow("negative") << std::string("-5") << "-5";
        QTest::newRow("negative zero") << std::string("-0") << "0";
        QTest::newRow("INT64_MAX") << std::string("9223372036854775807") << "9223372036854775807";
        QTest::newRow("INT64_MIN") << std::string("-9223372036854775808") << "-9223372036854775808";
        QTest::newRow("string kept as is") << std::string(R"("007")") << "007";
    }

    void givenIntegerAndStringIds_whenValidated_thenBothGiveTheSameCanonicalUser()
    {
        QFETCH(std::string, userId);
        QFETCH(QString, canonical);
        EventValidator validator;
        // Given a payload the caller overwrites right after validation,
        std::string payload = makeEvent(userId, R"("click")", R"("/p")");
        const auto r = validator.validate(payload);
        std::fill(payload.begin(), payload.end(), 'X');
        // then the views still hold the event: they point into the validator, not the payload.
        QVERIFY(r.ok());
        QCOMPARE(toQString(r.event.userId), canonical);
        QCOMPARE(toQString(r.event.action), QStringLiteral("click"));
        QCOMPARE(toQString(r.event.page), QStringLiteral("/p"));
    }

    void givenDuplicateKeys_whenValidated_thenTheFirstWins()
    {
        EventValidator validator;
        const auto r = validator.validate(
            R"({"user_id":1,"action":"first","action":"second","page":"/","user_id":2})");
        QVERIFY(r.ok());
        QCOMPARE(toQString(r.event.action), QStringLiteral("first"));
        QCOMPARE(toQString(r.event.userId), QStringLiteral("1"));
    }

    void givenEscapes_whenValidated_thenViewsHoldUnescapedText()
    {
        EventValidator validator;
        // A plain literal: Qt 6.4 moc misreads a backslash-quote inside a raw string.
        const auto r = validator.validate("{\"user_id\":\"a\\\"b\",\"action\":\"v\\/w\",\"page\":"
                                          "\"/caf\\u00e9\\ud83d\\ude00\"}");
        QVERIFY(r.ok());
        QCOMPARE(std::string(r.event.userId), std::string("a\"b"));
        QCOMPARE(std::string(r.event.action), std::string("v/w"));
        QCOMPARE(std::string(r.event.page), std::string("/caf\xc3\xa9\xf0\x9f\x98\x80"));
    }

    void givenTimestamps_whenValidated_thenTheEventCarriesEpochMilliseconds_data()
    {
        QTest::addColumn<std::string>("extra");
        QTest::addColumn<bool>("present");
        QTest::addColumn<qint64>("expected");
        QTest::newRow("none") << std::string() << false << qint64(0);
        QTest::newRow("null") << std::string(R"(,"timestamp":null)") << false << qint64(0);
        QTest::newRow("epoch ms") << std::string(R"(,"timestamp":1696161600000)") << true
                                  << qint64(1696161600000);
        QTest::newRow("zero") << std::string(R"(,"timestamp":0)") << true << qint64(0);
        QTest::newRow("ISO Z") << std::string(R"(,"timestamp":"2023-10-01T12:00:00Z")") << true
                               << qint64(1696161600000);
        QTest::newRow("ISO offset") << std::string(R"(,"timestamp":"2023-10-01T14:00:00+02:00")")
                                    << true << qint64(1696161600000);
        // A date before 1970 is a valid ISO timestamp and gives a negative epoch.
        QTest::newRow("ISO before 1970")
            << std::string(R"(,"timestamp":"1969-12-31T23:59:59.999Z")") << true << qint64(-1);
    }

    void givenTimestamps_whenValidated_thenTheEventCarriesEpochMilliseconds()
    {
        QFETCH(std::string, extra);
        QFETCH(bool, present);
        QFETCH(qint64, expected);
        EventValidator validator;
        const auto r = validator.validate(withExtra(extra));
        QVERIFY(r.ok());
        QCOMPARE(r.event.timestampMs.has_value(), present);
        if (present)
            QCOMPARE(*r.event.timestampMs, std::int64_t{expected});
    }

    void givenIsoTimestamps_whenParsed_thenEpochMillisecondsAreRight_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("accepted");
        QTest::addColumn<qint64>("expected");
        const auto good = [](const char *name, const char *text, qint64 ms) {
            QTest::newRow(name) << QString::fromLatin1(text) << true << ms;
        };
        const auto bad = [](const char *name, const char *text) {
            QTest::newRow(name) << QString::fromLatin1(text) << false << qint64(0);
        };
        // Given accepted forms, then the epoch milliseconds (computed by hand) are right.
        good("Z", "2023-10-01T12:00:00Z", 1696161600000);
        good("+02:00", "2023-10-01T14:00:00+02:00", 1696161600000);
        good("+0200", "2023-10-01T14:00:00+0200", 1696161600000);
        good("-01:30", "2023-10-01T10:30:00-01:30", 1696161600000);
        good("-0130", "2023-10-01T10:30:00-0130", 1696161600000);
        good("+00:00", "2023-10-01T12:00:00+00:00", 1696161600000);
        good("-0000", "2023-10-01T12:00:00-0000", 1696161600000);
        good("+23:59", "2023-10-02T11:59:00+23:59", 1696161600000);
        good("offset crosses the date", "2023-10-01T01:00:00+02:00", 1696114800000);
        good("no zone is UTC", "2023-10-01T12:00:00", 1696161600000);
        good("space, lower z", "2023-10-01 12:00:00z", 1696161600000);
        good("lower t", "2023-10-01t12:00:00Z", 1696161600000);
        good("millis", "2023-10-01T12:00:00.123Z", 1696161600123);
        good("micros truncated", "2023-10-01T12:00:00.123999Z", 1696161600123);
        good("nanos truncated", "2023-10-01T12:00:00.999999999Z", 1696161600999);
        good("one digit", "2023-10-01T12:00:00.5Z", 1696161600500);
        good("two digits", "2023-10-01T12:00:00.25", 1696161600250);
        good("comma fraction", "2023-10-01T12:00:00,5Z", 1696161600500);
        good("fraction and offset", "2023-10-01T14:00:00.007+02:00", 1696161600007);
        good("epoch", "1970-01-01T00:00:00Z", 0);
        good("before epoch", "1969-12-31T23:59:59.999Z", -1);
        good("before epoch with fraction", "1969-12-31T23:59:59.5Z", -500);
        good("moon landing", "1969-07-20T20:17:40Z", -14182940000);
        good("year 0", "0000-01-01T00:00:00Z", -62167219200000);
        good("year 9999", "9999-12-31T23:59:59.999Z", 253402300799999);
        good("leap day", "2024-02-29T00:00:00Z", 1709164800000);
        good("leap day of a 400 year", "2000-02-29T00:00:00Z", 951782400000);
        good("Dec 31 of a leap year", "2024-12-31T00:00:00Z", 1735603200000);
        good("Y2038", "2038-01-19T03:14:08Z", 2147483648000);
        // A leap second rolls forward: 23:59:60 reads as the next day's 00:00:00.
        good("leap second", "2016-12-31T23:59:60Z", 1483228800000);
        good("leap second with fraction", "2016-12-31T23:59:60.5Z", 1483228800500);

        // Given malformed or impossible dates and times, then they are rejected.
        bad("not a leap day", "2023-02-29T00:00:00Z");
        bad("1900 is not a leap year", "1900-02-29T00:00:00Z");
        bad("April 31", "2023-04-31T00:00:00Z");
        bad("day 0", "2023-10-00T00:00:00Z");
        bad("day 32", "2023-01-32T00:00:00Z");
        bad("month 0", "2023-00-01T00:00:00Z");
        bad("month 13", "2023-13-01T00:00:00Z");
        bad("hour 24", "2023-10-01T24:00:00Z");
        bad("minute 60", "2023-10-01T12:60:00Z");
        bad("second 61", "2023-10-01T12:00:61Z");
        bad("short year", "23-10-01T12:00:00Z");
        bad("five-digit year", "20231-10-01T12:00:00Z");
        bad("one-digit month", "2023-1-01T12:00:00Z");
        bad("one-digit hour", "2023-10-01T2:00:00Z");
        bad("no seconds", "2023-10-01T12:00Z");
        bad("date only", "2023-10-01");
        bad("date and T", "2023-10-01T");
        bad("basic format", "20231001T120000Z");
        bad("slashes", "2023/10/01T12:00:00Z");
        bad("other separator", "2023-10-01_12:00:00Z");
        bad("empty fraction", "2023-10-01T12:00:00.Z");
        bad("ten fraction digits", "2023-10-01T12:00:00.1234567890Z");
        bad("offset hour 24", "2023-10-01T12:00:00+24:00");
        bad("offset hour 25", "2023-10-01T12:00:00+25:00");
        bad("offset minute 60", "2023-10-01T12:00:00+02:60");
        bad("offset without minutes", "2023-10-01T12:00:00+02");
        bad("one-digit offset", "2023-10-01T12:00:00+2:00");
        bad("offset with a trailing colon", "2023-10-01T12:00:00+02:");
        bad("Z and offset", "2023-10-01T12:00:00Z+02:00");
        bad("zone name", "2023-10-01T12:00:00 UTC");
        bad("trailing", "2023-10-01T12:00:00Zx");
        bad("trailing space", "2023-10-01T12:00:00Z ");
        bad("leading space", " 2023-10-01T12:00:00Z");
        bad("negative year", "-2023-10-01T12:00:00Z");
        bad("signed month", "2023-+1-01T12:00:00Z");
        bad("empty", "");
        bad("word", "yesterday");
    }

    void givenIsoTimestamps_whenParsed_thenEpochMillisecondsAreRight()
    {
        QFETCH(QString, text);
        QFETCH(bool, accepted);
        QFETCH(qint64, expected);
        const auto parsed = parseIso8601Ms(text.toStdString());
        QCOMPARE(parsed.has_value(), accepted);
        if (accepted)
            QCOMPARE(*parsed, std::int64_t{expected});
    }

    void givenNonAsciiText_whenParsed_thenItIsRejected()
    {
        // Given full-width digits and a NUL inside the text, then nothing is read as a digit.
        QVERIFY(
            !parseIso8601Ms("\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x93-10-01T12:00:00Z"));
        QVERIFY(!parseIso8601Ms(std::string_view("2023-10-01T12:00:00\0Z", 21)));
    }

    void givenEpochMilliseconds_whenFormatted_thenTheyRoundTrip()
    {
        for (const std::int64_t ms :
             {0LL, 1LL, 999LL, 1696161600123LL, 1709164800000LL, 951782400000LL, -1LL, -999LL,
              -1000LL, -86400000LL, -86400001LL, -62167219200000LL, 253402300799999LL}) {
            const auto text = formatIso8601Ms(ms);
            QCOMPARE(parseIso8601Ms(text).value_or(INT64_MIN), ms);
        }
        QCOMPARE(formatIso8601Ms(0), std::string("1970-01-01T00:00:00.000Z"));
        QCOMPARE(formatIso8601Ms(1696161600123), std::string("2023-10-01T12:00:00.123Z"));
        QCOMPARE(formatIso8601Ms(-1), std::string("1969-12-31T23:59:59.999Z"));
        QCOMPARE(formatIso8601Ms(-86400001), std::string("1969-12-30T23:59:59.999Z"));
        QCOMPARE(formatIso8601Ms(951782400000), std::string("2000-02-29T00:00:00.000Z"));
        QCOMPARE(formatIso8601Ms(253402300799999), std::string("9999-12-31T23:59:59.999Z"));
        QCOMPARE(formatIso8601Ms(-62167219200000), std::string("0000-01-01T00:00:00.000Z"));
        // Years outside 0000-9999 use the expanded form instead of breaking the layout.
        QCOMPARE(formatIso8601Ms(253402300800000), std::string("+10000-01-01T00:00:00.000Z"));
        QCOMPARE(formatIso8601Ms(-62167219200001), std::string("-0001-12-31T23:59:59.999Z"));
        // The extremes do not overflow (same text as java.time.Instant gives).
        QCOMPARE(formatIso8601Ms(INT64_MAX), std::string("+292278994-08-17T07:12:55.807Z"));
        QCOMPARE(formatIso8601Ms(INT64_MIN), std::string("-292275055-05-16T16:47:04.192Z"));
    }

    void givenIsoTexts_whenParsedAndFormatted_thenTheCanonicalFormRoundTrips_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("canonical");
        QTest::newRow("canonical") << "2023-10-01T12:00:00.123Z"
                                   << "2023-10-01T12:00:00.123Z";
        QTest::newRow("offset") << "2023-10-01T14:00:00+02:00"
                                << "2023-10-01T12:00:00.000Z";
        QTest::newRow("negative offset") << "2023-12-31T23:30:00-01:00"
                                         << "2024-01-01T00:30:00.000Z";
        QTest::newRow("space, no zone") << "2024-02-29 23:59:59.9"
                                        << "2024-02-29T23:59:59.900Z";
        QTest::newRow("before 1970") << "1901-12-13T20:45:52Z"
                                     << "1901-12-13T20:45:52.000Z";
        QTest::newRow("leap second") << "2016-12-31T23:59:60Z"
                                     << "2017-01-01T00:00:00.000Z";
    }

    void givenIsoTexts_whenParsedAndFormatted_thenTheCanonicalFormRoundTrips()
    {
        QFETCH(QString, text);
        QFETCH(QString, canonical);
        const auto ms = parseIso8601Ms(text.toStdString());
        QVERIFY(ms);
        QCOMPARE(QString::fromStdString(formatIso8601Ms(*ms)), canonical);
        QCOMPARE(parseIso8601Ms(canonical.toStdString()), ms);
    }

    void givenManyInstants_whenFormatted_thenQtAgreesAndTheyRoundTrip()
    {
        // Given instants spread over years 1..9999 (Qt has no year 0), when formatted, then
        // QDateTime (an independent calendar) gives the same text and parsing gives the instant.
        const std::int64_t first = -62135596800000; // 0001-01-01T00:00:00Z
        const std::int64_t last = 253402300799999;
        std::uint64_t state = 0x9e3779b97f4a7c15ULL;
        for (int i = 0; i < 20000; ++i) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            const auto span = static_cast<std::uint64_t>(last - first);
            const auto ms = first + static_cast<std::int64_t>((state >> 1) % span);
            const auto text = formatIso8601Ms(ms);
            const auto qt = QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC)
                                .toString(Qt::ISODateWithMs)
                                .toStdString();
            QCOMPARE(text, qt);
            QCOMPARE(parseIso8601Ms(text).value_or(INT64_MIN), ms);
        }
    }

    void givenEveryReason_whenNamed_thenTheNameMapsBack()
    {
        std::vector<std::string_view> names;
        for (std::size_t i = 0; i < kInvalidReasonCount; ++i) {
            const auto reason = static_cast<InvalidReason>(i);
            QVERIFY(!reasonName(reason).empty());
            QVERIFY(!reasonDescription(reason).empty());
            QCOMPARE(reasonFromName(reasonName(reason)).value(), reason);
            for (const auto other : names)
                QVERIFY(other != reasonName(reason)); // names are unique
            names.push_back(reasonName(reason));
        }
        QCOMPARE(kInvalidReasonCount, std::size_t(14));
        QCOMPARE(reasonName(InvalidReason::NotJson), std::string_view("not_json"));
        QCOMPARE(reasonName(InvalidReason::TimestampFormat), std::string_view("timestamp_format"));
        QVERIFY(!reasonFromName("no_such_reason"));
        QVERIFY(!reasonFromName(""));
        QVERIFY(!reasonFromName("NOT_JSON"));
    }

    void givenTheHostileCorpus_whenValidatedQuickAndFull_thenBothGiveItsVerdict()
    {
        // Given every payload tst_hostile sends end to end, then both paths give the verdict
        // the corpus states and a valid one reads as the event the corpus expects (duplicate
        // keys included: the first wins on both).
        EventValidator quick;
        EventValidator full(false);
        const auto now = QDateTime::currentMSecsSinceEpoch();
        for (const auto &c : hostile::corpus(now)) {
            const auto name = c.name.c_str();
            const auto expected = QString::fromStdString(c.valid() ? "ok" : c.expect);
            for (auto *validator : {&quick, &full}) {
                const auto r = validator->validate(c.payload);
                QVERIFY2(verdict(r) == expected,
                         qPrintable(QString("%1: %2").arg(name, verdict(r))));
                if (!r.ok())
                    continue;
                QVERIFY2(r.event.userId == c.user, name);
                QVERIFY2(r.event.action == c.action, name);
                QVERIFY2(r.event.page == c.page, name);
                // A payload time the corpus says counts as written is the one read.
                if (c.payloadModeTime != hostile::kReadTime && c.payloadModeTime != c.kafkaTimeMs)
                    QVERIFY2(r.event.timestampMs == c.payloadModeTime, name);
            }
        }
    }

    void givenTheHostileCorpus_whenListed_thenItHasFiftyKindsAndEveryReason()
    {
        const auto cases = hostile::corpus(QDateTime::currentMSecsSinceEpoch());
        std::set<std::string> names;
        std::vector<bool> covered(kInvalidReasonCount, false);
        for (const auto &c : cases) {
            QVERIFY2(names.insert(c.name).second, c.name.c_str()); // each kind once
            if (c.valid())
                continue;
            const auto reason = reasonFromName(c.expect);
            QVERIFY2(reason, c.expect.c_str());
            covered[static_cast<std::size_t>(*reason)] = true;
        }
        QVERIFY2(cases.size() >= 50, qPrintable(QString::number(cases.size())));
        for (std::size_t i = 0; i < kInvalidReasonCount; ++i)
            QVERIFY2(covered[i], reasonName(static_cast<InvalidReason>(i)).data());
    }

    void givenRandomEdits_whenValidatedQuickAndFull_thenBothPathsAgree()
    {
        // The quick path only ever accepts, finding exactly what the full path finds; every
        // other payload gets the full path's verdict. Given typical events and every table
        // payload, each with 1-3 random edits (bytes that matter to JSON, UTF-8 and the
        // fields), 300,000 of them, when validated both ways, then verdicts and fields agree.
        EventValidator quick;
        EventValidator full(false);
        EventGenerator generator;
        std::vector<std::string> seeds;
        for (int i = 0; i < 50; ++i)
            seeds.emplace_back(generator.next(1700000000000 + i * 997).json);
        for (const auto &c : validationCases())
            seeds.push_back(c.payload);
        for (const auto &c : moreCases())
            seeds.push_back(c.payload);
        seeds.push_back(R"( { "user_id" : "u1" , "action":"view","page":"/a","timestamp":null,)"
                        R"("n":-12,"f":1.5e3,"b":true,"z":null,"user_id":2,"page":7 } )");
        seeds.push_back(R"({"timestamp":1700000000000,"page":"/p","action":"a","user_id":-0})");
        seeds.push_back(R"({"user_id":9223372036854775807,"action":"x","page":"/","o":{"a":[1]}})");
        static constexpr char kBytes[] = {
            '"', '\\', '{', '}', '[',  ']',    ',',    ':',    ' ',    '\t',   '\n',  '0',
            '1', '9',  '-', '+', '.',  'e',    'E',    'n',    'u',    'l',    't',   'f',
            'a', '/',  'T', 'Z', '\0', '\x1f', '\x7f', '\x80', '\xc3', '\xa9', '\xff'};
        std::mt19937_64 rng(20261125);
        auto pick = [&](std::size_t n) {
            return static_cast<std::size_t>(rng() % n);
        };
        int accepted = 0;
        for (int i = 0; i < 300000; ++i) {
            auto payload = seeds[pick(seeds.size())];
            for (std::size_t edits = 1 + pick(3); edits > 0; --edits) {
                const auto at = pick(payload.size() + 1);
                const char byte = kBytes[pick(sizeof kBytes)];
                switch (pick(4)) {
                case 0:
                    if (at < payload.size())
                        payload[at] = byte;
                    break;
                case 1:
                    payload.insert(at, 1, byte);
                    break;
                case 2:
                    if (at < payload.size())
                        payload.erase(at, 1 + pick(3));
                    break;
                default: // a piece of the payload repeated elsewhere (duplicate keys, values)
                    payload.insert(pick(payload.size() + 1), payload.substr(at, pick(24)));
                    break;
                }
            }
            const auto a = quick.validate(payload);
            const auto b = full.validate(payload);
            const bool same =
                verdict(a) == verdict(b) &&
                (!a.ok() ||
                 (a.event.userId == b.event.userId && a.event.action == b.event.action &&
                  a.event.page == b.event.page && a.event.timestampMs == b.event.timestampMs));
            if (!same)
                QFAIL(qPrintable(
                    QStringLiteral("quick %1, full %2 for %3")
                        .arg(verdict(a), verdict(b),
                             QString::fromLatin1(
                                 QByteArray::fromStdString(payload).toPercentEncoding()))));
            accepted += a.ok() ? 1 : 0;
        }
        QVERIFY2(accepted > 10000, qPrintable(QString::number(accepted))); // both paths ran
    }

    void givenOneValidator_whenReusedManyTimes_thenEveryResultIsRight()
    {
        // Given one validator and 10,000 events alternating valid and invalid, long and short
        // (the padded copy grows and shrinks), when validated one after the other, then each
        // verdict and each valid event's views are right.
        EventValidator validator;
        const std::string longPage = "\"/" + std::string(3000, 'p') + "\"";
        ValidationResult last;
        for (int i = 0; i < 10000; ++i) {
            const auto id = std::to_string(i);
            std::string payload;
            InvalidReason reason = InvalidReason::NotJson;
            switch (i % 4) {
            case 0: // invalid, long
                payload = makeEvent(id, R"("click")", longPage);
                reason = InvalidReason::PageRange;
                break;
            case 1: // valid, integer id
                payload = makeEvent(id, R"("click")", "\"/p" + id + "\"");
                break;
            case 2: // invalid, short and truncated
                payload = makeEvent(id).substr(0, 10);
                break;
            case 3: // valid, string id with an escape, timestamp
                payload = makeEvent("\"u\\u00e9" + id + "\"", R"("buy")", R"("/b")",
                                    R"(,"timestamp":)" + id);
                break;
            }
            last = validator.validate(payload);
            const bool good = i % 2 == 1;
            QCOMPARE(last.ok(), good);
            if (!good) {
                QCOMPARE(*last.error, reason);
                continue;
            }
            if (i % 4 == 1) {
                QCOMPARE(std::string(last.event.userId), id);
                QCOMPARE(std::string(last.event.action), std::string("click"));
                QCOMPARE(std::string(last.event.page), "/p" + id);
                QVERIFY(!last.event.timestampMs);
            } else {
                QCOMPARE(std::string(last.event.userId), "u\xc3\xa9" + id);
                QCOMPARE(std::string(last.event.action), std::string("buy"));
                QCOMPARE(std::string(last.event.page), std::string("/b"));
                QCOMPARE(last.event.timestampMs.value_or(-1), std::int64_t{i});
            }
        }
        // Then the last valid result's views are still intact after the loop.
        QVERIFY(last.ok());
        QCOMPARE(std::string(last.event.userId), std::string("u\xc3\xa9") + "9999");
        QCOMPARE(last.event.timestampMs.value_or(-1), std::int64_t{9999});
        QCOMPARE(std::string(last.event.page), std::string("/b"));
    }
};

QTEST_APPLESS_MAIN(TestValidation)
#include "tst_validation.moc"
