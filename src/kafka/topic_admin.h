#pragma once
// Topic administration through the Kafka Admin API. Blocking; call it off the UI thread.

#include "kafka_client.h"

#include <chrono>
#include <string>

namespace pb::kafka {

struct TopicStatus {
    std::string topic;
    int partitions = 0;
    bool created = false; // false: it existed already with at least the partitions asked for
};

// Creates `topic` with `partitions` partitions, or reports that it exists with at least that
// many (success). Throws a Fatal Error when it exists with fewer, and a clear Error when the
// brokers cannot be reached or refuse (the embedded broker does not answer CreateTopics: it
// creates its topics at start).
TopicStatus ensureTopic(const KafkaSettings &settings, const std::string &topic, int partitions,
                        int replicationFactor = -1,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace pb::kafka
