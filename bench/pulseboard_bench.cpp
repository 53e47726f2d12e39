// pulseboard-bench: the measurements behind bench/run.sh. Each subcommand prints one line
// "RESULT key=value ..." for the script to collect. Times come from steady_clock around the
// work itself (not process start-up or the consumer-group join).

#include "core/clock.h"
#include "core/event_generator.h"
#include "kafka/kafka_client.h"
#include "kafka/rdkafka_handles.h"
#include "kafka/simulator.h"
#include "pipeline/aggregator.h"
#include "redis/embedded_redis.h"
#include "redis/redis_connection.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace pb;
using Clock = std::chrono::steady_clock;

namespace {

std::map<std::string, std::string> flags(int argc, char **argv)
{
    std::map<std::string, std::string> f;
    for (int i = 2; i + 1 < argc; i += 2)
        f[argv[i] + (std::strncmp(argv[i], "--", 2) == 0 ? 2 : 0)] = argv[i + 1];
    return f;
}

std::string need(const std::map<std::string, std::string> &f, const std::string &key)
{
    const auto it = f.find(key);
    if (it == f.end()) {
        std::fprintf(stderr, "pulseboard-bench: --%s is required\n", key.c_str());
        std::exit(2);
    }
    return it->second;
}

std::int64_t number(const std::map<std::string, std::string> &f, const std::string &key,
                    std::int64_t fallback)
{
    const auto it = f.find(key);
    return it == f.end() ? fallback : std::stoll(it->second);
}

double seconds(Clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}

long peakRssKb()
{
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0)
            return std::stol(line.substr(6));
    return -1;
}

// CPU time of this process's threads so far, in ms: the calling ("main") thread, librdkafka's
// own threads (rdk:*) and the others (the aggregator's batch builder), from /proc.
std::string threadCpu()
{
    const long ticksPerSecond = sysconf(_SC_CLK_TCK);
    const auto self = std::to_string(gettid());
    long mainTicks = 0;
    long kafkaTicks = 0;
    long otherTicks = 0;
    for (const auto &task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream statFile(task.path() / "stat");
        std::string stat((std::istreambuf_iterator<char>(statFile)), {});
        const auto close = stat.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream fields(stat.substr(close + 2));
        std::string field;
        long utime = 0;
        long stime = 0;
        for (int i = 3; i <= 15 && fields >> field; ++i) {
            if (i == 14)
                utime = std::stol(field);
            if (i == 15)
                stime = std::stol(field);
        }
        const auto name = stat.substr(stat.find('(') + 1, close - stat.find('(') - 1);
        if (task.path().filename() == self)
            mainTicks += utime + stime;
        else if (name.rfind("rdk:", 0) == 0)
            kafkaTicks += utime + stime;
        else
            otherTicks += utime + stime;
    }
    return "cpu_main_ms=" + std::to_string(mainTicks * 1000 / ticksPerSecond) +
           " cpu_librdkafka_ms=" + std::to_string(kafkaTicks * 1000 / ticksPerSecond) +
           " cpu_other_ms=" + std::to_string(otherTicks * 1000 / ticksPerSecond);
}

kafka::KafkaSettings kafkaOf(const std::map<std::string, std::string> &f)
{
    kafka::KafkaSettings k;
    k.brokers = need(f, "brokers");
    return k;
}

// The limit: librdkafka consuming the topic from the beginning and doing nothing with it.
int rawConsume(const std::map<std::string, std::string> &f)
{
    const auto topic = need(f, "topic");
    const auto count = number(f, "count", 400000);
    auto conf = kafka::makeConf(kafkaOf(f),
                                {{"group.id", "pulseboard-bench-raw"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.partition.eof", "false"}},
                                kafka::backlogFetchTuning());
    std::array<char, 512> err{};
    kafka::HandlePtr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err.data(), err.size()));
    (void)conf.release();
    rd_kafka_poll_set_consumer(rk.get());
    const auto md = kafka::probe(rk.get(), kafkaOf(f), std::chrono::seconds(10));
    const auto *t = md.find(topic);
    if (!t)
        return std::fprintf(stderr, "no topic %s\n", topic.c_str()), 1;
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(t->partitions));
    // Offset 0, not BEGINNING: a logical offset makes librdkafka look it up first, and for a
    // partition whose leader it has not joined yet it retries that only after 500 ms, a start-up
    // delay that would otherwise land in the measurement at random.
    for (int p = 0; p < t->partitions; ++p)
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = 0;
    rd_kafka_assign(rk.get(), list.get());
    std::int64_t n = 0;
    std::uint64_t bytes = 0;
    Clock::time_point first{};
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (n < count && Clock::now() < deadline) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(rk.get(), 100));
        if (!m || m->err)
            continue;
        if (n == 0)
            first = Clock::now();
        bytes += m->len;
        ++n;
    }
    const auto elapsed = seconds(Clock::now() - first);
    std::printf("RESULT raw_consume_events=%lld raw_consume_seconds=%.3f raw_consume_eps=%.0f "
                "bytes=%llu %s\n",
                static_cast<long long>(n), elapsed, static_cast<double>(n) / elapsed,
                static_cast<unsigned long long>(bytes), threadCpu().c_str());
    rd_kafka_consumer_close(rk.get());
    return n == count ? 0 : 1;
}

