#include "simulator.h"

#include "core/clock.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <thread>

namespace pb::kafka {

Simulator::Simulator(KafkaSettings settings, SimulatorOptions options)
    : settings_(std::move(settings))
    , options_(std::move(options))
    , generator_([&] {
        try {
            return EventGenerator(options_.generator);
        } catch (const std::invalid_argument &e) {
            throw Error(ErrorKind::Fatal, std::string("simulator: ") + e.what());
        }
    }())
{
    if (!(options_.rate >= 0.0) || !std::isfinite(options_.rate))
        throw Error(ErrorKind::Fatal, "simulator: the rate must be a number of events/s >= 0");
    if (options_.count < 0)
        throw Error(ErrorKind::Fatal, "simulator: the count must not be negative");
    if (options_.topic.empty())
        throw Error(ErrorKind::Fatal, "simulator: the topic name is empty");

    auto conf = makeConf(settings_, {
                                        {"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        {"retries", "2147483647"},
                                        {"retry.backoff.ms", "100"},
                                        {"message.timeout.ms", "60000"},
                                        {"linger.ms", std::to_string(options_.linger.count())},
                                        {"batch.num.messages", "10000"},
                                        {"queue.buffering.max.messages", "1000000"},
                                        {"queue.buffering.max.kbytes", "1048576"},
                                    });
    installErrorTracker(conf.get(), &tracker_);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &Simulator::onDelivery);
    std::array<char, 512> errstr{};
    producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size()));
    if (!producer_)
        throw Error(ErrorKind::Fatal, "simulator: " + std::string(errstr.data()));
    (void)conf.release();

    // A broker that creates topics on first use would otherwise make one with its default
    // partitions, which the aggregator then reads as if it had been meant.
    requireTopic(probe(producer_.get(), settings_, options_.connectTimeout, &tracker_), settings_,
                 options_.topic);
    topic_.reset(rd_kafka_topic_new(producer_.get(), options_.topic.c_str(), nullptr));
    if (!topic_)
        throw kafkaError(rd_kafka_last_error(), "simulator: topic " + options_.topic);
}

Simulator::~Simulator()
{
    // Destroying a producer with messages in flight would block for message.timeout.ms;
    // run() drains, so anything left here was abandoned deliberately.
    if (producer_)
        rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

void Simulator::onDelivery(rd_kafka_t *, const rd_kafka_message_t *msg, void *)
{
    // The message opaque is the Simulator (set in produceOne); the client opaque is the tracker.
    auto *self = static_cast<Simulator *>(msg->_private);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        self->acknowledged_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    self->failed_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(self->errorMutex_);
    self->lastError_ = rd_kafka_err2str(msg->err);
}

SimulatorStats Simulator::stats() const
{
    SimulatorStats s;
    s.sent = sent_.load(std::memory_order_relaxed);
    s.acknowledged = acknowledged_.load(std::memory_order_relaxed);
    s.failed = failed_.load(std::memory_order_relaxed);
    s.finished = finished_.load(std::memory_order_relaxed);
    std::lock_guard lock(errorMutex_);
    s.lastError = lastError_;
    return s;
}

bool Simulator::produceOne(std::int64_t timestampMs)
{
    const auto event = generator_.next(timestampMs);
    for (;;) {
        const int rc = rd_kafka_produce(topic_.get(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                        const_cast<char *>(event.json.data()), event.json.size(),
                                        event.key.data(), event.key.size(), this);
        if (rc == 0) {
            sent_.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        const auto err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            throw kafkaError(err, "simulator: producing to " + options_.topic);
        // Local queue full: serve delivery reports until there is room.
        rd_kafka_poll(producer_.get(), 10);
        if (stop_.load(std::memory_order_relaxed))
            return false;
    }
}

SimulatorStats Simulator::run(const std::function<void(const SimulatorStats &)> &progress)
{
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto nextProgress = start + options_.progressInterval;
    std::int64_t produced = 0;
    const auto limitReached = [&] {
        if (options_.count > 0 && produced >= options_.count)
            return true;
        return options_.duration.count() > 0 && Clock::now() - start >= options_.duration;
    };

    while (!stop_.load(std::memory_order_relaxed) && !limitReached()) {
        std::int64_t due = 4096; // unthrottled: a slice, then serve delivery reports
        if (options_.rate > 0) {
            const std::chrono::duration<double> elapsed = Clock::now() - start;
            due = static_cast<std::int64_t>(elapsed.count() * options_.rate) - produced + 1;
            due = std::min<std::int64_t>(due, 10'000);
        }
        if (options_.count > 0)
            due = std::min(due, options_.count - produced);
        const auto timestamp = wallClockMs();
        for (std::int64_t i = 0; i < due; ++i) {
            if (!produceOne(timestamp))
                break;
            ++produced;
        }
        if (tracker_.fatal)
            throw Error(ErrorKind::Fatal,
                        "simulator: the producer hit a fatal error: " + tracker_.lastReason);
        // Sleep until the next event is due, serving delivery reports meanwhile.
        int waitMs = 0;
        if (options_.rate > 0 && due <= 0)
            waitMs = std::clamp(static_cast<int>(1000.0 / options_.rate), 1, 5);
        rd_kafka_poll(producer_.get(), waitMs);
        if (progress && Clock::now() >= nextProgress) {
            progress(stats());
            nextProgress = Clock::now() + options_.progressInterval;
        }
    }

    // Wait for the outstanding delivery reports, still reporting progress.
    const auto drainDeadline = Clock::now() + options_.drainTimeout;
    while (rd_kafka_outq_len(producer_.get()) > 0 && Clock::now() < drainDeadline) {
        rd_kafka_poll(producer_.get(), 50);
        if (progress && Clock::now() >= nextProgress) {
            progress(stats());
            nextProgress = Clock::now() + options_.progressInterval;
        }
    }
    if (rd_kafka_outq_len(producer_.get()) > 0) {
        // Not acknowledged in time: purge so each one gets a failed delivery report.
        rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(producer_.get(), 100);
    }
    finished_.store(true);
    auto result = stats();
    if (progress)
        progress(result);
    return result;
}

} // namespace pb::kafka
