// Event validation with simdjson's On-Demand API.
//
// One pass over the payload: simdjson's stage 1 (run by iterate()) checks the UTF-8 of the whole
// input, rejects raw control characters in strings and finds every token; we then walk the root
// object's fields once. The four fields we know are read from their tokens; every other value is
// still walked to the end (nested objects and arrays element by element, scalars checked against
// the JSON grammar), because On-Demand is lazy and would otherwise skip a malformed value such as
// [1 2] or tru without a word. After the object we check that nothing but whitespace follows it.
// A byte order mark is not JSON to simdjson, so neither is a payload that starts with one.
//
// Problems with the event's fields are only recorded during the walk and reported after it, so a
// document-level problem (not JSON, bad UTF-8) anywhere in the payload wins over a field problem,
// and the field problems are reported in a fixed order: user_id, action, page, timestamp.
//
// Numbers are classified from their raw token (integer, float, or not a JSON number) and integers
// are converted by hand, so a huge number in a field we ignore is fine and one in user_id or
// timestamp is "out of range" rather than "not JSON".

#include "event.h"

#include <simdjson.h>

#include <charconv>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace pb {

namespace {

namespace od = simdjson::ondemand;

struct ReasonInfo {
    std::string_view name;
    std::string_view description;
};

constexpr std::array<ReasonInfo, kInvalidReasonCount> kReasons{{
    {"not_json", "not valid JSON"},
    {"invalid_utf8", "not valid UTF-8"},
    {"not_object", "JSON, but not an object"},
    {"user_id_missing", "user_id is missing"},
    {"user_id_type", "user_id is not an integer or a string"},
    {"user_id_range", "user_id is outside 64-bit integers, empty, or over 128 bytes"},
    {"action_missing", "action is missing"},
    {"action_type", "action is not a string"},
    {"action_range", "action is empty or over 64 bytes"},
    {"page_missing", "page is missing"},
    {"page_type", "page is not a string"},
    {"page_range", "page is empty or over 2048 bytes"},
    {"timestamp_type", "timestamp is neither an ISO-8601 string nor integer epoch milliseconds"},
    {"timestamp_format", "timestamp is not ISO-8601, or out of range"},
}};

constexpr std::int64_t kMaxEpochMs = 253'402'300'799'999; // 9999-12-31T23:59:59.999Z

// Nesting levels: the root is level 1, a root object's field values level 2, and so on. JSON
// nested deeper than this is reported as not JSON. It bounds the recursion of skipValue() and
// must stay under the parser's max_depth(): On-Demand only asserts that limit (in debug builds).
constexpr int kMaxDepth = 1000;
static_assert(kMaxDepth < static_cast<int>(simdjson::DEFAULT_MAX_DEPTH));

using Problem = std::optional<InvalidReason>;

ValidationResult invalid(InvalidReason reason)
{
    return {reason, {}};
}

bool validLength(std::string_view s, std::size_t max)
{
    return !s.empty() && s.size() <= max;
}

constexpr bool isJsonSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// simdjson's raw tokens run up to the next token, so they may end in whitespace.
std::string_view trimRight(std::string_view token)
{
    while (!token.empty() && isJsonSpace(token.back()))
        token.remove_suffix(1);
    return token;
}

constexpr bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

constexpr bool isHexDigit(char c)
{
    return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool isSimpleEscape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return true;
    default:
        return false;
    }
}

enum class NumberKind { Invalid, Integer, Float };

// The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
NumberKind classifyNumber(std::string_view s)
{
    std::size_t i = 0;
    const auto n = s.size();
    if (i < n && s[i] == '-')
        ++i;
    if (i >= n || !isDigit(s[i]))
        return NumberKind::Invalid;
    if (s[i] == '0') {
        ++i;
    } else {
        while (i < n && isDigit(s[i]))
            ++i;
    }
    auto kind = NumberKind::Integer;
    if (i < n && s[i] == '.') {
        ++i;
        if (i >= n || !isDigit(s[i]))
            return NumberKind::Invalid;
        while (i < n && isDigit(s[i]))
            ++i;
        kind = NumberKind::Float;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            ++i;
        if (i >= n || !isDigit(s[i]))
            return NumberKind::Invalid;
        while (i < n && isDigit(s[i]))
            ++i;
        kind = NumberKind::Float;
    }
    return i == n ? kind : NumberKind::Invalid;
}

