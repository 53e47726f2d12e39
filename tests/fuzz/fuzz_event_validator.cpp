// Event validation (pb::EventValidator::validate) on any bytes. Oracles: the quick and the full
// path give the same verdict and fields; both agree with an independent reading of the rules
// (reference_event.h); a second validation on the same validator gives the same again.
#include "core/event.h"
#include "fuzz_check.h"
#include "reference_event.h"

#include <string>

namespace {

struct Copy {
    std::optional<pb::InvalidReason> error;
    std::string userId, action, page;
    std::optional<std::int64_t> timestampMs;
    friend bool operator==(const Copy &, const Copy &) = default;
};

// The views die with the next validate(): keep the bytes.
Copy copy(const pb::ValidationResult &r)
{
    return {r.error, std::string(r.event.userId), std::string(r.event.action),
            std::string(r.event.page), r.event.timestampMs};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    static pb::EventValidator quick(true);
    static pb::EventValidator full(false);
    const auto payload = asText(data, size);
    const auto a = copy(quick.validate(payload));
    const auto b = copy(full.validate(payload));
    FUZZ_CHECK(a == b);
    FUZZ_CHECK(copy(quick.validate(payload)) == a);

    using R = pb::InvalidReason;
    const auto ref = reference::judge(payload);
    switch (ref.document) {
    case reference::Document::Malformed:
        FUZZ_CHECK(a.error == R::NotJson || a.error == R::InvalidUtf8);
        if (!ref.rawUtf8Bad && !ref.loneSurrogate)
            FUZZ_CHECK(a.error == R::NotJson);
        break;
    case reference::Document::BadUtf8:
        FUZZ_CHECK(a.error == R::InvalidUtf8);
        break;
    case reference::Document::Good:
        FUZZ_CHECK(a.error == ref.error);
        if (!a.error) {
            FUZZ_CHECK(a.userId == ref.userId);
            FUZZ_CHECK(a.action == ref.action);
            FUZZ_CHECK(a.page == ref.page);
            FUZZ_CHECK(a.timestampMs == ref.timestampMs);
        }
        break;
    }
    if (!a.error) {
        FUZZ_CHECK(!a.userId.empty() && a.userId.size() <= pb::kMaxUserIdBytes);
        FUZZ_CHECK(!a.action.empty() && a.action.size() <= pb::kMaxActionBytes);
        FUZZ_CHECK(!a.page.empty() && a.page.size() <= pb::kMaxPageBytes);
    }
    return 0;
}
