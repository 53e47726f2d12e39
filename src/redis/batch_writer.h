#pragma once
// Writes pre-aggregated batches to Redis exactly once: one FCALL per batch applies every
// aggregate update and each partition's next offset, or nothing when a stored offset is not the
// one the batch expects. Also heartbeats. Not thread-safe: use it on the aggregator's thread.

#include "core/batch.h"
#include "core/offset_tracker.h"
#include "redis_connection.h"
#include "schema.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pb::redis {

struct OffsetMismatch {
    std::string topic;
    int partition = 0;
    std::int64_t stored = kNoOffset;
};

struct ApplyResult {
    bool applied = false;
    std::vector<OffsetMismatch> mismatches; // when not applied: what Redis holds instead
    std::chrono::microseconds inRedis{0};   // when applied: the call's time inside Redis
};

// What pb_apply_v3 answered: [1, microseconds in Redis] when applied, else [0, then field and
// stored offset for each partition whose offset differs]. Throws a Fatal Error on any other
// shape. Pure (the I/O is BatchWriter's), so tests and the fuzz target call it directly.
ApplyResult parseApplyReply(const redisReply *reply);

class BatchWriter {
public:
    BatchWriter(Connection &connection, Schema schema, AggregationOptions options);

    // Makes sure Redis holds resources/redis/pulseboard.lua as it is in this build: nothing to do
    // when it does already (FUNCTION LIST), else FUNCTION LOAD REPLACE. A least-privilege user
    // (pulseboard-cli redis-acl) may not load functions: then a Fatal Error says to run
    // pulseboard-cli redis-setup as an admin. Also Fatal on a Redis older than 7 (no Functions).
    void loadFunctions();
    // FUNCTION LOAD REPLACE, whatever is there: pulseboard-cli redis-setup.
    void replaceFunctions();

    // One round trip. Throws pb::Error on I/O failure (Retriable: the batch was not applied or
    // was applied exactly once; the caller retries and the compare-and-set sorts out which).
    ApplyResult apply(const BatchAggregate &batch, const std::string &topic,
                      const std::vector<OffsetClaim> &claims, std::int64_t nowMs);
    // The same, split: submit() sends the batch, collect() waits for the verdict, so the next
    // batch can be built meanwhile. One submitted batch at a time.
    void submit(const BatchAggregate &batch, const std::string &topic,
                const std::vector<OffsetClaim> &claims, std::int64_t nowMs);
    ApplyResult collect();
    bool verdictReady() const { return connection_.replyReady(); }

    // Heartbeat (also trims last-seen and refreshes the seed active_users while idle).
    void beat(const std::string &aggregatorId, const std::string &json, std::int64_t nowMs);
    void leave(const std::string &aggregatorId);

    // Stores `starts` for the partitions that have no offset stored yet (a member that stored
    // one first wins) and returns what is stored for each: where counting starts is decided
    // once, in Redis, not again by each member that takes the partition over.
    std::vector<std::int64_t> storeStarts(const std::string &topic,
                                          const std::vector<int> &partitions,
                                          const std::vector<std::int64_t> &starts);
    // The stored next offsets of these partitions of `topic` (kNoOffset where none).
    std::vector<std::int64_t> storedOffsets(const std::string &topic,
                                            const std::vector<int> &partitions);

    const Schema &schema() const { return schema_; }

private:
    ReplyPtr call(const Command &command);
    Command encode(const BatchAggregate &batch, const std::string &topic,
                   const std::vector<OffsetClaim> &claims, std::int64_t nowMs) const;

    Connection &connection_;
    Command pending_; // the submitted FCALL, kept to re-send after a function (re)load
    Schema schema_;
    AggregationOptions options_;
    bool loaded_ = false;
};

} // namespace pb::redis
