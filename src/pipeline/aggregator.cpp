#include "aggregator.h"

#include "core/clock.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <thread>
#include <unistd.h>

namespace pb {

namespace {

std::string defaultInstanceId()
{
    static std::atomic<int> counter{0};
    std::array<char, 256> host{};
    if (gethostname(host.data(), host.size() - 1) != 0)
        host[0] = '\0';
    return std::string(host.data()) + ":" + std::to_string(getpid()) + ":" +
           std::to_string(++counter);
}

// A minimal JSON string escaper for the heartbeat document.
std::string jsonString(std::string_view text)
{
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

} // namespace

Aggregator::Aggregator(AggregatorOptions options)
    : options_(std::move(options))
    , redis_(options_.redis, redis::ConnectionOptions{std::chrono::milliseconds(2000),
                                                      std::chrono::milliseconds(5000)})
    , writer_(redis_, options_.schema, options_.aggregation)
    , batch_(options_.aggregation)
    , builder_([this](std::span<const BatchBuilder::Item> items) { build(items); })
{
    if (options_.topic.empty())
        throw Error(ErrorKind::Fatal, "the topic name is empty: pass --topic NAME");
    if (options_.group.empty())
        throw Error(ErrorKind::Fatal, "the consumer group is empty: pass --group NAME");
    if (options_.aggregation.activeWindow <= std::chrono::milliseconds(0) ||
        options_.aggregation.activeWindow > redis::kHistory)
        throw Error(ErrorKind::Fatal, "the active-user window must be between 1 s and 1 h");
    if (options_.instanceId.empty())
        options_.instanceId = defaultInstanceId();
    if (options_.deadLetterTopic.empty())
        options_.deadLetterTopic = options_.topic + ".dlq";
    startedMs_ = wallClockMs();

    // Redis first: it is the source of truth, and its errors are the most common set-up slip.
    redis_.connect();
    writer_.loadFunctions();

    auto conf = kafka::makeConf(
        options_.kafka,
        {
            {"group.id", options_.group},
            {"client.id", "pulseboard-aggregator"},
            {"enable.auto.commit", "false"},
            {"enable.auto.offset.store", "false"},
            {"enable.partition.eof", "false"},
            {"auto.offset.reset",
             options_.startFrom == StartFrom::Earliest ? "earliest" : "latest"},
            {"session.timeout.ms", std::to_string(options_.sessionTimeout.count())},
            {"heartbeat.interval.ms",
             std::to_string(std::max<std::int64_t>(options_.sessionTimeout.count() / 4, 100))},
            {"fetch.error.backoff.ms", "100"},
        },
        kafka::backlogFetchTuning());
    rd_kafka_conf_set_rebalance_cb(conf.get(), &Aggregator::onRebalance);
    // The rebalance callback needs `this`, so the client opaque is the aggregator and its error
    // callback feeds the tracker itself.
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_error_cb(
        conf.get(), [](rd_kafka_t *, int err, const char *reason, void *opaque) {
            auto *self = static_cast<Aggregator *>(opaque);
            self->tracker_.record(err, reason);
            if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                std::lock_guard lock(self->statsMutex_);
                self->stats_.kafkaUp = false;
                self->stats_.lastError = "Kafka: " + self->tracker_.lastReason;
            }
        });
    std::array<char, 512> errstr{};
    consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr.data(), errstr.size()));
    if (!consumer_)
        throw Error(ErrorKind::Fatal, "aggregator: " + std::string(errstr.data()));
    (void)conf.release();
    rd_kafka_poll_set_consumer(consumer_.get());

    const auto metadata =
        kafka::probe(consumer_.get(), options_.kafka, options_.connectTimeout, &tracker_);
    if (!metadata.find(options_.topic))
        throw Error(ErrorKind::Fatal,
                    "topic " + options_.topic + " does not exist at " + options_.kafka.brokers +
                        ": create it (pulseboard-cli create-topic) or check --topic");
    deadLetters_ =
        std::make_unique<kafka::DeadLetterProducer>(options_.kafka, options_.deadLetterTopic);
    std::lock_guard lock(statsMutex_);
    stats_.redisUp = true;
    stats_.kafkaUp = true;
}

Aggregator::~Aggregator()
{
    // run() closes the consumer on its way out, except when it throws. Closing calls
    // onRebalance, so it happens here, while every member is alive, and drops the batch in hand
    // instead of writing it: the next owner re-reads it from the offsets in Redis.
    if (consumer_ && !rd_kafka_consumer_closed(consumer_.get())) {
        abandoned_ = true;
        rd_kafka_consumer_close(consumer_.get());
    }
}