AggregatorOptions aggregatorOptions(const std::map<std::string, std::string> &f,
                                    const redis::Endpoint &redis)
{
    AggregatorOptions o;
    o.kafka = kafkaOf(f);
    o.topic = need(f, "topic");
    o.group = "pulseboard-bench-" + std::to_string(Clock::now().time_since_epoch().count());
    o.redis = redis;
    o.flushInterval = std::chrono::milliseconds(number(f, "flush-ms", o.flushInterval.count()));
    o.catchUpInterval =
        std::chrono::milliseconds(number(f, "catch-up-ms", o.catchUpInterval.count()));
    o.maxBatchEvents = number(f, "batch", o.maxBatchEvents);
    return o;
}

// The aggregator's own per-event work alone, in memory: validation and pre-aggregation of
// pre-generated events in batches of `batch`, no Kafka, no Redis. For profiling that part (with
// valgrind --tool=callgrind its instruction count is exact).
int build(const std::map<std::string, std::string> &f)
{
    const auto count = number(f, "count", 2000000);
    const auto batchSize = number(f, "batch", AggregatorOptions{}.maxBatchEvents);
    const auto now = wallClockMs();
    std::vector<std::string> events;
    EventGenerator generator;
    for (int i = 0; i < 100000; ++i)
        events.emplace_back(generator.next(now - 100000 + i).json);
    EventValidator validator;
    BatchAggregate batch;
    std::int64_t valid = 0;
    std::int64_t inBatch = 0;
    const auto start = Clock::now();
    for (std::int64_t i = 0; i < count; ++i) {
        const auto &json = events[static_cast<std::size_t>(i) % events.size()];
        const auto result = validator.validate(json);
        if (result.ok()) {
            batch.stageValid(result.event, now - 1000, now, json, "bench/0", i);
            ++valid;
        }
        if (++inBatch >= batchSize) {
            batch.settle();
            batch.clear();
            inBatch = 0;
        }
    }
    batch.settle();
    const auto elapsed = seconds(Clock::now() - start);
    std::printf(
        "RESULT build_events=%lld build_valid=%lld build_seconds=%.3f build_ns_per_event=%.0f\n",
        static_cast<long long>(count), static_cast<long long>(valid), elapsed,
        elapsed * 1e9 / static_cast<double>(count));
    return valid == count ? 0 : 1;
}

// redis-server's own CPU time so far (INFO cpu), in ms.
long long redisCpuMs(redis::Connection &connection)
{
    const auto info = redis::replyString(connection.command({"INFO", "cpu"}).get());
    double seconds = 0;
    for (const char *key : {"used_cpu_sys:", "used_cpu_user:"})
        if (const auto at = info.find(key); at != std::string::npos)
            seconds += std::stod(info.substr(at + std::strlen(key)));
    return static_cast<long long>(seconds * 1000);
}

