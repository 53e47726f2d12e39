#include "group_consumer.h"

#include <array>
#include <cstring>

namespace pb::kafka {

namespace {

PartitionListPtr partitionList(const std::string &topic, const std::map<int, std::int64_t> &offsets)
{
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto &[partition, offset] : offsets)
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
    return list;
}

} // namespace

GroupConsumer::GroupConsumer(GroupConsumerOptions options, Handlers handlers, ErrorTracker &tracker)
    : options_(std::move(options))
    , handlers_(std::move(handlers))
    , tracker_(tracker)
{
    if (options_.topic.empty())
        throw Error(ErrorKind::Fatal, "the topic name is empty: pass --topic NAME");
    if (options_.group.empty())
        throw Error(ErrorKind::Fatal, "the consumer group is empty: pass --group NAME");
    Properties overrides{
        {"group.id", options_.group},
        {"client.id", options_.clientId},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        // A position Kafka no longer has is the caller's to handle (count the gap), never a
        // silent jump to the earliest or latest offset.
        {"auto.offset.reset", "error"},
        {"session.timeout.ms", std::to_string(options_.sessionTimeout.count())},
        {"heartbeat.interval.ms",
         std::to_string(std::max<std::int64_t>(options_.sessionTimeout.count() / 4, 100))},
        {"fetch.error.backoff.ms", "100"},
    };
    if (!options_.staticId.empty())
        overrides.emplace_back("group.instance.id", options_.staticId);
    auto conf = makeConf(options_.kafka, overrides, options_.tuning);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &GroupConsumer::onRebalance);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_error_cb(
        conf.get(), [](rd_kafka_t *, int err, const char *reason, void *opaque) {
            static_cast<GroupConsumer *>(opaque)->tracker_.record(err, reason);
        });
    std::array<char, 512> errstr{};
    consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr.data(), errstr.size()));
    if (!consumer_)
        throw Error(ErrorKind::Fatal,
                    "cannot create a Kafka consumer: " + std::string(errstr.data()));
    (void)conf.release(); // rd_kafka_new took it
    rd_kafka_poll_set_consumer(consumer_.get());

    const auto metadata =
        probe(consumer_.get(), options_.kafka, options_.connectTimeout, &tracker_);
    partitionCount_ = requireTopic(metadata, options_.kafka, options_.topic).partitions;
}

GroupConsumer::~GroupConsumer()
{
    if (consumer_ && !closed()) {
        // Already failing: the handlers' errors have nowhere to go.
        rd_kafka_consumer_close(consumer_.get());
    }
}

void GroupConsumer::subscribe()
{
    auto list = partitionList(options_.topic, {{RD_KAFKA_PARTITION_UA, 0}});
    if (const auto err = rd_kafka_subscribe(consumer_.get(), list.get()))
        throw kafkaError(err, "subscribing to " + options_.topic);
}

void GroupConsumer::onRebalance(rd_kafka_t *, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    static_cast<GroupConsumer *>(opaque)->rebalance(err, partitions);
}

void GroupConsumer::rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *list)
{
    auto *rk = consumer_.get();
    const bool cooperative = protocol() == "COOPERATIVE";
    std::vector<int> ids;
    for (int i = 0; i < list->cnt; ++i)
        ids.push_back(list->elems[i].partition);

    ErrorPtr error;
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        std::vector<std::int64_t> starts;
        try {
            if (handlers_.assigned)
                starts = handlers_.assigned(ids);
        } catch (...) {
            // Without a start we must not consume: leave them unassigned and stop.
            handlerError_ = std::current_exception();
            return;
        }
        for (int i = 0; i < list->cnt; ++i)
            list->elems[i].offset = static_cast<std::size_t>(i) < starts.size()
                                        ? starts[static_cast<std::size_t>(i)]
                                        : RD_KAFKA_OFFSET_INVALID;
        if (cooperative)
            error.reset(rd_kafka_incremental_assign(rk, list));
        else
            code = rd_kafka_assign(rk, list);
    } else {
        const bool lost = rd_kafka_assignment_lost(rk) != 0;
        try {
            if (handlers_.revoked)
                handlers_.revoked(ids, lost);
        } catch (...) {
            handlerError_ = std::current_exception();
        }
        // Give them up whatever happened: the next owner re-reads from the stored offsets.
        if (cooperative)
            error.reset(rd_kafka_incremental_unassign(rk, list));
        else
            code = rd_kafka_assign(rk, nullptr);
    }
    if (!handlerError_ && (error || code != RD_KAFKA_RESP_ERR_NO_ERROR)) {
        const auto context = "taking the assignment of " + options_.topic;
        handlerError_ = std::make_exception_ptr(error ? kafkaError(error.get(), context)
                                                      : kafkaError(code, context));
    }
}

