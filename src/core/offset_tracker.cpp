#include "offset_tracker.h"

#include <algorithm>

namespace pb {

std::int64_t OffsetTracker::assign(int partition, std::int64_t stored, std::int64_t start)
{
    auto &p = partitions_[partition];
    p = Partition{};
    p.stored = stored;
    p.confirmed = stored;
    p.start = start;
    return restart(p);
}

void OffsetTracker::revoke(int partition)
{
    partitions_.erase(partition);
}

std::vector<int> OffsetTracker::partitions() const
{
    std::vector<int> ids;
    ids.reserve(partitions_.size());
    for (const auto &[id, state] : partitions_)
        ids.push_back(id);
    return ids;
}

std::int64_t OffsetTracker::restart(Partition &p)
{
    p.position = p.stored != kNoOffset ? p.stored : p.start;
    p.seeked = true;
    p.unconfirmedGap = kNoOffset;
    p.batchNext = kNoOffset;
    p.batchLost = 0;
    return p.position;
}

MessageDecision OffsetTracker::onMessage(int partition, std::int64_t offset)
{
    using Action = MessageDecision::Action;
    const auto it = partitions_.find(partition);
    if (it == partitions_.end())
        return {Action::Drop}; // raced a revoke, or from an earlier assignment
    auto &p = it->second;
    if (offset < p.position)
        return {Action::Drop}; // stale, or counted already
    if (p.seeked && offset > p.position) {
        // Nothing at the seek position, or a leftover of an earlier fetch? Only a second seek
        // tells: a real gap (compaction, a transaction marker) gives the same offset again.
        if (p.unconfirmedGap != offset) {
            p.unconfirmedGap = offset;
            return {Action::Seek, p.position};
        }
    }
    // In order from the seek position; within a fetch, a gap is a marker or compaction.
    p.seeked = false;
    p.unconfirmedGap = kNoOffset;
    p.position = offset + 1;
    p.batchNext = p.position;
    return {Action::Count};
}

OutOfRangeDecision OffsetTracker::onOutOfRange(int partition, std::int64_t low, std::int64_t high,
                                               const std::string &name)
{
    using Action = OutOfRangeDecision::Action;
    const auto it = partitions_.find(partition);
    if (it == partitions_.end())
        return {Action::Ignore, kNoOffset, 0, std::string()};
    auto &p = it->second;
    p.seeked = true;
    p.unconfirmedGap = kNoOffset;
    if (high >= 0 && p.position > high) {
        return {Action::Fatal, kNoOffset, 0,
                name + " ends at offset " + std::to_string(high) +
                    ", but Redis says offsets up to " + std::to_string(p.position) +
                    " were counted: the topic was re-created, or Redis holds another cluster's "
                    "offsets. Counting on would count events twice or skip them"};
    }
    if (low > p.position) {
        // Retention removed what was not counted yet, from the position on.
        const auto lost = low - p.position;
        p.batchLost += lost;
        p.position = low;
        p.batchNext = low;
        return {Action::Seek, low, lost, std::string()};
    }
    // In range again (the broker's range moved while we asked, or the error is older than a
    // seek): fetching stopped with the error, so seek to resume.
    return {Action::Seek, p.position, 0, std::string()};
}

std::vector<OffsetClaim> OffsetTracker::claims() const
{
    std::vector<OffsetClaim> list;
    for (const auto &[id, p] : partitions_)
        if (p.batchNext != kNoOffset)
            list.push_back({id, p.stored, p.batchNext, p.batchLost});
    return list;
}

bool OffsetTracker::hasClaims() const
{
    return std::any_of(partitions_.begin(), partitions_.end(),
                       [](const auto &entry) { return entry.second.batchNext != kNoOffset; });
}

void OffsetTracker::submitted(const std::vector<OffsetClaim> &claims)
{
    for (const auto &claim : claims) {
        const auto it = partitions_.find(claim.partition);
        if (it == partitions_.end())
            continue;
        auto &p = it->second;
        p.stored = claim.next;
        p.batchNext = kNoOffset;
        p.batchLost = 0;
    }
}

void OffsetTracker::applied(const std::vector<OffsetClaim> &claims)
{
    for (const auto &claim : claims)
        if (const auto it = partitions_.find(claim.partition); it != partitions_.end())
            it->second.confirmed = std::max(it->second.confirmed, claim.next);
}

std::map<int, std::int64_t> OffsetTracker::rewind(const std::vector<OffsetClaim> &failed,
                                                  const std::map<int, std::int64_t> &storedNow)
{
    std::map<int, std::int64_t> targets;
    for (const auto &claim : failed)
        if (const auto it = partitions_.find(claim.partition); it != partitions_.end()) {
            it->second.stored = claim.expected;
            targets[claim.partition] = 0;
        }
    for (const auto &[id, stored] : storedNow)
        if (const auto it = partitions_.find(id); it != partitions_.end()) {
            it->second.stored = stored;
            targets[id] = 0;
        }
    for (auto &[id, p] : partitions_)
        if (p.batchNext != kNoOffset)
            targets[id] = 0;
    for (auto &[id, target] : targets)
        target = restart(partitions_[id]);
    return targets;
}

std::int64_t OffsetTracker::position(int partition) const
{
    const auto it = partitions_.find(partition);
    return it == partitions_.end() ? kNoOffset : it->second.position;
}

std::int64_t OffsetTracker::stored(int partition) const
{
    const auto it = partitions_.find(partition);
    return it == partitions_.end() ? kNoOffset : it->second.stored;
}

std::int64_t OffsetTracker::confirmed(int partition) const
{
    const auto it = partitions_.find(partition);
    return it == partitions_.end() ? kNoOffset : it->second.confirmed;
}

} // namespace pb
