#include "kafka_client.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace pb::kafka {

std::pair<std::string, std::string> parseProperty(std::string_view text)
{
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0)
        throw Error(ErrorKind::Fatal, "bad Kafka property (" + std::to_string(text.size()) +
                                          " characters, not shown): expected key=value, e.g. "
                                          "security.protocol=SASL_SSL");
    return {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

bool isSecretProperty(std::string_view key)
{
    for (const std::string_view secret : {"password", "secret", "ssl.key.pem", "ssl.keystore",
                                          "sasl.oauthbearer.config", "sasl.jaas"})
        if (key.find(secret) != std::string_view::npos)
            return true;
    return false;
}

bool runsCode(std::string_view key)
{
    for (const std::string_view risky : {"sasl.kerberos.kinit.cmd", "plugin.library.paths",
                                         "ssl.engine.location", "ssl.providers", "ssl.engine.id"})
        if (key == risky)
            return true;
    return false;
}

namespace {

std::string trimmed(std::string_view text)
{
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r");
    return std::string(text.substr(first, last - first + 1));
}

void setProperty(rd_kafka_conf_t *conf, const std::string &key, const std::string &value)
{
    std::array<char, 512> errstr{};
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr.data(), errstr.size()) ==
        RD_KAFKA_CONF_OK)
        return;
    std::string why = errstr.data();
    // librdkafka quotes the value it refused: not a secret's.
    if (isSecretProperty(key) && !value.empty())
        for (auto at = why.find(value); at != std::string::npos; at = why.find(value, at))
            why.replace(at, value.size(), "***");
    throw Error(ErrorKind::Fatal, "Kafka setting " + key + " rejected: " + why);
}

void onClientError(rd_kafka_t *, int err, const char *reason, void *opaque)
{
    if (auto *tracker = static_cast<ErrorTracker *>(opaque))
        tracker->record(err, reason);
}

} // namespace

ConfPtr makeConf(const KafkaSettings &settings, const Properties &overrides,
                 const Properties &tuning)
{
    if (settings.brokers.empty())
        throw Error(ErrorKind::Fatal, "no Kafka bootstrap servers given: pass --brokers host:port");
    ConfPtr conf(rd_kafka_conf_new());
    setProperty(conf.get(), "bootstrap.servers", settings.brokers);
    setProperty(conf.get(), "client.id", "pulseboard");
    // A broker that never answers must not hang us: fail sockets and requests in seconds.
    setProperty(conf.get(), "socket.connection.setup.timeout.ms", "5000");
    setProperty(conf.get(), "reconnect.backoff.max.ms", "2000");
    // librdkafka's own log lines would bury our one clear message: errors reach us through
    // error_cb (ErrorTracker) and are reported there.
    rd_kafka_conf_set_log_cb(conf.get(),
                             [](const rd_kafka_t *, int, const char *, const char *) {});
    for (const auto &[key, value] : tuning)
        setProperty(conf.get(), key, value);
    for (const auto &[key, value] : settings.properties)
        setProperty(conf.get(), key, value);
    for (const auto &[key, value] : overrides)
        setProperty(conf.get(), key, value);
    return conf;
}

Properties parseProperties(std::string_view text, const std::string &name, bool allowCode,
                           bool &holdsSecret)
{
    Properties properties;
    int number = 0;
    for (std::size_t start = 0; start < text.size();) {
        const auto newline = std::min(text.find('\n', start), text.size());
        const auto line = trimmed(text.substr(start, newline - start));
        start = newline + 1;
        ++number;
        if (line.empty() || line.front() == '#')
            continue;
        const auto where = name + ", line " + std::to_string(number);
        const auto eq = line.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(ErrorKind::Fatal,
                        where + ": expected key=value (e.g. security.protocol=SASL_SSL)");
        auto key = trimmed(std::string_view(line).substr(0, eq));
        auto value = trimmed(std::string_view(line).substr(eq + 1));
        if (runsCode(key) && !allowCode)
            throw Error(ErrorKind::Fatal,
                        where + ": " + key +
                            " makes librdkafka run a program or load code; from a file it is "
                            "taken only with --kafka-config-allow-code (anyone who can write "
                            "the file could run code as Pulseboard)");
        holdsSecret = holdsSecret || isSecretProperty(key);
        properties.emplace_back(std::move(key), std::move(value));
    }
    return properties;
}

