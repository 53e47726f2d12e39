#pragma once
// One member of a Kafka consumer group, reading one topic: the only owner of the raw consumer
// calls (subscribe, poll, the rebalance protocol — eager or cooperative —, seek, commit,
// watermarks, close). Where each assigned partition starts is the caller's to say: offsets
// live elsewhere (in Redis), so Kafka's committed offsets are written for lag tools only and
// never read. auto.offset.reset is `error`: a position Kafka no longer has reaches the caller
// as an out-of-range message instead of a silent jump.
// Not thread-safe: poll() runs the handlers on the calling thread, and every call must come
// from that thread.

#include "kafka_client.h"

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace pb::kafka {

struct GroupConsumerOptions {
    KafkaSettings kafka;
    std::string topic;
    std::string group;
    std::string clientId = "pulseboard";
    // group.instance.id (static membership): a member restarted with the same id gets its
    // partitions back at once instead of after the session timeout. Empty: dynamic member.
    std::string staticId;
    // A dead member's partitions move on after this (librdkafka's default is 45 s).
    std::chrono::milliseconds sessionTimeout{6000};
    std::chrono::milliseconds connectTimeout{10000};
    Properties tuning; // fetch tuning, before the user's properties
};

struct Watermarks {
    std::int64_t low = -1; // -1: unknown
    std::int64_t high = -1;
};

class GroupConsumer {
public:
    struct Handlers {
        // Partitions of the topic given to this member: returns the offset each starts at, in
        // the same order. Throwing leaves them unassigned and makes poll() rethrow.
        std::function<std::vector<std::int64_t>(const std::vector<int> &)> assigned;
        // Partitions taken away; `lost`: already given to another member (the session timed
        // out), so nothing more of them should be written.
        std::function<void(const std::vector<int> &, bool lost)> revoked;
    };

    // Creates the consumer and proves the brokers answer and the topic exists; throws
    // pb::Error with what to do otherwise.
    GroupConsumer(GroupConsumerOptions options, Handlers handlers, ErrorTracker &tracker);
    // Leaves the group if close() was not called (the handlers run for the revocation).
    ~GroupConsumer();
    GroupConsumer(const GroupConsumer &) = delete;
    GroupConsumer &operator=(const GroupConsumer &) = delete;

    void subscribe();
    // The next message or error event; nullptr when none came within `wait`. Rethrows what a
    // handler threw, after the rebalance step it interrupted has been completed.
    MessagePtr poll(std::chrono::milliseconds wait);
    // Positions the partitions: the next messages of each start at its offset. Returns the
    // partitions whose fetching an out-of-range error had stopped (a seek cannot restart them:
    // see restartFetch). Throws pb::Error on anything else.
    std::vector<int> seek(const std::map<int, std::int64_t> &offsets);
    // Restarts fetching `stopped`, which an out-of-range error stopped (a seek cannot restart
    // it), at positions[stopped]. The eager protocol can only take a whole assignment, so there
    // every partition restarts at its position in `positions` (each assigned one must be there).
    void restartFetch(int stopped, const std::map<int, std::int64_t> &positions);
    // Asynchronous, best effort: for lag tools only.
    void commit(const std::map<int, std::int64_t> &offsets);
    // From the latest fetch responses (no broker round trip).
    Watermarks cachedWatermarks(int partition) const;
    // Asks the partition's leader. Throws pb::Error.
    Watermarks queryWatermarks(int partition, std::chrono::milliseconds timeout);
    // Leaves the group; the handlers run for what is still assigned.
    void close();
    bool closed() const;
    // "EAGER" or "COOPERATIVE" (known once the group has formed).
    std::string protocol() const;
    const std::string &topic() const { return options_.topic; }
    // The topic's partitions when the consumer was created.
    int partitionCount() const { return partitionCount_; }
    // The librdkafka handle has raised a fatal error (e.g. fenced static member).
    bool fatal() const;

private:
    static void onRebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *partitions, void *opaque);
    void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *partitions);

    GroupConsumerOptions options_;
    Handlers handlers_;
    ErrorTracker &tracker_;
    HandlePtr consumer_;
    std::exception_ptr handlerError_;
    int partitionCount_ = 0;
};

} // namespace pb::kafka
