#include "topic_admin.h"

#include <array>

namespace pb::kafka {

TopicStatus ensureTopic(const KafkaSettings &settings, const std::string &topic, int partitions,
                        int replicationFactor, std::chrono::milliseconds timeout)
{
    if (topic.empty())
        throw Error(ErrorKind::Fatal, "the topic name is empty: pass --topic NAME");
    if (partitions < 1)
        throw Error(ErrorKind::Fatal, "a topic needs at least 1 partition");

    ErrorTracker tracker;
    auto conf = makeConf(settings);
    installErrorTracker(conf.get(), &tracker);
    std::array<char, 512> errstr{};
    HandlePtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size()));
    if (!rk)
        throw Error(ErrorKind::Fatal,
                    "cannot create a Kafka client: " + std::string(errstr.data()));
    (void)conf.release();

    const auto metadata = probe(rk.get(), settings, timeout, &tracker);
    if (const auto *existing = metadata.find(topic)) {
        if (existing->partitions >= partitions)
            return {topic, existing->partitions, false};
        throw Error(ErrorKind::Fatal,
                    "topic " + topic + " exists with " + std::to_string(existing->partitions) +
                        " partitions, fewer than the " + std::to_string(partitions) +
                        " asked for; add partitions with your Kafka tools (this moves keys to "
                        "other partitions) or ask for at most " +
                        std::to_string(existing->partitions));
    }

    NewTopicPtr newTopic(rd_kafka_NewTopic_new(topic.c_str(), partitions, replicationFactor,
                                               errstr.data(), errstr.size()));
    if (!newTopic)
        throw Error(ErrorKind::Fatal, "bad topic request: " + std::string(errstr.data()));
    AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), static_cast<int>(timeout.count()),
                                                errstr.data(), errstr.size());
    rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout.count()),
                                              errstr.data(), errstr.size());
    QueuePtr queue(rd_kafka_queue_new(rk.get()));
    rd_kafka_NewTopic_t *topics[] = {newTopic.get()};
    rd_kafka_CreateTopics(rk.get(), topics, 1, options.get(), queue.get());

    // The result arrives on the queue; wait a little longer than the request timeout.
    EventPtr event(rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()) + 2000));
    if (!event)
        throw Error(ErrorKind::Retriable, "Kafka at " + settings.brokers +
                                              " did not answer CreateTopics for " + topic +
                                              " in time; the embedded broker never does: it "
                                              "creates its topics at start (broker --topic)");
    if (const auto err = rd_kafka_event_error(event.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw kafkaError(err, "creating topic " + topic + " failed (" +
                                  std::string(rd_kafka_event_error_string(event.get())) + ")");
    const auto *result = rd_kafka_event_CreateTopics_result(event.get());
    std::size_t count = 0;
    const auto **results = rd_kafka_CreateTopics_result_topics(result, &count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto err = rd_kafka_topic_result_error(results[i]);
        if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            // Created meanwhile by someone else: report what is there now.
            const auto again = probe(rk.get(), settings, timeout, &tracker);
            const auto *found = again.find(topic);
            return {topic, found ? found->partitions : partitions, false};
        }
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char *text = rd_kafka_topic_result_error_string(results[i]);
            throw kafkaError(err, "creating topic " + topic + " failed" +
                                      (text ? std::string(" (") + text + ")" : std::string()));
        }
    }
    return {topic, partitions, true};
}

} // namespace pb::kafka
