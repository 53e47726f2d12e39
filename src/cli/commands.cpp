#include "commands.h"

#include "alerts/delivery.h"
#include "alerts/rules.h"
#include "core/clock.h"
#include "core/csv.h"
#include "core/duration.h"
#include "core/event.h"
#include "core/visible_text.h"
#include "kafka/broker_faults.h"
#include "kafka/embedded_broker.h"
#include "kafka/simulator.h"
#include "kafka/topic_admin.h"
#include "metrics/metrics_server.h"
#include "pipeline/aggregator.h"
#include "pipeline/embedded_stack.h"
#include "pipeline/stop_signals.h"
#include "redis/acl.h"
#include "redis/batch_writer.h"
#include "redis/server_check.h"
#include "redis/stats_reader.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTimer>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <poll.h>
#include <unistd.h>

namespace pb::cli {

namespace {

using namespace std::chrono_literals;

// A bad flag or value: exit status 2 with the message.
struct UsageError {
    std::string message;
};

std::string str(const QString &s)
{
    return s.toStdString();
}

class Flags {
public:
    Flags(const QString &command, const QString &description)
        : command_(command)
    {
        parser_.setApplicationDescription(description);
        parser_.addHelpOption();
        add("config",
            "Read flags from FILE first: one per line, name = value (or a bare name for a "
            "switch), # comments; flags on the command line win. E.g. "
            "/etc/pulseboard/aggregator.conf under systemd.",
            "file");
    }

    void add(const QString &name, const QString &help, const QString &valueName = {},
             const QString &fallback = {})
    {
        QCommandLineOption option(name, help, valueName, fallback);
        parser_.addOption(option);
    }

    void addKafka()
    {
        add("brokers", "Kafka bootstrap servers.", "host:port[,...]", "localhost:9092");
        add("kafka-opt",
            "A librdkafka property passed through, e.g. security.protocol=SASL_SSL; repeatable. "
            "Not for secrets (ps shows them): use --kafka-config or PULSEBOARD_KAFKA_PASSWORD.",
            "key=value");
        add("kafka-config",
            "A librdkafka properties file (key=value lines, as kcat -F reads), e.g. with "
            "sasl.username and sasl.password; --kafka-opt wins over it.",
            "file");
        add("kafka-config-allow-code",
            "Let --kafka-config set properties that run programs or load code "
            "(sasl.kerberos.kinit.cmd, plugin.library.paths, ssl.engine.location, ...).");
    }
    void addTopic() { add("topic", "Kafka topic.", "name", "user-activity"); }
    void addRedis()
    {
        add("redis",
            "Redis server: host:port, or a URL redis://[user@]host[:port][/db] (rediss:// for "
            "TLS). Never put a password in it: use PULSEBOARD_REDIS_PASSWORD.",
            "address", "127.0.0.1:6379");
        add("redis-password",
            "Redis password; it shows in ps: prefer the PULSEBOARD_REDIS_PASSWORD environment "
            "variable.",
            "password");
        add("redis-user", "Redis ACL user name (Redis 6+).", "name");
        add("redis-db", "Redis database number.", "n", "0");
        add("redis-tls", "Talk TLS to Redis (as rediss:// does) at a host:port address.");
        add("redis-tls-ca",
            "CA certificate(s) (PEM) that signed the Redis server's certificate (default: the "
            "system CA store).",
            "file");
        add("redis-tls-cert", "Client certificate (PEM), for a server with tls-auth-clients.",
            "file");
        add("redis-tls-key", "Private key (PEM, unencrypted) of --redis-tls-cert.", "file");
        add("redis-tls-server-name",
            "Name to expect in the server's certificate, and to send as SNI (default: the "
            "host).",
            "name");
        add("redis-tls-insecure",
            "Do not verify the server's certificate or name (testing only: anyone in between "
            "can read and change the traffic).");
        add("namespace", "Prefix of Pulseboard's Redis keys.", "ns", "pulseboard");
    }

    // Returns false after printing help (exit 0); throws UsageError on bad flags.
    bool parse(const QStringList &args)
    {
        QStringList full = args;
        full.removeAt(1); // the command name
        full[0] = "pulseboard-cli " + command_;
        if (!parser_.parse(full))
            throw UsageError{str(parser_.errorText())};
        if (parser_.isSet("config")) {
            // The file's flags go first, so that the command line's (read later) win.
            auto fromFile = configFlags(parser_.value("config"));
            fromFile.prepend(full[0]);
            fromFile.append(full.mid(1));
            if (!parser_.parse(fromFile))
                throw UsageError{str(parser_.errorText()) + " (in " + str(parser_.value("config")) +
                                 " or on the command line)"};
            full = fromFile;
        }
        if (parser_.isSet("help")) {
            // Qt names the executable's path; say the command as a user types it.
            auto text = parser_.helpText();
            text.replace(0, text.indexOf('\n'), "Usage: pulseboard-cli " + command_ + " [options]");
            std::fputs(str(text).c_str(), stdout);
            return false;
        }
        if (!parser_.positionalArguments().isEmpty())
            throw UsageError{"unexpected argument '" + str(parser_.positionalArguments()[0]) + "'"};
        return true;
    }

    // name = value lines as --name=value flags. Errors name the file and line, never a value
    // (the file may hold a secret).
    static QStringList configFlags(const QString &path)
    {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
            throw UsageError{"cannot read --config " + str(path) + ": " + str(file.errorString())};
        QStringList flags;
        int number = 0;
        while (!file.atEnd()) {
            ++number;
            const auto line = QString::fromUtf8(file.readLine()).trimmed();
            if (line.isEmpty() || line.startsWith('#'))
                continue;
            const auto eq = line.indexOf('=');
            const auto name = (eq < 0 ? line : line.left(eq)).trimmed();
            const auto value = eq < 0 ? QString() : line.mid(eq + 1).trimmed();
            static const QRegularExpression valid("^[a-z][a-z0-9-]*$");
            if (!valid.match(name).hasMatch() || name == "config" || name == "help")
                throw UsageError{str(path) + " line " + std::to_string(number) +
                                 ": expected name = value with a flag's name (without --)"};
            if (eq < 0 || value == "true")
                flags << "--" + name;
            else if (value != "false")
                flags << "--" + name + "=" + value;
        }
        return flags;
    }

    QString value(const QString &name) const { return parser_.value(name); }
    QStringList values(const QString &name) const { return parser_.values(name); }
    bool isSet(const QString &name) const { return parser_.isSet(name); }

    std::int64_t integer(const QString &name, std::int64_t min, std::int64_t max) const
    {
        bool ok = false;
        const auto v = parser_.value(name).toLongLong(&ok);
        if (!ok || v < min || v > max)
            throw UsageError{"--" + str(name) + " wants a whole number from " +
                             std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                             str(parser_.value(name)) + "'"};
        return v;
    }
    double number(const QString &name, double min) const
    {
        bool ok = false;
        const auto v = parser_.value(name).toDouble(&ok);
        if (!ok || v < min)
            throw UsageError{"--" + str(name) + " wants a number >= " + std::to_string(min) +
                             ", not '" + str(parser_.value(name)) + "'"};
        return v;
    }
    std::chrono::milliseconds duration(const QString &name) const
    {
        const auto parsed = parseDuration(str(parser_.value(name)));
        if (!parsed)
            throw UsageError{"--" + str(name) +
                             " wants a duration like 30s, 5m, 1h or 500ms, not '" +
                             str(parser_.value(name)) + "'"};
        return *parsed;
    }

