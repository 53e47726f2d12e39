#include "count_table.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>
#include <utility>

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
constexpr std::uint32_t kFree = 0xffffffffu;

template <typename Word> Word load(const char *p)
{
    Word w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

// Equal bytes, n of them; short keys (most here) by two overlapping in-bounds loads.
bool sameBytes(const char *a, const char *b, std::size_t n)
{
    if (n >= 8 && n <= 16)
        return load<std::uint64_t>(a) == load<std::uint64_t>(b) &&
               load<std::uint64_t>(a + n - 8) == load<std::uint64_t>(b + n - 8);
    if (n >= 4 && n < 8)
        return load<std::uint32_t>(a) == load<std::uint32_t>(b) &&
               load<std::uint32_t>(a + n - 4) == load<std::uint32_t>(b + n - 4);
    return n == 0 || std::memcmp(a, b, n) == 0;
}

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
    // The last 0-7 bytes without a byte loop: overlapping loads cover them all (n is mixed in).
    std::uint64_t tail = 0;
    if (n >= 4)
        tail = (static_cast<std::uint64_t>(load<std::uint32_t>(p)) << 32) |
               load<std::uint32_t>(p + n - 4);
    else if (n > 0)
        tail = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
               (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
               static_cast<unsigned char>(p[n - 1]);
    return fold(tail ^ k1, h ^ k0 ^ n);
}

std::string_view CountTable::keyOf(const Slot &slot) const
{
    if (slot.length <= kInlineKey)
        return {slot.inlineKey, slot.length};
    return std::string_view(arena_).substr(slot.offset, slot.length);
}

std::size_t CountTable::slotOf(std::string_view key, std::uint64_t hash) const
{
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        const auto &slot = slots_[i];
        if (slot.length == kFree)
            return i;
        if (slot.hash == hash && slot.length == key.size() &&
            sameBytes(key.size() <= kInlineKey ? slot.inlineKey : arena_.data() + slot.offset,
                      key.data(), key.size()))
            return i;
    }
}

std::pair<std::int64_t *, bool> CountTable::tryEmplace(std::string_view key, std::uint64_t hash,
                                                       std::int64_t value)
{
    if (2 * (order_.size() + 1) > slots_.size())
        grow();
    const auto i = slotOf(key, hash);
    auto &slot = slots_[i];
    if (slot.length != kFree)
        return {&slot.value, false};
    if (key.size() >= kFree || arena_.size() + key.size() >= kFree)
        throw std::length_error("CountTable: keys beyond 4 GB");
    slot.hash = hash;
    slot.value = value;
    slot.length = static_cast<std::uint32_t>(key.size());
    if (key.size() <= kInlineKey) {
        if (!key.empty())
            std::memcpy(slot.inlineKey, key.data(), key.size());
    } else {
        slot.offset = static_cast<std::uint32_t>(arena_.size());
        arena_.append(key);
    }
    order_.push_back(static_cast<std::uint32_t>(i));
    return {&slot.value, true};
}

const std::int64_t *CountTable::find(std::string_view key) const
{
    if (order_.empty())
        return nullptr;
    const auto &slot = slots_[slotOf(key, hashKey(key))];
    return slot.length == kFree ? nullptr : &slot.value;
}

std::int64_t CountTable::at(std::string_view key) const
{
    if (const auto *value = find(key))
        return *value;
    throw std::out_of_range("CountTable: no key '" + std::string(key) + "'");
}

void CountTable::clear()
{
    for (const auto i : order_)
        slots_[i].length = kFree;
    order_.clear();
    arena_.clear();
}

void CountTable::grow()
{
    // Load factor at most 1/2: probe sequences stay short with linear probing.
    auto previous =
        std::exchange(slots_, std::vector<Slot>(std::max(kMinSlots, 2 * slots_.size())));
    for (auto &slot : slots_)
        slot.length = kFree;
    const std::size_t mask = slots_.size() - 1;
    for (auto &i : order_) {
        const auto &slot = previous[i];
        auto j = slot.hash & mask;
        while (slots_[j].length != kFree)
            j = (j + 1) & mask;
        slots_[j] = slot;
        i = static_cast<std::uint32_t>(j);
    }
}

} // namespace pb
