#pragma once
// The embedded Kafka-protocol broker: librdkafka's mock cluster, in process, with a real TCP
// listener on loopback that any Kafka client can use. In memory only; it keeps about 5 MB per
// partition (older messages drop); it does not answer CreateTopics, so it creates its topics
// itself. Thread-safe after construction (the mock cluster runs on its own threads).

#include "rdkafka_handles.h"

#include <chrono>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pb::kafka {

struct EmbeddedBrokerOptions {
    std::vector<std::string> topics{"user-activity"};
    int partitions = 4;
    int brokers = 1;
    bool withDeadLetterTopics = true; // also create "<topic>.dlq" for each topic
};

class EmbeddedBroker {
public:
    explicit EmbeddedBroker(EmbeddedBrokerOptions options = {});
    ~EmbeddedBroker();
    EmbeddedBroker(const EmbeddedBroker &) = delete;
    EmbeddedBroker &operator=(const EmbeddedBroker &) = delete;

    // "127.0.0.1:port[,...]": the bootstrap servers to give any client.
    std::string bootstrapServers() const;
    void createTopic(const std::string &name, int partitions);

    int brokerCount() const { return options_.brokers; }
    // Every topic created so far (dead-letter topics included), with its partition count.
    std::vector<std::pair<std::string, int>> topics() const;

    // Fault injection (librdkafka's mock-cluster controls). Brokers are numbered 1..brokers.
    // Each throws pb::Error when the mock refuses (an unknown broker, topic or partition).
    // A broker that is down drops its connections and refuses new ones; its partitions keep
    // their data and their leader (clients wait for it to come back).
    void setBrokerDown(int broker, bool down);
    // Added round-trip time on every response of `broker` (0: none).
    void setRoundTripTime(int broker, std::chrono::milliseconds rtt);
    void setPartitionLeader(const std::string &topic, int partition, int broker);
    void setGroupCoordinator(const std::string &group, int broker);
    // The next `count` requests of Kafka API `apiKey` (to any broker) fail with `error`.
    void pushRequestErrors(int apiKey, int count, rd_kafka_resp_err_t error);
    void clearRequestErrors(int apiKey);

private:
    EmbeddedBrokerOptions options_;
    mutable std::mutex topicsMutex_;
    std::vector<std::pair<std::string, int>> topics_;
    HandlePtr host_; // the client instance the mock cluster lives in
    MockClusterPtr cluster_;
};

} // namespace pb::kafka