MessagePtr GroupConsumer::poll(std::chrono::milliseconds wait)
{
    MessagePtr msg(rd_kafka_consumer_poll(consumer_.get(), static_cast<int>(wait.count())));
    if (handlerError_)
        std::rethrow_exception(std::exchange(handlerError_, nullptr));
    return msg;
}

std::vector<int> GroupConsumer::seek(const std::map<int, std::int64_t> &offsets)
{
    std::vector<int> stopped;
    if (offsets.empty())
        return stopped;
    auto list = partitionList(options_.topic, offsets);
    ErrorPtr error(rd_kafka_seek_partitions(consumer_.get(), list.get(), 5000));
    if (error)
        throw kafkaError(error.get(), "re-reading partitions of " + options_.topic);
    for (int i = 0; i < list->cnt; ++i) {
        const auto err = list->elems[i].err;
        if (err == RD_KAFKA_RESP_ERR__STATE || err == RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS)
            stopped.push_back(list->elems[i].partition);
        else if (err)
            throw kafkaError(err, "re-reading " + options_.topic + "/" +
                                      std::to_string(list->elems[i].partition));
    }
    return stopped;
}

void GroupConsumer::restartFetch(int stopped, const std::map<int, std::int64_t> &positions)
{
    const auto context = "restarting " + options_.topic + "/" + std::to_string(stopped);
    if (protocol() == "COOPERATIVE") {
        auto one = partitionList(options_.topic, {{stopped, positions.at(stopped)}});
        ErrorPtr error(rd_kafka_incremental_unassign(consumer_.get(), one.get()));
        if (!error)
            error.reset(rd_kafka_incremental_assign(consumer_.get(), one.get()));
        if (error)
            throw kafkaError(error.get(), context);
        return;
    }
    auto all = partitionList(options_.topic, positions);
    if (const auto err = rd_kafka_assign(consumer_.get(), all.get()))
        throw kafkaError(err, context);
}

void GroupConsumer::commit(const std::map<int, std::int64_t> &offsets)
{
    if (offsets.empty())
        return;
    auto list = partitionList(options_.topic, offsets);
    rd_kafka_commit(consumer_.get(), list.get(), 1); // errors: only lag tools would notice
}

Watermarks GroupConsumer::cachedWatermarks(int partition) const
{
    Watermarks w;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), options_.topic.c_str(), partition, &w.low,
                                       &w.high) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return {};
    return w;
}

Watermarks GroupConsumer::queryWatermarks(int partition, std::chrono::milliseconds timeout)
{
    Watermarks w;
    auto err = rd_kafka_query_watermark_offsets(consumer_.get(), options_.topic.c_str(), partition,
                                                &w.low, &w.high, static_cast<int>(timeout.count()));
    if (err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
        err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
        // The query goes to the leader librdkafka has cached, which it does not refresh on this
        // error: without a metadata request of our own, every retry asks the old leader again
        // until the periodic refresh (minutes; found by the broker-fault tests).
        TopicPtr topic(rd_kafka_topic_new(consumer_.get(), options_.topic.c_str(), nullptr));
        const rd_kafka_metadata_t *raw = nullptr;
        if (topic &&
            rd_kafka_metadata(consumer_.get(), 0, topic.get(), &raw,
                              static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR)
            MetadataPtr(raw).reset();
        err = rd_kafka_query_watermark_offsets(consumer_.get(), options_.topic.c_str(), partition,
                                               &w.low, &w.high, static_cast<int>(timeout.count()));
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw kafkaError(err, "asking Kafka for the offsets of " + options_.topic + "/" +
                                  std::to_string(partition));
    return w;
}

void GroupConsumer::close()
{
    if (closed())
        return;
    rd_kafka_consumer_close(consumer_.get());
    if (handlerError_)
        std::rethrow_exception(std::exchange(handlerError_, nullptr));
}

bool GroupConsumer::closed() const
{
    return rd_kafka_consumer_closed(consumer_.get()) != 0;
}

std::string GroupConsumer::protocol() const
{
    const char *name = rd_kafka_rebalance_protocol(consumer_.get());
    return name ? name : "";
}

bool GroupConsumer::fatal() const
{
    return tracker_.fatal || rd_kafka_fatal_error(consumer_.get(), nullptr, 0) != 0;
}

} // namespace pb::kafka
