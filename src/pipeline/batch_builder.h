#pragma once
// Validation and pre-aggregation on a thread of their own. Taking a message from librdkafka
// costs the polling thread about as much as validating and aggregating it, so the aggregator's
// thread polls and hands messages over in chunks, and the two overlap. Whoever owns what the
// items feed (the batch) reads or changes it only after drain().

#include "kafka/rdkafka_handles.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace pb {

class BatchBuilder {
public:
    struct Item {
        rd_kafka_message_t *message = nullptr; // owned: released once processed
        int partition = 0;
        std::int64_t timestampMs = 0; // the Kafka timestamp (or the time it came)
        std::int64_t nowMs = 0;       // decides which time buckets are recent
    };
    // Runs on the builder's thread for every chunk of items, in the order they were added.
    // When it throws, the items after the one that threw count as unprocessed.
    using Process = std::function<void(std::span<const Item>)>;
    // Gives an item's message back once it is processed or dropped.
    using Release = std::function<void(rd_kafka_message_t *)>;

    explicit BatchBuilder(Process process, Release release = rd_kafka_message_destroy);
    // Processes nothing more: releases the messages still queued, then joins.
    ~BatchBuilder();
    BatchBuilder(const BatchBuilder &) = delete;
    BatchBuilder &operator=(const BatchBuilder &) = delete;

    // Takes the item; handed to the builder's thread a chunk at a time. Blocks while the
    // builder is far behind, so that memory stays bounded.
    void add(const Item &item);
    // Hands over the part-filled chunk too (call when no more messages are at hand).
    void submit();
    // Waits until every item added so far is processed. Rethrows what Process threw; the items
    // after that one were released unprocessed.
    void drain();

private:
    void run();
    void release(std::vector<Item> &chunk);

    Process process_;
    Release release_;
    std::vector<Item> filling_; // the adding thread's only
    std::mutex mutex_;
    std::condition_variable work_; // to the builder: a chunk, or stop
    std::condition_variable done_; // to the adder: drained, or room in the queue
    std::deque<std::vector<Item>> queue_;
    std::vector<std::vector<Item>> spare_; // processed chunks, kept for their capacity
    bool busy_ = false;                    // the builder holds a chunk
    bool stop_ = false;
    std::exception_ptr error_;
    std::thread thread_;
};

} // namespace pb