Properties readPropertiesFile(const std::string &path, bool allowCode,
                              std::vector<std::string> &warnings)
{
    std::ifstream file(path, std::ios::binary);
    if (!file)
        throw Error(ErrorKind::Fatal, "cannot read the Kafka configuration file " + path + ": " +
                                          std::strerror(errno));
    const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    bool secrets = false;
    auto properties = parseProperties(text, path, allowCode, secrets);
    struct stat info {};
    if (secrets && ::stat(path.c_str(), &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO)))
        warnings.push_back(path + " holds a secret and other users may read it: chmod 600 " + path);
    return properties;
}

std::vector<std::string> securityWarnings(const KafkaSettings &settings)
{
    std::string protocol = "plaintext";
    std::string mechanism = "GSSAPI";
    bool verifyOff = false;
    for (const auto &[key, value] : settings.properties) {
        std::string lower = value;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (key == "security.protocol")
            protocol = lower;
        else if (key == "sasl.mechanism" || key == "sasl.mechanisms")
            mechanism = value;
        else if (key == "enable.ssl.certificate.verification" && (lower == "false" || lower == "0"))
            verifyOff = true;
        else if (key == "ssl.endpoint.identification.algorithm" && lower == "none")
            verifyOff = true;
    }
    std::vector<std::string> warnings;
    if (protocol == "sasl_plaintext")
        warnings.push_back("Kafka: SASL " + mechanism + " over plaintext: " +
                           (mechanism == "PLAIN" ? "the password crosses the network readable by "
                                                   "anyone on the path"
                                                 : "everything after the login is unencrypted") +
                           "; use security.protocol=SASL_SSL");
    if (verifyOff && (protocol == "ssl" || protocol == "sasl_ssl"))
        warnings.push_back("Kafka: the broker's certificate or host name is not checked: anyone "
                           "on the path can pose as the broker");
    return warnings;
}

Properties backlogFetchTuning()
{
    // librdkafka stops fetching a partition whenever the local queue holds queued.min.messages
    // (100,000; with the high-level consumer, all partitions together) or
    // queued.max.messages.kbytes, and before 2.1 it looks again only a second later. One fetch
    // over many partitions brings more than 100,000 messages, so a consumer catching up with a
    // backlog idled most of the time (measured here: 0.19 M events/s instead of 1.2 M). A full
    // queue has to hold about a second of work to hide that pause: up to 1 M messages, 128 MB
    // of payload. That costs memory only while there is a backlog (about 450 MB RSS at 1 M small
    // messages); --kafka-opt queued.min.messages=... trades it back.
    Properties tuning{{"queued.min.messages", "1000000"},
                      {"queued.max.messages.kbytes", "131072"},
                      // An idle partition answers within 50 ms, not librdkafka's 500.
                      {"fetch.wait.max.ms", "50"}};
    // librdkafka 2.1 made that pause configurable: short, a full queue resumes at once.
    if (rd_kafka_version() >= 0x020100ff)
        tuning.emplace_back("fetch.queue.backoff.ms", "20");
    return tuning;
}

bool isRetriable(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        return false;
    default:
        return true;
    }
}

ErrorCause causeOf(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
        return ErrorCause::Unreachable;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return ErrorCause::Timeout;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        return ErrorCause::Auth;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        return ErrorCause::Permission;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return ErrorCause::TopicMissing;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
        return ErrorCause::Config;
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
        return ErrorCause::Protocol;
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        return ErrorCause::Busy;
    default:
        return ErrorCause::Unknown;
    }
}

pb::Error kafkaError(rd_kafka_resp_err_t err, std::string_view context)
{
    std::string message(context);
    message += ": ";
    message += rd_kafka_err2str(err);
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        message += " (check the SASL mechanism, username and password)";
        break;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        message += " (the Kafka user lacks an ACL for this topic or group)";
        break;
    case RD_KAFKA_RESP_ERR__SSL:
        message += " (check the SSL CA file and that the broker speaks SSL on this port)";
        break;
    default:
        break;
    }
    return {isRetriable(err) ? ErrorKind::Retriable : ErrorKind::Fatal,
            message,
            {causeOf(err), ErrorSystem::Kafka, "Kafka", rd_kafka_err2str(err)}};
}

pb::Error kafkaError(const rd_kafka_error_t *err, std::string_view context)
{
    const auto code = rd_kafka_error_code(err);
    std::string message(context);
    message += ": ";
    message += rd_kafka_error_string(err);
    const bool retriable = !rd_kafka_error_is_fatal(err) && isRetriable(code);
    return {retriable ? ErrorKind::Retriable : ErrorKind::Fatal,
            message,
            {causeOf(code), ErrorSystem::Kafka, "Kafka", rd_kafka_error_string(err)}};
}

