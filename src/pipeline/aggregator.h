#pragma once
// One member of the aggregator consumer group: Kafka -> validation -> micro-batch ->
// one atomic Redis write per batch with each partition's next offset (exactly once: what a
// batch may claim is decided by the OffsetTracker alone). run() blocks on the calling thread,
// which also polls Kafka; requestStop() and stats() are thread-safe.

#include "batch_builder.h"
#include "core/batch.h"
#include "core/event.h"
#include "core/field_budget.h"
#include "core/offset_tracker.h"
#include "core/snapshot.h"
#include "kafka/dead_letter_producer.h"
#include "kafka/group_consumer.h"
#include "redis/batch_writer.h"
#include "redis/redis_connection.h"

#include <array>
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

// The embedded broker has no minimum session timeout (real Kafka's is 6 s) and adds a rebalance
// delay of the session timeout less a second: with 3 s, a killed aggregator's partitions move
// on in about 7 s instead of 11.
inline constexpr std::chrono::milliseconds kEmbeddedSessionTimeout{3000};

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
    // Kafka static membership (group.instance.id): a member restarted with the same id takes
    // its partitions back at once. Empty: a dynamic member (partitions move after the session
    // timeout).
    std::string staticId;
    // A batch closes once it holds as many distinct Redis fields (users, pages, ... per minute)
    // as keep one call inside Redis for about redisCallTarget, whatever its events: learned
    // from the calls' own time (core/field_budget.h), at most maxBatchFields. A call must not
    // keep Redis busy for seconds.
    std::chrono::milliseconds redisCallTarget{150};
    std::int64_t maxBatchFields = 1'000'000;
    // A batch also closes at this many payload and key bytes: its call carries each distinct
    // page, user and action (a few times over), and Redis drops a client whose query passes
    // client-query-buffer-limit (1 GB by default); big events must not make a batch that can
    // never be written.
    std::int64_t maxBatchBytes = 32 << 20;
    // Benchmarks only: called on the aggregator's thread after each applied batch with the
    // Kafka timestamps of its events and the wall-clock time Redis had them. Costs nothing
    // when empty.
    std::function<void(std::int64_t appliedAtMs, const std::vector<std::int64_t> &kafkaTimesMs)>
        onApplied;
    // Called on the aggregator's thread with what an operator should know: events lost to
    // retention, where counting starts on a partition seen for the first time.
    std::function<void(const std::string &)> onNotice;
    // Called on the aggregator's thread after each applied batch with the time its call spent
    // inside Redis (the metrics' histogram). Costs nothing when empty.
    std::function<void(std::chrono::microseconds inRedis)> onRedisCall;
};

struct RunLimits {
    std::chrono::milliseconds duration{0}; // stop after this long; 0: no limit
    // Stop once everything Kafka holds of the topic is in Redis (this member's partitions and
    // everyone else's: a dead member's are not done until they are) and stayed so for this
    // long; 0: never.
    std::chrono::milliseconds idleExit{0};
};

struct AggregatorStats {
    std::int64_t validEvents = 0;   // accounted in Redis
    std::int64_t invalidEvents = 0; // accounted in Redis and forwarded to the DLQ
    std::int64_t batches = 0;
    std::int64_t rewinds = 0; // batches dropped and re-read (offset mismatch, outage)
    std::int64_t fenced = 0;  // batches Redis refused: another member had applied further
    std::int64_t dropped = 0; // messages not counted: stale, from before a seek, or counted
    std::int64_t redisFailures = 0;
    std::int64_t lostEvents = 0; // offsets Kafka no longer had (retention)
    // invalidEvents by reason (index: InvalidReason), counted as batches are applied.
    std::array<std::int64_t, kInvalidReasonCount> invalidByReason{};
    bool running = false; // in run(): subscribed, holding partitions or waiting for them
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
    // Connects to Kafka (metadata probe) and Redis (PING, a primary that never evicts keys,
    // functions loaded); throws pb::Error with what to do when either is unreachable, refuses,
    // or is a Redis that would lose the writes.
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
    // A batch submitted to Redis whose verdict has not been read yet.
    struct InFlight {
        std::vector<OffsetClaim> claims;
        std::int64_t valid = 0;
        std::int64_t invalid = 0;
        std::array<std::int64_t, kInvalidReasonCount> invalidByReason{};
        std::vector<std::int64_t> kafkaTimes; // only with options_.onApplied
        std::chrono::steady_clock::time_point started{};
        std::int64_t fields = 0;
    };