// simdjson reports both a malformed escape (\x, \u12) and an escaped lone surrogate (\ud800) as
// STRING_ERROR. The first is not JSON; the second is well-formed JSON that cannot be UTF-8, so it
// counts as invalid UTF-8. `text` points just past the opening quote; stage 1 guarantees a closing
// quote before the end of the (padded) input.
InvalidReason stringProblem(simdjson::error_code error, const char *text)
{
    if (error != simdjson::STRING_ERROR)
        return InvalidReason::NotJson;
    for (const char *p = text; *p != '"';) {
        if (*p != '\\') {
            ++p;
            continue;
        }
        const char escaped = p[1];
        if (escaped == 'u') {
            for (int i = 2; i < 6; ++i)
                if (!isHexDigit(p[i]))
                    return InvalidReason::NotJson;
            p += 6;
        } else if (isSimpleEscape(escaped)) {
            p += 2;
        } else {
            return InvalidReason::NotJson;
        }
    }
    return InvalidReason::InvalidUtf8;
}

// Reads a string value into `out`. Stage 1 has already checked the UTF-8 and rejected raw
// control characters, so a string without escapes is exactly its raw bytes: `out` then points
// into the padded copy of the payload, and only strings with escapes are unescaped by simdjson
// (into the parser's string buffer). Both stay valid until the next validate().
Problem readString(od::value &value, std::string_view &out)
{
    const std::string_view token = value.raw_json_token(); // starts at the opening quote
    const char *begin = token.data() + 1;
    const auto *end = static_cast<const char *>(std::memchr(begin, '"', token.size() - 1));
    if (end != nullptr &&
        std::memchr(begin, '\\', static_cast<std::size_t>(end - begin)) == nullptr) {
        out = std::string_view(begin, static_cast<std::size_t>(end - begin));
        // Consume the token anyway: skipping an unconsumed string, On-Demand takes a ':' after
        // it for a key's and steps over it, so ["a":1] and {"k":"v":1} would pass.
        od::raw_json_string ignored;
        if (value.get_raw_json_string().get(ignored) != simdjson::SUCCESS)
            return InvalidReason::NotJson;
        return std::nullopt;
    }
    const auto error = value.get_string().get(out);
    if (error != simdjson::SUCCESS)
        return stringProblem(error, begin);
    return std::nullopt;
}

// Reads a field's key into `out`, unescaped (so "user\u005fid" is user_id).
Problem readKey(od::field &field, std::string_view &out)
{
    // Keys are short: look for the closing quote, and take the fast path if no escape comes first.
    // Stage 1 found the string, so the closing quote exists.
    const char *begin = field.key().raw();
    const char *p = begin;
    while (*p != '"' && *p != '\\')
        ++p;
    if (*p == '"') {
        out = std::string_view(begin, static_cast<std::size_t>(p - begin));
        return std::nullopt;
    }
    const auto error = field.unescaped_key().get(out);
    if (error != simdjson::SUCCESS)
        return stringProblem(error, begin);
    return std::nullopt;
}

// Parses a token that classifyNumber() found to be an integer; nullopt beyond int64.
std::optional<std::int64_t> parseInteger(std::string_view token)
{
    const bool negative = token.front() == '-';
    if (negative)
        token.remove_prefix(1);
    if (token.size() > 19) // 19 digits always fit in uint64
        return std::nullopt;
    std::uint64_t magnitude = 0;
    for (const char c : token)
        magnitude = magnitude * 10 + static_cast<std::uint64_t>(c - '0');
    constexpr auto maxPositive =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (!negative)
        return magnitude <= maxPositive
                   ? std::optional<std::int64_t>(static_cast<std::int64_t>(magnitude))
                   : std::nullopt;
    if (magnitude > maxPositive + 1)
        return std::nullopt;
    // -magnitude computed in unsigned arithmetic, then reinterpreted (two's complement).
    return static_cast<std::int64_t>(0 - magnitude);
}

