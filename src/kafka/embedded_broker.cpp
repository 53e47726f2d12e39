#include "embedded_broker.h"

#include "core/error.h"
#include "kafka_client.h"

#include <array>

namespace pb::kafka {

EmbeddedBroker::EmbeddedBroker(EmbeddedBrokerOptions options)
{
    ConfPtr conf(rd_kafka_conf_new());
    std::array<char, 512> errstr{};
    rd_kafka_conf_set(conf.get(), "log_level", "3", errstr.data(), errstr.size());
    host_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size()));
    if (!host_)
        throw Error(ErrorKind::Fatal,
                    "cannot start the embedded broker: " + std::string(errstr.data()));
    (void)conf.release(); // owned by host_ now
    cluster_.reset(rd_kafka_mock_cluster_new(host_.get(), options.brokers));
    if (!cluster_)
        throw Error(ErrorKind::Fatal, "cannot start the embedded broker: no loopback listener");
    for (const auto &topic : options.topics) {
        createTopic(topic, options.partitions);
        if (options.withDeadLetterTopics)
            createTopic(topic + ".dlq", options.partitions);
    }
}

EmbeddedBroker::~EmbeddedBroker() = default; // cluster_ goes before host_ (declared after)

std::string EmbeddedBroker::bootstrapServers() const
{
    return rd_kafka_mock_cluster_bootstraps(cluster_.get());
}

void EmbeddedBroker::createTopic(const std::string &name, int partitions)
{
    const auto err = rd_kafka_mock_topic_create(cluster_.get(), name.c_str(), partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        throw kafkaError(err, "embedded broker: cannot create topic " + name);
}

} // namespace pb::kafka
