#include "embedded_broker.h"

#include "core/error.h"
#include "kafka_client.h"

#include <array>

namespace pb::kafka {

EmbeddedBroker::EmbeddedBroker(EmbeddedBrokerOptions options)
    : options_(std::move(options))
{
    ConfPtr conf(rd_kafka_conf_new());
    std::array<char, 512> errstr{};
    rd_kafka_conf_set(conf.get(), "log_level", "3", errstr.data(), errstr.size());
    host_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size()));
    if (!host_)
        throw Error(ErrorKind::Fatal,
                    "cannot start the embedded broker: " + std::string(errstr.data()));
    (void)conf.release(); // owned by host_ now
    cluster_.reset(rd_kafka_mock_cluster_new(host_.get(), options_.brokers));
    if (!cluster_)
        throw Error(ErrorKind::Fatal, "cannot start the embedded broker: no loopback listener");
    for (const auto &topic : options_.topics) {
        createTopic(topic, options_.partitions);
        if (options_.withDeadLetterTopics)
            createTopic(topic + ".dlq", options_.partitions);
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
    std::lock_guard lock(topicsMutex_);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        topics_.emplace_back(name, partitions);
}

std::vector<std::pair<std::string, int>> EmbeddedBroker::topics() const
{
    std::lock_guard lock(topicsMutex_);
    return topics_;
}

namespace {

void check(rd_kafka_resp_err_t err, const std::string &what)
{
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw kafkaError(err, "embedded broker: cannot " + what);
}

} // namespace

void EmbeddedBroker::setBrokerDown(int broker, bool down)
{
    const auto id = static_cast<std::int32_t>(broker);
    check(down ? rd_kafka_mock_broker_set_down(cluster_.get(), id)
               : rd_kafka_mock_broker_set_up(cluster_.get(), id),
          "set broker " + std::to_string(broker) + (down ? " down" : " up"));
}

void EmbeddedBroker::setRoundTripTime(int broker, std::chrono::milliseconds rtt)
{
    check(rd_kafka_mock_broker_set_rtt(cluster_.get(), static_cast<std::int32_t>(broker),
                                       static_cast<int>(rtt.count())),
          "set the round-trip time of broker " + std::to_string(broker));
}

void EmbeddedBroker::setPartitionLeader(const std::string &topic, int partition, int broker)
{
    check(rd_kafka_mock_partition_set_leader(cluster_.get(), topic.c_str(),
                                             static_cast<std::int32_t>(partition),
                                             static_cast<std::int32_t>(broker)),
          "move the leader of " + topic + "/" + std::to_string(partition));
}

void EmbeddedBroker::setGroupCoordinator(const std::string &group, int broker)
{
    check(rd_kafka_mock_coordinator_set(cluster_.get(), "group", group.c_str(),
                                        static_cast<std::int32_t>(broker)),
          "move the coordinator of group " + group);
}

void EmbeddedBroker::pushRequestErrors(int apiKey, int count, rd_kafka_resp_err_t error)
{
    std::vector<rd_kafka_resp_err_t> errors(static_cast<std::size_t>(count), error);
    rd_kafka_mock_push_request_errors_array(cluster_.get(), static_cast<std::int16_t>(apiKey),
                                            errors.size(), errors.data());
}

void EmbeddedBroker::clearRequestErrors(int apiKey)
{
    rd_kafka_mock_clear_request_errors(cluster_.get(), static_cast<std::int16_t>(apiKey));
}

} // namespace pb::kafka
