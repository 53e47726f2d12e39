#pragma once
// Faults for the embedded broker, in a small language a person can type ("down 2", "rtt 1 500ms",
// "errors Fetch 5") and a random schedule can draw from, so a demo and a test inject the same
// faults the same way. No I/O of its own: the callers read lines and print descriptions.

#include "embedded_broker.h"

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace pb::kafka {

struct BrokerFault {
    enum class Kind {
        Down,          // broker: drops its connections, refuses new ones
        Up,            // broker: back
        RoundTripTime, // broker, duration: added to each of its responses (0 removes it)
        Leader,        // name = topic, partition, broker: the partition's leader moves there
        Coordinator,   // name = group, broker: the group's coordinator moves there
        RequestErrors, // apiKey, count, error: the next `count` such requests fail
        Heal,          // every broker up, no added time, no pending request errors
        Wait,          // duration: a pause in a script (the caller's clock)
    };
    Kind kind = Kind::Heal;
    int broker = 0;
    std::string name;
    int partition = 0;
    std::chrono::milliseconds duration{0};
    int apiKey = 0;
    int count = 0;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

// One line of the language, without comments. Throws pb::Error (a Config error that says what
// is wrong and shows the syntax).
BrokerFault parseBrokerFault(std::string_view line);
// "broker 2 down", "Fetch: the next 5 requests fail with NOT_LEADER_FOR_PARTITION", ...
std::string describe(const BrokerFault &fault);
// The language, one command per line, for --help and the "help" command.
std::string_view brokerFaultSyntax();

class FaultInjector {
public:
    explicit FaultInjector(EmbeddedBroker &broker);

    // Throws pb::Error when the broker refuses (an unknown broker, topic or partition). A Wait
    // does nothing here.
    void apply(const BrokerFault &fault);
    void heal();

    // A fault drawn at random over the broker's brokers, topics and partitions, and the
    // request errors that make clients retry, rebalance or find the coordinator again; `group`
    // is the consumer group whose coordinator may move; leaders move in `topic` and its .dlq
    // (empty: in any topic).
    BrokerFault random(std::mt19937_64 &rng, const std::string &group,
                       const std::string &topic = {}) const;
    // One step of a random schedule: heals the last fault, then applies and returns a new one.
    BrokerFault next(std::mt19937_64 &rng, const std::string &group, const std::string &topic = {});

private:
    EmbeddedBroker &broker_;
};

} // namespace pb::kafka
