#include "aggregator.h"

#include "core/clock.h"
#include "core/heartbeat.h"
#include "redis/server_check.h"

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

} // namespace

Aggregator::Aggregator(AggregatorOptions options)
    : options_(std::move(options))
    , redis_(options_.redis, redis::ConnectionOptions{std::chrono::milliseconds(2000),
                                                      std::chrono::milliseconds(5000)})
    , writer_(redis_, options_.schema, options_.aggregation)
    , batch_(options_.aggregation)
    , fieldBudget_(
          FieldBudgetOptions{options_.redisCallTarget, 32'000, 2'000, options_.maxBatchFields})
    , builder_([this](std::span<const BatchBuilder::Item> items) { build(items); })
{
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
    // A replica or an evicting Redis would take the writes and lose them: refuse at once rather
    // than retry for ever (READONLY) or count wrong without a word (eviction).
    const auto facts = redis::readServerFacts(redis_);
    if (auto unfit = redis::unfitForAggregates(facts, redis_.endpoint().toString()))
        throw *unfit;
    if (!facts.known)
        notice(redis::uncheckedNotice(facts, redis_.endpoint().toString()));
    writer_.loadFunctions();

    kafka::GroupConsumerOptions consumerOptions;
    consumerOptions.kafka = options_.kafka;
    consumerOptions.topic = options_.topic;
    consumerOptions.group = options_.group;
    consumerOptions.clientId = "pulseboard-aggregator";
    consumerOptions.staticId = options_.staticId;
    consumerOptions.sessionTimeout = options_.sessionTimeout;
    consumerOptions.connectTimeout = options_.connectTimeout;
    consumerOptions.tuning = kafka::backlogFetchTuning();
    consumer_ = std::make_unique<kafka::GroupConsumer>(
        std::move(consumerOptions),
        kafka::GroupConsumer::Handlers{
            [this](const std::vector<int> &partitions) { return assigned(partitions); },
            [this](const std::vector<int> &partitions, bool lost) {
                revoked(partitions, lost);
            }},
        tracker_);
    deadLetters_ =
        std::make_unique<kafka::DeadLetterProducer>(options_.kafka, options_.deadLetterTopic);
    std::lock_guard lock(statsMutex_);
    stats_.redisUp = true;
    stats_.kafkaUp = true;
}

Aggregator::~Aggregator()
{
    // run() closes the consumer on its way out, except when it throws. Closing revokes, so it
    // happens here, while every member is alive, and drops the batch in hand instead of writing
    // it: the next owner re-reads it from the offsets in Redis.
    if (consumer_ && !consumer_->closed()) {
        abandoned_ = true;
        try {
            consumer_->close();
        } catch (const std::exception &) {
            // run() has thrown already; this later error has nowhere to go.
        }
    }
}

AggregatorStats Aggregator::stats() const
{
    std::lock_guard lock(statsMutex_);
    return stats_;
}

namespace {

// Thrown by retrying() when a stop is asked for while Kafka or Redis is failing: run() then ends
// as a stop, not with the error it was riding out (found by the broker-fault tests: a leader
// moved while the test stopped its aggregators).
struct StoppedWhileRetrying {};

} // namespace

template <typename Attempt> auto Aggregator::retrying(Side side, Attempt attempt)
{
    for (;;) {
        try {
            return attempt();
        } catch (const Error &e) {
            if (!e.retriable())
                throw;
            if (stop_.load())
                throw StoppedWhileRetrying{};
            setError((side == Side::Redis ? "Redis: " : "") + std::string(e.what()) + " (retrying)",
                     side == Side::Redis);
            backOff();
        }
    }
}

void Aggregator::notice(const std::string &message)
{
    {
        std::lock_guard lock(statsMutex_);
        stats_.lastError = message;
    }
    if (options_.onNotice)
        options_.onNotice(message);
}