    kafka::KafkaSettings kafka() const
    {
        kafka::KafkaSettings settings;
        settings.brokers = str(value("brokers"));
        std::vector<std::string> warnings;
        try {
            if (isSet("kafka-config"))
                settings.properties = kafka::readPropertiesFile(
                    str(value("kafka-config")), isSet("kafka-config-allow-code"), warnings);
            for (const auto &property : parser_.values("kafka-opt")) {
                auto parsed = kafka::parseProperty(str(property));
                if (kafka::isSecretProperty(parsed.first))
                    warnings.push_back("--kafka-opt " + parsed.first +
                                       "=... shows the secret to every user of this machine "
                                       "(ps); use --kafka-config FILE or "
                                       "PULSEBOARD_KAFKA_PASSWORD");
                settings.properties.push_back(std::move(parsed));
            }
        } catch (const Error &e) {
            throw UsageError{e.what()};
        }
        const auto given = [&](std::string_view key) {
            return std::any_of(settings.properties.begin(), settings.properties.end(),
                               [&](const auto &p) { return p.first == key; });
        };
        if (const auto password = qEnvironmentVariable("PULSEBOARD_KAFKA_PASSWORD");
            !password.isEmpty() && !given("sasl.password"))
            settings.properties.emplace_back("sasl.password", str(password));
        for (const auto &w : kafka::securityWarnings(settings))
            warnings.push_back(w);
        for (const auto &w : warnings)
            std::fprintf(stderr, "warning: %s\n", visibleText(w).c_str());
        return settings;
    }

    redis::Endpoint redis() const
    {
        redis::Endpoint endpoint;
        try {
            endpoint = redis::parseEndpoint(str(value("redis")));
        } catch (const Error &e) {
            throw UsageError{e.what()};
        }
        endpoint.password = isSet("redis-password")
                                ? str(value("redis-password"))
                                : str(qEnvironmentVariable("PULSEBOARD_REDIS_PASSWORD"));
        // A URL may name the user and database; the flags may too, but not differently.
        const auto user = str(value("redis-user"));
        if (isSet("redis-user") && !endpoint.username.empty() && user != endpoint.username)
            throw UsageError{"--redis-user '" + user + "' contradicts the user in --redis"};
        if (isSet("redis-user"))
            endpoint.username = user;
        if (isSet("redis-db")) {
            const auto db = static_cast<int>(integer("redis-db", 0, 1'000'000));
            if (endpoint.database != 0 && db != endpoint.database)
                throw UsageError{"--redis-db " + std::to_string(db) +
                                 " contradicts the database in --redis"};
            endpoint.database = db;
        }
        auto &tls = endpoint.tls;
        tls.enabled = tls.enabled || isSet("redis-tls");
        tls.caFile = str(value("redis-tls-ca"));
        tls.certFile = str(value("redis-tls-cert"));
        tls.keyFile = str(value("redis-tls-key"));
        tls.serverName = str(value("redis-tls-server-name"));
        tls.insecure = isSet("redis-tls-insecure");
        const bool tlsDetails = !tls.caFile.empty() || !tls.certFile.empty() ||
                                !tls.keyFile.empty() || !tls.serverName.empty() || tls.insecure;
        if (tlsDetails && !tls.enabled)
            throw UsageError{"--redis-tls-* flags need TLS: use a rediss:// address or add "
                             "--redis-tls"};
        if (tls.certFile.empty() != tls.keyFile.empty())
            throw UsageError{"--redis-tls-cert and --redis-tls-key go together"};
        if (tls.insecure) {
            static std::atomic<bool> warned{false}; // redis() may be called more than once
            if (!warned.exchange(true))
                std::fputs("warning: --redis-tls-insecure: the Redis server's certificate is not "
                           "verified; anyone in between can read and change the traffic\n",
                           stderr);
        }
        return endpoint;
    }

    redis::Schema schema() const
    {
        redis::Schema schema;
        schema.ns = str(value("namespace"));
        if (schema.ns.empty() || schema.ns.find_first_of("{}") != std::string::npos)
            throw UsageError{"--namespace must be non-empty and must not contain { or }"};
        return schema;
    }

private:
    QString command_;
    QCommandLineParser parser_;
};

// ---- output -------------------------------------------------------------------------------

double recentRate(const Snapshot &s, int seconds)
{
    std::int64_t sum = 0;
    int n = 0;
    for (auto it = s.perSecond.rbegin(); it != s.perSecond.rend() && n < seconds; ++it, ++n)
        sum += it->count;
    return n ? static_cast<double>(sum) / n : 0.0;
}

void printSnapshot(const Snapshot &s)
{
    std::printf("active users: %lld in the last %llds, %lld in the last 30 min\n",
                static_cast<long long>(s.activeUsers),
                static_cast<long long>(s.activeWindow.count() / 1000),
                static_cast<long long>(s.activeUsers30m));
    std::printf("events: %lld valid, %lld bad, %.1f/s over the last 5 s",
                static_cast<long long>(s.eventsTotal), static_cast<long long>(s.badEventsTotal),
                recentRate(s, 5));
    if (s.lostEvents > 0)
        std::printf(", %lld lost to Kafka retention", static_cast<long long>(s.lostEvents));
    std::printf("\n");
    std::printf("aggregators alive: %zu; consumer lag: %s\n", s.aggregators.size(),
                s.consumerLag < 0 ? "unknown" : std::to_string(s.consumerLag).c_str());
    const auto list = [](const char *title, const std::vector<NamedCount> &items) {
        std::printf("%s:", title);
        if (items.empty())
            std::printf(" none");
        for (const auto &item : items)
            std::printf("\n  %10lld  %s", static_cast<long long>(item.count),
                        visibleText(item.name).c_str());
        std::printf("\n");
    };
    list("top pages, all time", s.topPagesAllTime);
    list("top pages, last hour", s.topPagesLastHour);
    list("actions", s.actions);
    list("bad events by reason", s.badByReason);
}

QJsonArray jsonCounts(const std::vector<NamedCount> &items, const char *nameKey)
{
    QJsonArray array;
    for (const auto &item : items)
        array.append(QJsonObject{{nameKey, QString::fromStdString(item.name)},
                                 {"count", static_cast<qint64>(item.count)}});
    return array;
}

// On stderr, so that --json output stays one object.
void reportSkipped(const SkippedFields &skipped)
{
    if (skipped.count > 0)
        std::fprintf(stderr, "note: %s\n", visibleText(skipped.text()).c_str());
}

QJsonObject jsonSnapshot(const Snapshot &s)
{
    QJsonObject o;
    o["taken_at"] = QString::fromStdString(formatIso8601Ms(s.takenAtMs));
    o["active_users"] = static_cast<qint64>(s.activeUsers);
    o["active_window_seconds"] = static_cast<qint64>(s.activeWindow.count() / 1000);
    o["active_users_30m"] = static_cast<qint64>(s.activeUsers30m);
    o["events_total"] = static_cast<qint64>(s.eventsTotal);
    o["bad_events_total"] = static_cast<qint64>(s.badEventsTotal);
    o["lost_events_total"] = static_cast<qint64>(s.lostEvents);
    o["events_per_second"] = recentRate(s, 5);
    o["top_pages"] = jsonCounts(s.topPagesAllTime, "page");
    o["top_pages_last_hour"] = jsonCounts(s.topPagesLastHour, "page");
    o["actions"] = jsonCounts(s.actions, "action");
    o["bad_events"] = jsonCounts(s.badByReason, "reason");
    o["consumer_lag"] = static_cast<qint64>(s.consumerLag);
    QJsonArray aggregators;
    for (const auto &a : s.aggregators) {
        QJsonArray partitions;
        for (const auto &p : a.partitions)
            partitions.append(QJsonObject{{"topic", QString::fromStdString(p.topic)},
                                          {"partition", p.partition},
                                          {"next_offset", static_cast<qint64>(p.nextOffset)},
                                          {"lag", static_cast<qint64>(p.lag)}});
        aggregators.append(
            QJsonObject{{"id", QString::fromStdString(a.id)},
                        {"group", QString::fromStdString(a.group)},
                        {"events", static_cast<qint64>(a.eventsProcessed)},
                        {"last_beat", QString::fromStdString(formatIso8601Ms(a.lastBeatMs))},
                        {"partitions", partitions}});
    }
    o["aggregators"] = aggregators;
    o["skipped_fields"] = static_cast<qint64>(s.skipped.count);
    return o;
}

// ---- commands -----------------------------------------------------------------------------

// Stops waiting when the stop signal comes: the waits of the broker's fault loops.
class StopWait {
public:
    explicit StopWait(StopSignals &signals)
        : signals_(signals)
    {
        signals_.onStop([this] {
            std::lock_guard lock(mutex_);
            stop_ = true;
            cv_.notify_all();
        });
    }
    ~StopWait() { signals_.onStop({}); }
    StopWait(const StopWait &) = delete;
    StopWait &operator=(const StopWait &) = delete;

