#pragma once
// One member of the aggregator consumer group: Kafka -> validation -> micro-batch ->
// one atomic Redis write per batch with each partition's next offset (exactly once).
// run() blocks on the calling thread, which also polls librdkafka; requestStop() and stats()
// are thread-safe.

#include "batch_builder.h"
#include "core/batch.h"
#include "core/event.h"
#include "core/snapshot.h"
#include "kafka/dead_letter_producer.h"
#include "kafka/kafka_client.h"
#include "redis/batch_writer.h"
#include "redis/redis_connection.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pb {

// Where a partition with no offset stored in Redis starts.
enum class StartFrom { Earliest, Latest };

struct AggregatorOptions {
    kafka::KafkaSettings kafka;
    std::string topic = "user-activity";
    std::string group = "pulseboard-aggregator";
    std::string deadLetterTopic; // empty: "<topic>.dlq"
    redis::Endpoint redis;
    redis::Schema schema;
    AggregationOptions aggregation;
    StartFrom startFrom = StartFrom::Earliest;
    // The longest a batch of live events waits; it goes earlier once it holds everything
    // fetched and Redis has confirmed the batch before (group commit).
    std::chrono::milliseconds flushInterval{100};
    // While Kafka holds a backlog for this member (at least a tenth of maxBatchEvents: a
    // restart, a burst), a batch grows up to maxBatchEvents or catchUpInterval instead. Redis's
    // work per batch follows the distinct users and pages in it, not its events, so fewer,
    // bigger batches catch up faster: 2 M events took Redis 125 ms of CPU in 1 M-event
    // batches, 470 ms in the 150,000-event ones that group commit made.
    std::chrono::milliseconds catchUpInterval{1000};
    std::int64_t maxBatchEvents = 1'000'000;
    // A dead member's partitions move on after this; librdkafka's 45 s default is too slow.
    std::chrono::milliseconds sessionTimeout{6000};
    std::chrono::milliseconds heartbeatInterval{1000};
    std::chrono::milliseconds connectTimeout{std::chrono::seconds(10)};
    std::chrono::milliseconds maxBackoff{std::chrono::seconds(5)};
    std::string instanceId; // empty: host:pid:n
    // Benchmarks only: called on the aggregator's thread after each applied batch with the
    // Kafka timestamps of its events and the wall-clock time Redis had them. Costs nothing
    // when empty.
    std::function<void(std::int64_t appliedAtMs, const std::vector<std::int64_t> &kafkaTimesMs)>
        onApplied;
};

struct RunLimits {
    std::chrono::milliseconds duration{0}; // stop after this long; 0: no limit
    // Stop when no event came for this long after joining the group; 0: never.
    std::chrono::milliseconds idleExit{0};
};

struct AggregatorStats {
    std::int64_t validEvents = 0;   // accounted in Redis
    std::int64_t invalidEvents = 0; // accounted in Redis and forwarded to the DLQ
    std::int64_t batches = 0;
    std::int64_t rewinds = 0; // batches dropped and re-read (offset mismatch, outage)
    std::int64_t redisFailures = 0;
    std::int64_t lostEvents = 0; // offsets Kafka no longer had (retention)
    bool redisUp = false;
    bool kafkaUp = false;
    std::string lastError;
    std::vector<PartitionHealth> partitions;
    // Steady-clock times of the first and last accounted event (for throughput figures).
    std::chrono::steady_clock::time_point firstAccounted{};
    std::chrono::steady_clock::time_point lastAccounted{};
};

class Aggregator {
public:
    // Connects to Kafka (metadata probe) and Redis (PING, functions loaded); throws pb::Error
    // with what to do when either is unreachable or refuses.
    explicit Aggregator(AggregatorOptions options);
    ~Aggregator();
    Aggregator(const Aggregator &) = delete;
    Aggregator &operator=(const Aggregator &) = delete;

    // Consumes until requestStop() or a limit; flushes the batch in hand and leaves the group
    // cleanly before returning. Throws pb::Error on a fatal error.
    void run(RunLimits limits = {});
    void requestStop() { stop_.store(true, std::memory_order_relaxed); }
    AggregatorStats stats() const;
    const std::string &instanceId() const { return options_.instanceId; }

private:
    struct PartitionState {
        std::string source; // "topic/partition"
        // What Redis holds once the submitted batch applies: where the batch being built
        // starts (its compare-and-set "expected").
        std::int64_t stored = redis::kNoOffset;
        std::int64_t confirmed = redis::kNoOffset; // what Redis confirmed holding (for lag)
        std::int64_t next = -1;    // after the last message in the batch; -1: none yet
        bool resetPending = false; // Kafka reset the position (retention): count the gap
        std::int64_t lostPending = 0;
        std::int64_t highWatermark = -1;
    };

    static void onRebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *partitions, void *opaque);
    void assign(rd_kafka_topic_partition_list_t *partitions);
    void revoke();
    // A batch submitted to Redis whose verdict has not been read yet.
    struct InFlight {
        std::vector<redis::PartitionCommit> commits;
        std::int64_t lost = 0;
        std::int64_t valid = 0;
        std::int64_t invalid = 0;
        std::vector<std::int64_t> kafkaTimes; // only with options_.onApplied
        std::chrono::steady_clock::time_point started{};
    };

    // On the polling thread: partition bookkeeping, then the message goes to the builder.
    void handle(kafka::MessagePtr msg, std::int64_t nowMs);
    // On the builder's thread: validation, pre-aggregation, dead-lettering.
    void build(std::span<const BatchBuilder::Item> items);
    // Drops the batch in hand (after the builder is done with it).
    void discardBatch();
    // Completes the batch in flight, then submits the one in hand; with wait, also completes
    // that. False when something was dropped and is being re-read.
    bool flush(bool wait);
    bool complete();
    void rewind(const std::map<int, std::int64_t> &storedNow, const InFlight *failed = nullptr);
    void seek(const std::map<int, std::int64_t> &targets);
    void beat();
    // Events Kafka holds beyond what this member has read, from the high watermarks of the
    // latest fetches (no broker round trip); stops counting at `enough`.
    std::int64_t backlog(std::int64_t enough);
    void backOff();
    void setError(const std::string &message, bool redisDown);
    std::int64_t startOffset(std::int64_t stored) const;

    AggregatorOptions options_;
    kafka::ErrorTracker tracker_;
    kafka::HandlePtr consumer_;
    std::unique_ptr<kafka::DeadLetterProducer> deadLetters_;
    redis::Connection redis_;
    redis::BatchWriter writer_;
    EventValidator validator_;
    BatchAggregate batch_;
    std::vector<std::int64_t> batchKafkaTimes_; // only with options_.onApplied
    std::map<int, PartitionState> partitions_;
    std::chrono::steady_clock::time_point batchStarted_{};
    bool backlogged_ = false; // catching up: batches grow to catchUpInterval / maxBatchEvents
    bool abandoned_ = false;  // being destroyed after run() threw: write nothing more
    std::chrono::steady_clock::time_point nextBeat_{};
    std::chrono::steady_clock::time_point lastActivity_{}; // last event or assignment
    std::chrono::milliseconds backoff_{0};
    std::int64_t startedMs_ = 0;
    std::optional<InFlight> inFlight_;
    std::atomic<bool> stop_{false};

    mutable std::mutex statsMutex_;
    AggregatorStats stats_;

    std::int64_t batchEvents_ = 0; // messages handed to the builder for the batch in hand
    // Last: it is stopped, and its queued messages destroyed, before anything it uses goes.
    BatchBuilder builder_;
};

} // namespace pb