AggregatorStats Aggregator::stats() const
{
    std::lock_guard lock(statsMutex_);
    return stats_;
}

void Aggregator::setError(const std::string &message, bool redisDown)
{
    std::lock_guard lock(statsMutex_);
    stats_.lastError = message;
    if (redisDown) {
        stats_.redisUp = false;
        ++stats_.redisFailures;
    }
}

std::int64_t Aggregator::startOffset(std::int64_t stored) const
{
    if (stored != redis::kNoOffset)
        return stored;
    return options_.startFrom == StartFrom::Earliest ? RD_KAFKA_OFFSET_BEGINNING
                                                     : RD_KAFKA_OFFSET_END;
}

void Aggregator::onRebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    auto *self = static_cast<Aggregator *>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        self->assign(partitions);
    } else {
        self->revoke();
        rd_kafka_assign(rk, nullptr);
    }
}

void Aggregator::assign(rd_kafka_topic_partition_list_t *list)
{
    if (inFlight_)
        complete();   // one outstanding command per connection
    builder_.drain(); // queued messages point at the partition states replaced below
    std::vector<int> ids;
    for (int i = 0; i < list->cnt; ++i)
        ids.push_back(list->elems[i].partition);
    // Where to start is in Redis; without it we cannot start correctly, so wait for it.
    std::vector<std::int64_t> stored;
    for (;;) {
        try {
            stored = writer_.storedOffsets(options_.topic, ids);
            break;
        } catch (const Error &e) {
            if (!e.retriable() || stop_.load())
                throw;
            setError("Redis: " + std::string(e.what()) + " (retrying)", true);
            backOff();
        }
    }
    partitions_.clear();
    for (int i = 0; i < list->cnt; ++i) {
        auto &elem = list->elems[i];
        auto &state = partitions_[elem.partition];
        state.source = redis::partitionField(options_.topic, elem.partition);
        state.stored = stored[static_cast<std::size_t>(i)];
        state.confirmed = state.stored;
        elem.offset = startOffset(state.stored);
    }
    rd_kafka_assign(consumer_.get(), list);
    lastActivity_ = std::chrono::steady_clock::now();
}

void Aggregator::revoke()
{
    // Give up the partitions only after the batches in hand are in Redis (or safely dropped:
    // the next owner re-reads from the offsets stored there).
    if (!abandoned_)
        flush(true);
    // Also when abandoned: the builder may still be reading the partition states cleared below.
    // An error it still holds can then no longer be reported (run() has thrown already).
    try {
        discardBatch();
    } catch (...) {
        if (!abandoned_)
            throw;
    }
    partitions_.clear();
}

void Aggregator::discardBatch()
{
    builder_.drain(); // nothing may still be adding to the batch
    batch_.clear();
    batchEvents_ = 0;
    batchKafkaTimes_.clear();
}

void Aggregator::handle(kafka::MessagePtr msg, std::int64_t now)
{
    if (msg->err) {
        if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            // The stored offset is gone from Kafka (retention): remember to count the gap.
            if (auto it = partitions_.find(msg->partition); it != partitions_.end())
                it->second.resetPending = true;
        }
        const auto error = kafka::kafkaError(msg->err, "Kafka");
        setError(std::string(error.what()) +
                     (msg->payload
                          ? ": " + std::string(static_cast<const char *>(msg->payload), msg->len)
                          : std::string()),
                 false);
        if (!error.retriable() || rd_kafka_fatal_error(consumer_.get(), nullptr, 0))
            throw error;
        return;
    }
    auto it = partitions_.find(msg->partition);
    if (it == partitions_.end())
        return; // not ours any more (a message that raced a revoke)
    auto &state = it->second;
    if (msg->offset < state.next)
        return; // already in this batch
    if (state.next < 0 && state.resetPending && state.stored != redis::kNoOffset &&
        msg->offset > state.stored) {
        state.lostPending = msg->offset - state.stored;
    }
    state.resetPending = false;
    if (batchEvents_ == 0)
        batchStarted_ = std::chrono::steady_clock::now();
    ++batchEvents_;
    state.next = msg->offset + 1;

    rd_kafka_timestamp_type_t tsType;
    std::int64_t timestamp = rd_kafka_message_timestamp(msg.get(), &tsType);
    if (timestamp < 0)
        timestamp = now;
    if (options_.onApplied)
        batchKafkaTimes_.push_back(timestamp);
    builder_.add({msg.release(), &state.source, timestamp, now});
}