// Walks a value we do not use, checking that it is well-formed JSON. Returns NotJson or
// InvalidUtf8 for a malformed value, nullopt for a good one.
Problem skipValue(od::value &value, int level)
{
    od::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS)
        return InvalidReason::NotJson;
    switch (type) {
    case od::json_type::object: {
        if (level > kMaxDepth)
            return InvalidReason::NotJson;
        od::object object;
        if (value.get_object().get(object) != simdjson::SUCCESS)
            return InvalidReason::NotJson;
        for (auto result : object) {
            if (result.error() != simdjson::SUCCESS)
                return InvalidReason::NotJson;
            auto &field = result.value_unsafe();
            std::string_view key;
            if (const auto problem = readKey(field, key))
                return problem;
            auto &child = field.value();
            if (const auto problem = skipValue(child, level + 1))
                return problem;
        }
        return std::nullopt;
    }
    case od::json_type::array: {
        if (level > kMaxDepth)
            return InvalidReason::NotJson;
        od::array array;
        if (value.get_array().get(array) != simdjson::SUCCESS)
            return InvalidReason::NotJson;
        for (auto element : array) {
            if (element.error() != simdjson::SUCCESS)
                return InvalidReason::NotJson;
            auto &child = element.value_unsafe();
            if (const auto problem = skipValue(child, level + 1))
                return problem;
        }
        return std::nullopt;
    }
    case od::json_type::string: {
        std::string_view ignored;
        return readString(value, ignored);
    }
    case od::json_type::number:
        if (classifyNumber(trimRight(value.raw_json_token())) == NumberKind::Invalid)
            return InvalidReason::NotJson;
        return std::nullopt;
    case od::json_type::boolean: {
        const auto token = trimRight(value.raw_json_token());
        if (token != "true" && token != "false")
            return InvalidReason::NotJson;
        return std::nullopt;
    }
    case od::json_type::null:
        if (trimRight(value.raw_json_token()) != "null")
            return InvalidReason::NotJson;
        return std::nullopt;
    }
    return InvalidReason::NotJson;
}

// A value the event cannot use: a malformed value is not JSON, a well-formed one is `problem`.
Problem wrongValue(od::value &value, InvalidReason problem)
{
    if (const auto documentProblem = skipValue(value, 2))
        return documentProblem;
    return problem;
}

// What a field found in the payload turned into.
struct FieldState {
    bool seen = false;
    Problem problem;
};

// Classifies a document whose root is not an object: NotObject if it is otherwise good JSON.
InvalidReason nonObjectProblem(od::document &doc, od::json_type type, std::string_view input)
{
    if (type == od::json_type::array) {
        od::array array;
        if (doc.get_array().get(array) != simdjson::SUCCESS)
            return InvalidReason::NotJson;
        for (auto element : array) {
            if (element.error() != simdjson::SUCCESS)
                return InvalidReason::NotJson;
            auto &child = element.value_unsafe();
            if (const auto problem = skipValue(child, 2))
                return *problem;
        }
        const char *rest = nullptr;
        return doc.current_location().get(rest) == simdjson::OUT_OF_BOUNDS
                   ? InvalidReason::NotObject
                   : InvalidReason::NotJson;
    }
    // A scalar: it must be the only token, so everything after it is whitespace.
    std::string_view token;
    if (doc.raw_json_token().get(token) != simdjson::SUCCESS)
        return InvalidReason::NotJson;
    token = trimRight(token);
    const auto offset = static_cast<std::size_t>(token.data() - input.data());
    if (trimRight(input.substr(offset)) != token)
        return InvalidReason::NotJson;
    bool good = false;
    switch (type) {
    case od::json_type::string: {
        std::string_view ignored;
        const auto error = doc.get_string().get(ignored);
        if (error != simdjson::SUCCESS)
            return stringProblem(error, token.data() + 1);
        good = true;
        break;
    }
    case od::json_type::number:
        good = classifyNumber(token) != NumberKind::Invalid;
        break;
    default:
        good = token == "true" || token == "false" || token == "null";
        break;
    }
    return good ? InvalidReason::NotObject : InvalidReason::NotJson;
}

// Canonical decimal form of an integer user_id, written into `digits`.
std::string_view canonicalId(std::int64_t id, std::array<char, 24> &digits)
{
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), id).ptr;
    return {digits.data(), static_cast<std::size_t>(end - digits.data())};
}