    // Rebalance handlers (on the polling thread, inside poll()).
    std::vector<std::int64_t> assigned(const std::vector<int> &partitions);
    void revoked(const std::vector<int> &partitions, bool lost);
    // Where counting starts on partitions Redis holds no offset for, stored there: `starts`
    // where given, else resolved by --from. Returns what Redis holds for each afterwards.
    std::vector<std::int64_t> storeStarts(const std::vector<int> &partitions,
                                          std::vector<std::int64_t> starts = {});
    // On the polling thread: the tracker decides, then the message goes to the builder.
    void handle(kafka::MessagePtr msg, std::int64_t nowMs);
    void outOfRange(int partition);
    // Seeks, restarting the partitions an out-of-range error stopped.
    void seek(const std::map<int, std::int64_t> &targets);
    // Restarts fetching a stopped partition at the tracker's position.
    void restartFetch(int partition);
    // On the builder's thread: validation, pre-aggregation, dead-lettering.
    void build(std::span<const BatchBuilder::Item> items);
    // Drops the batch in hand (after the builder is done with it).
    void discardBatch();
    // Completes the batch in flight, then submits the one in hand; with wait, also completes
    // that. False when something was dropped and is being re-read.
    bool flush(bool wait);
    bool complete();
    // Drops what is in hand and re-reads from what Redis holds (see OffsetTracker::rewind).
    void rewind(const std::vector<OffsetClaim> &failed,
                const std::map<int, std::int64_t> &storedNow);
    void beat();
    // Events Kafka holds beyond this member's position, from the latest fetches' watermarks;
    // stops counting at `enough`. -1 while a partition's end is not known yet.
    std::int64_t backlog(std::int64_t enough) const;
    // Everything Kafka holds of the whole topic is in Redis, whoever owns the partitions.
    bool topicCaughtUp();
    void backOff();
    // Runs attempt() until it succeeds, backing off after each retriable error (shown as
    // `side`'s); rethrows a fatal one, or any once a stop is requested.
    enum class Side { Kafka, Redis };
    template <typename Attempt> auto retrying(Side side, Attempt attempt);
    // run()'s polling loop, until stopped or a limit is reached.
    void loop(RunLimits limits, std::chrono::steady_clock::time_point started);
    void setError(const std::string &message, bool redisDown);
    void setRunning(bool running);
    // Something an operator should know (events lost to retention, where counting starts).
    void notice(const std::string &message);

    AggregatorOptions options_;
    kafka::ErrorTracker tracker_;
    std::unique_ptr<kafka::GroupConsumer> consumer_;
    std::unique_ptr<kafka::DeadLetterProducer> deadLetters_;
    redis::Connection redis_;
    redis::BatchWriter writer_;
    EventValidator validator_;
    OffsetTracker offsets_;
    BatchAggregate batch_;
    // The builder thread's own: "topic/partition" by partition id, for the feeds.
    std::vector<std::string> sources_;
    std::vector<std::int64_t> batchKafkaTimes_; // only with options_.onApplied
    std::chrono::steady_clock::time_point batchStarted_{};
    bool backlogged_ = false; // catching up: batches grow to catchUpInterval / maxBatchEvents
    bool abandoned_ = false;  // being destroyed after run() threw: write nothing more
    std::chrono::steady_clock::time_point nextBeat_{};
    std::chrono::steady_clock::time_point idleSince_{}; // caught up since; {}: not idle
    std::chrono::steady_clock::time_point nextTopicCheck_{};
    std::chrono::milliseconds backoff_{0};
    std::int64_t startedMs_ = 0;
    std::optional<InFlight> inFlight_;
    std::atomic<bool> stop_{false};
    // Published by the builder after each chunk: the batch's distinct Redis fields and the
    // events it has processed (the rest of batchEvents_ is still queued).
    std::atomic<std::int64_t> batchFields_{0};
    FieldBudget fieldBudget_;
    std::atomic<std::int64_t> batchProcessed_{0};

    mutable std::mutex statsMutex_;
    AggregatorStats stats_;

    std::int64_t batchEvents_ = 0; // messages handed to the builder for the batch in hand
    std::int64_t batchBytes_ = 0;  // their payload and key bytes
    // Last: it is stopped, and its queued messages destroyed, before anything it uses goes.
    BatchBuilder builder_;
};

} // namespace pb
