#pragma once
// The payloads tst_validation checks, with the verdict each must get.

#include <string>
#include <vector>

struct ValidationCase {
    const char *name;
    std::string payload;
    const char *reason; // empty: valid
};

inline std::string makeEvent(const std::string &userId, const std::string &action = R"("view")",
                             const std::string &page = R"("/home")", const std::string &extra = {})
{
    return R"({"user_id":)" + userId + R"(,"action":)" + action + R"(,"page":)" + page + extra +
           "}";
}

inline std::string quoted(std::size_t bytes)
{
    return "\"" + std::string(bytes, 'a') + "\"";
}

inline std::vector<ValidationCase> validationCases()
{
    std::vector<ValidationCase> cases;

    cases.push_back(
        {"design example",
         std::string(
             R"({"user_id": 123, "action": "view", "page": "/home", "timestamp": "2023-10-01T12:00:00Z"})"),
         ""});
    cases.push_back({"string user id", makeEvent(R"("u-42")"), ""});
    cases.push_back({"no timestamp", makeEvent("1"), ""});
    cases.push_back(
        {"null timestamp", makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":null)"), ""});
    cases.push_back({"epoch ms timestamp",
                     makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":1696161600000)"), ""});
    cases.push_back(
        {"unknown fields, nested",
         makeEvent("1", R"("v")", R"("/")", R"(,"extra":{"a":[1,2,{"b":null}]},"n":1.5)"), ""});
    cases.push_back({"huge number in an unknown field",
                     makeEvent("1", R"("v")", R"("/")", R"(,"big":123456789012345678901234567890)"),
                     ""});
    cases.push_back({"whitespace around", "  \n" + makeEvent("1") + "\t ", ""});
    cases.push_back({"INT64_MAX", makeEvent("9223372036854775807"), ""});
    cases.push_back({"INT64_MIN", makeEvent("-9223372036854775808"), ""});
    cases.push_back({"user id 128 bytes", makeEvent(quoted(128)), ""});
    cases.push_back({"action 64 bytes", makeEvent("1", quoted(64)), ""});
    cases.push_back({"page 2048 bytes", makeEvent("1", R"("v")", quoted(2048)), ""});
    cases.push_back({"escaped 2-byte char counts 2 bytes",
                     makeEvent("1", "\"" + std::string(62, 'a') + "\\u00e9\""), ""});

    cases.push_back({"empty", std::string(), "not_json"});
    cases.push_back({"garbage", std::string("hello"), "not_json"});
    cases.push_back({"truncated", std::string(R"({"user_id":1,"action":"v")"), "not_json"});
    cases.push_back({"trailing garbage", makeEvent("1") + "x", "not_json"});
    cases.push_back({"two documents", makeEvent("1") + makeEvent("2"), "not_json"});
    cases.push_back(
        {"bad unknown field", makeEvent("1", R"("v")", R"("/")", R"(,"x":[1,})"), "not_json"});
    cases.push_back(
        {"bad utf8 in page", makeEvent("1", R"("v")", "\"/\xc3\x28\""), "invalid_utf8"});
    cases.push_back({"bad utf8 in unknown field",
                     makeEvent("1", R"("v")", R"("/")", ",\"x\":\"\xff\""), "invalid_utf8"});
    cases.push_back({"array", std::string("[1,2]"), "not_object"});
    cases.push_back({"number", std::string("42"), "not_object"});
    cases.push_back({"no user id", std::string(R"({"action":"v","page":"/"})"), "user_id_missing"});
    cases.push_back({"float user id", makeEvent("12.0"), "user_id_type"});
    cases.push_back({"exponent user id", makeEvent("1e3"), "user_id_type"});
    cases.push_back({"bool user id", makeEvent("true"), "user_id_type"});
    cases.push_back({"null user id", makeEvent("null"), "user_id_type"});
    cases.push_back({"object user id", makeEvent(R"({"id":1})"), "user_id_type"});
    cases.push_back({"INT64_MAX + 1", makeEvent("9223372036854775808"), "user_id_range"});
    cases.push_back({"beyond 64 bits", makeEvent("99999999999999999999"), "user_id_range"});
    cases.push_back({"INT64_MIN - 1", makeEvent("-9223372036854775809"), "user_id_range"});
    cases.push_back({"empty user id", makeEvent(R"("")"), "user_id_range"});
    cases.push_back({"user id 129 bytes", makeEvent(quoted(129)), "user_id_range"});
    cases.push_back({"no action", std::string(R"({"user_id":1,"page":"/"})"), "action_missing"});
    cases.push_back({"number action", makeEvent("1", "5"), "action_type"});
    cases.push_back({"empty action", makeEvent("1", R"("")"), "action_range"});
    cases.push_back({"action 65 bytes", makeEvent("1", quoted(65)), "action_range"});
    cases.push_back({"escaped char over the limit",
                     makeEvent("1", "\"" + std::string(63, 'a') + "\\u00e9\""), "action_range"});
    cases.push_back({"no page", std::string(R"({"user_id":1,"action":"v"})"), "page_missing"});
    cases.push_back({"number page", makeEvent("1", R"("v")", "42"), "page_type"});
    cases.push_back({"empty page", makeEvent("1", R"("v")", R"("")"), "page_range"});
    cases.push_back({"page 2049 bytes", makeEvent("1", R"("v")", quoted(2049)), "page_range"});
    cases.push_back({"bool timestamp", makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":true)"),
                     "timestamp_type"});
    cases.push_back({"float timestamp",
                     makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":1.5e12)"),
                     "timestamp_type"});
    cases.push_back({"text timestamp",
                     makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":"yesterday")"),
                     "timestamp_format"});
    cases.push_back({"negative epoch", makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":-1)"),
                     "timestamp_format"});
    cases.push_back({"epoch after 9999",
                     makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":253402300800000)"),
                     "timestamp_format"});
    cases.push_back({"Feb 29 of a common year",
                     makeEvent("1", R"("v")", R"("/")", R"(,"timestamp":"2023-02-29T00:00:00Z")"),
                     "timestamp_format"});
    cases.push_back({"user id checked before action", std::string(R"({"user_id":1.5,"action":5})"),
                     "user_id_type"});

    return cases;
}