Diagnosis diagnose(rd_kafka_resp_err_t err, std::string_view reason)
{
    const auto has = [&](std::string_view part) {
        return reason.find(part) != std::string_view::npos;
    };
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
        err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED) {
        if (has("not supported by broker") || has("Unsupported SASL mechanism"))
            return {ErrorCause::Config, true,
                    "the broker does not offer this SASL mechanism on this listener",
                    "check sasl.mechanism, and that security.protocol (SASL_SSL or "
                    "SASL_PLAINTEXT) matches the listener"};
        return {ErrorCause::Auth, true, "wrong user name, password or SASL mechanism",
                "check sasl.username, the password (PULSEBOARD_KAFKA_PASSWORD or "
                "--kafka-config) and sasl.mechanism"};
    }
    if (err == RD_KAFKA_RESP_ERR__SSL || has("SSL_HANDSHAKE") || has("SSL handshake")) {
        if (has("certificate verify failed"))
            return {ErrorCause::Config, true,
                    "the broker's certificate is not trusted (or not issued for this host)",
                    "pass --kafka-opt ssl.ca.location=FILE with the CA that signed it"};
        return {ErrorCause::Protocol, true,
                "the TLS (SSL) handshake failed: the server does not speak TLS on this port",
                "use the broker's SSL listener, or security.protocol=PLAINTEXT (SASL_PLAINTEXT "
                "with SASL) for a plain one"};
    }
    if (has("SSL listener?"))
        return {ErrorCause::Protocol, false,
                "the server hung up at the first Kafka request: a TLS (SSL) listener, or not a "
                "Kafka broker",
                "for a TLS listener pass --kafka-opt security.protocol=SSL (SASL_SSL with "
                "SASL); otherwise check the port in --brokers"};
    if (err == RD_KAFKA_RESP_ERR__BAD_MSG || has("Invalid response size") ||
        has("Protocol parse failure"))
        return {ErrorCause::Protocol, true,
                "it does not speak the Kafka protocol (an HTTP server, or another service on "
                "this port?)",
                "check the port in --brokers"};
    if (has("timed out in state APIVERSION_QUERY") || has("timed out in state AUTH"))
        return {ErrorCause::Timeout, false,
                "it accepted the connection but never answered the first Kafka request: not a "
                "Kafka broker, or a stalled one",
                "check the port in --brokers"};
    if (err == RD_KAFKA_RESP_ERR__RESOLVE || has("Failed to resolve"))
        return {ErrorCause::Unreachable, false, "cannot resolve the host name",
                "check the host names in --brokers"};
    if (has("Connection refused"))
        return {ErrorCause::Unreachable, false, "connection refused: no broker listens there",
                "check the host and port in --brokers, and that the broker runs"};
    if (has("timed out in state CONNECT") || has("Connection timed out"))
        return {ErrorCause::Unreachable, false,
                "no connection: a wrong address, a host that is down, or a firewall that drops "
                "the packets",
                "check the host and port in --brokers and any firewall in between"};
    return {causeOf(err), !isRetriable(err), {}, {}};
}

void ErrorTracker::record(int err, const char *reason)
{
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    // Transport errors to single brokers are routine while a cluster starts; keep the most
    // telling reason (an authentication failure beats a refused connection).
    const bool summary =
        code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && tellingError != RD_KAFKA_RESP_ERR_NO_ERROR;
    const bool outranked = tellingError == RD_KAFKA_RESP_ERR__AUTHENTICATION &&
                           code != RD_KAFKA_RESP_ERR__AUTHENTICATION &&
                           code != RD_KAFKA_RESP_ERR__FATAL;
    if (!summary && !outranked) {
        tellingError = code;
        tellingReason = reason ? reason : "";
    }
    if (lastError == RD_KAFKA_RESP_ERR__AUTHENTICATION &&
        code != RD_KAFKA_RESP_ERR__AUTHENTICATION && code != RD_KAFKA_RESP_ERR__FATAL)
        return;
    lastError = code;
    lastReason = reason ? reason : "";
    if (code == RD_KAFKA_RESP_ERR__FATAL)
        fatal = true;
}

void installErrorTracker(rd_kafka_conf_t *conf, ErrorTracker *tracker)
{
    rd_kafka_conf_set_opaque(conf, tracker);
    rd_kafka_conf_set_error_cb(conf, &onClientError);
}