void Aggregator::build(std::span<const BatchBuilder::Item> items)
{
    try {
        for (const auto &item : items) {
            const auto *msg = item.message;
            const std::string_view payload(static_cast<const char *>(msg->payload), msg->len);
            auto timestamp = item.timestampMs;
            const auto result = validator_.validate(payload);
            if (!result.ok()) {
                const auto reason = *result.error;
                batch_.addInvalid(reason, payload, *item.source, msg->offset, timestamp);
                deadLetters_->forward(
                    payload, {static_cast<const char *>(msg->key), msg->key ? msg->key_len : 0},
                    reasonName(reason), *item.source, msg->offset);
                continue;
            }
            if (options_.aggregation.timeSource == EventTimeSource::Payload &&
                result.event.timestampMs)
                timestamp = *result.event.timestampMs;
            // Counted while the next event is parsed: the chunk's messages live until we return.
            batch_.stageValid(result.event, timestamp, item.nowMs, payload, *item.source,
                              msg->offset);
        }
    } catch (...) {
        batch_.settle(); // before the staged event's message goes with the chunk
        throw;
    }
    batch_.settle();
}

bool Aggregator::flush(bool wait)
{
    // One batch may be in Redis's hands while the next is built: finish that one first.
    if (inFlight_ && !complete())
        return false;
    if (batchEvents_ == 0)
        return true;
    builder_.drain();

    std::vector<redis::PartitionCommit> commits;
    std::int64_t lost = 0;
    for (const auto &[partition, state] : partitions_) {
        if (state.next < 0)
            continue;
        commits.push_back({options_.topic, partition, state.stored, state.next});
        lost += state.lostPending;
    }
    // The dead-letter topic has the batch's bad events before Redis counts them.
    if (!deadLetters_->settle(std::chrono::seconds(10))) {
        setError("dead-letter topic " + options_.deadLetterTopic + " did not acknowledge: " +
                     deadLetters_->lastError() + " (re-reading the batch)",
                 false);
        rewind({});
        return false;
    }
    try {
        writer_.submit(batch_, commits, lost, wallClockMs());
    } catch (const Error &e) {
        if (!e.retriable())
            throw;
        setError("Redis: " + std::string(e.what()) + " (re-reading the batch)", true);
        rewind({});
        return false;
    }
    inFlight_ =
        InFlight{std::move(commits),          lost,         batch_.validCount, batch_.invalidCount,
                 std::move(batchKafkaTimes_), batchStarted_};
    batchKafkaTimes_.clear();
    batchEvents_ = 0;
    for (const auto &commit : inFlight_->commits) {
        auto &state = partitions_[commit.partition];
        state.stored = commit.next; // what Redis holds once this batch applies
        state.next = -1;
        state.lostPending = 0;
    }
    batch_.clear();
    return wait ? complete() : true;
}

bool Aggregator::complete()
{
    auto batch = std::move(*inFlight_);
    inFlight_.reset();
    redis::ApplyResult result;
    try {
        result = writer_.collect();
    } catch (const Error &e) {
        if (!e.retriable())
            throw;
        // Applied or not, we cannot tell: re-read from before it; the compare-and-set of the
        // next attempt sorts it out.
        setError("Redis: " + std::string(e.what()) + " (re-reading the batch)", true);
        rewind({}, &batch);
        return false;
    }
    {
        std::lock_guard lock(statsMutex_);
        stats_.redisUp = true;
    }
    if (!result.applied) {
        std::map<int, std::int64_t> storedNow;
        for (const auto &m : result.mismatches)
            storedNow[m.partition] = m.stored;
        rewind(storedNow, &batch);
        return false;
    }

    kafka::PartitionListPtr commitList(
        rd_kafka_topic_partition_list_new(static_cast<int>(batch.commits.size())));
    for (const auto &commit : batch.commits)
        rd_kafka_topic_partition_list_add(commitList.get(), options_.topic.c_str(),
                                          commit.partition)
            ->offset = commit.next;
    // For lag tools only: Redis holds the offsets that count.
    rd_kafka_commit(consumer_.get(), commitList.get(), 1);
    for (const auto &commit : batch.commits)
        if (auto it = partitions_.find(commit.partition); it != partitions_.end())
            it->second.confirmed = std::max(it->second.confirmed, commit.next);
    {
        std::lock_guard lock(statsMutex_);
        stats_.validEvents += batch.valid;
        stats_.invalidEvents += batch.invalid;
        stats_.lostEvents += batch.lost;
        ++stats_.batches;
        if (stats_.firstAccounted == std::chrono::steady_clock::time_point{})
            stats_.firstAccounted = batch.started;
        stats_.lastAccounted = std::chrono::steady_clock::now();
    }
    if (options_.onApplied)
        options_.onApplied(wallClockMs(), batch.kafkaTimes);
    backoff_ = std::chrono::milliseconds(0);
    return true;
}

