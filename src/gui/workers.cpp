#include "workers.h"

#include "core/clock.h"
#include "error_text.h"
#include "kafka/kafka_client.h"

#include <QThread>

#include <chrono>
#include <thread>

namespace pb::gui {

namespace {

// Publishes a pointer to the object a worker is running while it lives, and withdraws it
// before the object goes, so another thread never reaches a destroyed one.
template <typename T> class Published {
public:
    Published(std::mutex &mutex, T *&slot, T *object)
        : mutex_(mutex)
        , slot_(slot)
    {
        std::lock_guard lock(mutex_);
        slot_ = object;
    }
    ~Published()
    {
        std::lock_guard lock(mutex_);
        slot_ = nullptr;
    }
    Published(const Published &) = delete;
    Published &operator=(const Published &) = delete;

private:
    std::mutex &mutex_;
    T *&slot_;
};

} // namespace

// ---- StackWorker --------------------------------------------------------------------------

StackWorker::~StackWorker() = default;

void StackWorker::start(int partitions, QString topic)
{
    try {
        EmbeddedStackOptions options;
        options.broker.partitions = partitions;
        options.broker.topics = {topic.toStdString()};
        stack_ = std::make_unique<EmbeddedStack>(options);
        Q_EMIT started(QString::fromStdString(stack_->kafkaSettings().brokers),
                       stack_->redisEndpoint());
    } catch (const std::exception &e) {
        stack_.reset();
        Q_EMIT failed(errorText(e));
    }
}

void StackWorker::stop()
{
    stack_.reset();
}

void StackWorker::stopRedis()
{
    if (stack_)
        stack_->redis().stop();
}

void StackWorker::startRedis()
{
    if (stack_) {
        try {
            stack_->redis().start();
        } catch (const std::exception &e) {
            Q_EMIT failed(errorText(e));
        }
    }
}

// ---- AggregatorWorker ---------------------------------------------------------------------

void AggregatorWorker::run(pb::AggregatorOptions options)
{
    auto backoff = std::chrono::milliseconds(500);
    while (!stop_) {
        try {
            Aggregator aggregator(options);
            Published published(mutex_, current_, &aggregator);
            {
                std::lock_guard lock(mutex_);
                id_ = QString::fromStdString(aggregator.instanceId());
                waiting_.clear();
            }
            if (stop_)
                aggregator.requestStop();
            aggregator.run();
            break;
        } catch (const Error &e) {
            {
                std::lock_guard lock(mutex_);
                waiting_ = errorText(e);
            }
            if (!e.retriable()) {
                Q_EMIT stopped(errorText(e));
                return;
            }
            // Unreachable Redis or Kafka: try again, a little later each time.
            const auto until = std::chrono::steady_clock::now() + backoff;
            while (!stop_ && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        } catch (const std::exception &e) { // not ours (e.g. out of memory): stop, and say why
            const auto why = tr("unexpected error: %1").arg(QString::fromUtf8(e.what()));
            {
                std::lock_guard lock(mutex_);
                waiting_ = why;
            }
            Q_EMIT stopped(why);
            return;
        }
    }
    Q_EMIT stopped({});
}

void AggregatorWorker::requestStop()
{
    stop_ = true;
    std::lock_guard lock(mutex_);
    if (current_)
        current_->requestStop();
}

AggregatorStatus AggregatorWorker::status() const
{
    std::lock_guard lock(mutex_);
    AggregatorStatus s;
    s.id = id_;
    if (!current_) {
        s.lastError = waiting_;
        return s;
    }
    const auto stats = current_->stats();
    s.running = true;
    s.redisUp = stats.redisUp;
    s.kafkaUp = stats.kafkaUp;
    s.validEvents = stats.validEvents;
    s.invalidEvents = stats.invalidEvents;
    s.rewinds = stats.rewinds;
    s.lastError = QString::fromStdString(stats.lastError);
    for (const auto &p : stats.partitions)
        s.partitions.append(p.partition);
    return s;
}

// ---- StatsWorker --------------------------------------------------------------------------

void StatsWorker::configure(pb::redis::Endpoint endpoint, pb::redis::StatsOptions options,
                            int refreshMs)
{
    connection_ = std::make_unique<redis::Connection>(
        endpoint,
        redis::ConnectionOptions{std::chrono::milliseconds(1000), std::chrono::milliseconds(2000)});
    reader_ = std::make_unique<redis::StatsReader>(*connection_, options);
    if (!timer_) {
        timer_ = new QTimer(this);
        connect(timer_, &QTimer::timeout, this, &StatsWorker::tick);
    }
    reported_ = false;
    timer_->start(refreshMs);
    tick();
}

void StatsWorker::tick()
{
    if (!reader_)
        return;
    try {
        auto snapshot = reader_->read(wallClockMs());
        if (!up_ || !reported_)
            Q_EMIT redisStatus(true, {});
        up_ = true;
        reported_ = true;
        Q_EMIT snapshotReady(std::move(snapshot));
    } catch (const std::exception &e) { // pb::Error, and anything else: no exception leaves
        if (up_ || !reported_)
            Q_EMIT redisStatus(false, errorText(e));
        up_ = false;
        reported_ = true;
    }
}

void StatsWorker::lookupUser(QString userId)
{
    if (!reader_)
        return;
    try {
        Q_EMIT userActivityReady(reader_->user(userId.toStdString(), wallClockMs()));
    } catch (const std::exception &e) {
        Q_EMIT userLookupFailed(errorText(e));
    }
}

void StatsWorker::stop()
{
    if (timer_)
        timer_->stop();
    reader_.reset();
    connection_.reset();
}

// ---- KafkaWatcher -------------------------------------------------------------------------

void KafkaWatcher::configure(pb::kafka::KafkaSettings settings, QString topic)
{
    settings_ = std::move(settings);
    topic_ = std::move(topic);
    if (!timer_) {
        timer_ = new QTimer(this);
        connect(timer_, &QTimer::timeout, this, &KafkaWatcher::probe);
    }
    timer_->start(5000);
    probe();
}

void KafkaWatcher::probe()
{
    KafkaStatus status;
    try {
        const auto metadata = kafka::probeBrokers(settings_, std::chrono::milliseconds(4000));
        status.reachable = true;
        status.brokers = metadata.brokers;
        if (const auto *topic = metadata.find(topic_.toStdString()))
            status.partitions = topic->partitions;
        else
            status.message = tr("Topic \"%1\" does not exist on Kafka: create it, or choose "
                                "another in Settings ▸ Kafka.")
                                 .arg(topic_);
    } catch (const std::exception &e) {
        status.message = errorText(e);
    }
    Q_EMIT kafkaStatus(status);
}

void KafkaWatcher::stop()
{
    if (timer_)
        timer_->stop();
}

// ---- SimulatorWorker ----------------------------------------------------------------------

void SimulatorWorker::run(pb::kafka::KafkaSettings settings, pb::kafka::SimulatorOptions options)
{
    try {
        kafka::Simulator simulator(std::move(settings), std::move(options));
        kafka::SimulatorStats stats;
        {
            Published published(mutex_, current_, &simulator);
            if (stop_)
                simulator.requestStop();
            stats = simulator.run([this](const kafka::SimulatorStats &s) { Q_EMIT progress(s); });
        }
        Q_EMIT finished(stats, {});
    } catch (const std::exception &e) {
        Q_EMIT finished({}, errorText(e));
    }
}

void SimulatorWorker::requestStop()
{
    stop_ = true;
    std::lock_guard lock(mutex_);
    if (current_)
        current_->requestStop();
}

} // namespace pb::gui
