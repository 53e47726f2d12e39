#pragma once
// The dashboard's memory of the live numbers: a fixed-size ring of samples, one per snapshot,
// covering the longest chart range (60 min). Bounded however long the window stays open.
// UI thread only.

#include "core/snapshot.h"

#include <QList>

#include <cstdint>
#include <vector>

namespace pb::gui {

struct Sample {
    std::int64_t timeMs = 0;
    std::int64_t activeUsers = 0;
    std::int64_t activeUsers30m = 0;
    double eventsPerSecond = 0;
    std::int64_t consumerLag = -1; // -1: unknown
    std::int64_t badEventsTotal = 0;
};

class History {
public:
    explicit History(std::size_t capacity = 3600)
        : ring_(capacity)
    {
    }

    void append(const Snapshot &snapshot);
    void append(const Sample &sample);
    void clear() { size_ = head_ = 0; }
    // Resizes to hold `capacity` samples, keeping the newest.
    void setCapacity(std::size_t capacity);

    std::size_t size() const { return size_; }
    std::size_t capacity() const { return ring_.size(); }
    const Sample &at(std::size_t i) const
    {
        return ring_[(head_ + i) % ring_.size()];
    } // 0 = oldest
    const Sample *latest() const { return size_ ? &at(size_ - 1) : nullptr; }

    // Events per second from a snapshot: the mean of its last complete seconds.
    static double eventsPerSecond(const Snapshot &snapshot, int seconds = 3);

private:
    std::vector<Sample> ring_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

} // namespace pb::gui