// The common case without simdjson: a flat object whose values are strings of printable ASCII
// without escapes, integers, true, false or null. It only ever accepts: for an event the full
// path would accept it finds the same fields, and anything else (every problem, every unusual
// input) goes the full way, which alone decides what is wrong. Twice as fast as the full path
// on typical events, which are all of this shape.
class QuickReader {
public:
    // `text` must be followed by SIMDJSON_PADDING zero bytes (EventValidator's padded copy).
    explicit QuickReader(std::string_view text)
        : p_(text.data())
        , end_(text.data() + text.size())
    {
    }

    // userIdDigits receives an integer user_id's canonical form.
    std::optional<EventView> event(std::array<char, 24> &userIdDigits)
    {
        skipSpace();
        if (!eat('{'))
            return std::nullopt;
        EventView event;
        bool user = false, action = false, page = false, timestamp = false;
        do {
            skipSpace();
            std::string_view key;
            if (!string(key))
                return std::nullopt;
            skipSpace();
            if (!eat(':'))
                return std::nullopt;
            skipSpace();
            // Duplicate keys: the first wins, as on the full path.
            const bool isUser = key == "user_id" && !std::exchange(user, true);
            const bool isAction = key == "action" && !std::exchange(action, true);
            const bool isPage = key == "page" && !std::exchange(page, true);
            const bool isTimestamp = key == "timestamp" && !std::exchange(timestamp, true);
            if (p_ < end_ && *p_ == '"') {
                std::string_view text;
                if (!string(text))
                    return std::nullopt;
                if ((isUser && !validLength(text, kMaxUserIdBytes)) ||
                    (isAction && !validLength(text, kMaxActionBytes)) ||
                    (isPage && !validLength(text, kMaxPageBytes)))
                    return std::nullopt;
                if (isUser)
                    event.userId = text;
                else if (isAction)
                    event.action = text;
                else if (isPage)
                    event.page = text;
                else if (isTimestamp && !(event.timestampMs = parseIso8601Ms(text)))
                    return std::nullopt;
                continue;
            }
            const auto token = scalar();
            if (token == "null" || token == "true" || token == "false") {
                // null is no timestamp; anything else here is the full path's to report
                if (isUser || isAction || isPage || (isTimestamp && token != "null"))
                    return std::nullopt;
                continue;
            }
            const auto kind = classifyNumber(token);
            if (kind == NumberKind::Invalid || isAction || isPage)
                return std::nullopt;
            if (!isUser && !isTimestamp)
                continue;
            const auto number = kind == NumberKind::Integer ? parseInteger(token) : std::nullopt;
            if (!number)
                return std::nullopt;
            if (isUser) {
                event.userId = canonicalId(*number, userIdDigits);
            } else if (*number < 0 || *number > kMaxEpochMs) {
                return std::nullopt;
            } else {
                event.timestampMs = number;
            }
        } while (next());
        if (!eat('}'))
            return std::nullopt;
        skipSpace();
        if (p_ != end_ || !user || !action || !page)
            return std::nullopt;
        return event;
    }

private:
    void skipSpace()
    {
        while (p_ < end_ && isJsonSpace(*p_))
            ++p_;
    }
    bool eat(char c)
    {
        if (p_ == end_ || *p_ != c)
            return false;
        ++p_;
        return true;
    }
    // After a value: true at a ',' (another field follows).
    bool next()
    {
        skipSpace();
        return eat(',');
    }
    // A string of printable ASCII without escapes, quotes excluded.
    bool string(std::string_view &out)
    {
        if (!eat('"'))
            return false;
        const char *begin = p_;
#ifdef __SSE2__
        // 16 bytes at a time: the input is followed by SIMDJSON_PADDING zero bytes, which stop
        // the scan like any control character.
        const auto quote = _mm_set1_epi8('"');
        const auto backslash = _mm_set1_epi8('\\');
        const auto space = _mm_set1_epi8(' '); // signed: bytes >= 0x80 compare below it too
        const auto del = _mm_set1_epi8(0x7f);
        for (;; p_ += 16) {
            const auto chunk = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p_));
            const auto special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
                _mm_or_si128(_mm_cmplt_epi8(chunk, space), _mm_cmpeq_epi8(chunk, del)));
            if (const auto mask = _mm_movemask_epi8(special)) {
                p_ += __builtin_ctz(static_cast<unsigned>(mask));
                break;
            }
        }
        if (p_ >= end_ || *p_ != '"')
            return false;