    // False when stopped (at once, or during the wait); 0 waits until stopped.
    bool waitFor(std::chrono::milliseconds time)
    {
        std::unique_lock lock(mutex_);
        if (time.count() > 0)
            cv_.wait_for(lock, time, [&] { return stop_; });
        else
            cv_.wait(lock, [&] { return stop_; });
        return !stop_;
    }
    bool stopped()
    {
        std::lock_guard lock(mutex_);
        return stop_;
    }

private:
    StopSignals &signals_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
};

void logFault(const std::string &text)
{
    std::fprintf(stderr, "%s  %s\n", formatIso8601Ms(wallClockMs()).c_str(),
                 visibleText(text).c_str());
}

// A fault command without its comment and blanks; empty when nothing is left.
std::string faultCommand(std::string line)
{
    const auto hash = line.find('#');
    if (hash != std::string::npos)
        line.erase(hash);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
        line.pop_back();
    return line.find_first_not_of(" \t") == std::string::npos ? std::string() : line;
}

// The commands of a fault script, each checked before the broker starts.
std::vector<kafka::BrokerFault> readFaultScript(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        throw UsageError{"cannot read --fault-script " + str(path) + ": " +
                         str(file.errorString())};
    std::vector<kafka::BrokerFault> faults;
    int number = 0;
    while (!file.atEnd()) {
        ++number;
        const auto line = faultCommand(file.readLine().toStdString());
        if (line.empty())
            continue;
        try {
            faults.push_back(kafka::parseBrokerFault(line));
        } catch (const Error &e) {
            throw UsageError{str(path) + " line " + std::to_string(number) + ": " + e.what()};
        }
    }
    return faults;
}

// Applies one fault (a wait waits) and says so; false when stopped during a wait.
bool runFault(const kafka::BrokerFault &fault, kafka::FaultInjector &injector, StopWait &wait)
{
    if (fault.kind == kafka::BrokerFault::Kind::Wait)
        return wait.waitFor(fault.duration);
    injector.apply(fault);
    logFault(describe(fault));
    return true;
}

// Runs fault commands as they are typed on standard input (a wrong one is explained and
// skipped), polled so that a stop signal is seen while nobody types.
void runTypedFaults(kafka::FaultInjector &injector, StopWait &wait)
{
    std::string pending;
    std::array<char, 4096> buffer{};
    while (!wait.stopped()) {
        pollfd in{STDIN_FILENO, POLLIN, 0};
        if (::poll(&in, 1, 200) <= 0)
            continue;
        const auto n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
        if (n <= 0)
            return; // end of input: the broker keeps running
        pending.append(buffer.data(), static_cast<std::size_t>(n));
        for (auto eol = pending.find('\n'); eol != std::string::npos; eol = pending.find('\n')) {
            const auto line = faultCommand(pending.substr(0, eol));
            pending.erase(0, eol + 1);
            if (line.empty())
                continue;
            if (line == "help") {
                std::fprintf(stderr, "%s", std::string(kafka::brokerFaultSyntax()).c_str());
                continue;
            }
            try {
                if (!runFault(kafka::parseBrokerFault(line), injector, wait))
                    return;
            } catch (const Error &e) {
                std::fprintf(stderr, "%s\n", visibleText(e.what()).c_str());
            }
        }
    }
}

// One random fault every `every`, each healed before the next.
void runRandomFaults(kafka::FaultInjector &injector, std::chrono::milliseconds every,
                     std::uint64_t seed, const std::string &group, StopWait &wait)
{
    std::mt19937_64 rng(seed);
    logFault("random faults every " + std::to_string(every.count()) + " ms, seed " +
             std::to_string(seed));
    while (wait.waitFor(every)) {
        logFault(describe(injector.next(rng, group)));
    }
}

int cmdBroker(const QStringList &args, StopSignals &stopSignals)
{
    Flags f("broker",
            "Runs the embedded Kafka-protocol broker (in memory) until stopped. With "
            "several brokers it can inject faults (a broker down, a leader or "
            "coordinator moved, failing requests, a slow broker) to show the pipeline "
            "riding them out:\n" +
                QString::fromUtf8(kafka::brokerFaultSyntax().data(),
                                  static_cast<qsizetype>(kafka::brokerFaultSyntax().size())));
    f.add("topic", "A topic to create (with its .dlq); repeatable.", "name");
    f.add("partitions", "Partitions per topic.", "n", "4");
    f.add("brokers", "Number of brokers in the embedded cluster.", "n", "1");
    f.add("faults", "Inject a random fault every INTERVAL (e.g. 5s), healing the last one first.",
          "interval");
    f.add("fault-seed", "Seed of --faults, to replay a run (default: from the clock).", "n");
    f.add("fault-group", "Consumer group whose coordinator --faults may move.", "name",
          "pulseboard-aggregator");
    f.add("fault-script",
          "Run the fault commands in FILE, one per line (# comments), or type them on standard "
          "input with '-' ('help' lists them).",
          "file");
    if (!f.parse(args))
        return 0;
    kafka::EmbeddedBrokerOptions options;
    options.partitions = static_cast<int>(f.integer("partitions", 1, 10'000));
    options.brokers = static_cast<int>(f.integer("brokers", 1, 16));
    options.topics.clear();
    for (const auto &topic : f.values("topic"))
        options.topics.push_back(str(topic));
    if (options.topics.empty())
        options.topics.push_back("user-activity");
    const auto every = f.isSet("faults") ? f.duration("faults") : 0ms;
    if (f.isSet("faults") && every < 100ms)
        throw UsageError{"--faults wants an interval of at least 100ms"};
    if (f.isSet("faults") && f.isSet("fault-script"))
        throw UsageError{"--faults and --fault-script do not go together: pick one"};
    const auto script = f.isSet("fault-script") && f.value("fault-script") != "-"
                            ? readFaultScript(f.value("fault-script"))
                            : std::vector<kafka::BrokerFault>{};
    const auto seed = f.isSet("fault-seed")
                          ? static_cast<std::uint64_t>(f.integer("fault-seed", 0, INT64_MAX))
                          : static_cast<std::uint64_t>(wallClockMs());
    kafka::EmbeddedBroker broker(options);
    std::printf("%s\n", broker.bootstrapServers().c_str());
    std::fflush(stdout);
    std::fprintf(stderr,
                 "embedded broker at %s: %d broker(s), %zu topic(s) with %d partitions each "
                 "(+ .dlq); in memory, about 5 MB kept per partition; Ctrl-C stops it\n",
                 broker.bootstrapServers().c_str(), options.brokers, options.topics.size(),
                 options.partitions);
    StopWait wait(stopSignals);
    kafka::FaultInjector injector(broker);
    if (f.value("fault-script") == "-") {
        runTypedFaults(injector, wait);
    } else if (f.isSet("fault-script")) {
        for (const auto &fault : script) {
            try {
                if (!runFault(fault, injector, wait))
                    break;
            } catch (const Error &e) { // e.g. a broker this cluster does not have
                std::fprintf(stderr, "%s\n", visibleText(e.what()).c_str());
            }
        }
        logFault("fault script done");
    } else if (every.count() > 0) {
        runRandomFaults(injector, every, seed, str(f.value("fault-group")), wait);
    }
    wait.waitFor(0ms);
    return 0;
}

int cmdCreateTopic(const QStringList &args, StopSignals &)
{
    Flags f("create-topic", "Creates a topic, or reports that it exists with enough partitions.");
    f.addKafka();
    f.addTopic();
    f.add("partitions", "Number of partitions.", "n", "4");
    f.add("replication", "Replication factor (-1: the broker's default).", "n", "-1");
    if (!f.parse(args))
        return 0;
    const auto status = kafka::ensureTopic(f.kafka(), str(f.value("topic")),
                                           static_cast<int>(f.integer("partitions", 1, 100'000)),
                                           static_cast<int>(f.integer("replication", -1, 100)));
    std::printf("topic %s %s with %d partitions\n", status.topic.c_str(),
                status.created ? "created" : "exists", status.partitions);
    return 0;
}

void addGeneratorFlags(Flags &f)
{
    f.add("users", "Size of the user population.", "n", "10000");
    f.add("pages", "Size of the page catalogue (Zipf-like popularity).", "n", "200");
    f.add("zipf", "Zipf exponent of page popularity.", "s", "1.1");
    f.add("actions", "Action mix, name:weight pairs.", "mix",
          "view:70,click:20,add_to_cart:6,purchase:4");
    f.add("seed", "Random seed.", "n", "1");
}

GeneratorOptions generatorOptions(const Flags &f)
{
    GeneratorOptions g;
    g.users = static_cast<int>(f.integer("users", 1, 1'000'000'000));
    g.pages = static_cast<int>(f.integer("pages", 1, 10'000'000));
    g.zipfExponent = f.number("zipf", 0.0);
    g.seed = static_cast<std::uint64_t>(f.integer("seed", 0, INT64_MAX));
    g.actions.clear();
    for (const auto &item : f.value("actions").split(',', Qt::SkipEmptyParts)) {
        const auto parts = item.split(':');
        bool ok = parts.size() == 2;
        const double weight = ok ? parts[1].toDouble(&ok) : 0;
        if (!ok || parts[0].isEmpty())
            throw UsageError{"--actions wants name:weight pairs like view:70,click:30, not '" +
                             str(item) + "'"};
        g.actions.emplace_back(str(parts[0]), weight);
    }
    try {
        EventGenerator::check(g);
    } catch (const std::invalid_argument &e) {
        throw UsageError{e.what()};
    }
    return g;
}

int cmdSimulate(const QStringList &args, StopSignals &stopSignals)
{
    Flags f("simulate", "Produces simulated user-activity events to Kafka.");
    f.addKafka();
    f.addTopic();
    f.add("rate", "Events per second (0: as fast as possible).", "n", "1000");
    f.add("count", "Stop after this many events (0: no limit).", "n", "0");
    f.add("duration", "Stop after this long (0: no limit), e.g. 30s.", "time", "0");
    addGeneratorFlags(f);
    f.add("quiet", "No progress lines.");
    if (!f.parse(args))
        return 0;
    kafka::SimulatorOptions options;
    options.topic = str(f.value("topic"));
    options.rate = f.number("rate", 0.0);
    options.count = f.integer("count", 0, INT64_MAX);
    options.duration = f.duration("duration");
    options.generator = generatorOptions(f);
    options.progressInterval = 1s;
    if (options.count == 0 && options.duration.count() == 0)
        std::fprintf(stderr, "simulating until stopped (Ctrl-C); --count or --duration limit it\n");
    kafka::Simulator simulator(f.kafka(), options);
    stopSignals.onStop([&] { simulator.requestStop(); });
    const bool quiet = f.isSet("quiet");
    const auto stats = simulator.run([&](const kafka::SimulatorStats &s) {
        if (!quiet)
            std::fprintf(stderr, "sent %lld, acknowledged %lld, failed %lld\n",
                         static_cast<long long>(s.sent), static_cast<long long>(s.acknowledged),
                         static_cast<long long>(s.failed));
    });
    stopSignals.onStop({});
    std::printf("sent %lld, acknowledged %lld, failed %lld\n", static_cast<long long>(stats.sent),
                static_cast<long long>(stats.acknowledged), static_cast<long long>(stats.failed));
    if (stats.failed > 0 || stats.acknowledged < stats.sent) {
        std::fprintf(stderr, "simulate: %lld event(s) not acknowledged%s%s\n",
                     static_cast<long long>(stats.sent - stats.acknowledged),
                     stats.lastError.empty() ? "" : ": ", stats.lastError.c_str());
        return 1;
    }
    return 0;
}

void addAggregatorFlags(Flags &f)
{
    f.add("group", "Kafka consumer group.", "name", "pulseboard-aggregator");
    f.add("window", "Active-user window (up to 1h).", "time", "5m");
    f.add("from", "Where a partition with no offset stored in Redis starts: earliest|latest.",
          "where", "earliest");
    f.add("event-time", "Event time: kafka (record timestamp) or payload (its timestamp field).",
          "source", "kafka");
    f.add("flush-interval", "Longest a micro-batch of live events waits before its Redis write.",
          "time", "100ms");
    f.add("catch-up-interval",
          "Longest a micro-batch waits while Kafka holds a backlog (bigger batches catch up "
          "faster).",
          "time", "1s");
    f.add("batch-events", "Most events in one micro-batch.", "n", "1000000");
    f.add("session-timeout",
          "Kafka group session timeout: how soon a dead member's partitions "
          "move on.",
          "time", "6s");
    f.add("static-id",
          "Kafka static membership (group.instance.id): an aggregator restarted with the same id "
          "gets its partitions back at once. Give each instance its own.",
          "id");
    f.add("no-seed-keys",
          "In the default namespace, do not also write the global seed-compatible keys "
          "top_pages and active_users (other namespaces never do).");
    f.add("redis-call-target",
          "How long one batch may keep Redis busy: batches are sized to it from the calls' "
          "own time inside Redis.",
          "time", "150ms");
    f.add("max-batch-bytes",
          "Most payload bytes in one batch: keeps each Redis call far below Redis's "
          "client-query-buffer-limit whatever the events' size.",
          "n", QString::number(AggregatorOptions{}.maxBatchBytes));
    f.add("max-batch-fields",
          "Most distinct Redis fields (users, pages, ... per minute) in one batch, whatever "
          "--redis-call-target allows.",
          "n", QString::number(AggregatorOptions{}.maxBatchFields));
    f.add("max-pages",
          "Most distinct pages Redis keeps all-time and in the last hour (a tenth of it per "
          "minute); the least viewed beyond it add up under \"(other)\". Bounds Redis's memory "
          "and read time whatever producers send.",
          "n", QString::number(AggregationOptions{}.maxPages));
    f.add("max-actions",
          "Most distinct actions Redis keeps; the rarest beyond it add up under \"(other)\".", "n",
          QString::number(AggregationOptions{}.maxActions));
}

AggregatorOptions aggregatorOptions(const Flags &f)
{
    AggregatorOptions o;
    o.kafka = f.kafka();
    o.topic = str(f.value("topic"));
    o.group = str(f.value("group"));
    o.redis = f.redis();
    o.schema = f.schema();
    o.schema.seedKeys = !f.isSet("no-seed-keys");
    o.aggregation.activeWindow = f.duration("window");
    if (o.aggregation.activeWindow < 1s || o.aggregation.activeWindow > 1h)
        throw UsageError{"--window must be between 1s and 1h"};
    const auto from = f.value("from");
    if (from != "earliest" && from != "latest")
        throw UsageError{"--from wants earliest or latest, not '" + str(from) + "'"};
    o.startFrom = from == "earliest" ? StartFrom::Earliest : StartFrom::Latest;
    const auto time = f.value("event-time");
    if (time != "kafka" && time != "payload")
        throw UsageError{"--event-time wants kafka or payload, not '" + str(time) + "'"};
    o.aggregation.timeSource =
        time == "kafka" ? EventTimeSource::KafkaTimestamp : EventTimeSource::Payload;
    o.flushInterval = f.duration("flush-interval");
    if (o.flushInterval < 1ms || o.flushInterval > 10s)
        throw UsageError{"--flush-interval must be between 1ms and 10s"};
    o.catchUpInterval = f.duration("catch-up-interval");
    if (o.catchUpInterval < o.flushInterval || o.catchUpInterval > 60s)
        throw UsageError{"--catch-up-interval must be between --flush-interval and 60s"};
    o.maxBatchEvents = f.integer("batch-events", 1, 10'000'000);
    o.sessionTimeout = f.duration("session-timeout");
    if (o.sessionTimeout < 1s || o.sessionTimeout > 300s)
        throw UsageError{"--session-timeout must be between 1s and 300s"};
    o.staticId = str(f.value("static-id"));
    o.maxBatchFields = f.integer("max-batch-fields", 1000, 10'000'000);
    o.maxBatchBytes = f.integer("max-batch-bytes", 64 << 10, std::int64_t{256} << 20);
    o.aggregation.maxPages = f.integer("max-pages", 10, 100'000'000);
    o.aggregation.maxActions = f.integer("max-actions", 1, 10'000);
    o.redisCallTarget = f.duration("redis-call-target");
    if (o.redisCallTarget < 10ms || o.redisCallTarget > 5s)
        throw UsageError{"--redis-call-target wants a time from 10ms to 5s (Redis answers "
                         "nobody else meanwhile; the client timeout is 5 s)"};
    return o;
}

int cmdAggregate(const QStringList &args, StopSignals &stopSignals)
{
    Flags f("aggregate", "Aggregates events from Kafka into Redis (one consumer-group member).");
    f.addKafka();
    f.addTopic();
    f.addRedis();
    addAggregatorFlags(f);
    f.add("duration", "Stop after this long (0: run until stopped).", "time", "0");
    f.add("idle-exit",
          "Stop once everything in the topic is in Redis and has stayed so for this long "
          "(0: never).",
          "time", "0");
    f.add("metrics",
          "Serve Prometheus metrics at /metrics, and the probes /healthz and /readyz, on this "
          "address, e.g. 127.0.0.1:9464 (off by default; 0.0.0.0:9464 listens on every "
          "interface: no authentication).",
          "ip:port");
    if (!f.parse(args))
        return 0;
    auto options = aggregatorOptions(f);
    RunLimits limits{f.duration("duration"), f.duration("idle-exit")};
    options.onNotice = [](const std::string &message) {
        std::fprintf(stderr, "aggregate: %s\n", message.c_str());
    };
    std::unique_ptr<metrics::MetricsServer> metricsServer;
    if (f.isSet("metrics")) {
        const auto address = metrics::parseListenAddress(str(f.value("metrics")));
        if (!address)
            throw UsageError{"--metrics wants IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464, not '" +
                             str(f.value("metrics")) + "'"};
        // Before the aggregator: /healthz answers, and /readyz says why not, while it connects.
        metricsServer = std::make_unique<metrics::MetricsServer>(
            metrics::MetricsServerOptions{*address, PULSEBOARD_VERSION});
        options.onRedisCall = [server = metricsServer.get()](std::chrono::microseconds t) {
            server->observeRedisCall(t);
        };
        std::fprintf(stderr, "metrics at http://%s/metrics, probes at /healthz and /readyz\n",
                     address->toString().c_str());
    }
    Aggregator aggregator(options);
    // Detached (keeping the last numbers, /readyz 503) before the aggregator goes.
    const auto attached = metricsServer ? metricsServer->attach(aggregator) : nullptr;
    stopSignals.onStop([&] { aggregator.requestStop(); });
    std::fprintf(stderr, "aggregating %s from %s (group %s) into Redis %s as %s\n",
                 options.topic.c_str(), options.kafka.brokers.c_str(), options.group.c_str(),
                 options.redis.toString().c_str(), aggregator.instanceId().c_str());
    aggregator.run(limits);
    stopSignals.onStop({});
    const auto stats = aggregator.stats();
    std::printf("aggregated %lld valid and %lld bad event(s) in %lld batch(es)\n",
                static_cast<long long>(stats.validEvents),
                static_cast<long long>(stats.invalidEvents), static_cast<long long>(stats.batches));
    return 0;
}

redis::StatsOptions statsOptions(const Flags &f)
{
    redis::StatsOptions options;
    options.schema = f.schema();
    options.activeWindow = f.duration("window");
    options.topPages = static_cast<int>(f.integer("top", 1, 10'000));
    return options;
}

int cmdStats(const QStringList &args, StopSignals &)
{
    Flags f("stats", "Prints the current aggregates from Redis.");
    f.addRedis();
    f.add("window", "Active-user window to report.", "time", "5m");
    f.add("top", "How many top pages.", "n", "10");
    f.add("json", "One JSON object instead of text.");
    f.add("user", "Also look up one user's events in the last hour.", "id");
    if (!f.parse(args))
        return 0;
    redis::Connection connection(f.redis());
    connection.connect();
    redis::StatsReader reader(connection, statsOptions(f));
    const auto now = wallClockMs();
    const auto snapshot = reader.read(now);
    std::optional<UserActivity> user;
    if (f.isSet("user")) {
        user = reader.user(str(f.value("user")), now);
        reportSkipped(user->skipped);
    }
    if (f.isSet("json")) {
        auto o = jsonSnapshot(snapshot);
        if (user) {
            o["user"] =
                QJsonObject{{"user_id", QString::fromStdString(user->userId)},
                            {"events_last_hour", static_cast<qint64>(user->eventsLastHour)},
                            {"actions_last_hour", jsonCounts(user->actionsLastHour, "action")}};
        }
        std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
        reportSkipped(snapshot.skipped);
        return 0;
    }
    printSnapshot(snapshot);
    reportSkipped(snapshot.skipped);
    if (user) {
        std::printf("user %s: %lld event(s) in the last hour\n", visibleText(user->userId).c_str(),
                    static_cast<long long>(user->eventsLastHour));
        for (const auto &a : user->actionsLastHour)
            std::printf("  %10lld  %s\n", static_cast<long long>(a.count),
                        visibleText(a.name).c_str());
    }
    return 0;
}

int cmdWatch(const QStringList &args, StopSignals &stopSignals)
{
    Flags f("watch",
            "Reads the aggregates from Redis every --interval, evaluates the dashboard's alert "
            "rules on them, and posts firing and resolved alerts to Alertmanager and/or a "
            "webhook (JSON). Prints each alert on stdout and delivery trouble on stderr.");
    f.addRedis();
    f.add("alert",
          "A rule, METRIC>NUMBER or METRIC<NUMBER, with METRIC one of active_users, "
          "events_per_second, consumer_lag, bad_events_per_second; repeatable.",
          "rule");
    f.add("alertmanager",
          "Alertmanager's base URL, e.g. http://127.0.0.1:9093. With credentials in it, set "
          "PULSEBOARD_ALERTMANAGER_URL instead (ps shows flags).",
          "url");
    f.add("webhook",
          "A URL to POST each firing and resolved alert to. With a token in it, set "
          "PULSEBOARD_WEBHOOK_URL instead.",
          "url");
    f.add("interval", "How often to read and evaluate.", "time", "1s");
    f.add("window", "Active-user window.", "time", "5m");
    f.add("timeout", "Timeout of each delivery request.", "time", "10s");
    f.add("instance", "The instance label of the alerts (default: the host name).", "name");
    if (!f.parse(args))
        return 0;
    std::vector<alerts::AlertRule> rules;
    for (const auto &text : f.values("alert")) {
        QString error;
        const auto rule = alerts::parseRule(text, &error);
        if (!rule)
            throw UsageError{str(error)};
        rules.push_back(*rule);
    }
    if (rules.empty())
        throw UsageError{"give at least one --alert RULE, e.g. --alert 'consumer_lag>10000'"};
    alerts::DeliveryOptions delivery;
    const auto url = [&](const char *flag, const char *variable) {
        const auto text = f.isSet(flag) ? f.value(flag) : qEnvironmentVariable(variable);
        if (const auto problem = alerts::checkTargetUrl(text); !problem.isEmpty())
            throw UsageError{"--" + std::string(flag) + ": " + str(problem)};
        return QUrl(text.trimmed());
    };
    delivery.alertmanager = url("alertmanager", "PULSEBOARD_ALERTMANAGER_URL");
    delivery.webhook = url("webhook", "PULSEBOARD_WEBHOOK_URL");
    delivery.timeout = f.duration("timeout");
    if (f.isSet("instance"))
        delivery.instance = f.value("instance");
    if (!delivery.enabled())
        std::fputs("warning: no --alertmanager or --webhook: alerts are only printed\n", stderr);
    const auto interval = f.duration("interval");
    if (interval < 100ms)
        throw UsageError{"--interval must be at least 100ms"};

    const auto endpoint = f.redis();
    redis::StatsOptions statsOpts;
    statsOpts.schema = f.schema();
    statsOpts.activeWindow = f.duration("window");
    std::unique_ptr<redis::Connection> connection;
    std::unique_ptr<redis::StatsReader> reader;
    alerts::AlertEngine engine;
    engine.setRules(rules);
    alerts::AlertSender sender;
    sender.configure(delivery);
    QString lastDelivery;
    QObject::connect(&sender, &alerts::AlertSender::status, [&](const alerts::DeliveryStatus &s) {
        // Successes are routine; failures and recoveries are said once each.
        const auto line = s.ok ? QString() : s.text;
        if (line != lastDelivery && !line.isEmpty())
            std::fprintf(stderr, "%s  delivery: %s\n", formatIso8601Ms(wallClockMs()).c_str(),
                         visibleText(str(line)).c_str());
        lastDelivery = line;
    });
    std::string lastProblem;
    const auto tick = [&] {
        try {
            if (!reader) {
                connection = std::make_unique<redis::Connection>(endpoint);
                connection->connect();
                reader = std::make_unique<redis::StatsReader>(*connection, statsOpts);
            }
            const auto snapshot = reader->read(wallClockMs());
            if (!lastProblem.empty())
                std::fprintf(stderr, "%s  redis: reading again\n",
                             formatIso8601Ms(wallClockMs()).c_str());
            lastProblem.clear();
            for (const auto &event : engine.evaluate(snapshot)) {
                const auto notice = alerts::noticeFor(event);
                std::printf("%s  %s %s: %s\n", formatIso8601Ms(event.timeMs).c_str(),
                            event.raised ? "FIRING" : "RESOLVED", str(notice.name()).c_str(),
                            str(event.text()).c_str());
                std::fflush(stdout);
                sender.deliver(notice);
            }
        } catch (const Error &e) {
            // Alerts keep their state: an unreadable Redis is reported, not "resolved".
            reader.reset();
            connection.reset();
            if (e.what() != lastProblem)
                std::fprintf(stderr, "%s  redis: %s (retrying every %s)\n",
                             formatIso8601Ms(wallClockMs()).c_str(), e.what(),
                             str(f.value("interval")).c_str());
            lastProblem = e.what();
        }
    };
    QTimer timer;
    timer.setInterval(interval);
    QObject::connect(&timer, &QTimer::timeout, tick);
    stopSignals.onStop([] { QMetaObject::invokeMethod(qApp, &QCoreApplication::quit); });
    std::fprintf(stderr, "watching %zu rule(s) every %s\n", rules.size(),
                 str(f.value("interval")).c_str());
    tick();
    timer.start();
    QCoreApplication::exec();
    stopSignals.onStop({});
    return 0;
}

int cmdExport(const QStringList &args, StopSignals &)
{
    Flags f("export", "Writes the current aggregates to a CSV file (RFC 4180).");
    f.addRedis();
    f.add("window", "Active-user window to report.", "time", "5m");
    f.add("top", "How many top pages.", "n", "10");
    f.add("seconds", "Length of the events-per-second series.", "n", "3600");
    f.add("out", "The CSV file to write.", "file");
    if (!f.parse(args))
        return 0;
    if (!f.isSet("out") || f.value("out").isEmpty())
        throw UsageError{"--out FILE.csv is required"};
    redis::Connection connection(f.redis());
    connection.connect();
    auto options = statsOptions(f);
    options.rateSeconds = static_cast<int>(f.integer("seconds", 1, 3600));
    redis::StatsReader reader(connection, options);
    const auto snapshot = reader.read(wallClockMs());
    const auto out = f.value("out");
    std::ostringstream csv;
    writeSnapshotCsv(snapshot, csv);
    // A temporary file with an unguessable name beside the target, renamed over it when whole:
    // no half-written CSV, and no planted symlink to write through.
    QSaveFile file(out);
    const auto text = csv.str();
    if (!file.open(QIODevice::WriteOnly) ||
        file.write(text.data(), static_cast<qint64>(text.size())) !=
            static_cast<qint64>(text.size()) ||
        !file.commit())
        throw Error(ErrorKind::Fatal, "cannot write " + str(out) + ": " + str(file.errorString()) +
                                          " (check the directory exists and is writable)");
    reportSkipped(snapshot.skipped);
    std::printf("wrote %s\n", visibleText(str(out)).c_str());
    return 0;
}

int cmdRedisSetup(const QStringList &args, StopSignals &)
{
    Flags f("redis-setup",
            "Loads Pulseboard's Redis functions (once per Redis, and after each upgrade), as a "
            "user allowed to: aggregators under a least-privilege user (redis-acl) may not.");
    f.addRedis();
    if (!f.parse(args))
        return 0;
    redis::Connection connection(f.redis());
    connection.connect();
    // Said here too: whoever sets Redis up can fix it before an aggregator refuses to start.
    const auto where = connection.endpoint().toString();
    const auto facts = redis::readServerFacts(connection);
    if (const auto unfit = redis::unfitForAggregates(facts, where))
        std::fprintf(stderr, "warning: %s\n", unfit->what());
    else if (!facts.known)
        std::fprintf(stderr, "warning: %s\n", redis::uncheckedNotice(facts, where).c_str());
    redis::BatchWriter writer(connection, f.schema(), {});
    writer.replaceFunctions();
    std::printf("loaded Pulseboard's functions into Redis at %s\n",
                connection.endpoint().toString().c_str());
    return 0;
}

int cmdRedisAcl(const QStringList &args, StopSignals &)
{
    Flags f("redis-acl", "Prints the ACL SETUSER line that lets one Pulseboard role do its job "
                         "in one namespace and nothing more. Apply it as an admin (redis-cli), "
                         "then give the user a password there, never on a command line.");
    f.add("role", "aggregator (writes through the functions) or reader (dashboard, stats).",
          "role");
    f.add("user", "The Redis user name.", "name");
    f.add("namespace", "Prefix of Pulseboard's Redis keys.", "ns", "pulseboard");
    f.add("no-seed-keys", "Leave out the global seed-compatible keys (top_pages, active_users) "
                          "that the default namespace also writes.");
    if (!f.parse(args))
        return 0;
    const auto role = f.value("role");
    if (role != "aggregator" && role != "reader")
        throw UsageError{"--role wants aggregator or reader"};
    const auto user = str(f.value("user"));
    if (user.empty() ||
        user.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789._-") != std::string::npos)
        throw UsageError{"--user wants a name of letters, digits, '.', '_' and '-'"};
    auto schema = f.schema();
    schema.seedKeys = !f.isSet("no-seed-keys");
    const auto commands = redis::aclCommands(
        role == "reader" ? redis::AclRole::Reader : redis::AclRole::Aggregator, schema, user);
    std::printf("# Pulseboard %s in namespace %s. Then, in an interactive redis-cli: ACL SETUSER "
                "%s >PASSWORD (or #SHA256-of-it). Pulseboard reads the password from "
                "PULSEBOARD_REDIS_PASSWORD with --redis-user %s.\n",
                str(role).c_str(), visibleText(schema.ns).c_str(), user.c_str(), user.c_str());
    if (role == "aggregator")
        std::printf("# The aggregator may not load functions: run pulseboard-cli redis-setup "
                    "as an admin first, and after each upgrade.\n");
    for (const auto &c : commands)
        std::printf("%s\n", redis::commandLine(c).c_str());
    return 0;
}

int cmdDemo(const QStringList &args, StopSignals &stopSignals)
{
    Flags f("demo", "Embedded broker + embedded Redis + simulator + aggregator, with a stats "
                    "line every second.");
    f.add("duration", "Run this long (0: until Ctrl-C).", "time", "0");
    f.add("rate", "Simulated events per second.", "n", "2000");
    f.add("partitions", "Partitions of the embedded topic.", "n", "4");
    f.add("window", "Active-user window.", "time", "5m");
    f.add("brokers", "Brokers in the embedded Kafka cluster.", "n", "1");
    f.add("faults",
          "Inject a random broker fault every INTERVAL (e.g. 5s; see pulseboard-cli broker "
          "--help), to watch the pipeline ride them out.",
          "interval");
    addGeneratorFlags(f);
    if (!f.parse(args))
        return 0;
    const auto duration = f.duration("duration");
    const auto faultEvery = f.isSet("faults") ? f.duration("faults") : 0ms;
    if (f.isSet("faults") && faultEvery < 100ms)
        throw UsageError{"--faults wants an interval of at least 100ms"};
    EmbeddedStackOptions stackOptions;
    stackOptions.broker.partitions = static_cast<int>(f.integer("partitions", 1, 1000));
    stackOptions.broker.brokers = static_cast<int>(f.integer("brokers", 1, 16));
    EmbeddedStack stack(stackOptions);
    std::fprintf(stderr,
                 "embedded Kafka at %s, embedded Redis at %s (its password, readable by you "
                 "only: PULSEBOARD_REDIS_PASSWORD=$(cat %s))\n",
                 stack.kafkaSettings().brokers.c_str(), stack.redisEndpoint().toString().c_str(),
                 stack.redis().passwordFile().c_str());

    AggregatorOptions aggOptions;
    aggOptions.kafka = stack.kafkaSettings();
    aggOptions.redis = stack.redisEndpoint();
    aggOptions.aggregation.activeWindow = f.duration("window");
    aggOptions.sessionTimeout = kEmbeddedSessionTimeout;
    Aggregator aggregator(aggOptions);
    kafka::SimulatorOptions simOptions;
    simOptions.rate = f.number("rate", 0.0);
    simOptions.generator = generatorOptions(f);
    kafka::Simulator simulator(stack.kafkaSettings(), simOptions);

    std::atomic<bool> failed{false};
    std::string failure;
    std::mutex failureMutex;
    const auto guard = [&](auto &&body) {
        return [&, body] {
            try {
                body();
            } catch (const std::exception &e) {
                std::lock_guard lock(failureMutex);
                failure = e.what();
                failed = true;
            }
        };
    };
    std::thread aggregatorThread(guard([&] { aggregator.run(); }));
    std::thread simulatorThread(guard([&] { simulator.run(); }));

    std::atomic<bool> stop{false};
    stopSignals.onStop([&] { stop = true; });
    redis::Connection connection(stack.redisEndpoint());
    redis::StatsOptions statsOptions;
    statsOptions.activeWindow = aggOptions.aggregation.activeWindow;
    statsOptions.topPages = 3;
    redis::StatsReader reader(connection, statsOptions);
    kafka::FaultInjector injector(stack.broker());
    std::mt19937_64 faultRng(static_cast<std::uint64_t>(wallClockMs()));
    int faults = 0;
    const auto started = std::chrono::steady_clock::now();
    auto next = started + 1s;
    auto nextFault = started + faultEvery;
    while (!stop && !failed &&
           (duration.count() == 0 || std::chrono::steady_clock::now() - started < duration)) {
        const auto wake = faultEvery.count() ? std::min(next, nextFault) : next;
        std::this_thread::sleep_until(
            std::min(wake, started + (duration.count() ? duration : 24h * 365)));
        if (faultEvery.count() && std::chrono::steady_clock::now() >= nextFault) {
            nextFault += faultEvery;
            logFault(describe(injector.next(faultRng, aggOptions.group, simOptions.topic)));
            ++faults;
        }
        if (std::chrono::steady_clock::now() < next)
            continue;
        next += 1s;
        try {
            const auto s = reader.read(wallClockMs());
            const auto sim = simulator.stats();
            std::string top;
            for (const auto &p : s.topPagesAllTime)
                top +=
                    (top.empty() ? "" : ", ") + visibleText(p.name) + " " + std::to_string(p.count);
            std::printf("active users %lld | events %lld (%.0f/s) | bad %lld | lag %s | "
                        "sent %lld | top: %s\n",
                        static_cast<long long>(s.activeUsers),
                        static_cast<long long>(s.eventsTotal), recentRate(s, 1),
                        static_cast<long long>(s.badEventsTotal),
                        s.consumerLag < 0 ? "?" : std::to_string(s.consumerLag).c_str(),
                        static_cast<long long>(sim.sent), top.c_str());
            std::fflush(stdout);
        } catch (const Error &e) {
            std::fprintf(stderr, "stats: %s\n", e.what());
        }
    }
    stopSignals.onStop({});
    if (faults > 0)
        injector.heal();
    simulator.requestStop();
    simulatorThread.join();
    aggregator.requestStop();
    aggregatorThread.join();
    if (failed) {
        std::fprintf(stderr, "demo: %s\n", failure.c_str());
        return 1;
    }
    const auto s = reader.read(wallClockMs());
    std::printf("demo finished: %lld events aggregated, %lld active users",
                static_cast<long long>(s.eventsTotal), static_cast<long long>(s.activeUsers));
    if (faults > 0)
        std::printf(", through %d broker faults", faults);
    std::printf("\n");
    return 0;
}

struct CommandInfo {
    const char *name;
    const char *summary;
    int (*run)(const QStringList &, StopSignals &);
};

const std::vector<CommandInfo> &commands()
{
    static const std::vector<CommandInfo> list{
        {"broker", "run the embedded Kafka-protocol broker", cmdBroker},
        {"create-topic", "create a topic with N partitions", cmdCreateTopic},
        {"simulate", "produce simulated events", cmdSimulate},
        {"aggregate", "aggregate events from Kafka into Redis", cmdAggregate},
        {"stats", "print the aggregates (--json for JSON)", cmdStats},
        {"export", "write the aggregates to CSV", cmdExport},
        {"watch", "evaluate alert rules and post alerts to Alertmanager", cmdWatch},
        {"redis-setup", "load Pulseboard's functions into Redis (as an admin)", cmdRedisSetup},
        {"redis-acl", "print least-privilege Redis ACLs for a role", cmdRedisAcl},
        {"demo", "everything embedded, with live numbers", cmdDemo},
    };
    return list;
}

} // namespace

std::string usage()
{
    std::string text = "usage: pulseboard-cli COMMAND [flags]   (pulseboard-cli COMMAND --help)\n\n"
                       "commands:\n";
    for (const auto &c : commands()) {
        std::string name = c.name;
        name.resize(14, ' ');
        text += "  " + name + c.summary + "\n";
    }
    return text;
}

int runCommand(const QStringList &args, StopSignals &stopSignals)
{
    const auto name = str(args[1]);
    for (const auto &c : commands()) {
        if (name != c.name)
            continue;
        try {
            return c.run(args, stopSignals);
        } catch (const UsageError &e) {
            std::fprintf(stderr, "pulseboard-cli %s: %s (see pulseboard-cli %s --help)\n", c.name,
                         e.message.c_str(), c.name);
            return 2;
        } catch (const Error &e) {
            std::fprintf(stderr, "pulseboard-cli %s: %s\n", c.name, e.what());
            return 1;
        } catch (const std::exception &e) { // not ours (e.g. out of memory): one line, exit 1
            std::fprintf(stderr, "pulseboard-cli %s: unexpected error: %s\n", c.name,
                         visibleText(e.what()).c_str());
            return 1;
        }
    }
    std::fprintf(stderr, "pulseboard-cli: unknown command '%s'\n\n%s", name.c_str(),
                 usage().c_str());
    return 2;
}

} // namespace pb::cli
