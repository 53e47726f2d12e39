#pragma once
// Event validation: raw Kafka payload -> EventView or the reason it is invalid.
// Not thread-safe: one EventValidator per thread. No I/O.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pb {

// Why an event was rejected; each reason has its own counter and DLQ header value.
enum class InvalidReason : std::uint8_t {
    NotJson,     // not parseable JSON (includes an empty payload)
    InvalidUtf8, // bytes that are not valid UTF-8
    NotObject,   // JSON, but not an object
    UserIdMissing,
    UserIdType,  // not an integer or a string (float, bool, null, object, ...)
    UserIdRange, // integer outside int64, empty string, or string over 128 bytes
    ActionMissing,
    ActionType,
    ActionRange, // empty or over 64 bytes
    PageMissing,
    PageType,
    PageRange,       // empty or over 2048 bytes
    TimestampType,   // neither an ISO-8601 string nor integer epoch milliseconds
    TimestampFormat, // a string that is not ISO-8601, or a value out of range
};
inline constexpr std::size_t kInvalidReasonCount = 14;

// Stable machine name ("user_id_missing"): Redis field, DLQ header, CSV column.
std::string_view reasonName(InvalidReason reason);
// One-line human explanation ("user_id is missing").
std::string_view reasonDescription(InvalidReason reason);
// Inverse of reasonName; nullopt for an unknown name.
std::optional<InvalidReason> reasonFromName(std::string_view name);

inline constexpr std::size_t kMaxUserIdBytes = 128;
inline constexpr std::size_t kMaxActionBytes = 64;
inline constexpr std::size_t kMaxPageBytes = 2048;

// A valid event. The views stay valid until the next validate() on the same validator.
struct EventView {
    std::string_view userId; // integer ids in canonical decimal form: 123 and "123" are one user
    std::string_view action;
    std::string_view page;
    std::optional<std::int64_t> timestampMs; // payload timestamp, epoch ms UTC, if present
};

struct ValidationResult {
    std::optional<InvalidReason> error; // set => invalid, event is empty
    EventView event;
    bool ok() const { return !error; }
};

class EventValidator {
public:
    // quickPath false: every payload takes the full simdjson path (for tests comparing both).
    explicit EventValidator(bool quickPath = true);
    ~EventValidator();
    EventValidator(const EventValidator &) = delete;
    EventValidator &operator=(const EventValidator &) = delete;

    ValidationResult validate(std::string_view payload);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    bool quickPath_;
};

// ISO-8601 / RFC 3339 date-time -> epoch ms UTC. Accepts "2023-10-01T12:00:00Z",
// fractional seconds, "+hh:mm"/"+hhmm"/"-hh:mm" offsets, a space instead of 'T'; a missing zone
// means UTC. Rejects impossible dates and times.
std::optional<std::int64_t> parseIso8601Ms(std::string_view text);

// Epoch ms UTC -> "2023-10-01T12:00:00.000Z".
std::string formatIso8601Ms(std::int64_t epochMs);

} // namespace pb
