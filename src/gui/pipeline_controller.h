#pragma once
// The one object the panels talk to for everything that does I/O. It owns the worker threads
// (embedded stack, aggregators, stats reader, Kafka watcher, simulator) and relays their
// queued signals. Lives on the UI thread; none of its methods block.

#include "app_settings.h"
#include "metatypes.h"
#include "workers.h"

#include <QObject>
#include <QThread>

#include <memory>
#include <vector>

namespace pb::gui {

class PipelineController : public QObject {
    Q_OBJECT
public:
    explicit PipelineController(QObject *parent = nullptr);
    ~PipelineController() override;

    // (Re)starts everything for these settings: the embedded stack first when embedded.
    void apply(const AppSettings &settings);
    const AppSettings &settings() const { return settings_; }
    bool ready() const { return ready_; }

    void startAggregators(int count);
    void stopAggregators();
    int aggregatorCount() const { return static_cast<int>(aggregators_.size()); }
    QList<AggregatorStatus> aggregatorStatuses() const; // cheap: reads memory only

    void startSimulator(const kafka::SimulatorOptions &options);
    void stopSimulator();
    bool simulatorRunning() const { return simulatorRunning_; }

    void lookupUser(const QString &userId);

    // "Embedded — Kafka 127.0.0.1:40123, Redis 127.0.0.1:38211"
    QString modeDescription() const;
    kafka::KafkaSettings kafkaSettings() const { return kafka_; }
    redis::Endpoint redisEndpoint() const { return redis_; }

    // For the outage tests and operators: stop / start the embedded redis-server.
    void stopEmbeddedRedis();
    void startEmbeddedRedis();

Q_SIGNALS:
    void endpointsReady(QString description);
    void stackFailed(QString message);
    void snapshotReady(pb::Snapshot snapshot);
    void redisStatus(bool up, QString message);
    void kafkaStatus(pb::gui::KafkaStatus status);
    void simulatorProgress(pb::kafka::SimulatorStats stats);
    void simulatorFinished(pb::kafka::SimulatorStats stats, QString error);
    void aggregatorStopped(QString error);
    void userActivityReady(pb::UserActivity activity);
    void userLookupFailed(QString message);

private:
    // The worker is deleted here, on the UI thread, once its thread has finished; never by that
    // thread: an aggregator that gives up (a fatal error, e.g. NOAUTH) ends its thread while the
    // UI still reads its status and may ask it to stop.
    struct AggregatorThread {
        AggregatorThread() = default;
        ~AggregatorThread();
        AggregatorThread(const AggregatorThread &) = delete;
        AggregatorThread &operator=(const AggregatorThread &) = delete;

        QThread thread;
        std::unique_ptr<AggregatorWorker> worker = std::make_unique<AggregatorWorker>();
    };

    void onStackStarted(const QString &brokers, const pb::redis::Endpoint &redis);
    void startEngines();
    void stopEngines();
    AggregatorOptions aggregatorOptions() const;

    AppSettings settings_;
    kafka::KafkaSettings kafka_;
    redis::Endpoint redis_;
    bool ready_ = false;
    bool stackStarted_ = false;
    bool simulatorRunning_ = false;

    QThread stackThread_;
    QThread statsThread_;
    QThread kafkaThread_;
    QThread simulatorThread_;
    StackWorker *stack_ = nullptr;
    StatsWorker *stats_ = nullptr;
    KafkaWatcher *kafkaWatcher_ = nullptr;
    SimulatorWorker *simulator_ = nullptr;
    std::vector<std::unique_ptr<AggregatorThread>> aggregators_;
    std::vector<std::unique_ptr<AggregatorThread>> retiring_; // stopping, not yet finished
};

} // namespace pb::gui