void Aggregator::setRunning(bool running)
{
    std::lock_guard lock(statsMutex_);
    stats_.running = running;
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

std::vector<std::int64_t> Aggregator::assigned(const std::vector<int> &partitions)
{
    if (inFlight_)
        complete(); // one outstanding command per connection
    // Where to start is in Redis; without it we cannot start correctly, so wait for it.
    auto stored =
        retrying(Side::Redis, [&] { return writer_.storedOffsets(options_.topic, partitions); });
    std::vector<int> fresh;
    for (std::size_t i = 0; i < partitions.size(); ++i)
        if (stored[i] == kNoOffset)
            fresh.push_back(partitions[i]);
    const auto freshStored = storeStarts(fresh);
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        const auto it = std::find(partitions.begin(), partitions.end(), fresh[i]);
        stored[static_cast<std::size_t>(it - partitions.begin())] = freshStored[i];
    }
    std::vector<std::int64_t> starts;
    for (std::size_t i = 0; i < partitions.size(); ++i)
        starts.push_back(offsets_.assign(partitions[i], stored[i], stored[i]));
    idleSince_ = {};
    return starts;
}

std::vector<std::int64_t> Aggregator::storeStarts(const std::vector<int> &partitions,
                                                  std::vector<std::int64_t> starts)
{
    // Resolved once and stored in Redis at once: a member that takes the partition over after
    // a crash starts at the same place, not wherever "latest" has moved to by then.
    for (std::size_t i = starts.size(); i < partitions.size(); ++i) {
        const auto w = retrying(Side::Kafka, [&] {
            return consumer_->queryWatermarks(partitions[i], std::chrono::seconds(5));
        });
        starts.push_back(options_.startFrom == StartFrom::Earliest ? w.low : w.high);
    }
    const auto stored = retrying(
        Side::Redis, [&] { return writer_.storeStarts(options_.topic, partitions, starts); });
    for (std::size_t i = 0; i < partitions.size(); ++i)
        if (stored[i] == starts[i] && starts[i] > 0)
            notice(redis::partitionField(options_.topic, partitions[i]) +
                   ": nothing counted yet; counting starts at offset " + std::to_string(starts[i]) +
                   (options_.startFrom == StartFrom::Earliest
                        ? " (the earliest Kafka keeps: earlier events are gone)"
                        : " (the end, as --from latest asks)"));
    return stored;
}

void Aggregator::revoked(const std::vector<int> &partitions, bool lost)
{
    // Give them up only after the batches in hand are in Redis, or safely dropped: the next
    // owner re-reads from the offsets stored there. Lost ones may already be read by another
    // member; the compare-and-set refuses whatever of ours comes too late.
    if (abandoned_) {
        // The builder may still be working on the batch; its error has nowhere to go now.
        try {
            discardBatch();
        } catch (const std::exception &) {
        }
    } else if (lost) {
        // The rest of the batch in hand (other partitions, cooperative rebalancing) is read again.
        discardBatch();
        seek(offsets_.rewind({}, {}));
    } else {
        flush(true);
    }
    for (const int partition : partitions)
        offsets_.revoke(partition);
    idleSince_ = {};
}

void Aggregator::discardBatch()
{
    builder_.drain(); // nothing may still be adding to the batch
    batch_.clear();
    batchFields_.store(0, std::memory_order_relaxed);
    batchProcessed_.store(0, std::memory_order_relaxed);
    batchEvents_ = 0;
    batchBytes_ = 0;
    batchKafkaTimes_.clear();
}

void Aggregator::outOfRange(int partition)
{
    // The position is gone from Kafka (retention) or beyond its end. Ask where the partition
    // stands now; the tracker decides what it means.
    const auto w = retrying(Side::Kafka, [&] {
        return consumer_->queryWatermarks(partition, std::chrono::seconds(5));
    });
    const auto name = redis::partitionField(options_.topic, partition);
    const auto decision = offsets_.onOutOfRange(partition, w.low, w.high, name);
    switch (decision.action) {
    case OutOfRangeDecision::Action::Ignore:
        return;
    case OutOfRangeDecision::Action::Fatal:
        throw Error(ErrorKind::Fatal, decision.problem +
                                          ". To count this topic afresh, give Pulseboard a new "
                                          "--namespace (or remove the field " +
                                          name + " from " + options_.schema.offsets() + ")");
    case OutOfRangeDecision::Action::Seek:
        break;
    }
    if (decision.lost > 0) {
        notice("Kafka no longer had offsets " + std::to_string(decision.seekTo - decision.lost) +
               "-" + std::to_string(decision.seekTo - 1) + " of " + name +
               " (retention removed them before they were counted): " +
               std::to_string(decision.lost) + " event(s) counted as lost");
        if (batchEvents_ == 0)
            batchStarted_ = std::chrono::steady_clock::now();
    }
    restartFetch(partition);
}

