#pragma once
// The event simulator: a librdkafka producer (idempotent, acks=all, retries with backoff) that
// sends generated events keyed by user_id at a steady rate. run() blocks: call it on a worker
// thread. stats() and requestStop() are thread-safe.

#include "core/event_generator.h"
#include "kafka_client.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace pb::kafka {

struct SimulatorOptions {
    std::string topic = "user-activity";
    double rate = 1000;                    // events per second; 0: as fast as possible
    std::int64_t count = 0;                // stop after this many; 0: no limit
    std::chrono::milliseconds duration{0}; // stop after this long; 0: no limit
    GeneratorOptions generator;
    std::chrono::milliseconds connectTimeout{std::chrono::seconds(10)};
    std::chrono::milliseconds drainTimeout{std::chrono::seconds(30)}; // wait for acks at the end
    std::chrono::milliseconds progressInterval{250};
    // Producer batching. 50 ms, not librdkafka's 5: the embedded broker looks up message sets
    // linearly, so many tiny ones cost it a core over a long run.
    std::chrono::milliseconds linger{50};
};

struct SimulatorStats {
    std::int64_t sent = 0;         // handed to librdkafka
    std::int64_t acknowledged = 0; // delivery report: stored by the brokers (acks=all)
    std::int64_t failed = 0;       // delivery report: given up after retries
    std::string lastError;         // the last delivery failure, empty if none
    bool finished = false;
};

class Simulator {
public:
    // Validates options and connects (throws pb::Error with what to do when that fails).
    Simulator(KafkaSettings settings, SimulatorOptions options);
    ~Simulator();
    Simulator(const Simulator &) = delete;
    Simulator &operator=(const Simulator &) = delete;

    // Produces until the count or duration is reached or stop is requested, then waits for the
    // outstanding delivery reports. `progress` is called on this thread every progressInterval.
    SimulatorStats run(const std::function<void(const SimulatorStats &)> &progress = {});
    void requestStop() { stop_.store(true, std::memory_order_relaxed); }
    SimulatorStats stats() const;

private:
    static void onDelivery(rd_kafka_t *, const rd_kafka_message_t *msg, void *opaque);
    bool produceOne(std::int64_t timestampMs);

    KafkaSettings settings_;
    SimulatorOptions options_;
    EventGenerator generator_;
    ErrorTracker tracker_;
    HandlePtr producer_;
    TopicPtr topic_;
    std::atomic<bool> stop_{false};
    std::atomic<std::int64_t> sent_{0};
    std::atomic<std::int64_t> acknowledged_{0};
    std::atomic<std::int64_t> failed_{0};
    std::atomic<bool> finished_{false};
    mutable std::mutex errorMutex_;
    std::string lastError_;
};

} // namespace pb::kafka
