#include "broker_faults.h"

#include "core/duration.h"
#include "core/error.h"

#include <array>
#include <charconv>
#include <vector>

namespace pb::kafka {

namespace {

// The Kafka APIs a fault can target, each with the error that makes clients do what a real
// cluster makes them do: look up the leader or the coordinator again, or rebalance.
struct Api {
    std::string_view name;
    int key;
    rd_kafka_resp_err_t error;
};
constexpr std::array kApis{
    Api{"Produce", 0, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
    Api{"Fetch", 1, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
    Api{"ListOffsets", 2, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
    Api{"Metadata", 3, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT},
    Api{"OffsetCommit", 8, RD_KAFKA_RESP_ERR_NOT_COORDINATOR},
    Api{"OffsetFetch", 9, RD_KAFKA_RESP_ERR_NOT_COORDINATOR},
    Api{"FindCoordinator", 10, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE},
    Api{"JoinGroup", 11, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS},
    Api{"Heartbeat", 12, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS},
    Api{"LeaveGroup", 13, RD_KAFKA_RESP_ERR_NOT_COORDINATOR},
    Api{"SyncGroup", 14, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS},
    Api{"InitProducerId", 22, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS},
};
// What the random schedule injects: the APIs the pipeline's producers and consumers use.
constexpr std::array<std::string_view, 8> kRandomApis{
    "Produce",   "Fetch",     "ListOffsets", "OffsetCommit",
    "JoinGroup", "Heartbeat", "SyncGroup",   "FindCoordinator"};

constexpr std::string_view kSyntax =
    "  down BROKER                   the broker drops its connections and refuses new ones\n"
    "  up BROKER                     it accepts them again\n"
    "  rtt BROKER TIME               adds TIME (e.g. 500ms) to each of its responses\n"
    "                                (0 removes it)\n"
    "  leader TOPIC PARTITION BROKER moves the partition's leader\n"
    "  coordinator GROUP BROKER      moves the consumer group's coordinator\n"
    "  errors API COUNT [ERROR]      the next COUNT requests of API fail (Produce, Fetch,\n"
    "                                ListOffsets, Metadata, OffsetCommit, OffsetFetch,\n"
    "                                FindCoordinator, JoinGroup, Heartbeat, LeaveGroup,\n"
    "                                SyncGroup, InitProducerId); ERROR is a Kafka error\n"
    "                                name such as NOT_COORDINATOR (default: a retriable one)\n"
    "  heal                          every broker up, no added time, no pending errors\n"
    "  wait TIME                     pauses a script (e.g. 5s)\n";

[[noreturn]] void fail(std::string_view line, const std::string &what)
{
    throw Error(ErrorKind::Fatal,
                "broker fault \"" + std::string(line) + "\": " + what +
                    " (pulseboard-cli broker --help lists the commands)",
                {ErrorCause::Config, ErrorSystem::Kafka, "broker fault", what});
}

std::vector<std::string_view> words(std::string_view line)
{
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
            ++i;
        const auto start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            ++i;
        if (i > start)
            out.push_back(line.substr(start, i - start));
    }
    return out;
}

int number(std::string_view line, std::string_view word, std::string_view what, int min, int max)
{
    int value = 0;
    const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (ec != std::errc() || end != word.data() + word.size() || value < min || value > max)
        fail(line, std::string(what) + " must be a whole number from " + std::to_string(min) +
                       " to " + std::to_string(max) + ", not \"" + std::string(word) + "\"");
    return value;
}

std::chrono::milliseconds duration(std::string_view line, std::string_view word)
{
    const auto d = word == "0" ? std::optional(std::chrono::milliseconds(0)) : parseDuration(word);
    if (!d || d->count() < 0 || *d > std::chrono::hours(1))
        fail(line, "\"" + std::string(word) + "\" is not a time up to 1h such as 500ms or 5s");
    return *d;
}

const Api *findApi(std::string_view name)
{
    for (const auto &api : kApis)
        if (api.name.size() == name.size() &&
            std::equal(name.begin(), name.end(), api.name.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
            return &api;
    return nullptr;
}

const Api &apiByKey(int key)
{
    for (const auto &api : kApis)
        if (api.key == key)
            return api;
    return kApis.front();
}

std::optional<rd_kafka_resp_err_t> errorByName(std::string_view name)
{
    const rd_kafka_err_desc *descs = nullptr;
    std::size_t count = 0;
    rd_kafka_get_err_descs(&descs, &count);
    for (std::size_t i = 0; i < count; ++i)
        if (descs[i].name && descs[i].code >= RD_KAFKA_RESP_ERR_UNKNOWN && name == descs[i].name)
            return descs[i].code;
    return std::nullopt;
}

} // namespace

std::string_view brokerFaultSyntax()
{
    return kSyntax;
}

BrokerFault parseBrokerFault(std::string_view line)
{
    const auto w = words(line);
    if (w.empty())
        fail(line, "empty");
    const auto verb = w[0];
    const auto expect = [&](std::size_t min, std::size_t max) {
        if (w.size() < min || w.size() > max)
            fail(line, "\"" + std::string(verb) + "\" takes " + std::to_string(min - 1) +
                           (max > min ? " or " + std::to_string(max - 1) : std::string()) +
                           " argument(s)");
    };
    BrokerFault f;
    if (verb == "down" || verb == "up") {
        expect(2, 2);
        f.kind = verb == "down" ? BrokerFault::Kind::Down : BrokerFault::Kind::Up;
        f.broker = number(line, w[1], "BROKER", 1, 1000);
    } else if (verb == "rtt") {
        expect(3, 3);
        f.kind = BrokerFault::Kind::RoundTripTime;
        f.broker = number(line, w[1], "BROKER", 1, 1000);
        f.duration = duration(line, w[2]);
    } else if (verb == "leader") {
        expect(4, 4);
        f.kind = BrokerFault::Kind::Leader;
        f.name = std::string(w[1]);
        f.partition = number(line, w[2], "PARTITION", 0, 1'000'000);
        f.broker = number(line, w[3], "BROKER", 1, 1000);
    } else if (verb == "coordinator") {
        expect(3, 3);
        f.kind = BrokerFault::Kind::Coordinator;
        f.name = std::string(w[1]);
        f.broker = number(line, w[2], "BROKER", 1, 1000);
    } else if (verb == "errors") {
        expect(3, 4);
        f.kind = BrokerFault::Kind::RequestErrors;
        const auto *api = findApi(w[1]);
        if (!api)
            fail(line, "unknown API \"" + std::string(w[1]) + "\"");
        f.apiKey = api->key;
        f.count = number(line, w[2], "COUNT", 1, 10'000);
        f.error = api->error;
        if (w.size() == 4) {
            const auto error = errorByName(w[3]);
            if (!error)
                fail(line, "unknown Kafka error \"" + std::string(w[3]) +
                               "\" (names as in the protocol, e.g. NOT_COORDINATOR)");
            f.error = *error;
        }
    } else if (verb == "heal") {
        expect(1, 1);
        f.kind = BrokerFault::Kind::Heal;
    } else if (verb == "wait") {
        expect(2, 2);
        f.kind = BrokerFault::Kind::Wait;
        f.duration = duration(line, w[1]);
    } else {
        fail(line, "unknown command \"" + std::string(verb) + "\"");
    }
    return f;
}

std::string describe(const BrokerFault &f)
{
    const auto broker = "broker " + std::to_string(f.broker);
    switch (f.kind) {
    case BrokerFault::Kind::Down:
        return broker + " down";
    case BrokerFault::Kind::Up:
        return broker + " up";
    case BrokerFault::Kind::RoundTripTime:
        return f.duration.count()
                   ? broker + " answers " + std::to_string(f.duration.count()) + " ms late"
                   : broker + " answers without delay";
    case BrokerFault::Kind::Leader:
        return "leader of " + f.name + "/" + std::to_string(f.partition) + " moved to " + broker;
    case BrokerFault::Kind::Coordinator:
        return "coordinator of group " + f.name + " moved to " + broker;
    case BrokerFault::Kind::RequestErrors:
        return std::string(apiByKey(f.apiKey).name) + ": the next " + std::to_string(f.count) +
               " request(s) fail with " + rd_kafka_err2name(f.error);
    case BrokerFault::Kind::Heal:
        return "healed: every broker up, no delay, no pending errors";
    case BrokerFault::Kind::Wait:
        return "wait " + std::to_string(f.duration.count()) + " ms";
    }
    return {};
}

FaultInjector::FaultInjector(EmbeddedBroker &broker)
    : broker_(broker)
{
}

void FaultInjector::apply(const BrokerFault &f)
{
    const auto brokers = broker_.brokerCount();
    if (f.broker > brokers)
        throw Error(ErrorKind::Fatal,
                    "there is no broker " + std::to_string(f.broker) +
                        ": the embedded cluster has brokers 1 to " + std::to_string(brokers),
                    {ErrorCause::Config, ErrorSystem::Kafka, "broker fault", "no such broker"});
    switch (f.kind) {
    case BrokerFault::Kind::Down:
    case BrokerFault::Kind::Up:
        broker_.setBrokerDown(f.broker, f.kind == BrokerFault::Kind::Down);
        break;
    case BrokerFault::Kind::RoundTripTime:
        broker_.setRoundTripTime(f.broker, f.duration);
        break;
    case BrokerFault::Kind::Leader:
        broker_.setPartitionLeader(f.name, f.partition, f.broker);
        break;
    case BrokerFault::Kind::Coordinator:
        broker_.setGroupCoordinator(f.name, f.broker);
        break;
    case BrokerFault::Kind::RequestErrors:
        broker_.pushRequestErrors(f.apiKey, f.count, f.error);
        break;
    case BrokerFault::Kind::Heal:
        heal();
        break;
    case BrokerFault::Kind::Wait:
        break;
    }
}

void FaultInjector::heal()
{
    for (int b = 1; b <= broker_.brokerCount(); ++b) {
        broker_.setBrokerDown(b, false);
        broker_.setRoundTripTime(b, std::chrono::milliseconds(0));
    }
    for (const auto &api : kApis)
        broker_.clearRequestErrors(api.key);
}

BrokerFault FaultInjector::random(std::mt19937_64 &rng, const std::string &group,
                                  const std::string &topic) const
{
    const auto pick = [&](int n) {
        return static_cast<int>(rng() % static_cast<unsigned>(n));
    };
    BrokerFault f;
    f.broker = 1 + pick(broker_.brokerCount());
    auto topics = broker_.topics();
    if (!topic.empty())
        std::erase_if(topics,
                      [&](const auto &t) { return t.first != topic && t.first != topic + ".dlq"; });
    switch (pick(10)) {
    case 0:
    case 1:
        f.kind = BrokerFault::Kind::Down;
        break;
    case 2:
    case 3:
        f.kind = BrokerFault::Kind::RoundTripTime;
        f.duration = std::chrono::milliseconds(500);
        break;
    case 4:
    case 5:
        if (!topics.empty()) {
            const auto &[name, partitions] =
                topics[static_cast<std::size_t>(pick(static_cast<int>(topics.size())))];
            f.kind = BrokerFault::Kind::Leader;
            f.name = name;
            f.partition = pick(partitions);
            break;
        }
        [[fallthrough]];
    case 6:
        f.kind = BrokerFault::Kind::Coordinator;
        f.name = group;
        break;
    default: {
        const auto *api = findApi(
            kRandomApis[static_cast<std::size_t>(pick(static_cast<int>(kRandomApis.size())))]);
        f.kind = BrokerFault::Kind::RequestErrors;
        f.apiKey = api->key;
        f.error = api->error;
        f.count = 1 + pick(5);
        f.broker = 0;
        break;
    }
    }
    return f;
}

BrokerFault FaultInjector::next(std::mt19937_64 &rng, const std::string &group,
                                const std::string &topic)
{
    heal();
    auto fault = random(rng, group, topic);
    apply(fault);
    return fault;
}

} // namespace pb::kafka