void Aggregator::restartFetch(int partition)
{
    std::map<int, std::int64_t> positions;
    for (const int p : offsets_.partitions())
        positions[p] = offsets_.position(p);
    consumer_->restartFetch(partition, positions);
}

void Aggregator::seek(const std::map<int, std::int64_t> &targets)
{
    // A partition an out-of-range error stopped cannot be seeked; its error is still on its
    // way (and will be handled), but fetching must restart now, at the tracker's position.
    for (const int partition : consumer_->seek(targets))
        restartFetch(partition);
}

void Aggregator::handle(kafka::MessagePtr msg, std::int64_t now)
{
    if (msg->err) {
        if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            outOfRange(msg->partition);
            return;
        }
        const auto error = kafka::kafkaError(msg->err, "Kafka");
        setError(std::string(error.what()) +
                     (msg->payload
                          ? ": " + std::string(static_cast<const char *>(msg->payload), msg->len)
                          : std::string()),
                 false);
        if (!error.retriable() || consumer_->fatal())
            throw error;
        return;
    }
    const auto decision = offsets_.onMessage(msg->partition, msg->offset);
    if (decision.action != MessageDecision::Action::Count) {
        if (decision.action == MessageDecision::Action::Seek)
            seek({{msg->partition, decision.seekTo}});
        std::lock_guard lock(statsMutex_);
        ++stats_.dropped;
        return;
    }
    if (batchEvents_ == 0)
        batchStarted_ = std::chrono::steady_clock::now();
    ++batchEvents_;
    batchBytes_ += static_cast<std::int64_t>(msg->len + msg->key_len);

    rd_kafka_timestamp_type_t tsType;
    const std::int64_t timestamp = rd_kafka_message_timestamp(msg.get(), &tsType);
    if (options_.onApplied)
        batchKafkaTimes_.push_back(timestamp < 0 ? now : timestamp);
    const int partition = msg->partition;
    builder_.add({msg.release(), partition, timestamp, now});
}

void Aggregator::build(std::span<const BatchBuilder::Item> items)
{
    try {
        for (const auto &item : items) {
            const auto *msg = item.message;
            const std::string_view payload(static_cast<const char *>(msg->payload), msg->len);
            const auto index = static_cast<std::size_t>(item.partition);
            if (index >= sources_.size()) {
                // The staged event holds a view of its source, which moves with the vector
                // (short strings live inside it): count that event first.
                batch_.settle();
                sources_.resize(index + 1);
            }
            auto &source = sources_[index];
            if (source.empty())
                source = redis::partitionField(options_.topic, item.partition);
            const auto result = validator_.validate(payload);
            if (!result.ok()) {
                const auto reason = *result.error;
                const auto time =
                    eventTime(std::nullopt, item.timestampMs, item.nowMs, options_.aggregation);
                batch_.addInvalid(reason, payload, source, msg->offset, time);
                deadLetters_->forward(
                    payload, {static_cast<const char *>(msg->key), msg->key ? msg->key_len : 0},
                    reasonName(reason), source, msg->offset);
                continue;
            }
            const auto time = eventTime(result.event.timestampMs, item.timestampMs, item.nowMs,
                                        options_.aggregation);
            // Counted while the next event is parsed: the chunk's messages live until we return.
            batch_.stageValid(result.event, time, item.nowMs, payload, source, msg->offset);
        }
    } catch (...) {
        batch_.settle(); // before the staged event's message goes with the chunk
        throw;
    }
    batch_.settle();
    batchFields_.store(batch_.fields(), std::memory_order_relaxed);
    batchProcessed_.store(batch_.events(), std::memory_order_relaxed);
}

