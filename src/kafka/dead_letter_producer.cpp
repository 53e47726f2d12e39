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
        return;
    }
    if (msg->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
        msg->err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE) {
        // The broker's limit is lower than ours: forward it again, cut shorter.
        Refused r;
        const auto *payload = static_cast<const char *>(msg->payload);
        r.payload.assign(payload, std::min(msg->len, kRefusedDeadLetterBytes));
        if (msg->key)
            r.key.assign(static_cast<const char *>(msg->key),
                         std::min(msg->key_len, kRefusedDeadLetterBytes));
        rd_kafka_headers_t *headers = nullptr;
        if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const void *value = nullptr;
            std::size_t size = 0;
            if (rd_kafka_header_get_last(headers, kHeaderReason, &value, &size) == 0)
                r.reason.assign(static_cast<const char *>(value), size);
            if (rd_kafka_header_get_last(headers, kHeaderSource, &value, &size) == 0)
                r.position.assign(static_cast<const char *>(value), size);
            r.originalSize = msg->len;
            if (rd_kafka_header_get_last(headers, kHeaderTruncated, &value, &size) == 0)
                r.originalSize = std::stoull(std::string(static_cast<const char *>(value), size));
        }
        self->refused_.push_back(std::move(r));
        return;
    }
    ++self->failures_;
    self->lastError_ = rd_kafka_err2str(msg->err);
}

void DeadLetterProducer::forward(std::string_view payload, std::string_view key,
                                 std::string_view reason, std::string_view source,
                                 std::int64_t offset)
{
    const auto position = std::string(source) + "/" + std::to_string(offset);
    produce(payload.substr(0, kMaxDeadLetterBytes), key.substr(0, kMaxDeadLetterBytes), reason,
            position, payload.size());
}

void DeadLetterProducer::produce(std::string_view payload, std::string_view key,
                                 std::string_view reason, const std::string &position,
                                 std::size_t originalSize)
{
    const bool truncated = payload.size() < originalSize;
    const auto size = std::to_string(originalSize);
    for (;;) {
        HeadersPtr headers(rd_kafka_headers_new(3));
        rd_kafka_header_add(headers.get(), kHeaderReason, -1, reason.data(),
                            static_cast<ssize_t>(reason.size()));
        rd_kafka_header_add(headers.get(), kHeaderSource, -1, position.data(),
                            static_cast<ssize_t>(position.size()));
        if (truncated)
            rd_kafka_header_add(headers.get(), kHeaderTruncated, -1, size.data(),
                                static_cast<ssize_t>(size.size()));
            // librdkafka's RD_KAFKA_V_* macros are C casts.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
        const auto err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
            RD_KAFKA_V_VALUE(const_cast<char *>(payload.data()), payload.size()),
            RD_KAFKA_V_KEY(const_cast<char *>(key.data()), key.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers.get()),
            RD_KAFKA_V_OPAQUE(this), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            (void)headers.release(); // librdkafka took them
            break;
        }
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
            payload.size() > kRefusedDeadLetterBytes) {
            // Our own client's limit (message.max.bytes) is lower still.
            payload = payload.substr(0, kRefusedDeadLetterBytes);
            key = key.substr(0, std::min(key.size(), kRefusedDeadLetterBytes));
            return produce(payload, key, reason, position, originalSize);
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            throw kafkaError(err, "forwarding a bad event to " + topic_);
        rd_kafka_poll(producer_.get(), 10);
    }
    rd_kafka_poll(producer_.get(), 0);
}

bool DeadLetterProducer::settle(std::chrono::milliseconds timeout)
{
    rd_kafka_flush(producer_.get(), static_cast<int>(timeout.count()));
    // Records the broker refused as too large go again, cut short (once: what it refuses at
    // 16 KiB is a failure).
    auto refused = std::exchange(refused_, {});
    for (const auto &r : refused) {
        if (r.payload.size() >= r.originalSize) { // nothing to cut
            ++failures_;
            lastError_ =
                "the broker refuses even a " + std::to_string(r.payload.size()) + "-byte record";
            continue;
        }
        produce(r.payload, r.key, r.reason, r.position, r.originalSize);
    }
    if (!refused.empty())
        rd_kafka_flush(producer_.get(), static_cast<int>(timeout.count()));
    for (const auto &r : std::exchange(refused_, {})) {
        ++failures_;
        lastError_ = "the broker refuses even a " + std::to_string(r.payload.size()) +
                     "-byte record of " + r.position;
    }
    const bool ok = rd_kafka_outq_len(producer_.get()) == 0 && failures_ == failuresAtLastSettle_;
    failuresAtLastSettle_ = failures_;
    return ok;
}

} // namespace pb::kafka
