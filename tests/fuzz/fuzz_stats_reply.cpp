// What the stats reader makes of Redis' replies (snapshotFromReplies, and actionNames and
// userFromReplies for one user), on any RESP bytes turned into reply trees by hiredis's reader:
// keys of the wrong type or shape, values another program wrote. Input: a flags byte (bit 0:
// fetch the feeds, bit 1: one user instead of the snapshot), the rate series' length in tens of
// seconds, then the replies in command order (missing ones are nil). Oracles: only pb::Error is
// thrown; the series have their fixed lengths; lists are sorted most first and no longer than
// asked; lag and counts stay sums of what Redis holds.
#include "fuzz_check.h"
#include "redis/stats_reader.h"
#include "resp_replies.h"

#include <algorithm>

namespace {

constexpr std::int64_t kNowMs = 1'700'000'000'123;

bool mostFirst(const std::vector<pb::NamedCount> &counts)
{
    return std::is_sorted(counts.begin(), counts.end(), [](const auto &a, const auto &b) {
        return a.count != b.count ? a.count > b.count : a.name < b.name;
    });
}

void snapshot(const pb::redis::StatsOptions &options, std::string_view bytes)
{
    const auto query = pb::redis::snapshotQuery(options, kNowMs);
    auto replies = readReplies(bytes, query.commands.size());
    padWithNil(replies, query.commands.size());
    pb::Snapshot snap;
    try {
        snap = pb::redis::snapshotFromReplies(options, query, replies, kNowMs);
    } catch (const pb::Error &) {
        return;
    }
    FUZZ_CHECK(snap.perSecond.size() == static_cast<std::size_t>(options.rateSeconds));
    FUZZ_CHECK(snap.perMinute.size() == 60);
    for (std::size_t i = 1; i < snap.perSecond.size(); ++i)
        FUZZ_CHECK(snap.perSecond[i].epochSeconds == snap.perSecond[i - 1].epochSeconds + 1);
    FUZZ_CHECK(snap.topPagesLastHour.size() <= static_cast<std::size_t>(options.topPages));
    FUZZ_CHECK(mostFirst(snap.topPagesLastHour) && mostFirst(snap.actions) &&
               mostFirst(snap.badByReason));
    FUZZ_CHECK(snap.consumerLag >= -1);
    FUZZ_CHECK(std::is_sorted(snap.aggregators.begin(), snap.aggregators.end(),
                              [](const auto &a, const auto &b) { return a.id < b.id; }));
    FUZZ_CHECK(snap.skipped.count >= 0);
    if (options.feedEvents == 0)
        FUZZ_CHECK(snap.latestEvents.empty() && snap.latestBadEvents.empty());
}

void user(const pb::redis::StatsOptions &options, std::string_view bytes)
{
    auto hkeys = readReplies(bytes, 1);
    padWithNil(hkeys, 1);
    pb::SkippedFields skipped;
    std::vector<std::string> actions;
    try {
        actions = pb::redis::actionNames(hkeys.front().get(), skipped, options);
    } catch (const pb::Error &) {
        return;
    }
    actions.resize(std::min<std::size_t>(actions.size(), 8)); // 60 HMGETs of them each
    const auto commands = pb::redis::userQuery(options, "42", actions, kNowMs);
    // The same bytes again: the first reply answered HKEYS, the next ones answer `commands`.
    auto replies = readReplies(bytes, commands.size() + 1);
    if (!replies.empty())
        replies.erase(replies.begin());
    padWithNil(replies, commands.size());
    pb::UserActivity activity;
    try {
        activity = pb::redis::userFromReplies(options, "42", actions, commands, replies, skipped);
    } catch (const pb::Error &) {
        return;
    }
    FUZZ_CHECK(activity.userId == "42");
    FUZZ_CHECK(mostFirst(activity.actionsLastHour));
    std::int64_t sum = 0;
    bool overflow = false;
    for (const auto &a : activity.actionsLastHour) {
        FUZZ_CHECK(a.count != 0);
        overflow = __builtin_add_overflow(sum, a.count, &sum) || overflow;
    }
    if (!overflow)
        FUZZ_CHECK(activity.eventsLastHour == sum);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size < 2)
        return 0;
    pb::redis::StatsOptions options;
    options.feedEvents = data[0] & 1 ? 5 : 0;
    options.rateSeconds = data[1] * 10;
    const auto bytes = asText(data + 2, size - 2);
    if (data[0] & 2)
        user(options, bytes);
    else
        snapshot(options, bytes);
    return 0;
}
