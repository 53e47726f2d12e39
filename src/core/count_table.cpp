#include "count_table.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>

namespace pb {

namespace {

__extension__ using Uint128 = unsigned __int128; // GCC and Clang on 64-bit targets

// 64 x 64 -> 128-bit multiply, folded (the mixing step of wyhash).
std::uint64_t fold(std::uint64_t a, std::uint64_t b)
{
    const auto product = static_cast<Uint128>(a) * b;
    return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

std::uint64_t processSeed()
{
    static const std::uint64_t seed = [] {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }();
    return seed;
}

constexpr std::size_t kMinSlots = 64;

} // namespace

std::uint64_t hashKey(std::string_view key)
{
    constexpr std::uint64_t k0 = 0xa0761d6478bd642full;
    constexpr std::uint64_t k1 = 0xe7037ed1a0b428dbull;
    static const std::uint64_t seed = processSeed();
    std::uint64_t h = seed ^ (key.size() * k0);
    const char *p = key.data();
    std::size_t n = key.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        h = fold(word ^ k0, h ^ k1);
    }
    std::uint64_t tail = 0;
    if (n > 0)
        std::memcpy(&tail, p, n);
    return fold(tail ^ k1, h ^ k0 ^ n);
}

std::size_t CountTable::slotOf(std::string_view key, std::uint64_t hash) const
{
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        const auto slot = slots_[i];
        if (slot == 0)
            return i;
        const auto &e = entries_[slot - 1];
        if (e.hash == hash && e.keyLength == key.size() &&
            std::memcmp(arena_.data() + e.keyOffset, key.data(), key.size()) == 0)
            return i;
    }
}

std::pair<std::int64_t *, bool> CountTable::tryEmplace(std::string_view key, std::int64_t value)
{
    if (2 * (entries_.size() + 1) > slots_.size())
        grow();
    const auto hash = hashKey(key);
    const auto i = slotOf(key, hash);
    if (slots_[i] != 0)
        return {&entries_[slots_[i] - 1].value, false};
    entries_.push_back({arena_.size(), key.size(), hash, value});
    arena_.append(key);
    slots_[i] = static_cast<std::uint32_t>(entries_.size());
    return {&entries_.back().value, true};
}

const std::int64_t *CountTable::find(std::string_view key) const
{
    if (entries_.empty())
        return nullptr;
    const auto slot = slots_[slotOf(key, hashKey(key))];
    return slot == 0 ? nullptr : &entries_[slot - 1].value;
}

std::int64_t CountTable::at(std::string_view key) const
{
    if (const auto *value = find(key))
        return *value;
    throw std::out_of_range("CountTable: no key '" + std::string(key) + "'");
}

void CountTable::clear()
{
    entries_.clear();
    arena_.clear();
    std::fill(slots_.begin(), slots_.end(), 0);
}

void CountTable::grow()
{
    // Load factor at most 1/2: probe sequences stay short with linear probing.
    slots_.assign(std::max(kMinSlots, 2 * slots_.size()), 0);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t e = 0; e < entries_.size(); ++e) {
        auto i = entries_[e].hash & mask;
        while (slots_[i] != 0)
            i = (i + 1) & mask;
        slots_[i] = static_cast<std::uint32_t>(e + 1);
    }
}

} // namespace pb