const TopicMetadata *ClusterMetadata::find(std::string_view topic) const
{
    for (const auto &t : topics)
        if (t.name == topic)
            return &t;
    return nullptr;
}

ClusterMetadata probe(rd_kafka_t *rk, const KafkaSettings &settings,
                      std::chrono::milliseconds timeout, const ErrorTracker *tracker)
{
    using Clock = std::chrono::steady_clock;
    const auto started = Clock::now();
    const auto deadline = started + timeout;
    // Brokers that refuse connections or names that do not resolve will not get better while
    // we wait: give up on them after a few seconds rather than the whole timeout.
    constexpr auto kHopeless = std::chrono::seconds(3);
    const rd_kafka_metadata_t *raw = nullptr;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            break;
        // all_topics=1: asking for one topic by name would auto-create it on some brokers.
        err = rd_kafka_metadata(rk, 1, nullptr, &raw,
                                static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        // Serve error_cb so the tracker learns why (consumers get it through their queue).
        if (rd_kafka_type(rk) == RD_KAFKA_PRODUCER)
            rd_kafka_poll(rk, 0);
        else
            MessagePtr(rd_kafka_consumer_poll(rk, 0));
        if (tracker && (tracker->fatal || !isRetriable(tracker->lastError)))
            break;
        if (tracker && Clock::now() - started >= kHopeless &&
            (tracker->lastError == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
             tracker->lastError == RD_KAFKA_RESP_ERR__TRANSPORT ||
             tracker->lastError == RD_KAFKA_RESP_ERR__RESOLVE ||
             tracker->lastError == RD_KAFKA_RESP_ERR__BAD_MSG))
            break;
    }
    MetadataPtr md(raw);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string why = rd_kafka_err2str(err);
        auto kind = ErrorKind::Retriable;
        Diagnosis diagnosis{ErrorCause::Unreachable, false, {}, {}}; // no metadata: no broker?
        if (tracker && tracker->tellingError != RD_KAFKA_RESP_ERR_NO_ERROR) {
            why = tracker->tellingReason;
            const auto known = diagnose(tracker->tellingError, why);
            if (known.fatal || tracker->fatal)
                kind = ErrorKind::Fatal;
            if (known.cause != ErrorCause::Unknown)
                diagnosis = known;
        }
        const auto waited =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        const auto where = "Kafka at " + settings.brokers;
        const auto head =
            diagnosis.cause == ErrorCause::Unreachable
                ? "cannot reach " + where + (diagnosis.what.empty() ? "" : ": " + diagnosis.what)
            : diagnosis.what.empty() ? "cannot use " + where
                                     : where + ": " + diagnosis.what;
        throw Error(kind,
                    head + " (" + why + ", after " + std::to_string(waited.count()) + " ms): " +
                        (diagnosis.advice.empty() ? "check that a broker runs there and that "
                                                    "the address, port and security settings "
                                                    "are right"
                                                  : diagnosis.advice),
                    {diagnosis.cause, ErrorSystem::Kafka, where,
                     diagnosis.what.empty() ? why : diagnosis.what});
    }
    ClusterMetadata result;
    result.brokers = md->broker_cnt;
    for (int i = 0; i < md->topic_cnt; ++i) {
        const auto &t = md->topics[i];
        if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        result.topics.push_back({t.topic, t.partition_cnt});
    }
    return result;
}

ClusterMetadata probeBrokers(const KafkaSettings &settings, std::chrono::milliseconds timeout)
{
    ErrorTracker tracker;
    auto conf = makeConf(settings);
    installErrorTracker(conf.get(), &tracker);
    std::array<char, 512> errstr{};
    HandlePtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size()));
    if (!rk)
        throw Error(ErrorKind::Fatal,
                    "cannot create a Kafka client: " + std::string(errstr.data()));
    (void)conf.release(); // rd_kafka_new took ownership
    return probe(rk.get(), settings, timeout, &tracker);
}

const TopicMetadata &requireTopic(const ClusterMetadata &metadata, const KafkaSettings &settings,
                                  const std::string &topic)
{
    if (const auto *found = metadata.find(topic))
        return *found;
    throw Error(
        ErrorKind::Fatal,
        "topic " + topic + " does not exist at " + settings.brokers +
            ": create it (pulseboard-cli create-topic) or check --topic",
        {ErrorCause::TopicMissing, ErrorSystem::Kafka, "Kafka at " + settings.brokers, topic});
}

} // namespace pb::kafka
