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

namespace pb::kafka {

// Record headers on each dead-letter event.
inline constexpr const char *kHeaderReason = "pulseboard.reason";
inline constexpr const char *kHeaderSource = "pulseboard.source"; // "topic/partition/offset"

class DeadLetterProducer {
public:
    DeadLetterProducer(const KafkaSettings &settings, std::string topic);
    DeadLetterProducer(const DeadLetterProducer &) = delete;
    DeadLetterProducer &operator=(const DeadLetterProducer &) = delete;

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
    static void onDelivery(rd_kafka_t *, const rd_kafka_message_t *msg, void *opaque);

    std::string topic_;
    ErrorTracker tracker_;
    HandlePtr producer_;
    std::int64_t delivered_ = 0;
    std::int64_t failures_ = 0;
    std::int64_t failuresAtLastSettle_ = 0;
    std::string lastError_;
};

} // namespace pb::kafka
