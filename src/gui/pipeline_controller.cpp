#include "pipeline_controller.h"

namespace pb::gui {

namespace {

// Runs `call` on the thread `worker` lives in.
template <typename Worker, typename Call> void post(Worker *worker, Call call)
{
    QMetaObject::invokeMethod(worker, std::move(call), Qt::QueuedConnection);
}

} // namespace

PipelineController::PipelineController(QObject *parent)
    : QObject(parent)
{
    qRegisterMetaType<pb::Snapshot>();
    qRegisterMetaType<pb::UserActivity>();
    qRegisterMetaType<pb::kafka::SimulatorStats>();
    qRegisterMetaType<pb::redis::Endpoint>();
    qRegisterMetaType<pb::gui::KafkaStatus>();

    const auto own = [](QThread &thread, QObject *worker, const char *name) {
        thread.setObjectName(name);
        worker->moveToThread(&thread);
        connect(&thread, &QThread::finished, worker, &QObject::deleteLater);
        thread.start();
    };
    stack_ = new StackWorker;
    stats_ = new StatsWorker;
    kafkaWatcher_ = new KafkaWatcher;
    simulator_ = new SimulatorWorker;
    own(stackThread_, stack_, "pulseboard-stack");
    own(statsThread_, stats_, "pulseboard-stats");
    own(kafkaThread_, kafkaWatcher_, "pulseboard-kafka-watch");
    own(simulatorThread_, simulator_, "pulseboard-simulator");

    connect(stack_, &StackWorker::started, this, &PipelineController::onStackStarted);
    connect(stack_, &StackWorker::failed, this, &PipelineController::stackFailed);
    connect(stats_, &StatsWorker::snapshotReady, this, &PipelineController::snapshotReady);
    connect(stats_, &StatsWorker::redisStatus, this, &PipelineController::redisStatus);
    connect(stats_, &StatsWorker::userActivityReady, this, &PipelineController::userActivityReady);
    connect(stats_, &StatsWorker::userLookupFailed, this, &PipelineController::userLookupFailed);
    connect(kafkaWatcher_, &KafkaWatcher::kafkaStatus, this, &PipelineController::kafkaStatus);
    connect(simulator_, &SimulatorWorker::progress, this, &PipelineController::simulatorProgress);
    connect(simulator_, &SimulatorWorker::finished, this,
            [this](const kafka::SimulatorStats &stats, const QString &error) {
                simulatorRunning_ = false;
                Q_EMIT simulatorFinished(stats, error);
            });
}

PipelineController::~PipelineController()
{
    stopSimulator();
    stopAggregators();
    post(stats_, [w = stats_] { w->stop(); });
    post(kafkaWatcher_, [w = kafkaWatcher_] { w->stop(); });
    for (auto &a : retiring_)
        a->thread.wait(); // the aggregators flush before the embedded stack goes
    retiring_.clear();
    post(stack_, [w = stack_] { w->stop(); });
    for (auto *thread : {&simulatorThread_, &statsThread_, &kafkaThread_, &stackThread_}) {
        thread->quit();
        thread->wait();
    }
}

void PipelineController::apply(const AppSettings &settings)
{
    settings_ = settings;
    ready_ = false;
    stopEngines();
    if (settings.mode == StackMode::Embedded) {
        if (stackStarted_) {
            startEngines();
            return;
        }
        post(stack_,
             [w = stack_, n = settings.embeddedPartitions, t = settings.topic] { w->start(n, t); });
        return;
    }
    kafka_ = settings.kafkaSettings();
    redis_ = settings.redisEndpoint();
    startEngines();
}

PipelineController::AggregatorThread::~AggregatorThread()
{
    worker->requestStop();
    thread.wait(); // the worker goes only after its thread is done with it
}

void PipelineController::onStackStarted(const QString &brokers, const redis::Endpoint &redis)
{
    stackStarted_ = true;
    kafka_ = {};
    kafka_.brokers = brokers.toStdString();
    redis_ = redis;
    if (settings_.mode == StackMode::Embedded)
        startEngines();
}

void PipelineController::startEngines()
{
    redis::StatsOptions options;
    options.activeWindow = settings_.window();
    options.topPages = 10;
    options.rateSeconds = 300;
    options.feedEvents = 200;
    post(stats_, [w = stats_, e = redis_, options, ms = settings_.refreshMs] {
        w->configure(e, options, ms);
    });
    post(kafkaWatcher_,
         [w = kafkaWatcher_, k = kafka_, t = settings_.topic] { w->configure(k, t); });
    startAggregators(settings_.aggregatorThreads);
    ready_ = true;
    Q_EMIT endpointsReady(modeDescription());
}

void PipelineController::stopEngines()
{
    stopSimulator();
    stopAggregators();
    post(stats_, [w = stats_] { w->stop(); });
    post(kafkaWatcher_, [w = kafkaWatcher_] { w->stop(); });
}

AggregatorOptions PipelineController::aggregatorOptions() const
{
    AggregatorOptions o;
    o.kafka = kafka_;
    o.topic = settings_.topic.toStdString();
    o.group = settings_.group.toStdString();
    o.redis = redis_;
    o.aggregation.activeWindow = settings_.window();
    if (settings_.mode == StackMode::Embedded)
        o.sessionTimeout = pb::kEmbeddedSessionTimeout;
    return o;
}

void PipelineController::startAggregators(int count)
{
    stopAggregators();
    for (int i = 0; i < count; ++i) {
        auto entry = std::make_unique<AggregatorThread>();
        entry->thread.setObjectName(QString("pulseboard-aggregator-%1").arg(i + 1));
        entry->worker->moveToThread(&entry->thread);
        // The thread ends when its aggregator has flushed and left the group.
        // Direct: quit() is thread-safe, and the UI thread may be waiting for this thread.
        connect(entry->worker.get(), &AggregatorWorker::stopped, &entry->thread, &QThread::quit,
                Qt::DirectConnection);
        connect(&entry->thread, &QThread::finished, this, [this, thread = &entry->thread] {
            std::erase_if(retiring_, [thread](const auto &r) {
                if (&r->thread != thread)
                    return false;
                r->thread.wait(); // finished was emitted: this returns at once
                return true;
            });
        });
        connect(entry->worker.get(), &AggregatorWorker::stopped, this,
                [this](const QString &error) {
                    if (!error.isEmpty())
                        Q_EMIT aggregatorStopped(error);
                });
        entry->thread.start();
        post(entry->worker.get(),
             [w = entry->worker.get(), o = aggregatorOptions()] { w->run(o); });
        aggregators_.push_back(std::move(entry));
    }
}

void PipelineController::stopAggregators()
{
    // They flush and leave the group on their own threads; the UI does not wait for that.
    for (auto &a : aggregators_) {
        a->worker->requestStop();
        retiring_.push_back(std::move(a));
    }
    aggregators_.clear();
}

QList<AggregatorStatus> PipelineController::aggregatorStatuses() const
{
    QList<AggregatorStatus> list;
    for (const auto &a : aggregators_)
        list.append(a->worker->status());
    return list;
}

void PipelineController::startSimulator(const kafka::SimulatorOptions &options)
{
    if (simulatorRunning_ || !ready_)
        return;
    simulatorRunning_ = true;
    simulator_->arm();
    post(simulator_, [w = simulator_, k = kafka_, options] { w->run(k, options); });
}

void PipelineController::stopSimulator()
{
    simulator_->requestStop();
}

void PipelineController::lookupUser(const QString &userId)
{
    post(stats_, [w = stats_, userId] { w->lookupUser(userId); });
}

QString PipelineController::modeDescription() const
{
    const auto kafka = QString::fromStdString(kafka_.brokers);
    const auto redis = QString::fromStdString(redis_.toString());
    return settings_.mode == StackMode::Embedded
               ? tr("Embedded — Kafka %1, Redis %2").arg(kafka, redis)
               : tr("External — Kafka %1, Redis %2").arg(kafka, redis);
}

void PipelineController::stopEmbeddedRedis()
{
    post(stack_, [w = stack_] { w->stopRedis(); });
}

void PipelineController::startEmbeddedRedis()
{
    post(stack_, [w = stack_] { w->startRedis(); });
}

} // namespace pb::gui
