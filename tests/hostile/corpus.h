#pragma once
// Hostile records, each with the bytes Kafka carries (payload or none, key or none, headers,
// record time) and what it must become: the dead-letter reason, or a valid event with what and
// when it counts. tst_hostile sends them end to end among good events; tst_validation checks
// the verdicts on both validation paths. Plain strings only (moc misreads raw strings): json()
// turns ' into " so that the payloads stay readable.

#include "../support/kafka_test_client.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace pb::test::hostile {

// An event time the aggregator does not trust: it counts at its own clock when it reads it.
inline constexpr std::int64_t kReadTime = std::numeric_limits<std::int64_t>::min();

struct Case {
    std::string name;
    std::string payload;
    bool tombstone = false; // a null value (payload unused)
    std::string key = "hostile";
    bool nullKey = false;
    std::vector<Header> headers;
    std::int64_t kafkaTimeMs = 0; // the record's CreateTime
    std::string expect;           // an InvalidReason name, or "valid"
    // Valid ones: what they count as, and the time they count at with --event-time payload
    // and with --event-time kafka (kReadTime: the aggregator's clock).
    std::string user, action, page;
    std::int64_t payloadModeTime = 0;
    std::int64_t kafkaModeTime = 0;

    bool valid() const { return expect == "valid"; }
};

inline std::string json(std::string text)
{
    for (auto &c : text)
        if (c == '\'')
            c = '"';
    return text;
}

// {"user_id":U,"action":A,"page":P<extra>} with ' for ", as json().
inline std::string event(const std::string &user, const std::string &action = "'view'",
                         const std::string &page = "'/x'", const std::string &extra = {})
{
    return json("{'user_id':" + user + ",'action':" + action + ",'page':" + page + extra + "}");
}

inline std::string repeat(const std::string &piece, std::size_t times)
{
    std::string s;
    s.reserve(piece.size() * times);
    for (std::size_t i = 0; i < times; ++i)
        s += piece;
    return s;
}

