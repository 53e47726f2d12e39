#pragma once
// The embedded Kafka-protocol broker: librdkafka's mock cluster, in process, with a real TCP
// listener on loopback that any Kafka client can use. In memory only; it keeps about 5 MB per
// partition (older messages drop); it does not answer CreateTopics, so it creates its topics
// itself. Thread-safe after construction (the mock cluster runs on its own threads).

#include "rdkafka_handles.h"

#include <string>
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

private:
    HandlePtr host_; // the client instance the mock cluster lives in
    MockClusterPtr cluster_;
};

} // namespace pb::kafka
