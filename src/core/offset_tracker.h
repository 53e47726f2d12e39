#pragma once
// The exactly-once rule, in one place: for each assigned partition, where consumption stands,
// which offsets the batch in hand covers, and what a batch may claim in Redis.
//
// Redis's stored offset of a partition moves only forward, only over offsets this member
// consumed in order from the position it seeked to, and only together with their aggregates:
// - a message below the current position (stale, from before a seek or an earlier assignment,
//   or already counted) is dropped, never counted;
// - the first message after a seek must be the one seeked to; one further on is counted only
//   when a second seek gives it again (a compacted offset or a transaction marker there), never
//   when it was a leftover of an earlier fetch;
// - offsets Kafka no longer has (retention) are claimed as lost, never as counted;
// - a batch claims [what Redis holds now, the end of what it counted), and Redis applies it
//   only if it still holds the start (the compare-and-set in pb_apply_v1).
// Pure: no I/O, no clock. Not thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pb {

inline constexpr std::int64_t kNoOffset = -1; // "nothing stored yet" in Redis

// Where a partition with no offset stored in Redis starts.
enum class StartFrom { Earliest, Latest };

// What one batch claims for one partition: Redis holds `expected` now (kNoOffset: nothing) and
// `next` once the batch applies; `lost` of the offsets in between were gone from Kafka.
struct OffsetClaim {
    int partition = 0;
    std::int64_t expected = kNoOffset;
    std::int64_t next = 0;
    std::int64_t lost = 0;
    friend bool operator==(const OffsetClaim &, const OffsetClaim &) = default;
};

// What to do with a message.
struct MessageDecision {
    enum class Action {
        Count, // part of the batch in hand
        Drop,  // not ours, stale, or already counted
        Seek,  // dropped; seek the partition to `seekTo` (to confirm a gap after a seek)
    };
    Action action = Action::Drop;
    std::int64_t seekTo = kNoOffset;
};

// What to do when Kafka says the position is out of range (auto.offset.reset=error).
struct OutOfRangeDecision {
    enum class Action {
        Ignore, // not ours
        Seek,   // seek to `seekTo`; `lost` offsets were counted as lost in the batch in hand
        Fatal,  // Redis's offsets do not belong to this partition: `problem` says why
    };
    Action action = Action::Ignore;
    std::int64_t seekTo = kNoOffset;
    std::int64_t lost = 0;
    std::string problem;
};

class OffsetTracker {
public:
    // A partition given to this member: `stored` is what Redis holds for it (kNoOffset: none),
    // `start` where counting starts when it holds nothing (the resolved earliest or latest
    // offset). Returns the offset to seek to.
    std::int64_t assign(int partition, std::int64_t stored, std::int64_t start);
    // The partition is no longer ours; what the batch in hand holds of it is dropped.
    void revoke(int partition);
    bool owns(int partition) const { return partitions_.count(partition) != 0; }
    std::vector<int> partitions() const;

    // A message at `offset` was consumed from `partition`.
    MessageDecision onMessage(int partition, std::int64_t offset);
    // The broker no longer has the consumer's fetch position of `partition`; it holds
    // [low, high) now. (The position the broker names is not used: after a seek it may be
    // stale.)
    OutOfRangeDecision onOutOfRange(int partition, std::int64_t low, std::int64_t high,
                                    const std::string &name);

    // What the batch in hand claims, one per partition it covers (in partition order).
    std::vector<OffsetClaim> claims() const;
    bool hasClaims() const;
    // The claims went to Redis: the next batch starts where they end.
    void submitted(const std::vector<OffsetClaim> &claims);
    // Redis applied them.
    void applied(const std::vector<OffsetClaim> &claims);
    // Drops the batch in hand and returns where each partition that must be read again starts:
    // every partition in the batch in hand, every one in `failed` (a batch Redis refused or
    // whose outcome is unknown: Redis holds its `expected`, or its `next` if it did apply, which
    // the next compare-and-set tells), and every one in `storedNow` (what Redis said it holds
    // instead).
    std::map<int, std::int64_t> rewind(const std::vector<OffsetClaim> &failed,
                                       const std::map<int, std::int64_t> &storedNow);

    // The next offset this member counts (where it stands in the partition); kNoOffset if not
    // ours.
    std::int64_t position(int partition) const;
    // What Redis holds once every submitted batch has applied; kNoOffset if not ours.
    std::int64_t stored(int partition) const;
    // What Redis confirmed holding (for lag figures); kNoOffset if nothing.
    std::int64_t confirmed(int partition) const;

private:
    struct Partition {
        std::int64_t stored = kNoOffset;    // Redis holds this once every submitted batch applies
        std::int64_t confirmed = kNoOffset; // Redis confirmed holding this
        std::int64_t start = 0;             // where counting starts when Redis holds nothing
        std::int64_t position = 0;          // the next offset to count
        bool seeked = true;                 // no message taken since the last seek
        std::int64_t unconfirmedGap = kNoOffset; // first offset seen past a seek, to confirm
        std::int64_t batchNext = kNoOffset;      // end of the batch in hand's range
        std::int64_t batchLost = 0;
    };
    static std::int64_t restart(Partition &p);

    std::map<int, Partition> partitions_;
};

} // namespace pb
