#include "kafka_test_client.h"

#include "kafka/rdkafka_handles.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace pb::test {

using namespace pb::kafka;

namespace {

HandlePtr makeClient(rd_kafka_type_t type, const std::string &brokers,
                     const std::vector<std::pair<std::string, std::string>> &props)
{
    ConfPtr conf(rd_kafka_conf_new());
    std::array<char, 512> err{};
    auto set = [&](const std::string &k, const std::string &v) {
        if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err.data(), err.size()) !=
            RD_KAFKA_CONF_OK)
            throw std::runtime_error(err.data());
    };
    set("bootstrap.servers", brokers);
    set("log_level", "3");
    for (const auto &[k, v] : props)
        set(k, v);
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(
            conf.get(), [](rd_kafka_t *, const rd_kafka_message_t *m, void *) {
                if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                    *static_cast<Position *>(m->_private) = {m->partition, m->offset};
            });
    HandlePtr rk(rd_kafka_new(type, conf.get(), err.data(), err.size()));
    if (!rk)
        throw std::runtime_error(err.data());
    (void)conf.release();
    return rk;
}

} // namespace

std::vector<Position> produceAll(const std::string &brokers, const std::string &topic,
                                 const std::vector<Record> &records,
                                 const std::vector<std::pair<std::string, std::string>> &properties)
{
    std::vector<Position> positions(records.size());
    std::vector<std::pair<std::string, std::string>> all{{"linger.ms", "5"}, {"acks", "all"}};
    all.insert(all.end(), properties.begin(), properties.end());
    auto rk = makeClient(RD_KAFKA_PRODUCER, brokers, all);
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto &r = records[i];
        for (;;) {
            HeadersPtr headers;
            if (!r.headers.empty()) {
                headers.reset(rd_kafka_headers_new(r.headers.size()));
                for (const auto &h : r.headers)
                    rd_kafka_header_add(headers.get(), h.name.data(),
                                        static_cast<ssize_t>(h.name.size()),
                                        h.value ? h.value->data() : nullptr,
                                        h.value ? static_cast<ssize_t>(h.value->size()) : 0);
            }
            // A null pointer is what makes a key or a value null rather than empty.
            auto *key = r.nullKey ? nullptr : const_cast<char *>(r.key.data());
            auto *value = r.nullValue ? nullptr : const_cast<char *>(r.value.data());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
            const auto err = rd_kafka_producev(
                rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                RD_KAFKA_V_PARTITION(r.partition < 0 ? RD_KAFKA_PARTITION_UA : r.partition),
                RD_KAFKA_V_KEY(key, key ? r.key.size() : 0),
                RD_KAFKA_V_VALUE(value, value ? r.value.size() : 0),
                RD_KAFKA_V_TIMESTAMP(r.timestampMs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_OPAQUE(&positions[i]),
                RD_KAFKA_V_END);
#pragma GCC diagnostic pop
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                (void)headers.release(); // librdkafka took them
                break;
            }
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                throw std::runtime_error(rd_kafka_err2str(err));
            rd_kafka_poll(rk.get(), 10);
        }
    }
    rd_kafka_flush(rk.get(), 30'000);
    const auto failures = std::count_if(positions.begin(), positions.end(),
                                        [](const Position &p) { return p.offset < 0; });
    if (rd_kafka_outq_len(rk.get()) > 0 || failures > 0)
        throw std::runtime_error("test producer: " + std::to_string(failures) +
                                 " record(s) not acknowledged");
    return positions;
}

std::pair<std::int64_t, std::int64_t> watermarks(const std::string &brokers,
                                                 const std::string &topic, int partition)
{
    auto rk = makeClient(RD_KAFKA_CONSUMER, brokers, {{"group.id", "pulseboard-test-reader"}});
    std::int64_t low = -1;
    std::int64_t high = -1;
    if (rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), partition, &low, &high, 10'000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        throw std::runtime_error("test client: no watermarks for " + topic);
    return {low, high};
}

int partitionLeader(const std::string &brokers, const std::string &topic, int partition)
{
    auto rk = makeClient(RD_KAFKA_PRODUCER, brokers, {});
    TopicPtr handle(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
    const rd_kafka_metadata_t *raw = nullptr;
    if (rd_kafka_metadata(rk.get(), 0, handle.get(), &raw, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw std::runtime_error("test client: no metadata for " + topic);
    MetadataPtr md(raw);
    if (md->topic_cnt != 1 || partition >= md->topics[0].partition_cnt)
        throw std::runtime_error("test client: no partition " + std::to_string(partition));
    return md->topics[0].partitions[partition].leader;
}

std::vector<ReadRecord> readAll(const std::string &brokers, const std::string &topic,
                                std::size_t expected, std::chrono::milliseconds timeout)
{
    auto rk = makeClient(RD_KAFKA_CONSUMER, brokers,
                         {{"group.id", "pulseboard-test-reader"},
                          {"enable.auto.commit", "false"},
                          {"enable.partition.eof", "false"}});
    rd_kafka_poll_set_consumer(rk.get());
    const rd_kafka_metadata_t *raw = nullptr;
    TopicPtr handle(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
    if (rd_kafka_metadata(rk.get(), 0, handle.get(), &raw, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw std::runtime_error("test reader: no metadata for " + topic);
    MetadataPtr md(raw);
    PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
    for (int i = 0; i < md->topics[0].partition_cnt; ++i)
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk.get(), list.get());

    std::vector<ReadRecord> result;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (result.size() < expected && std::chrono::steady_clock::now() < deadline) {
        MessagePtr m(rd_kafka_consumer_poll(rk.get(), 100));
        if (!m || m->err)
            continue;
        ReadRecord r;
        r.nullKey = m->key == nullptr;
        if (m->key)
            r.key.assign(static_cast<const char *>(m->key), m->key_len);
        r.nullValue = m->payload == nullptr;
        if (m->payload)
            r.value.assign(static_cast<const char *>(m->payload), m->len);
        r.partition = m->partition;
        r.offset = m->offset;
        rd_kafka_headers_t *headers = nullptr;
        if (rd_kafka_message_headers(m.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char *name = nullptr;
            const void *value = nullptr;
            std::size_t size = 0;
            for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                                    RD_KAFKA_RESP_ERR_NO_ERROR;
                 ++i) {
                r.headers[name] =
                    value ? std::string(static_cast<const char *>(value), size) : std::string();
                ++r.headerCount;
            }
        }
        result.push_back(std::move(r));
    }
    rd_kafka_consumer_close(rk.get());
    return result;
}

} // namespace pb::test