#else
        while (p_ < end_ && *p_ != '"') {
            const auto c = static_cast<unsigned char>(*p_);
            if (c < 0x20 || c > 0x7e || c == '\\')
                return false;
            ++p_;
        }
        if (p_ == end_)
            return false;
#endif
        out = std::string_view(begin, static_cast<std::size_t>(p_++ - begin));
        return true;
    }
    // The token up to the next delimiter: a number or a literal if it is well-formed.
    std::string_view scalar()
    {
        const char *begin = p_;
        while (p_ < end_ && !isJsonSpace(*p_) && *p_ != ',' && *p_ != '}')
            ++p_;
        return {begin, static_cast<std::size_t>(p_ - begin)};
    }

    const char *p_;
    const char *end_;
};

} // namespace

std::string_view reasonName(InvalidReason reason)
{
    return kReasons[static_cast<std::size_t>(reason)].name;
}

std::string_view reasonDescription(InvalidReason reason)
{
    return kReasons[static_cast<std::size_t>(reason)].description;
}

std::optional<InvalidReason> reasonFromName(std::string_view name)
{
    for (std::size_t i = 0; i < kReasons.size(); ++i)
        if (kReasons[i].name == name)
            return static_cast<InvalidReason>(i);
    return std::nullopt;
}

struct EventValidator::Impl {
    od::parser parser;
    // The payload followed by SIMDJSON_PADDING zero bytes. Kafka payloads are not padded, so
    // each one is copied here; the buffer only ever grows.
    std::vector<char> buffer;
    // Canonical decimal form of an integer user_id ("-9223372036854775808" is 20 characters).
    std::array<char, 24> userIdDigits{};

    simdjson::padded_string_view pad(std::string_view payload)
    {
        const auto needed = payload.size() + simdjson::SIMDJSON_PADDING;
        if (buffer.size() < needed)
            buffer.resize(needed);
        if (!payload.empty())
            std::memcpy(buffer.data(), payload.data(), payload.size());
        std::memset(buffer.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
        return simdjson::padded_string_view(buffer.data(), payload.size(), buffer.size());
    }

    Problem readUserId(od::value &value, std::string_view &out);
    static Problem readTimestamp(od::value &value, std::optional<std::int64_t> &out);
    static Problem readText(od::value &value, std::string_view &out, std::size_t maxBytes,
                            InvalidReason typeProblem, InvalidReason rangeProblem);
};

Problem EventValidator::Impl::readUserId(od::value &value, std::string_view &out)
{
    od::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS)
        return InvalidReason::NotJson;
    if (type == od::json_type::string) {
        if (const auto problem = readString(value, out))
            return problem;
        return validLength(out, kMaxUserIdBytes) ? Problem{} : InvalidReason::UserIdRange;
    }
    if (type != od::json_type::number)
        return wrongValue(value, InvalidReason::UserIdType);
    const auto token = trimRight(value.raw_json_token());
    switch (classifyNumber(token)) {
    case NumberKind::Invalid:
        return InvalidReason::NotJson;
    case NumberKind::Float: // 12.0 and 1e3 included: an id is an integer as written
        return InvalidReason::UserIdType;
    case NumberKind::Integer:
        break;
    }
    const auto id = parseInteger(token);
    if (!id)
        return InvalidReason::UserIdRange;
    out = canonicalId(*id, userIdDigits);
    return std::nullopt;
}

Problem EventValidator::Impl::readTimestamp(od::value &value, std::optional<std::int64_t> &out)
{
    od::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS)
        return InvalidReason::NotJson;
    switch (type) {
    case od::json_type::null: // null is the same as no timestamp
        return skipValue(value, 2);
    case od::json_type::string: {
        std::string_view text;
        if (const auto problem = readString(value, text))
            return problem;
        out = parseIso8601Ms(text);
        return out ? Problem{} : InvalidReason::TimestampFormat;
    }
    case od::json_type::number: {
        const auto token = trimRight(value.raw_json_token());
        switch (classifyNumber(token)) {
        case NumberKind::Invalid:
            return InvalidReason::NotJson;
        case NumberKind::Float:
            return InvalidReason::TimestampType;
        case NumberKind::Integer:
            break;
        }
        const auto ms = parseInteger(token);
        if (!ms || *ms < 0 || *ms > kMaxEpochMs)
            return InvalidReason::TimestampFormat;
        out = ms;
        return std::nullopt;
    }
    default:
        return wrongValue(value, InvalidReason::TimestampType);
    }
}

