#include "dead_letter_producer.h"

#include <array>

namespace pb::kafka {

DeadLetterProducer::DeadLetterProducer(const KafkaSettings &settings, std::string topic)
    : topic_(std::move(topic))
{
    auto conf = makeConf(settings, {
                                       {"enable.idempotence", "true"},
                                       {"acks", "all"},
                                       {"linger.ms", "5"},
                                       {"message.timeout.ms", "30000"},
                                   });
    installErrorTracker(conf.get(), &tracker_);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &DeadLetterProducer::onDelivery);
    std::array<char, 512> errstr{};
    producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size()));
    if (!producer_)
        throw Error(ErrorKind::Fatal, "dead-letter producer: " + std::string(errstr.data()));
    (void)conf.release();
}

void DeadLetterProducer::onDelivery(rd_kafka_t *, const rd_kafka_message_t *msg, void *)
{
    auto *self = static_cast<DeadLetterProducer *>(msg->_private);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++self->delivered_;
    } else {
        ++self->failures_;
        self->lastError_ = rd_kafka_err2str(msg->err);
    }
}

void DeadLetterProducer::forward(std::string_view payload, std::string_view key,
                                 std::string_view reason, std::string_view source,
                                 std::int64_t offset)
{
    const auto position = std::string(source) + "/" + std::to_string(offset);
    for (;;) {
        // librdkafka's RD_KAFKA_V_* macros are C casts.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
        const auto err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
            RD_KAFKA_V_VALUE(const_cast<char *>(payload.data()), payload.size()),
            RD_KAFKA_V_KEY(const_cast<char *>(key.data()), key.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER(kHeaderReason, reason.data(), static_cast<ssize_t>(reason.size())),
            RD_KAFKA_V_HEADER(kHeaderSource, position.data(),
                              static_cast<ssize_t>(position.size())),
            RD_KAFKA_V_OPAQUE(this), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            throw kafkaError(err, "forwarding a bad event to " + topic_);
        rd_kafka_poll(producer_.get(), 10);
    }
    rd_kafka_poll(producer_.get(), 0);
}

bool DeadLetterProducer::settle(std::chrono::milliseconds timeout)
{
    rd_kafka_flush(producer_.get(), static_cast<int>(timeout.count()));
    const bool ok = rd_kafka_outq_len(producer_.get()) == 0 && failures_ == failuresAtLastSettle_;
    failuresAtLastSettle_ = failures_;
    return ok;
}

} // namespace pb::kafka