bool Aggregator::flush(bool wait)
{
    // One batch may be in Redis's hands while the next is built: finish that one first.
    if (inFlight_ && !complete())
        return false;
    if (!offsets_.hasClaims())
        return true;
    builder_.drain();
    auto claims = offsets_.claims();
    // The dead-letter topic has the batch's bad events before Redis counts them.
    if (!deadLetters_->settle(std::chrono::seconds(10))) {
        setError("dead-letter topic " + options_.deadLetterTopic + " did not acknowledge: " +
                     deadLetters_->lastError() + " (re-reading the batch)",
                 false);
        rewind({}, {});
        backOff();
        return false;
    }
    try {
        writer_.submit(batch_, options_.topic, claims, wallClockMs());
    } catch (const Error &e) {
        if (!e.retriable())
            throw;
        setError("Redis: " + std::string(e.what()) + " (re-reading the batch)", true);
        rewind({}, {});
        backOff();
        return false;
    }
    offsets_.submitted(claims);
    inFlight_ = InFlight{std::move(claims),      batch_.validCount,           batch_.invalidCount,
                         batch_.invalidByReason, std::move(batchKafkaTimes_), batchStarted_,
                         batch_.fields()};
    batchKafkaTimes_.clear();
    batchEvents_ = 0;
    batchBytes_ = 0;
    batch_.clear();
    batchFields_.store(0, std::memory_order_relaxed);
    batchProcessed_.store(0, std::memory_order_relaxed);
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
        rewind(batch.claims, {});
        backOff();
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
        {
            std::lock_guard lock(statsMutex_);
            ++stats_.fenced;
        }
        rewind(batch.claims, storedNow);
        return false;
    }

    offsets_.applied(batch.claims);
    fieldBudget_.observe(batch.fields, batch.valid + batch.invalid, result.inRedis);
    std::map<int, std::int64_t> commits;
    std::int64_t lost = 0;
    for (const auto &claim : batch.claims) {
        // Not for partitions given away meanwhile: their new owner commits further on.
        if (offsets_.owns(claim.partition))
            commits[claim.partition] = claim.next;
        lost += claim.lost;
    }
    consumer_->commit(commits); // for lag tools only: Redis holds the offsets that count
    {
        std::lock_guard lock(statsMutex_);
        stats_.validEvents += batch.valid;
        stats_.invalidEvents += batch.invalid;
        stats_.lostEvents += lost;
        for (std::size_t r = 0; r < batch.invalidByReason.size(); ++r)
            stats_.invalidByReason[r] += batch.invalidByReason[r];
        ++stats_.batches;
        if (stats_.firstAccounted == std::chrono::steady_clock::time_point{})
            stats_.firstAccounted = batch.started;
        stats_.lastAccounted = std::chrono::steady_clock::now();
    }
    if (options_.onRedisCall)
        options_.onRedisCall(result.inRedis);
    if (options_.onApplied)
        options_.onApplied(wallClockMs(), batch.kafkaTimes);
    backoff_ = std::chrono::milliseconds(0);
    return true;
}

