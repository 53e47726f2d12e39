#pragma once
// Synthetic user-activity events for the simulator, the tests and the benchmarks: a user
// population, a page catalogue with Zipf-like popularity and an action mix. Deterministic for a
// seed. Not thread-safe. No I/O.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb {

struct GeneratorOptions {
    int users = 10'000; // user ids 1..users, uniformly drawn
    int pages = 200;    // catalogue size; page k has weight 1 / k^zipfExponent
    double zipfExponent = 1.1;
    std::vector<std::pair<std::string, double>> actions{
        {"view", 0.70}, {"click", 0.20}, {"add_to_cart", 0.06}, {"purchase", 0.04}};
    std::uint64_t seed = 1;
    bool withTimestamp = true; // write the payload "timestamp" field (ISO-8601)
};

struct GeneratedEvent {
    std::int64_t userId;
    std::string_view action;
    std::string_view page;
    std::string_view json; // the payload; valid until the next next()
    std::string_view key;  // the user id as text: the Kafka key; valid until the next next()
};

class EventGenerator {
public:
    explicit EventGenerator(GeneratorOptions options = {});

    GeneratedEvent next(std::int64_t timestampMs);

    const std::vector<std::string> &pageCatalogue() const { return pages_; }
    // Throws std::invalid_argument on nonsense (no users, no pages, no actions, bad weights).
    static void check(const GeneratorOptions &options);

private:
    std::size_t pick(const std::vector<double> &cdf);

    GeneratorOptions options_;
    std::vector<std::string> pages_;
    std::vector<double> pageCdf_;
    std::vector<double> actionCdf_;
    std::mt19937_64 rng_;
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
    std::string json_;
    std::string key_;
    std::int64_t cachedTimestampMs_ = -1;
    std::string cachedTimestamp_;
};

} // namespace pb