void Aggregator::rewind(const std::map<int, std::int64_t> &storedNow, const InFlight *failed)
{
    // Drop what is in hand and read it again from what Redis holds: mismatched partitions from
    // the stored offset, the others from where the failed batch (or the one being built)
    // started.
    std::map<int, std::int64_t> targets;
    if (failed)
        for (const auto &commit : failed->commits)
            if (auto it = partitions_.find(commit.partition); it != partitions_.end()) {
                it->second.stored = commit.expected;
                targets[commit.partition] = 0;
            }
    for (auto &[partition, state] : partitions_) {
        if (auto it = storedNow.find(partition); it != storedNow.end()) {
            state.stored = it->second;
            targets[partition] = 0;
        }
        if (state.next >= 0)
            targets[partition] = 0;
        state.next = -1;
        state.lostPending = 0;
    }
    for (auto &[partition, offset] : targets)
        offset = startOffset(partitions_[partition].stored);
    discardBatch();
    {
        std::lock_guard lock(statsMutex_);
        ++stats_.rewinds;
    }
    seek(targets);
    if (storedNow.empty())
        backOff(); // an outage, not a race: give the other side time
}

void Aggregator::seek(const std::map<int, std::int64_t> &targets)
{
    if (targets.empty())
        return;
    kafka::PartitionListPtr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(targets.size())));
    for (const auto &[partition, offset] : targets)
        rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), partition)->offset =
            offset;
    kafka::ErrorPtr error(rd_kafka_seek_partitions(consumer_.get(), list.get(), 5000));
    if (error)
        throw kafka::kafkaError(error.get(), "re-reading partitions of " + options_.topic);
    for (int i = 0; i < list->cnt; ++i)
        if (list->elems[i].err)
            throw kafka::kafkaError(list->elems[i].err,
                                    "re-reading " + options_.topic + "/" +
                                        std::to_string(list->elems[i].partition));
}

