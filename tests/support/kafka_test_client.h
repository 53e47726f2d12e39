#pragma once
// Plain librdkafka producer and reader for tests: put known records into a topic, read a topic
// back whole (with headers). Independent of the code under test on purpose.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pb::test {

struct Header {
    std::string name;
    std::optional<std::string> value; // nullopt: a null value
};

struct Record {
    std::string key;
    std::string value;
    int partition = -1;           // -1: by key
    std::int64_t timestampMs = 0; // 0: now
    bool nullKey = false;         // no key at all (key is ignored)
    bool nullValue = false;       // a tombstone: no value at all (value is ignored)
    std::vector<Header> headers{};
};

struct ReadRecord {
    std::string key;
    std::string value;
    int partition = 0;
    std::int64_t offset = 0;
    std::map<std::string, std::string> headers; // the last value of each name
    std::size_t headerCount = 0;                // every header, repeated names included
    bool nullKey = false;
    bool nullValue = false;
};

// Where a record was written.
struct Position {
    int partition = -1;
    std::int64_t offset = -1;
};

// Produces every record and waits for every acknowledgement; throws std::runtime_error if any
// is not acknowledged. `properties` go to librdkafka after the defaults (linger.ms 5, acks all).
// Returns where each record went, in the order given.
std::vector<Position>
produceAll(const std::string &brokers, const std::string &topic, const std::vector<Record> &records,
           const std::vector<std::pair<std::string, std::string>> &properties = {});

// Reads `topic` from the beginning of every partition until `expected` records arrived or the
// timeout passed; returns what arrived.
std::vector<ReadRecord> readAll(const std::string &brokers, const std::string &topic,
                                std::size_t expected, std::chrono::milliseconds timeout);

// The partition's [low, high) offsets as its leader reports them now.
std::pair<std::int64_t, std::int64_t> watermarks(const std::string &brokers,
                                                 const std::string &topic, int partition);

// The broker id that leads the partition, from a fresh metadata request.
int partitionLeader(const std::string &brokers, const std::string &topic, int partition);

} // namespace pb::test