// The corpus relative to `now` (epoch ms): record times are 90 s before it unless a case says.
inline std::vector<Case> corpus(std::int64_t now)
{
    const std::int64_t kafkaTime = now - 90'000;
    std::vector<Case> c;
    const auto bad = [&c, kafkaTime](std::string name, std::string payload,
                                     std::string reason) -> Case & {
        Case k;
        k.name = std::move(name);
        k.kafkaTimeMs = kafkaTime;
        k.payload = std::move(payload);
        k.expect = std::move(reason);
        return c.emplace_back(std::move(k));
    };
    // A valid event without a payload timestamp counts at its record time in both modes.
    const auto good = [&c, kafkaTime](std::string name, std::string payload, std::string user,
                                      std::string action, std::string page) -> Case & {
        Case k;
        k.name = std::move(name);
        k.kafkaTimeMs = kafkaTime;
        k.payload = std::move(payload);
        k.expect = "valid";
        k.user = std::move(user);
        k.action = std::move(action);
        k.page = std::move(page);
        k.payloadModeTime = k.kafkaModeTime = kafkaTime;
        return c.emplace_back(std::move(k));
    };
    const auto ts = [](const std::string &value) {
        return json(",'timestamp':" + value);
    };

    // Invalid and truncated JSON.
    bad("truncated object", json("{'user_id':1,'action':'view','page':'/x'"), "not_json");
    bad("truncated inside a string", json("{'user_id':1,'action':'vi"), "not_json");
    bad("truncated after a colon", json("{'user_id':"), "not_json");
    bad("an opening brace alone", "{", "not_json");
    bad("plain text", "hello, world", "not_json");
    bad("trailing garbage", event("1") + "x", "not_json");
    bad("two objects", event("1") + event("2"), "not_json");
    bad("single quotes", "{'user_id':1,'action':'view','page':'/x'}", "not_json");
    bad("unquoted keys", json("{user_id:1,action:'view',page:'/x'}"), "not_json");
    bad("trailing comma", event("1", "'view'", "'/x'", ","), "not_json");
    bad("a comment", json("{'user_id':1,/* hi */'action':'view','page':'/x'}"), "not_json");
    bad("NaN user id", event("NaN"), "not_json");
    bad("Infinity timestamp", event("1", "'view'", "'/x'", ts("Infinity")), "not_json");
    bad("-Infinity in an unknown field", event("1", "'view'", "'/x'", json(",'x':-Infinity")),
        "not_json");
    bad("NaN nested in an unknown field", event("1", "'view'", "'/x'", json(",'x':[1,NaN]")),
        "not_json");
    bad("user id with leading zeros", event("007"), "not_json");
    bad("hexadecimal user id", event("0x1F"), "not_json");
    // Deep nesting: the validator's limit is 1000 levels.
    bad("arrays 100,000 deep in an unknown field",
        event("1", "'view'", "'/x'", json(",'x':") + repeat("[", 100000) + repeat("]", 100000)),
        "not_json");
    bad("root arrays 100,000 deep", repeat("[", 100000) + repeat("]", 100000), "not_json");
    bad("objects 50,000 deep in an unknown field",
        event("1", "'view'", "'/x'",
              json(",'x':") + repeat(json("{'a':"), 50000) + "1" + repeat("}", 50000)),
        "not_json");

    // Empty and null.
    bad("empty message", "", "not_json");
    bad("whitespace only", " \r\n\t ", "not_json");
    bad("a NUL byte only", std::string(1, '\0'), "not_json");
    bad("tombstone (null value)", "", "not_json").tombstone = true;
    {
        auto &k = bad("tombstone with a key and headers", "", "not_json");
        k.tombstone = true;
        k.key = "user-42";
        k.headers = {{"trace", std::string("abc")}};
    }

    // JSON, but not an object.
    bad("root array of an event", "[" + event("1") + "]", "not_object");
    bad("root string", json("'{}'"), "not_object");
    bad("root number", "42", "not_object");
    bad("root null", "null", "not_object");
    bad("root true", "true", "not_object");

    // Missing fields.
    bad("empty object", "{}", "user_id_missing");
    bad("no user id", json("{'action':'view','page':'/x'}"), "user_id_missing");
    bad("user id in other case", json("{'User_Id':1,'action':'view','page':'/x'}"),
        "user_id_missing");
    bad("no action", json("{'user_id':1,'page':'/x'}"), "action_missing");
    bad("no page", json("{'user_id':1,'action':'view'}"), "page_missing");

    // Every wrong type.
    bad("float user id", event("1.5"), "user_id_type");
    bad("user id 1.0", event("1.0"), "user_id_type");
    bad("user id 1e400", event("1e400"), "user_id_type");
    bad("bool user id", event("true"), "user_id_type");
    bad("null user id", event("null"), "user_id_type");
    bad("array user id", event("[1]"), "user_id_type");
    bad("object user id", event(json("{'id':1}")), "user_id_type");
    bad("number action", event("1", "7"), "action_type");
    bad("null action", event("1", "null"), "action_type");
    bad("array action", event("1", "['view']"), "action_type");
    bad("object action", event("1", "{}"), "action_type");
    bad("bool action", event("1", "false"), "action_type");
    bad("number page", event("1", "'view'", "42"), "page_type");
    bad("null page", event("1", "'view'", "null"), "page_type");
    bad("array page", event("1", "'view'", "['/x']"), "page_type");
    bad("object page", event("1", "'view'", "{'p':'/x'}"), "page_type");
    bad("bool page", event("1", "'view'", "true"), "page_type");
    bad("bool timestamp", event("1", "'view'", "'/x'", ts("true")), "timestamp_type");
    bad("float timestamp", event("1", "'view'", "'/x'", ts("1.5e12")), "timestamp_type");
    bad("object timestamp", event("1", "'view'", "'/x'", ts("{'ms':1}")), "timestamp_type");
    bad("array timestamp", event("1", "'view'", "'/x'", ts("[1]")), "timestamp_type");
    bad("text timestamp", event("1", "'view'", "'/x'", ts("'yesterday'")), "timestamp_format");
    bad("NaN text timestamp", event("1", "'view'", "'/x'", ts("'NaN'")), "timestamp_format");
    bad("February 30", event("1", "'view'", "'/x'", ts("'2024-02-30T00:00:00Z'")),
        "timestamp_format");
    bad("negative epoch", event("1", "'view'", "'/x'", ts("-1")), "timestamp_format");
    bad("epoch after the year 9999", event("1", "'view'", "'/x'", ts("253402300800000")),
        "timestamp_format");
    bad("epoch in nanoseconds", event("1", "'view'", "'/x'", ts("1696161600000000000")),
        "timestamp_format");
    bad("epoch of 30 digits", event("1", "'view'", "'/x'", ts(std::string(30, '9'))),
        "timestamp_format");

    // Out-of-range ids, huge strings and numbers, a 1 MB record.
    bad("user id INT64_MAX + 1", event("9223372036854775808"), "user_id_range");
    bad("user id INT64_MIN - 1", event("-9223372036854775809"), "user_id_range");
    bad("user id of 30 digits", event(std::string(30, '9')), "user_id_range");
    bad("empty user id", event("''"), "user_id_range");
    bad("user id of 129 bytes", event("'" + std::string(129, 'u') + "'"), "user_id_range");
    bad("user id of 100 KB", event("'" + std::string(100'000, 'u') + "'"), "user_id_range");
    bad("empty action", event("1", "''"), "action_range");
    bad("action of 65 bytes", event("1", "'" + std::string(65, 'a') + "'"), "action_range");
    bad("empty page", event("1", "'view'", "''"), "page_range");
    bad("page of 2049 bytes", event("1", "'view'", "'/" + std::string(2048, 'p') + "'"),
        "page_range");
    bad("page of 1 MB", event("1", "'view'", "'/" + std::string(1 << 20, 'p') + "'"), "page_range");
    bad("1 MB that is not JSON", std::string(1 << 20, '<'), "not_json");

    // Invalid UTF-8 and lone surrogates.
    bad("0xFF in the page", event("1", "'view'", "'/\xff'"), "invalid_utf8");
    bad("Latin-1 text", event("1", "'view'", "'/caf\xe9'"), "invalid_utf8");
    bad("overlong 2-byte slash", event("1", "'view'", "'/\xc0\xaf'"), "invalid_utf8");
    bad("overlong 3-byte slash", event("1", "'view'", "'/\xe0\x80\xaf'"), "invalid_utf8");
    bad("overlong 4-byte slash", event("1", "'view'", "'/\xf0\x80\x80\xaf'"), "invalid_utf8");
    bad("overlong NUL (modified UTF-8)", event("1", "'view'", "'/\xc0\x80'"), "invalid_utf8");
    bad("UTF-8 encoded surrogate (CESU-8)", event("1", "'view'", "'/\xed\xa0\x80'"),
        "invalid_utf8");
    bad("code point beyond U+10FFFF", event("1", "'view'", "'/\xf4\x90\x80\x80'"), "invalid_utf8");
    bad("truncated sequence at the end", event("1") + "\xe2\x82", "invalid_utf8");
    bad("lone continuation byte", event("1", "'view'", "'/\x80'"), "invalid_utf8");
    bad("lone high surrogate escape", event("1", "'view'", "'/\\ud800'"), "invalid_utf8");
    bad("lone low surrogate escape in the user id", event("'\\udc00'"), "invalid_utf8");
    bad("high surrogate escape before a letter", event("1", "'view'", "'/\\ud800\\u0041'"),
        "invalid_utf8");
    bad("surrogate escapes reversed", event("1", "'view'", "'/\\udc00\\ud800'"), "invalid_utf8");
    bad("invalid UTF-8 in a key", json("{'\xff':1,'user_id':1,'action':'view','page':'/x'}"),
        "invalid_utf8");
    bad("invalid UTF-8 in an unknown field", event("1", "'view'", "'/x'", json(",'x':'\xfe'")),
        "invalid_utf8");
    bad("UTF-16 byte order mark before UTF-8", "\xff\xfe" + event("1"), "invalid_utf8");
    {
        // The same event in UTF-16LE: simdjson finds its NUL bytes in strings (not JSON) before
        // its byte order mark (not UTF-8).
        std::string utf16 = "\xff\xfe";
        for (const char ch : event("1"))
            utf16 += std::string{ch, '\0'};
        bad("UTF-16LE with a byte order mark", utf16, "not_json");
    }

    // Control characters and byte order marks.
    bad("raw control character in the page", event("1", "'view'", "'/\x01'"), "not_json");
    bad("raw newline in the user id", event("'a\nb'"), "not_json");
    bad("raw NUL in the page", event("1", "'view'", std::string("'/a\0b'", 6)), "not_json");
    bad("NUL after the object", event("1") + std::string(1, '\0'), "not_json");
    bad("UTF-8 byte order mark first", "\xef\xbb\xbf" + event("1"), "not_json");

    // Odd but valid: they count, as what they say.
    good("escaped NUL and control characters in the page",
         event("'h-ctl'", "'view'", "'/ctl\\u0000\\u001f'"), "h-ctl", "view",
         std::string("/ctl\0\x1f", 6));
    good("raw DEL in the page", event("'h-del'", "'view'", "'/del\x7f'"), "h-del", "view",
         "/del\x7f");
    good("byte order mark inside the page", event("'h-bom'", "'view'", "'\xef\xbb\xbf/bom'"),
         "h-bom", "view", "\xef\xbb\xbf/bom");
    good("surrogate pair escape", event("'h-emoji'", "'view'", "'/\\ud83d\\ude00'"), "h-emoji",
         "view", "/\xf0\x9f\x98\x80");
    good("user id INT64_MAX", event("9223372036854775807"), "9223372036854775807", "view", "/x");
    good("user id INT64_MIN", event("-9223372036854775808"), "-9223372036854775808", "view", "/x");
    good("user id -0 is user 0", event("-0", "'h-zero'"), "0", "h-zero", "/x");
    good("string user id 007 is not user 7", event("'007'", "'h-007'"), "007", "h-007", "/x");
    good("user id of 128 bytes", event("'" + std::string(128, 'u') + "'"), std::string(128, 'u'),
         "view", "/x");
    good("user id NaN as a string", event("'NaN'", "'h-nan'"), "NaN", "h-nan", "/x");
    good("hash tag characters", event("'{h}:1'", "'view'", "'/{p}'"), "{h}:1", "view", "/{p}");
    good("number of 400 digits in an unknown field",
         event("'h-big'", "'view'", "'/x'", json(",'n':") + std::string(400, '7')), "h-big", "view",
         "/x");
    good("exponent 1e999999 in an unknown field",
         event("'h-exp'", "'view'", "'/x'", json(",'n':1e999999")), "h-exp", "view", "/x");
    good("arrays 999 deep in an unknown field (1000 levels)",
         event("'h-deep'", "'view'", "'/x'", json(",'x':") + repeat("[", 999) + repeat("]", 999)),
         "h-deep", "view", "/x");
    {
        std::string fields;
        for (int i = 0; i < 10000; ++i)
            fields += json(",'f" + std::to_string(i) + "':" + std::to_string(i));
        good("10,000 unknown fields", event("'h-wide'", "'view'", "'/x'", fields), "h-wide", "view",
             "/x");
    }
    good("1 MB event (a big unknown field)",
         event("'h-1mb'", "'view'", "'/1mb'", json(",'pad':'") + std::string(1 << 20, 'x') + "\""),
         "h-1mb", "view", "/1mb");
    good("escaped key", json("{'user\\u005fid':'h-esc','action':'view','page':'/x'}"), "h-esc",
         "view", "/x");

    // Duplicate keys: the first occurrence wins, on both validation paths.
    good("duplicate user id",
         json("{'user_id':'h-dup-first','action':'view','page':'/x','user_id':'h-dup-second'}"),
         "h-dup-first", "view", "/x");
    good("duplicate action, the second of a wrong type",
         json("{'user_id':'h-dup-a','action':'click','action':7,'page':'/x'}"), "h-dup-a", "click",
         "/x");
    good("duplicate user id, the second escaped",
         json("{'user_id':'h-dup-e','user\\u005fid':'other','action':'view','page':'/x'}"),
         "h-dup-e", "view", "/x");
    bad("duplicate page, the first empty",
        json("{'user_id':1,'action':'view','page':'','page':'/x'}"), "page_range");
    {
        // Payload time: the first, 2001-09-09T01:46:40Z; the second (now) is ignored.
        auto &k = good("duplicate timestamp",
                       json("{'user_id':'h-dup-t','action':'view','page':'/x',"
                            "'timestamp':1000000000000,'timestamp':") +
                           std::to_string(now) + "}",
                       "h-dup-t", "view", "/x");
        k.payloadModeTime = 1'000'000'000'000;
    }

    // A null timestamp is one given (as none): the later one is ignored; the record time counts.
    good("duplicate timestamp, the first null",
         json("{'user_id':'h-dup-n','action':'view','page':'/x','timestamp':null,"
              "'timestamp':1000000000000}"),
         "h-dup-n", "view", "/x");

    // Payload timestamps far in the future and in the past (the record time is ordinary).
    const auto payloadTime = [&](std::string name, const std::string &value, std::string user,
                                 std::int64_t countsAt) {
        auto &k = good(std::move(name), event("'" + user + "'", "'view'", "'/x'", ts(value)), user,
                       "view", "/x");
        k.payloadModeTime = countsAt;
    };
    payloadTime("payload time in the year 9999", "'9999-12-31T23:59:59.999Z'", "h-t-9999",
                kReadTime);
    payloadTime("payload epoch in the year 9999", "253402300799999", "h-t-9999e", kReadTime);
    payloadTime("payload time an hour ahead", std::to_string(now + 3'600'000), "h-t-ahead",
                kReadTime);
    payloadTime("payload time in the year 1", "'0001-01-01T00:00:00Z'", "h-t-0001", kReadTime);
    payloadTime("payload time before 1970", "'1969-07-20T20:17:40Z'", "h-t-1969", kReadTime);
    payloadTime("payload epoch 0", "0", "h-t-0", 0);
    payloadTime("payload epoch in seconds", "1696161600", "h-t-sec", 1'696'161'600);
    payloadTime("payload time in 2000", "'2000-01-01T00:00:00Z'", "h-t-2000", 946'684'800'000);
    payloadTime("payload time with a +14:00 offset", "'2023-10-01T14:00:00+14:00'", "h-t-tz",
                1'696'118'400'000);
    payloadTime("null payload time", "null", "h-t-null", kafkaTime);

    // Record (Kafka) timestamps far in the future and in the past.
    const auto recordTime = [&](std::string name, std::int64_t time, std::string user,
                                std::int64_t countsAt) -> Case & {
        auto &k = good(std::move(name), event("'" + user + "'"), user, "view", "/x");
        k.kafkaTimeMs = time;
        k.payloadModeTime = k.kafkaModeTime = countsAt; // no payload time: the record's
        return k;
    };
    recordTime("record time in the year 9999", 253'402'300'799'000, "h-k-9999", kReadTime);
    recordTime("record time in nanoseconds", now * 1'000'000, "h-k-ns", kReadTime);
    recordTime("record time 1 ms after 1970", 1, "h-k-1", 1);
    recordTime("record time before 1970", -86'400'000, "h-k-1969", kReadTime);
    {
        auto &k = good("record time in the year 9999, payload time now",
                       event("'h-k-both'", "'view'", "'/x'", ts(std::to_string(now - 100'000))),
                       "h-k-both", "view", "/x");
        k.kafkaTimeMs = 253'402'300'799'000;
        k.payloadModeTime = now - 100'000;
        k.kafkaModeTime = kReadTime;
    }

    // Binary, missing and huge keys; odd headers. The dead-letter copy keeps the key and
    // carries our headers only.
    good("binary key on a good event", event("'h-binkey'"), "h-binkey", "view", "/x").key =
        std::string("\0\xff\xfe\x01 key", 8);
    bad("binary key on a bad event", "nope", "not_json").key = std::string("\0\x80\xff\n", 4);
    bad("no key on a bad event", "nope", "not_json").nullKey = true;
    bad("empty key on a bad event", "nope", "not_json").key = "";
    bad("key of 100 KB on a bad event", "nope", "not_json").key = std::string(100'000, 'k');
    bad("headers that pretend to be ours", "[]", "not_object").headers = {
        {"pulseboard.reason", std::string("valid")},
        {"pulseboard.source", std::string("elsewhere/9/9")},
        {"pulseboard.truncated", std::string("1,1")}};
    bad("binary, null and empty headers on a bad event", "nope", "not_json").headers = {
        {"bin", std::string("\0\xff", 2)}, {"null", std::nullopt}, {"", std::string("empty")}};
    {
        std::vector<Header> many;
        for (int i = 0; i < 200; ++i)
            many.push_back({"h" + std::to_string(i % 7),
                            std::string(static_cast<std::size_t>(i), static_cast<char>(i))});
        many.push_back({"null", std::nullopt});
        many.push_back({"big", std::string(100'000, 'v')});
        good("200 headers, repeated names, a null and a 100 KB one", event("'h-headers'"),
             "h-headers", "view", "/x")
            .headers = std::move(many);
    }
    return c;
}

} // namespace pb::test::hostile