// Pulseboard's aggregator end to end: Kafka -> every aggregate in Redis, exactly once.
int aggregate(const std::map<std::string, std::string> &f)
{
    const auto count = number(f, "count", 400000);
    redis::EmbeddedRedis server;
    const auto options = aggregatorOptions(f, server.endpoint());
    // Start every partition at offset 0 through the aggregator's own resume point in Redis, as
    // the bare consumer does (see rawConsume: it keeps librdkafka's start-up delay out).
    const auto metadata = kafka::probeBrokers(options.kafka, std::chrono::seconds(10));
    const auto *topic = metadata.find(options.topic);
    if (!topic)
        return std::fprintf(stderr, "no topic %s\n", options.topic.c_str()), 1;
    redis::Connection seed(server.endpoint());
    for (int p = 0; p < topic->partitions; ++p)
        seed.command(
            {"HSET", options.schema.offsets(), redis::partitionField(options.topic, p), "0"});
    Aggregator aggregator(options);
    std::thread watcher([&] {
        while (aggregator.stats().validEvents + aggregator.stats().invalidEvents < count)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        aggregator.requestStop();
    });
    aggregator.run({std::chrono::seconds(180), {}});
    watcher.join();
    const auto s = aggregator.stats();
    const auto events = s.validEvents + s.invalidEvents;
    const auto elapsed = seconds(s.lastAccounted - s.firstAccounted);
    redis::Connection check(server.endpoint());
    const auto total =
        redis::replyInteger(check.command({"GET", "pulseboard:{all}:events_total"}).get());
    std::printf("RESULT aggregate_events=%lld aggregate_seconds=%.3f aggregate_eps=%.0f "
                "batches=%lld redis_events_total=%lld peak_rss_kb=%ld %s cpu_redis_ms=%lld\n",
                static_cast<long long>(events), elapsed, static_cast<double>(events) / elapsed,
                static_cast<long long>(s.batches), static_cast<long long>(total), peakRssKb(),
                threadCpu().c_str(), redisCpuMs(check));
    return events == count && total == s.validEvents ? 0 : 1;
}

