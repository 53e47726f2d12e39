#include "dead_letter_producer.h"

#include <array>
#include <charconv>

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

namespace {

std::string_view header(const rd_kafka_message_t *msg, const char *name)
{
    rd_kafka_headers_t *headers = nullptr;
    const void *value = nullptr;
    std::size_t size = 0;
    if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return {};
    return {static_cast<const char *>(value), size};
}

bool tooLarge(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

} // namespace

void DeadLetterProducer::onDelivery(rd_kafka_t *, const rd_kafka_message_t *msg, void *)
{
    auto *self = static_cast<DeadLetterProducer *>(msg->_private);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++self->delivered_;
        return;
    }
    const auto sizes = header(msg, kHeaderTruncated);
    if (tooLarge(msg->err) && (msg->len > 0 || msg->key_len > 0)) {
        // The broker's limit is lower than ours: it goes again, shorter, at the next settle().
        Letter letter;
        const auto keep = std::min(msg->len, kRefusedDeadLetterBytes);
        letter.payload.assign(static_cast<const char *>(msg->payload), keep);
        if (msg->key)
            letter.key.assign(static_cast<const char *>(msg->key),
                              std::min(msg->key_len, kRefusedDeadLetterBytes - keep));
        letter.reason = header(msg, kHeaderReason);
        letter.position = header(msg, kHeaderSource);
        letter.payloadSize = msg->len;
        letter.keySize = msg->key_len;
        letter.refusedBytes = msg->len + msg->key_len;
        letter.nullPayload = msg->payload == nullptr;
        letter.nullKey = msg->key == nullptr;
        // Already cut once: keep the original sizes it carries. (No exceptions here: this is a
        // callback from C.)
        if (const auto comma = sizes.find(','); comma != std::string_view::npos) {
            std::from_chars(sizes.data(), sizes.data() + comma, letter.payloadSize);
            std::from_chars(sizes.data() + comma + 1, sizes.data() + sizes.size(), letter.keySize);
        }
        self->refused_.push_back(std::move(letter));
        return;
    }
    ++self->failures_;
    self->lastError_ = rd_kafka_err2str(msg->err);
}

void DeadLetterProducer::forward(std::string_view payload, std::string_view key,
                                 std::string_view reason, std::string_view source,
                                 std::int64_t offset)
{
    Letter letter;
    letter.reason = reason;
    letter.position = std::string(source) + "/" + std::to_string(offset);
    letter.payloadSize = payload.size();
    letter.keySize = key.size();
    letter.nullPayload = payload.data() == nullptr;
    letter.nullKey = key.data() == nullptr;
    // Only what can go is copied: a record of many megabytes is cut here already.
    letter.payload = payload.substr(0, kMaxDeadLetterBytes);
    letter.key = key.substr(0, kMaxDeadLetterBytes - letter.payload.size());
    produce(letter, kMaxDeadLetterBytes);
}

void DeadLetterProducer::produce(const Letter &letter, std::size_t budget)
{
    // The payload first, then the key, within the budget.
    const auto payload = std::string_view(letter.payload).substr(0, budget);
    const auto key = std::string_view(letter.key).substr(0, budget - payload.size());
    const bool cut = payload.size() < letter.payloadSize || key.size() < letter.keySize;
    // librdkafka writes a null pointer as a null value or key, anything else (even "") as bytes.
    auto *value = letter.nullPayload ? nullptr : const_cast<char *>(payload.data());
    auto *keyBytes = letter.nullKey ? nullptr : const_cast<char *>(key.data());
    const auto sizes = std::to_string(letter.payloadSize) + "," + std::to_string(letter.keySize);
    for (;;) {
        HeadersPtr headers(rd_kafka_headers_new(3));
        rd_kafka_header_add(headers.get(), kHeaderReason, -1, letter.reason.data(),
                            static_cast<ssize_t>(letter.reason.size()));
        rd_kafka_header_add(headers.get(), kHeaderSource, -1, letter.position.data(),
                            static_cast<ssize_t>(letter.position.size()));
        if (cut)
            rd_kafka_header_add(headers.get(), kHeaderTruncated, -1, sizes.data(),
                                static_cast<ssize_t>(sizes.size()));
            // librdkafka's RD_KAFKA_V_* macros are C casts.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
        const auto err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
            RD_KAFKA_V_VALUE(value, payload.size()), RD_KAFKA_V_KEY(keyBytes, key.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers.get()),
            RD_KAFKA_V_OPAQUE(this), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            (void)headers.release(); // librdkafka took them
            break;
        }
        if (tooLarge(err) && budget > 0) // our own client's limit (message.max.bytes) is lower
            return produce(letter, budget > kRefusedDeadLetterBytes ? kRefusedDeadLetterBytes : 0);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            throw kafkaError(err, "forwarding a bad event to " + topic_);
        rd_kafka_poll(producer_.get(), 10);
    }
    rd_kafka_poll(producer_.get(), 0);
}

bool DeadLetterProducer::settle(std::chrono::milliseconds timeout)
{
    // Records the broker refused as too large go again, at most twice: cut to 16 KiB, then as
    // their headers alone (what the broker refuses then is a failure).
    for (int round = 0; round < 3; ++round) {
        rd_kafka_flush(producer_.get(), static_cast<int>(timeout.count()));
        auto refused = std::exchange(refused_, {});
        if (refused.empty())
            break;
        for (const auto &letter : refused) {
            if (round == 2) {
                ++failures_;
                lastError_ = "the dead-letter topic refuses even the headers of " + letter.position;
                continue;
            }
            const bool shorter = letter.refusedBytes > kRefusedDeadLetterBytes;
            produce(letter, shorter ? kRefusedDeadLetterBytes : 0);
        }
    }
    const bool ok = rd_kafka_outq_len(producer_.get()) == 0 && failures_ == failuresAtLastSettle_;
    failuresAtLastSettle_ = failures_;
    return ok;
}

} // namespace pb::kafka
