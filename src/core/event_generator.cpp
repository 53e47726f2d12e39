#include "event_generator.h"

#include "event.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace pb {

namespace {

std::vector<std::string> makeCatalogue(int count)
{
    static constexpr std::array<std::string_view, 12> kCommon{
        "/home",   "/search",  "/products", "/cart", "/checkout", "/login",
        "/signup", "/account", "/deals",    "/help", "/about",    "/blog"};
    std::vector<std::string> pages;
    pages.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        const auto index = static_cast<std::size_t>(i);
        if (index < kCommon.size())
            pages.emplace_back(kCommon[index]);
        else
            pages.push_back("/product/" + std::to_string(i - static_cast<int>(kCommon.size()) + 1));
    }
    return pages;
}

std::vector<double> cumulative(std::vector<double> weights)
{
    double sum = 0;
    for (auto &w : weights) {
        sum += w;
        w = sum;
    }
    for (auto &w : weights)
        w /= sum;
    weights.back() = 1.0;
    return weights;
}

void appendJsonString(std::string &out, std::string_view text)
{
    out += '"';
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            std::array<char, 8> buf{};
            std::snprintf(buf.data(), buf.size(), "\\u%04x", static_cast<unsigned>(c));
            out += buf.data();
        } else {
            out += c;
        }
    }
    out += '"';
}

} // namespace

void EventGenerator::check(const GeneratorOptions &options)
{
    if (options.users < 1)
        throw std::invalid_argument("the user population must be at least 1");
    if (options.pages < 1)
        throw std::invalid_argument("the page catalogue must hold at least 1 page");
    if (!(options.zipfExponent >= 0.0) || options.zipfExponent > 10.0)
        throw std::invalid_argument("the Zipf exponent must be between 0 and 10");
    if (options.actions.empty())
        throw std::invalid_argument("the action mix must name at least one action");
    double total = 0;
    for (const auto &[name, weight] : options.actions) {
        if (name.empty() || name.size() > kMaxActionBytes)
            throw std::invalid_argument("action names must be 1 to 64 bytes long");
        if (!(weight >= 0.0))
            throw std::invalid_argument("action weights must not be negative");
        total += weight;
    }
    if (!(total > 0.0))
        throw std::invalid_argument("the action weights must not all be zero");
}

EventGenerator::EventGenerator(GeneratorOptions options)
    : options_(std::move(options))
    , rng_(options_.seed)
{
    check(options_);
    pages_ = makeCatalogue(options_.pages);
    std::vector<double> weights;
    weights.reserve(pages_.size());
    for (std::size_t k = 1; k <= pages_.size(); ++k)
        weights.push_back(1.0 / std::pow(static_cast<double>(k), options_.zipfExponent));
    pageCdf_ = cumulative(std::move(weights));
    std::vector<double> actionWeights;
    for (const auto &action : options_.actions)
        actionWeights.push_back(action.second);
    actionCdf_ = cumulative(std::move(actionWeights));
    json_.reserve(256);
}

std::size_t EventGenerator::pick(const std::vector<double> &cdf)
{
    const double u = unit_(rng_);
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
    return std::min(static_cast<std::size_t>(it - cdf.begin()), cdf.size() - 1);
}

GeneratedEvent EventGenerator::next(std::int64_t timestampMs)
{
    const auto userId =
        static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(options_.users)) + 1;
    const auto &page = pages_[pick(pageCdf_)];
    const auto &action = options_.actions[pick(actionCdf_)].first;

    std::array<char, 24> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), userId).ptr;
    key_.assign(digits.data(), end);

    json_.clear();
    json_ += R"({"user_id":)";
    json_ += key_;
    json_ += R"(,"action":)";
    appendJsonString(json_, action);
    json_ += R"(,"page":)";
    appendJsonString(json_, page);
    if (options_.withTimestamp) {
        if (timestampMs != cachedTimestampMs_) {
            cachedTimestampMs_ = timestampMs;
            cachedTimestamp_ = formatIso8601Ms(timestampMs);
        }
        json_ += R"(,"timestamp":")";
        json_ += cachedTimestamp_;
        json_ += '"';
    }
    json_ += '}';
    return {userId, action, page, json_, key_};
}

} // namespace pb