void Aggregator::backOff()
{
    backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(100), options_.maxBackoff);
    const auto until = std::chrono::steady_clock::now() + backoff_;
    while (!stop_.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void Aggregator::beat()
{
    if (inFlight_)
        complete(); // one outstanding command per connection
    std::vector<PartitionHealth> health;
    std::string json =
        "{\"id\":" + jsonString(options_.instanceId) +
        ",\"host\":" + jsonString(options_.instanceId.substr(0, options_.instanceId.find(':'))) +
        ",\"group\":" + jsonString(options_.group) + ",\"pid\":" + std::to_string(getpid()) +
        ",\"started_ms\":" + std::to_string(startedMs_) +
        ",\"beat_ms\":" + std::to_string(wallClockMs());
    {
        std::lock_guard lock(statsMutex_);
        json += ",\"events\":" + std::to_string(stats_.validEvents + stats_.invalidEvents);
    }
    json += ",\"partitions\":[";
    bool first = true;
    for (auto &[partition, state] : partitions_) {
        std::int64_t low = -1;
        std::int64_t high = -1;
        if (rd_kafka_get_watermark_offsets(consumer_.get(), options_.topic.c_str(), partition, &low,
                                           &high) == RD_KAFKA_RESP_ERR_NO_ERROR)
            state.highWatermark = high;
        const auto next = state.confirmed;
        std::int64_t lag = -1;
        if (state.highWatermark >= 0)
            lag =
                std::max<std::int64_t>(0, state.highWatermark - std::max<std::int64_t>(next, low));
        health.push_back({options_.topic, partition, next, state.highWatermark, lag});
        json += std::string(first ? "" : ",") + "{\"topic\":" + jsonString(options_.topic) +
                ",\"partition\":" + std::to_string(partition) +
                ",\"next\":" + std::to_string(next) +
                ",\"high\":" + std::to_string(state.highWatermark) +
                ",\"lag\":" + std::to_string(lag) + "}";
        first = false;
    }
    json += "]}";
    {
        std::lock_guard lock(statsMutex_);
        stats_.partitions = health;
    }
    try {
        writer_.beat(options_.instanceId, json, wallClockMs());
        std::lock_guard lock(statsMutex_);
        stats_.redisUp = true;
    } catch (const Error &e) {
        if (!e.retriable())
            throw;
        setError("Redis: " + std::string(e.what()), true);
    }
}

std::int64_t Aggregator::backlog(std::int64_t enough)
{
    std::int64_t total = 0;
    for (const auto &[partition, state] : partitions_) {
        // Where this member has read to; unknown before its first message or stored offset.
        const auto position = state.next >= 0 ? state.next : state.stored;
        std::int64_t low = -1;
        std::int64_t high = -1;
        if (position < 0 ||
            rd_kafka_get_watermark_offsets(consumer_.get(), options_.topic.c_str(), partition, &low,
                                           &high) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        total += std::max<std::int64_t>(0, high - std::max(position, low));
        if (total >= enough)
            break;
    }
    return total;
}

void Aggregator::run(RunLimits limits)
{
    using Clock = std::chrono::steady_clock;
    kafka::PartitionListPtr subscription(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(subscription.get(), options_.topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
    if (const auto err = rd_kafka_subscribe(consumer_.get(), subscription.get()))
        throw kafka::kafkaError(err, "subscribing to " + options_.topic);

    const auto started = Clock::now();
    // The idle clock starts when partitions are assigned: joining the group takes seconds.
    lastActivity_ = Clock::time_point::max();
    nextBeat_ = started;
    while (!stop_.load(std::memory_order_relaxed)) {
        const auto now = Clock::now();
        if (limits.duration.count() > 0 && now - started >= limits.duration)
            break;
        if (limits.idleExit.count() > 0 && batchEvents_ == 0 && !inFlight_ && lastActivity_ < now &&
            now - lastActivity_ >= limits.idleExit)
            break;
        if (now >= nextBeat_) {
            beat();
            nextBeat_ = now + options_.heartbeatInterval;
        }
        const auto longestWait = backlogged_ ? options_.catchUpInterval : options_.flushInterval;
        // While a batch is with Redis, look for its verdict every few milliseconds.
        auto wait = std::chrono::milliseconds(inFlight_ ? 2 : 100);
        if (batchEvents_ > 0)
            wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  batchStarted_ + longestWait - now),
                              std::chrono::milliseconds(0), wait);
        kafka::MessagePtr msg(
            rd_kafka_consumer_poll(consumer_.get(), static_cast<int>(wait.count())));
        // Drain what is already fetched without waiting, up to the batch limit. One clock
        // reading serves the whole drain: it only decides which buckets are recent.
        const auto drainedAt = wallClockMs();
        bool gotEvents = false;
        while (msg) {
            gotEvents = gotEvents || !msg->err;
            handle(std::move(msg), drainedAt);
            if (batchEvents_ >= options_.maxBatchEvents)
                break;
            msg.reset(rd_kafka_consumer_poll(consumer_.get(), 0));
        }
        builder_.submit(); // everything at hand goes to the builder while we wait for more
        if (gotEvents)
            lastActivity_ = Clock::now();
        // Group commit: a live batch goes to Redis as soon as everything fetched is in it and
        // Redis is not busy with the one before, so batches grow with the load instead of
        // waiting out the interval. An empty local queue while Kafka still holds a backlog
        // only means the fetcher is behind us: then the batch keeps growing.
        const bool fetchedAll = !msg;
        if (fetchedAll) {
            const auto enough = std::max<std::int64_t>(1, options_.maxBatchEvents / 10);
            backlogged_ = backlog(enough) >= enough;
        }
        if (batchEvents_ > 0 && (batchEvents_ >= options_.maxBatchEvents ||
                                 (fetchedAll && !backlogged_ && !inFlight_) ||
                                 Clock::now() - batchStarted_ >= longestWait))
            flush(false); // submit, and build the next batch while Redis applies this one
        else if (inFlight_ && (batchEvents_ == 0 || writer_.verdictReady()))
            complete(); // confirm as soon as Redis answers (and never leave one unconfirmed)
        if (tracker_.fatal)
            throw Error(ErrorKind::Fatal, "Kafka: " + tracker_.lastReason);
    }

    // Clean stop: the batches in hand go to Redis, then we leave the group.
    flush(true);
    try {
        writer_.leave(options_.instanceId);
    } catch (const Error &e) {
        setError("Redis: " + std::string(e.what()), e.retriable());
    }
    rd_kafka_consumer_close(consumer_.get());
}

} // namespace pb