void Aggregator::rewind(const std::vector<OffsetClaim> &failed,
                        const std::map<int, std::int64_t> &storedNow)
{
    discardBatch();
    auto targets = offsets_.rewind(failed, storedNow);
    // Redis holds no offset where it had one: it restarted without persistence or was flushed,
    // and its numbers are gone too. They are rebuilt from the earliest event Kafka keeps, or
    // with --from latest from where this member started counting, and that is stored again.
    std::vector<int> forgotten;
    std::vector<std::int64_t> known;
    for (const auto &[partition, stored] : storedNow)
        if (stored == kNoOffset && offsets_.owns(partition)) {
            forgotten.push_back(partition);
            known.push_back(targets.at(partition));
        }
    if (!forgotten.empty()) {
        notice("Redis holds no offsets for " + std::to_string(forgotten.size()) +
               " partition(s) of " + options_.topic +
               " any more (restarted without persistence, or flushed): rebuilding them from Kafka");
        if (options_.startFrom == StartFrom::Earliest)
            known.clear();
        const auto stored = storeStarts(forgotten, known);
        for (std::size_t i = 0; i < forgotten.size(); ++i)
            targets[forgotten[i]] = offsets_.assign(forgotten[i], stored[i], stored[i]);
    }
    {
        std::lock_guard lock(statsMutex_);
        ++stats_.rewinds;
    }
    seek(targets);
    idleSince_ = {};
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
    AggregatorHealth health;
    health.id = options_.instanceId;
    health.host = options_.instanceId.substr(0, options_.instanceId.find(':'));
    health.group = options_.group;
    health.pid = getpid();
    health.startedMs = startedMs_;
    health.lastBeatMs = wallClockMs();
    {
        std::lock_guard lock(statsMutex_);
        health.eventsProcessed = stats_.validEvents + stats_.invalidEvents;
    }
    for (const int partition : offsets_.partitions()) {
        const auto w = consumer_->cachedWatermarks(partition);
        const auto next = offsets_.confirmed(partition);
        std::int64_t lag = -1;
        if (w.high >= 0)
            lag = std::max<std::int64_t>(0, w.high - std::max(next, w.low));
        health.partitions.push_back({options_.topic, partition, next, w.high, lag});
    }
    {
        std::lock_guard lock(statsMutex_);
        stats_.partitions = health.partitions;
    }
    try {
        writer_.beat(options_.instanceId, encodeHeartbeat(health), health.lastBeatMs);
        // Redis may have gone back in time while no batch came to notice it (restarted from an
        // older snapshot, or empty): what it holds must be what the last batch left.
        const auto partitions = offsets_.partitions();
        const auto stored = writer_.storedOffsets(options_.topic, partitions);
        std::map<int, std::int64_t> moved;
        for (std::size_t i = 0; i < partitions.size(); ++i)
            if (stored[i] != offsets_.stored(partitions[i]))
                moved[partitions[i]] = stored[i];
        if (!moved.empty()) { // complete() above left no batch in flight
            notice("Redis holds other offsets than this aggregator last wrote for " +
                   std::to_string(moved.size()) + " partition(s) of " + options_.topic +
                   " (restored from an older snapshot, or restarted empty): re-reading from there");
            rewind({}, moved);
        }
        std::lock_guard lock(statsMutex_);
        stats_.redisUp = true;
    } catch (const Error &e) {
        if (!e.retriable())
            throw;
        setError("Redis: " + std::string(e.what()), true);
        idleSince_ = {};
    }
}

std::int64_t Aggregator::backlog(std::int64_t enough) const
{
    std::int64_t total = 0;
    for (const int partition : offsets_.partitions()) {
        const auto w = consumer_->cachedWatermarks(partition);
        if (w.high < 0)
            return -1; // not fetched from yet
        total += std::max<std::int64_t>(0, w.high - std::max(offsets_.position(partition), w.low));
        if (total >= enough)
            break;
    }
    return total;
}

bool Aggregator::topicCaughtUp()
{
    std::vector<int> all(static_cast<std::size_t>(consumer_->partitionCount()));
    for (std::size_t i = 0; i < all.size(); ++i)
        all[i] = static_cast<int>(i);
    try {
        const auto stored = writer_.storedOffsets(options_.topic, all);
        for (std::size_t i = 0; i < all.size(); ++i) {
            const auto w = consumer_->queryWatermarks(all[i], std::chrono::seconds(2));
            if (w.high > w.low && stored[i] < w.high)
                return false;
        }
    } catch (const Error &e) {
        if (!e.retriable())
            throw;
        return false;
    }
    return true;
}

