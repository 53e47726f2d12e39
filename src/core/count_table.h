#pragma once
// A string -> int64 table for one micro-batch, built for the aggregator's hot path: open
// addressing where each slot holds its hash, its value and, up to 16 bytes, its key, so that a
// look-up in a table far bigger than the cache costs one cache miss; longer keys live in one
// arena. clear() keeps all of its memory, so a table that has seen a batch's keys does not
// allocate for the next one. Iterates in insertion order. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb {

// Hashes for CountTable: fast on short keys, seeded per process so that crafted user ids cannot
// aim at one bucket.
std::uint64_t hashKey(std::string_view key);

class CountTable {
    static constexpr std::size_t kInlineKey = 16;
    struct Slot {
        std::uint64_t hash;
        std::int64_t value;
        std::uint32_t length; // kFree: unused
        std::uint32_t offset; // into the arena, for keys longer than kInlineKey
        char inlineKey[kInlineKey];
    };

public:
    // The value stored for key, inserted as 0 when absent.
    std::int64_t &operator[](std::string_view key) { return *tryEmplace(key, 0).first; }
    // Inserts (key, value) unless key is present; the stored value and whether it was inserted.
    // The pointer is valid until the next insertion.
    std::pair<std::int64_t *, bool> tryEmplace(std::string_view key, std::int64_t value)
    {
        return tryEmplace(key, hashKey(key), value);
    }
    // The same with hashKey(key) computed once for several tables.
    std::pair<std::int64_t *, bool> tryEmplace(std::string_view key, std::uint64_t hash,
                                               std::int64_t value);
    // Starts loading the slot a key with this hash probes first, so that a tryEmplace() a
    // little later does not wait on memory. A hint: changes nothing.
    void prefetch(std::uint64_t hash) const
    {
        if (slots_.empty())
            return;
        const auto *slot = &slots_[hash & (slots_.size() - 1)];
        __builtin_prefetch(slot);
        __builtin_prefetch(reinterpret_cast<const char *>(slot + 1) - 1); // a slot may straddle
    }
    const std::int64_t *find(std::string_view key) const;
    std::int64_t at(std::string_view key) const; // throws std::out_of_range when absent

    std::size_t size() const { return order_.size(); }
    bool empty() const { return order_.empty(); }
    void clear();

    class const_iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = std::pair<std::string_view, std::int64_t>;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = value_type;

        value_type operator*() const
        {
            const auto &slot = table_->slots_[*it_];
            return {table_->keyOf(slot), slot.value};
        }
        const_iterator &operator++()
        {
            ++it_;
            return *this;
        }
        bool operator==(const const_iterator &other) const { return it_ == other.it_; }

    private:
        friend class CountTable;
        const_iterator(const CountTable *table, std::vector<std::uint32_t>::const_iterator it)
            : table_(table)
            , it_(it)
        {
        }
        const CountTable *table_;
        std::vector<std::uint32_t>::const_iterator it_;
    };
    const_iterator begin() const { return {this, order_.begin()}; }
    const_iterator end() const { return {this, order_.end()}; }

private:
    std::string_view keyOf(const Slot &slot) const;
    // The slot holding key, or the free slot where it belongs.
    std::size_t slotOf(std::string_view key, std::uint64_t hash) const;
    void grow();

    std::vector<Slot> slots_;          // size: a power of two
    std::vector<std::uint32_t> order_; // used slots, in insertion order
    std::string arena_;
};

} // namespace pb
