#pragma once
// A string -> int64 table for one micro-batch, built for the aggregator's hot path: open
// addressing over a dense entry array, every key copied into one arena. clear() keeps all of
// its memory, so a table that has seen a batch's keys does not allocate for the next one.
// Iterates in insertion order. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb {

class CountTable {
    struct Entry {
        std::size_t keyOffset;
        std::size_t keyLength;
        std::uint64_t hash;
        std::int64_t value;
    };

public:
    // The value stored for key, inserted as 0 when absent.
    std::int64_t &operator[](std::string_view key) { return *tryEmplace(key, 0).first; }
    // Inserts (key, value) unless key is present; the stored value and whether it was inserted.
    std::pair<std::int64_t *, bool> tryEmplace(std::string_view key, std::int64_t value);
    const std::int64_t *find(std::string_view key) const;
    std::int64_t at(std::string_view key) const; // throws std::out_of_range when absent

    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
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
            return {std::string_view(table_->arena_).substr(it_->keyOffset, it_->keyLength),
                    it_->value};
        }
        const_iterator &operator++()
        {
            ++it_;
            return *this;
        }
        bool operator==(const const_iterator &other) const { return it_ == other.it_; }

    private:
        friend class CountTable;
        const_iterator(const CountTable *table, std::vector<Entry>::const_iterator it)
            : table_(table)
            , it_(it)
        {
        }
        const CountTable *table_;
        std::vector<Entry>::const_iterator it_;
    };
    const_iterator begin() const { return {this, entries_.begin()}; }
    const_iterator end() const { return {this, entries_.end()}; }

private:
    std::size_t slotOf(std::string_view key, std::uint64_t hash) const;
    void grow();

    std::vector<Entry> entries_;
    std::vector<std::uint32_t> slots_; // entry index + 1; 0 = free. Size: a power of two
    std::string arena_;
};

// Hashes for CountTable: fast on short keys, seeded per process so that crafted user ids cannot
// aim at one bucket.
std::uint64_t hashKey(std::string_view key);

} // namespace pb
