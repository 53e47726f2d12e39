#include "history.h"

namespace pb::gui {

double History::eventsPerSecond(const Snapshot &s, int seconds)
{
    std::int64_t sum = 0;
    int n = 0;
    for (auto it = s.perSecond.rbegin(); it != s.perSecond.rend() && n < seconds; ++it, ++n)
        sum += it->count;
    return n ? static_cast<double>(sum) / n : 0.0;
}

void History::append(const Snapshot &s)
{
    append(Sample{s.takenAtMs, s.activeUsers, s.activeUsers30m, eventsPerSecond(s), s.consumerLag,
                  s.badEventsTotal});
}

void History::append(const Sample &sample)
{
    if (ring_.empty())
        return;
    if (size_ < ring_.size()) {
        ring_[(head_ + size_++) % ring_.size()] = sample;
        return;
    }
    ring_[head_] = sample;
    head_ = (head_ + 1) % ring_.size();
}

void History::setCapacity(std::size_t capacity)
{
    std::vector<Sample> kept;
    const auto keep = std::min(size_, capacity);
    for (auto i = size_ - keep; i < size_; ++i)
        kept.push_back(at(i));
    ring_.assign(std::max<std::size_t>(capacity, 1), Sample{});
    head_ = 0;
    size_ = 0;
    for (const auto &s : kept)
        append(s);
}

} // namespace pb::gui
