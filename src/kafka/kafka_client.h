#pragma once
// What every Kafka client of ours shares: settings, configuration, error translation and the
// reachability probe that turns "librdkafka retries forever" into a clear error within seconds.

#include "core/error.h"
#include "rdkafka_handles.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::kafka {

struct KafkaSettings {
    std::string brokers = "localhost:9092"; // bootstrap.servers
    // Passed through to librdkafka as they are: security.protocol, sasl.mechanism,
    // sasl.username, sasl.password, ssl.ca.location, ...
    std::vector<std::pair<std::string, std::string>> properties;
};

// "key=value" -> pair; throws a Fatal Error naming the expected form (never echoing a value:
// it may be a password).
std::pair<std::string, std::string> parseProperty(std::string_view text);

using Properties = std::vector<std::pair<std::string, std::string>>;

// Properties that hold secrets (passwords, private keys, OAuth secrets): their values are never
// shown in an error or a log line.
bool isSecretProperty(std::string_view key);
// Properties that make librdkafka run a program or load code (sasl.kerberos.kinit.cmd,
// plugin.library.paths, ssl.engine.location, ssl.providers): taken from the command line, but
// from a file only when the user says so, since whoever can write that file could run code as
// the aggregator.
bool runsCode(std::string_view key);

// A librdkafka properties file, as kcat -F reads: key=value lines, # comments, blank lines.
// Throws a Fatal Error naming the file and line (never a value). Properties that run code are
// refused unless allowCode. `warnings` gets advice, e.g. a file holding a password that other
// users may read.
Properties readPropertiesFile(const std::string &path, bool allowCode,
                              std::vector<std::string> &warnings);
// Its parsing, without the file: `name` stands for the file in errors; holdsSecret is set when
// a property holds a secret.
Properties parseProperties(std::string_view text, const std::string &name, bool allowCode,
                           bool &holdsSecret);

// What an operator should hear about settings that work but expose something: a SASL password
// sent over plaintext, certificate checks turned off.
std::vector<std::string> securityWarnings(const KafkaSettings &settings);

// Builds a configuration from, in order: our defaults, `tuning`, the user's properties and the
// client-specific `overrides` (which the client relies on, so they come last). Throws a Fatal
// Error naming the property librdkafka rejected.
ConfPtr makeConf(const KafkaSettings &settings, const Properties &overrides = {},
                 const Properties &tuning = {});

// Fetch settings for a consumer that has to catch up with a backlog (the aggregator, and the
// benchmark's bare consumer it is measured against). Pass as makeConf's `tuning`.
Properties backlogFetchTuning();

// The one translation of librdkafka error codes into pb::Error.
pb::Error kafkaError(rd_kafka_resp_err_t err, std::string_view context);
pb::Error kafkaError(const rd_kafka_error_t *err, std::string_view context);
bool isRetriable(rd_kafka_resp_err_t err);
// What kind of failure a librdkafka error code is (ErrorCause::Unknown when it says nothing).
ErrorCause causeOf(rd_kafka_resp_err_t err);

// What a client-level failure means. librdkafka's code is often coarse (a transport error) where
// its reason text says more ("Invalid response size": the server is not Kafka), so both are read.
// Pure; the probe's message is built from it.
struct Diagnosis {
    ErrorCause cause = ErrorCause::Unknown;
    bool fatal = false;
    std::string what;   // "it does not speak the Kafka protocol"; empty: nothing more to say
    std::string advice; // with the CLI's flags; empty: the generic advice
};
Diagnosis diagnose(rd_kafka_resp_err_t err, std::string_view reason);

// Remembers the last client-level error librdkafka reported through error_cb (all brokers down,
// authentication failure, ...) so a failed probe can say why. Install with installErrorTracker.
struct ErrorTracker {
    rd_kafka_resp_err_t lastError = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string lastReason;
    // The most telling one so far: a summary ("1/1 brokers are down") does not replace the
    // failure behind it, nor does a refused connection replace a refused login.
    rd_kafka_resp_err_t tellingError = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string tellingReason;
    bool fatal = false;

    void record(int err, const char *reason);
};
void installErrorTracker(rd_kafka_conf_t *conf, ErrorTracker *tracker);

struct TopicMetadata {
    std::string name;
    int partitions = 0;
};
struct ClusterMetadata {
    int brokers = 0;
    std::vector<TopicMetadata> topics;
    const TopicMetadata *find(std::string_view topic) const;
};

// A metadata request with a deadline: proves the brokers answer. Throws a Retriable Error that
// names the bootstrap servers and what to check when they do not answer in time.
ClusterMetadata probe(rd_kafka_t *rk, const KafkaSettings &settings,
                      std::chrono::milliseconds timeout, const ErrorTracker *tracker = nullptr);

// Creates a short-lived client just to run probe(): the GUI's "Test connection".
ClusterMetadata probeBrokers(const KafkaSettings &settings, std::chrono::milliseconds timeout);

// The topic from the metadata, or a Fatal TopicMissing Error that says to create it.
const TopicMetadata &requireTopic(const ClusterMetadata &metadata, const KafkaSettings &settings,
                                  const std::string &topic);

} // namespace pb::kafka