Problem EventValidator::Impl::readText(od::value &value, std::string_view &out,
                                       std::size_t maxBytes, InvalidReason typeProblem,
                                       InvalidReason rangeProblem)
{
    od::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS)
        return InvalidReason::NotJson;
    if (type != od::json_type::string)
        return wrongValue(value, typeProblem);
    if (const auto problem = readString(value, out))
        return problem;
    // Lengths are in bytes of the unescaped UTF-8 text.
    return validLength(out, maxBytes) ? Problem{} : rangeProblem;
}

EventValidator::EventValidator(bool quickPath)
    : impl_(std::make_unique<Impl>())
    , quickPath_(quickPath)
{
}

EventValidator::~EventValidator() = default;

ValidationResult EventValidator::validate(std::string_view payload)
{
    auto &d = *impl_;
    const auto input = d.pad(payload);
    const std::string_view padded(d.buffer.data(), payload.size());
    if (quickPath_) {
        if (auto event = QuickReader(padded).event(d.userIdDigits))
            return {std::nullopt, *event};
    }

    od::document doc;
    if (const auto error = d.parser.iterate(input).get(doc); error != simdjson::SUCCESS)
        return invalid(error == simdjson::UTF8_ERROR ? InvalidReason::InvalidUtf8
                                                     : InvalidReason::NotJson);
    od::json_type rootType;
    if (doc.type().get(rootType) != simdjson::SUCCESS)
        return invalid(InvalidReason::NotJson);
    if (rootType != od::json_type::object)
        return invalid(nonObjectProblem(doc, rootType, padded));
    od::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) // e.g. {...}garbage, a missing }
        return invalid(InvalidReason::NotJson);

    EventView event;
    FieldState user, action, page, timestamp;
    for (auto result : object) {
        // Fields are used in place: copying simdjson's small result objects costs more than
        // everything else we do with a field.
        if (result.error() != simdjson::SUCCESS)
            return invalid(InvalidReason::NotJson);
        auto &field = result.value_unsafe();
        std::string_view key;
        if (const auto problem = readKey(field, key))
            return invalid(*problem);
        auto &value = field.value();

        // Duplicate keys: the first occurrence wins. Later ones are still checked to be
        // well-formed JSON, like any unknown field, but their values are otherwise ignored.
        FieldState *state = nullptr;
        Problem problem;
        if (key == "user_id" && !user.seen) {
            state = &user;
            problem = d.readUserId(value, event.userId);
        } else if (key == "action" && !action.seen) {
            state = &action;
            problem = Impl::readText(value, event.action, kMaxActionBytes,
                                     InvalidReason::ActionType, InvalidReason::ActionRange);
        } else if (key == "page" && !page.seen) {
            state = &page;
            problem = Impl::readText(value, event.page, kMaxPageBytes, InvalidReason::PageType,
                                     InvalidReason::PageRange);
        } else if (key == "timestamp" && !timestamp.seen) {
            state = &timestamp;
            problem = Impl::readTimestamp(value, event.timestampMs);
        } else {
            problem = skipValue(value, 2);
        }
        if (problem &&
            (*problem == InvalidReason::NotJson || *problem == InvalidReason::InvalidUtf8))
            return invalid(*problem);
        if (state) {
            state->seen = true;
            state->problem = problem;
        }
    }
    // Nothing but whitespace may follow the object ({...}{...} and {...}} are not JSON).
    const char *rest = nullptr;
    if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS)
        return invalid(InvalidReason::NotJson);

    if (!user.seen)
        return invalid(InvalidReason::UserIdMissing);
    if (user.problem)
        return invalid(*user.problem);
    if (!action.seen)
        return invalid(InvalidReason::ActionMissing);
    if (action.problem)
        return invalid(*action.problem);
    if (!page.seen)
        return invalid(InvalidReason::PageMissing);
    if (page.problem)
        return invalid(*page.problem);
    if (timestamp.problem) // optional: absent is fine
        return invalid(*timestamp.problem);
    return {std::nullopt, event};
}

} // namespace pb
