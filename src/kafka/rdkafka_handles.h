#pragma once
// RAII owners for librdkafka handles. The only place that destroys them.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>

namespace pb::kafka {

struct HandleDeleter {
    void operator()(rd_kafka_t *rk) const noexcept { rd_kafka_destroy(rk); }
};
struct TopicDeleter {
    void operator()(rd_kafka_topic_t *rkt) const noexcept { rd_kafka_topic_destroy(rkt); }
};
struct ConfDeleter {
    void operator()(rd_kafka_conf_t *conf) const noexcept { rd_kafka_conf_destroy(conf); }
};
struct PartitionListDeleter {
    void operator()(rd_kafka_topic_partition_list_t *list) const noexcept
    {
        rd_kafka_topic_partition_list_destroy(list);
    }
};
struct MessageDeleter {
    void operator()(rd_kafka_message_t *msg) const noexcept { rd_kafka_message_destroy(msg); }
};
struct EventDeleter {
    void operator()(rd_kafka_event_t *ev) const noexcept { rd_kafka_event_destroy(ev); }
};
struct QueueDeleter {
    void operator()(rd_kafka_queue_t *q) const noexcept { rd_kafka_queue_destroy(q); }
};
struct HeadersDeleter {
    void operator()(rd_kafka_headers_t *h) const noexcept { rd_kafka_headers_destroy(h); }
};
struct AdminOptionsDeleter {
    void operator()(rd_kafka_AdminOptions_t *o) const noexcept { rd_kafka_AdminOptions_destroy(o); }
};
struct NewTopicDeleter {
    void operator()(rd_kafka_NewTopic_t *t) const noexcept { rd_kafka_NewTopic_destroy(t); }
};
struct MetadataDeleter {
    void operator()(const rd_kafka_metadata_t *md) const noexcept { rd_kafka_metadata_destroy(md); }
};
struct ErrorDeleter {
    void operator()(rd_kafka_error_t *e) const noexcept { rd_kafka_error_destroy(e); }
};
struct MockClusterDeleter {
    void operator()(rd_kafka_mock_cluster_t *c) const noexcept { rd_kafka_mock_cluster_destroy(c); }
};

using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using MockClusterPtr = std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter>;

} // namespace pb::kafka
