// Event validation with simdjson. The DOM parser validates the whole document (structure,
// UTF-8, trailing content) in one pass; only a number too large for 64 bits sends us to the
// On-Demand parser, which reads numbers lazily and so can tell "user_id out of range" from
// "a huge number in a field we ignore".

#include "event.h"

#include <simdjson.h>

#include <charconv>
#include <cstring>

namespace pb {

namespace {

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

bool validLength(std::string_view s, std::size_t max)
{
    return !s.empty() && s.size() <= max;
}

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
    simdjson::dom::parser dom;
    simdjson::ondemand::parser ondemand;
    std::string buffer; // payload + padding, reused
    std::array<char, 24> userIdDigits{};

    simdjson::padded_string_view pad(std::string_view payload)
    {
        const auto needed = payload.size() + simdjson::SIMDJSON_PADDING;
        if (buffer.size() < needed)
            buffer.resize(needed);
        std::memcpy(buffer.data(), payload.data(), payload.size());
        std::memset(buffer.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
        return simdjson::padded_string_view(buffer.data(), payload.size(), buffer.size());
    }

    std::string_view canonical(std::int64_t id)
    {
        const auto end =
            std::to_chars(userIdDigits.data(), userIdDigits.data() + userIdDigits.size(), id).ptr;
        return {userIdDigits.data(), static_cast<std::size_t>(end - userIdDigits.data())};
    }

    ValidationResult fromDom(simdjson::dom::object object);
    ValidationResult fromOnDemand(simdjson::padded_string_view input);
};

namespace {

ValidationResult invalid(InvalidReason reason)
{
    return {reason, {}};
}

} // namespace

ValidationResult EventValidator::Impl::fromDom(simdjson::dom::object object)
{
    using simdjson::dom::element_type;
    // The first occurrence of a key wins; later duplicates are ignored.
    simdjson::dom::element userId, action, page, timestamp;
    bool hasUser = false, hasAction = false, hasPage = false, hasTimestamp = false;
    for (const auto field : object) {
        if (!hasUser && field.key == "user_id") {
            userId = field.value;
            hasUser = true;
        } else if (!hasAction && field.key == "action") {
            action = field.value;
            hasAction = true;
        } else if (!hasPage && field.key == "page") {
            page = field.value;
            hasPage = true;
        } else if (!hasTimestamp && field.key == "timestamp") {
            timestamp = field.value;
            hasTimestamp = true;
        }
    }

    EventView event;
    if (!hasUser)
        return invalid(InvalidReason::UserIdMissing);
    switch (userId.type()) {
    case element_type::INT64:
        event.userId = canonical(userId.get_int64().value_unsafe());
        break;
    case element_type::UINT64:
        return invalid(InvalidReason::UserIdRange);
    case element_type::STRING:
        event.userId = userId.get_string().value_unsafe();
        if (!validLength(event.userId, kMaxUserIdBytes))
            return invalid(InvalidReason::UserIdRange);
        break;
    default:
        return invalid(InvalidReason::UserIdType);
    }

    if (!hasAction)
        return invalid(InvalidReason::ActionMissing);
    if (action.type() != element_type::STRING)
        return invalid(InvalidReason::ActionType);
    event.action = action.get_string().value_unsafe();
    if (!validLength(event.action, kMaxActionBytes))
        return invalid(InvalidReason::ActionRange);

    if (!hasPage)
        return invalid(InvalidReason::PageMissing);
    if (page.type() != element_type::STRING)
        return invalid(InvalidReason::PageType);
    event.page = page.get_string().value_unsafe();
    if (!validLength(event.page, kMaxPageBytes))
        return invalid(InvalidReason::PageRange);

    if (hasTimestamp) {
        switch (timestamp.type()) {
        case element_type::NULL_VALUE:
            break;
        case element_type::INT64: {
            const auto ms = timestamp.get_int64().value_unsafe();
            if (ms < 0 || ms > kMaxEpochMs)
                return invalid(InvalidReason::TimestampFormat);
            event.timestampMs = ms;
            break;
        }
        case element_type::UINT64:
            return invalid(InvalidReason::TimestampFormat);
        case element_type::STRING: {
            const auto ms = parseIso8601Ms(timestamp.get_string().value_unsafe());
            if (!ms)
                return invalid(InvalidReason::TimestampFormat);
            event.timestampMs = ms;
            break;
        }
        default:
            return invalid(InvalidReason::TimestampType);
        }
    }
    return {std::nullopt, event};
}

ValidationResult EventValidator::Impl::fromOnDemand(simdjson::padded_string_view input)
{
    // Only reached when the DOM parser met a number beyond 64 bits in an otherwise readable
    // document. On-Demand reads numbers only when asked, so a huge number in a field we ignore
    // does not spoil the event, and one in user_id or timestamp is reported as out of range.
    using namespace simdjson;
    ondemand::document doc;
    ondemand::object object;
    if (ondemand.iterate(input).get(doc) != SUCCESS)
        return invalid(InvalidReason::NotJson);
    if (doc.get_object().get(object) != SUCCESS)
        return invalid(InvalidReason::NotObject);

    EventView event;
    std::optional<InvalidReason> userProblem, actionProblem, pageProblem, timestampProblem;
    bool hasUser = false, hasAction = false, hasPage = false, hasTimestamp = false;
    const auto readString = [](ondemand::value &value, std::string_view &out) {
        return value.get_string().get(out) == SUCCESS;
    };
    for (auto field : object) {
        std::string_view key;
        ondemand::value value;
        if (field.unescaped_key().get(key) != SUCCESS || field.value().get(value) != SUCCESS)
            return invalid(InvalidReason::NotJson);
        ondemand::json_type type;
        if (value.type().get(type) != SUCCESS)
            return invalid(InvalidReason::NotJson);
        if (key == "user_id" && !hasUser) {
            hasUser = true;
            if (type == ondemand::json_type::number) {
                ondemand::number_type numberType;
                std::int64_t n = 0;
                if (value.get_number_type().get(numberType) == SUCCESS &&
                    numberType == ondemand::number_type::floating_point_number)
                    userProblem = InvalidReason::UserIdType;
                else if (value.get_int64().get(n) != SUCCESS)
                    userProblem = InvalidReason::UserIdRange;
                else
                    event.userId = canonical(n);
            } else if (type == ondemand::json_type::string) {
                if (!readString(value, event.userId))
                    return invalid(InvalidReason::NotJson);
                if (!validLength(event.userId, kMaxUserIdBytes))
                    userProblem = InvalidReason::UserIdRange;
            } else {
                userProblem = InvalidReason::UserIdType;
            }
        } else if ((key == "action" && !hasAction) || (key == "page" && !hasPage)) {
            const bool isAction = key == "action";
            (isAction ? hasAction : hasPage) = true;
            auto &problem = isAction ? actionProblem : pageProblem;
            auto &out = isAction ? event.action : event.page;
            if (type != ondemand::json_type::string)
                problem = isAction ? InvalidReason::ActionType : InvalidReason::PageType;
            else if (!readString(value, out))
                return invalid(InvalidReason::NotJson);
            else if (!validLength(out, isAction ? kMaxActionBytes : kMaxPageBytes))
                problem = isAction ? InvalidReason::ActionRange : InvalidReason::PageRange;
        } else if (key == "timestamp" && !hasTimestamp) {
            hasTimestamp = true;
            std::int64_t n = 0;
            std::string_view text;
            if (type == ondemand::json_type::null) {
                // absent
            } else if (type == ondemand::json_type::number) {
                ondemand::number_type numberType;
                if (value.get_number_type().get(numberType) == SUCCESS &&
                    numberType == ondemand::number_type::floating_point_number)
                    timestampProblem = InvalidReason::TimestampType;
                else if (value.get_int64().get(n) != SUCCESS || n < 0 || n > kMaxEpochMs)
                    timestampProblem = InvalidReason::TimestampFormat;
                else
                    event.timestampMs = n;
            } else if (type == ondemand::json_type::string && readString(value, text)) {
                event.timestampMs = parseIso8601Ms(text);
                if (!event.timestampMs)
                    timestampProblem = InvalidReason::TimestampFormat;
            } else {
                timestampProblem = InvalidReason::TimestampType;
            }
        }
    }
    // Fully consumed documents report OUT_OF_BOUNDS; anything else is trailing content.
    const char *rest = nullptr;
    if (doc.current_location().get(rest) != OUT_OF_BOUNDS)
        return invalid(InvalidReason::NotJson);
    if (!hasUser)
        return invalid(InvalidReason::UserIdMissing);
    if (userProblem)
        return invalid(*userProblem);
    if (!hasAction)
        return invalid(InvalidReason::ActionMissing);
    if (actionProblem)
        return invalid(*actionProblem);
    if (!hasPage)
        return invalid(InvalidReason::PageMissing);
    if (pageProblem)
        return invalid(*pageProblem);
    if (timestampProblem)
        return invalid(*timestampProblem);
    return {std::nullopt, event};
}

EventValidator::EventValidator()
    : impl_(std::make_unique<Impl>())
{
}

EventValidator::~EventValidator() = default;

ValidationResult EventValidator::validate(std::string_view payload)
{
    const auto input = impl_->pad(payload);
    simdjson::dom::element root;
    const auto error = impl_->dom.parse(impl_->buffer.data(), payload.size(), false).get(root);
    switch (error) {
    case simdjson::SUCCESS:
        break;
    case simdjson::UTF8_ERROR:
        return invalid(InvalidReason::InvalidUtf8);
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
        return impl_->fromOnDemand(input);
    default:
        return invalid(InvalidReason::NotJson);
    }
    simdjson::dom::object object;
    if (root.get_object().get(object) != simdjson::SUCCESS)
        return invalid(InvalidReason::NotObject);
    return impl_->fromDom(object);
}

} // namespace pb
