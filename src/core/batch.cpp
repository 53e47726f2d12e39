#include "batch.h"

#include <utility>

namespace pb {

namespace {

// Pooled tables beyond this many are released at clear(): a batch spread over many minutes
// must not pin its memory for good.
constexpr std::size_t kPooledMinuteTables = 4;

void fill(FeedRing &feed, std::string_view raw, std::string_view source, std::int64_t offset,
          std::int64_t timestampMs, std::string_view reason)
{
    auto &entry = feed.push();
    if (raw.size() <= kMaxFeedPayloadBytes)
        entry.raw.assign(raw);
    else
        entry.raw = feedPayload(raw);
    entry.source.assign(source);
    entry.offset = offset;
    entry.timestampMs = timestampMs;
    entry.reason.assign(reason);
}

} // namespace

std::string feedPayload(std::string_view raw)
{
    if (raw.size() <= kMaxFeedPayloadBytes)
        return std::string(raw);
    auto cut = kMaxFeedPayloadBytes;
    // Back off UTF-8 continuation bytes (at most 3), so a valid payload stays valid.
    for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80; ++i)
        --cut;
    return std::string(raw.substr(0, cut)) + " [... cut: " + std::to_string(raw.size()) +
           " bytes in all]";
}

std::int64_t eventTime(std::optional<std::int64_t> payloadMs, std::int64_t kafkaMs,
                       std::int64_t nowMs, const AggregationOptions &options)
{
    auto time = kafkaMs;
    if (options.timeSource == EventTimeSource::Payload && payloadMs)
        time = *payloadMs;
    if (time < 0 || time > nowMs + options.maxFutureSkew.count())
        return nowMs;
    return time;
}

CountTable &MinuteTables::operator[](std::int64_t minute)
{
    for (std::size_t i = 0; i < used_; ++i)
        if (tables_[i].first == minute)
            return tables_[i].second;
    if (used_ == tables_.size())
        tables_.emplace_back();
    auto &entry = tables_[used_++];
    entry.first = minute;
    return entry.second;
}

void MinuteTables::clear()
{
    for (std::size_t i = 0; i < used_; ++i)
        tables_[i].second.clear();
    if (tables_.size() > kPooledMinuteTables)
        tables_.resize(kPooledMinuteTables);
    used_ = 0;
}

FeedEntry &FeedRing::push()
{
    if (slots_.empty()) {
        static thread_local FeedEntry discard;
        return discard;
    }
    if (size_ < slots_.size())
        return slots_[(head_ + size_++) % slots_.size()];
    auto &slot = slots_[head_];
    head_ = (head_ + 1) % slots_.size();
    return slot;
}

const FeedEntry &FeedRing::operator[](std::size_t i) const
{
    return slots_[(head_ + i) % slots_.size()];
}

void BatchAggregate::stageValid(const EventView &event, std::int64_t eventTimeMs,
                                std::int64_t nowMs, std::string_view raw, std::string_view source,
                                std::int64_t offset)
{
    auto &into = staged_[nextStage_];
    into.page.assign(event.page);
    into.field.assign(event.action);
    into.field += kFieldSeparator;
    into.field += event.userId;
    into.actionLength = event.action.size();
    into.pageHash = hashKey(event.page); // for the all-time and the per-minute table
    into.actionHash = hashKey(event.action);
    into.userHash = hashKey(event.userId);
    into.fieldHash = hashKey(into.field);
    into.timeMs = eventTimeMs;
    into.nowMs = nowMs;
    into.raw = raw;
    into.source = source;
    into.offset = offset;
    // The big tables, keyed by user; the page and action tables stay in the cache anyway.
    lastSeen.prefetch(into.userHash);
    if (minuteUserActions_ && floorDiv(eventTimeMs, 60'000) == cachedMinute_)
        minuteUserActions_->prefetch(into.fieldHash);

    settle();
    hasStaged_ = true;
    nextStage_ ^= 1;
}

void BatchAggregate::settle()
{
    if (std::exchange(hasStaged_, false))
        count(staged_[nextStage_ ^ 1]);
}

void BatchAggregate::addValid(const EventView &event, std::int64_t eventTimeMs, std::int64_t nowMs,
                              std::string_view raw, std::string_view source, std::int64_t offset)
{
    stageValid(event, eventTimeMs, nowMs, raw, source, offset);
    settle();
}

void BatchAggregate::count(const Staged &event)
{
    const std::string_view field = event.field;
    const auto action = field.substr(0, event.actionLength);
    const auto userId = field.substr(event.actionLength + 1);
    ++validCount;
    ++*pages.tryEmplace(event.page, event.pageHash, 0).first;
    ++*actions.tryEmplace(action, event.actionHash, 0).first;
    if (auto [seen, inserted] = lastSeen.tryEmplace(userId, event.userHash, event.timeMs);
        !inserted && event.timeMs > *seen)
        *seen = event.timeMs;

    if (event.timeMs >= event.nowMs - bucketHistoryMs_) {
        const auto second = floorDiv(event.timeMs, 1000);
        const auto minute = floorDiv(second, 60);
        // Events of a batch mostly share their second and minute: look those buckets up once.
        if (second != cachedSecond_) {
            cachedSecond_ = second;
            secondCount_ = &perSecond[second];
        }
        if (minute != cachedMinute_) {
            cachedMinute_ = minute;
            minuteCount_ = &perMinute[minute];
            minutePages_ = &pagesByMinute[minute];
            minuteUserActions_ = &userActionsByMinute[minute];
        }
        ++*secondCount_;
        ++*minuteCount_;
        ++*minutePages_->tryEmplace(event.page, event.pageHash, 0).first;
        ++*minuteUserActions_->tryEmplace(field, event.fieldHash, 0).first;
    }

    fill(feed, event.raw, event.source, event.offset, event.timeMs, {});
}

void BatchAggregate::addInvalid(InvalidReason reason, std::string_view raw, std::string_view source,
                                std::int64_t offset, std::int64_t timestampMs)
{
    ++invalidCount;
    ++invalidByReason[static_cast<std::size_t>(reason)];
    fill(badFeed, raw, source, offset, timestampMs, reasonName(reason));
}

std::int64_t BatchAggregate::fields() const
{
    auto n = pages.size() + lastSeen.size() + actions.size() + perSecond.size() + perMinute.size();
    for (const auto &[minute, table] : pagesByMinute)
        n += table.size();
    for (const auto &[minute, table] : userActionsByMinute)
        n += table.size();
    return static_cast<std::int64_t>(n);
}

void BatchAggregate::clear()
{
    validCount = 0;
    invalidCount = 0;
    cachedSecond_ = cachedMinute_ = kNoBucket;
    hasStaged_ = false;
    pages.clear();
    pagesByMinute.clear();
    lastSeen.clear();
    actions.clear();
    userActionsByMinute.clear();
    perSecond.clear();
    perMinute.clear();
    invalidByReason.fill(0);
    feed.clear();
    badFeed.clear();
}

} // namespace pb