void Aggregator::run(RunLimits limits)
{
    using Clock = std::chrono::steady_clock;
    consumer_->subscribe();
    setRunning(true);
    // Not running any more once run() returns or throws: readiness probes see it at once.
    struct NotRunning {
        Aggregator *self;
        ~NotRunning() { self->setRunning(false); }
    } notRunning{this};
    const auto started = Clock::now();
    nextBeat_ = started;
    idleSince_ = {};
    try {
        loop(limits, started);
    } catch (const StoppedWhileRetrying &) {
        // What is in hand is dropped, not written: the next owner re-reads it from the offsets
        // in Redis.
        notice("stopped while Kafka or Redis was failing: the batch in hand is left to be read "
               "again");
        discardBatch();
        consumer_->close();
        return;
    }

    // Clean stop: the batches in hand go to Redis, then we leave the group.
    flush(true);
    try {
        writer_.leave(options_.instanceId);
    } catch (const Error &e) {
        setError("Redis: " + std::string(e.what()), e.retriable());
    }
    consumer_->close();
}

void Aggregator::loop(RunLimits limits, std::chrono::steady_clock::time_point started)
{
    using Clock = std::chrono::steady_clock;
    while (!stop_.load(std::memory_order_relaxed)) {
        const auto now = Clock::now();
        if (limits.duration.count() > 0 && now - started >= limits.duration)
            break;
        if (limits.idleExit.count() > 0 && idleSince_ != Clock::time_point{} &&
            now - idleSince_ >= limits.idleExit)
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
        auto msg = consumer_->poll(wait);
        // Drain what is already fetched without waiting, up to the batch limits. One clock
        // reading serves the whole drain: it only decides which buckets are recent.
        const auto drainedAt = wallClockMs();
        const auto full = [this] {
            // Events still queued for the builder bring fields too, as many as of late.
            const auto queued = batchEvents_ - batchProcessed_.load(std::memory_order_relaxed);
            return batchEvents_ >= options_.maxBatchEvents ||
                   batchBytes_ >= options_.maxBatchBytes ||
                   batchFields_.load(std::memory_order_relaxed) + fieldBudget_.fieldsFor(queued) >=
                       fieldBudget_.fields();
        };
        while (msg) {
            handle(std::move(msg), drainedAt);
            if (full())
                break;
            msg = consumer_->poll(std::chrono::milliseconds(0));
        }
        builder_.submit(); // everything at hand goes to the builder while we wait for more
        {
            std::lock_guard lock(statsMutex_);
            stats_.kafkaUp = tracker_.lastError != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
        }
        // Group commit: a live batch goes to Redis as soon as everything fetched is in it and
        // Redis is not busy with the one before, so batches grow with the load instead of
        // waiting out the interval. An empty local queue while Kafka still holds a backlog
        // only means the fetcher is behind us: then the batch keeps growing.
        const bool fetchedAll = !msg;
        const auto enough = std::max<std::int64_t>(1, options_.maxBatchEvents / 10);
        const auto behind = fetchedAll ? backlog(enough) : enough;
        if (fetchedAll)
            backlogged_ = behind >= enough;
        const bool hasBatch = offsets_.hasClaims();
        if (hasBatch && (full() || (fetchedAll && !backlogged_ && !inFlight_) ||
                         Clock::now() - batchStarted_ >= longestWait))
            flush(false); // submit, and build the next batch while Redis applies this one
        else if (inFlight_ && (!hasBatch || writer_.verdictReady()))
            complete(); // confirm as soon as Redis answers (and never leave one unconfirmed)
        // Idle (for --idle-exit): everything of its own partitions in Redis, nothing in hand,
        // and nothing left in the topic for anyone (a dead member's partitions may not have
        // come over yet).
        const bool caughtUp = behind == 0 && !offsets_.hasClaims() && !inFlight_;
        if (!caughtUp || limits.idleExit.count() == 0) {
            idleSince_ = {};
        } else if (idleSince_ == Clock::time_point{} && Clock::now() >= nextTopicCheck_) {
            nextTopicCheck_ = Clock::now() + std::chrono::seconds(1);
            if (topicCaughtUp())
                idleSince_ = Clock::now();
        }
        if (consumer_->fatal())
            throw Error(ErrorKind::Fatal, "Kafka: " + tracker_.lastReason);
    }
}

} // namespace pb