// librdkafka producing pre-generated events with the simulator's producer settings: the
// reference for the simulator's own overhead.
int rawProduce(const std::map<std::string, std::string> &f)
{
    const auto topic = need(f, "topic");
    const auto count = number(f, "count", 400000);
    std::vector<std::pair<std::string, std::string>> events;
    EventGenerator generator;
    for (int i = 0; i < 10000; ++i) {
        const auto e = generator.next(1700000000000 + i);
        events.emplace_back(std::string(e.key), std::string(e.json));
    }
    auto conf = kafka::makeConf(kafkaOf(f), {{"enable.idempotence", "true"},
                                             {"acks", "all"},
                                             {"linger.ms", "5"},
                                             {"batch.num.messages", "10000"},
                                             {"queue.buffering.max.messages", "1000000"},
                                             {"queue.buffering.max.kbytes", "1048576"}});
    std::array<char, 512> err{};
    kafka::HandlePtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err.data(), err.size()));
    (void)conf.release();
    kafka::probe(rk.get(), kafkaOf(f), std::chrono::seconds(10));
    kafka::TopicPtr rkt(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
    const auto start = Clock::now();
    for (std::int64_t i = 0; i < count; ++i) {
        const auto &[key, value] = events[static_cast<std::size_t>(i) % events.size()];
        while (rd_kafka_produce(rkt.get(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                const_cast<char *>(value.data()), value.size(), key.data(),
                                key.size(), nullptr) != 0)
            rd_kafka_poll(rk.get(), 10);
        if (i % 4096 == 0)
            rd_kafka_poll(rk.get(), 0);
    }
    rd_kafka_flush(rk.get(), 60000);
    const auto elapsed = seconds(Clock::now() - start);
    std::printf("RESULT raw_produce_events=%lld raw_produce_seconds=%.3f raw_produce_eps=%.0f\n",
                static_cast<long long>(count), elapsed, static_cast<double>(count) / elapsed);
    return 0;
}

int simulate(const std::map<std::string, std::string> &f)
{
    kafka::SimulatorOptions o;
    o.topic = need(f, "topic");
    o.rate = 0;
    o.count = number(f, "count", 400000);
    kafka::Simulator simulator(kafkaOf(f), o);
    const auto start = Clock::now();
    const auto s = simulator.run();
    const auto elapsed = seconds(Clock::now() - start);
    std::printf("RESULT simulate_events=%lld simulate_seconds=%.3f simulate_eps=%.0f "
                "simulate_failed=%lld\n",
                static_cast<long long>(s.acknowledged), elapsed,
                static_cast<double>(s.acknowledged) / elapsed, static_cast<long long>(s.failed));
    return s.acknowledged == o.count ? 0 : 1;
}

// Produced -> visible in Redis at a steady rate: every event's Kafka timestamp against the
// moment its batch's Redis call returned.
int latency(const std::map<std::string, std::string> &f)
{
    const auto rate = number(f, "rate", 10000);
    const auto secs = number(f, "seconds", 10);
    redis::EmbeddedRedis server;
    auto options = aggregatorOptions(f, server.endpoint());
    std::mutex mutex;
    std::vector<std::int64_t> latencies;
    std::atomic<bool> measuring{false};
    options.onApplied = [&](std::int64_t appliedAt, const std::vector<std::int64_t> &times) {
        if (!measuring)
            return;
        std::lock_guard lock(mutex);
        for (const auto t : times)
            latencies.push_back(appliedAt - t);
    };
    Aggregator aggregator(options);
    std::thread consumer([&] { aggregator.run(); });
    // Let the group settle before producing.
    while (aggregator.stats().partitions.empty())
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    measuring = true;
    kafka::SimulatorOptions so;
    so.topic = options.topic;
    so.rate = static_cast<double>(rate);
    so.duration = std::chrono::seconds(secs);
    // Measure the pipeline as an app with librdkafka's default batching (5 ms) feeds it.
    so.linger = std::chrono::milliseconds(number(f, "linger-ms", 5));
    kafka::Simulator simulator(options.kafka, so);
    const auto sent = simulator.run().acknowledged;
    std::this_thread::sleep_for(std::chrono::seconds(2));
    aggregator.requestStop();
    consumer.join();
    std::lock_guard lock(mutex);
    std::sort(latencies.begin(), latencies.end());
    const auto pct = [&](double p) {
        return latencies.empty()
                   ? -1
                   : latencies[std::min(
                         latencies.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
    };
    std::printf("RESULT latency_rate=%lld latency_events=%zu latency_sent=%lld p50_ms=%lld "
                "p99_ms=%lld max_ms=%lld\n",
                static_cast<long long>(rate), latencies.size(), static_cast<long long>(sent),
                static_cast<long long>(pct(0.50)), static_cast<long long>(pct(0.99)),
                static_cast<long long>(latencies.empty() ? -1 : latencies.back()));
    return 0;
}

// Peak RSS of the aggregator after 1M and after 5M events, produced while consumed.
int rss(const std::map<std::string, std::string> &f)
{
    const auto total = number(f, "count", 5000000);
    const auto checkpoint = number(f, "checkpoint", 1000000);
    redis::EmbeddedRedis server;
    auto options = aggregatorOptions(f, server.endpoint());
    Aggregator aggregator(options);
    std::thread consumer([&] { aggregator.run(); });
    kafka::SimulatorOptions so;
    so.topic = options.topic;
    so.rate = static_cast<double>(number(f, "rate", 150000));
    so.count = total;
    std::thread producer([&] {
        kafka::Simulator simulator(options.kafka, so);
        simulator.run();
    });
    long atCheckpoint = -1;
    while (true) {
        const auto s = aggregator.stats();
        const auto n = s.validEvents + s.invalidEvents;
        if (atCheckpoint < 0 && n >= checkpoint)
            atCheckpoint = peakRssKb();
        if (n >= total)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto atEnd = peakRssKb();
    producer.join();
    aggregator.requestStop();
    consumer.join();
    std::printf("RESULT rss_checkpoint_events=%lld rss_checkpoint_kb=%ld rss_total_events=%lld "
                "rss_total_kb=%ld rss_growth=%.3f\n",
                static_cast<long long>(checkpoint), atCheckpoint, static_cast<long long>(total),
                atEnd, static_cast<double>(atEnd) / static_cast<double>(atCheckpoint));
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: pulseboard-bench raw-consume|aggregate|raw-produce|simulate|"
                     "latency|rss --brokers B --topic T [--count N] ... | build [--count N]\n");
        return 2;
    }
    const std::string command = argv[1];
    const auto f = flags(argc, argv);
    try {
        if (command == "raw-consume")
            return rawConsume(f);
        if (command == "aggregate")
            return aggregate(f);
        if (command == "raw-produce")
            return rawProduce(f);
        if (command == "simulate")
            return simulate(f);
        if (command == "latency")
            return latency(f);
        if (command == "rss")
            return rss(f);
        if (command == "build")
            return build(f);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "pulseboard-bench %s: %s\n", command.c_str(), e.what());
        return 1;
    }
    std::fprintf(stderr, "pulseboard-bench: unknown command %s\n", command.c_str());
    return 2;
}
