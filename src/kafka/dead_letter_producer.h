#pragma once
// Forwards invalid events byte for byte to the dead-letter topic, with the reason and the
// source position in record headers. At least once: a batch that is re-read after a failure
// may forward an event twice; none is lost. Not thread-safe: one thread at a time (the aggregator
// hands it from its builder to its polling thread).

#include "kafka_client.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pb::kafka {

// Record headers on each dead-letter event.
inline constexpr const char *kHeaderReason = "pulseboard.reason";
inline constexpr const char *kHeaderSource = "pulseboard.source"; // "topic/partition/offset"
// On a record cut short to fit: the original payload and key sizes, "payload,key" in bytes. The
// whole record is still in the source topic at pulseboard.source (while Kafka retains it).
inline constexpr const char *kHeaderTruncated = "pulseboard.truncated";
// The most of a record (payload and key together) forwarded as it is: brokers refuse records
// over about 1 MB by default, and a bad event must never stop the pipeline.
inline constexpr std::size_t kMaxDeadLetterBytes = 512 * 1024;
// What is kept of one the broker still refused; after that, the headers alone go.
inline constexpr std::size_t kRefusedDeadLetterBytes = 16 * 1024;

class DeadLetterProducer {
public:
    DeadLetterProducer(const KafkaSettings &settings, std::string topic);
    DeadLetterProducer(const DeadLetterProducer &) = delete;
    DeadLetterProducer &operator=(const DeadLetterProducer &) = delete;

    // A payload or key whose data() is null (a tombstone, a record without a key) goes as
    // null, not empty: the copy is the record as it came.
    void forward(std::string_view payload, std::string_view key, std::string_view reason,
                 std::string_view source, std::int64_t offset);
    // Waits until everything forwarded so far is acknowledged. False when something failed or
    // is still unacknowledged at the deadline; the caller must then re-read the batch.
    bool settle(std::chrono::milliseconds timeout);

    const std::string &topic() const { return topic_; }
    std::int64_t delivered() const { return delivered_; }
    std::int64_t failures() const { return failures_; }
    const std::string &lastError() const { return lastError_; }

private:
    // One bad event on its way: the most of it that fits `budget` bytes goes.
    struct Letter {
        std::string payload, key, reason, position;
        std::size_t payloadSize = 0; // the original sizes
        std::size_t keySize = 0;
        std::size_t refusedBytes = 0; // payload and key of the record the broker refused
        bool nullPayload = false;
        bool nullKey = false;
    };
    static void onDelivery(rd_kafka_t *, const rd_kafka_message_t *msg, void *opaque);
    // Produces `letter` cut to `budget` bytes (0: headers only). Throws pb::Error.
    void produce(const Letter &letter, std::size_t budget);

    std::vector<Letter> refused_; // the broker refused them as too large: to go again, shorter
    std::string topic_;
    ErrorTracker tracker_;
    HandlePtr producer_;
    std::int64_t delivered_ = 0;
    std::int64_t failures_ = 0;
    std::int64_t failuresAtLastSettle_ = 0;
    std::string lastError_;
};

} // namespace pb::kafka
