// Kafka settings: parseProperty ("key=value", --kafka-opt) and parseProperties (a librdkafka
// properties file, --kafka-config) on any text. Oracles: what comes out is what went in, keys
// and values trimmed and single-line; a property that runs code only with allowCode; values
// (perhaps passwords) never change an error message: the text with every value removed gives
// the same message, or the same keys.
#include "fuzz_check.h"
#include "kafka/kafka_client.h"

#include <optional>
#include <string>

namespace {

struct Outcome {
    std::optional<std::string> error;
    std::vector<std::string> keys;
    bool secret = false;
    friend bool operator==(const Outcome &, const Outcome &) = default;
};

Outcome parse(std::string_view text, bool allowCode)
{
    Outcome out;
    try {
        for (const auto &[key, value] :
             pb::kafka::parseProperties(text, "f", allowCode, out.secret)) {
            FUZZ_CHECK(!key.empty() && key.find('=') == std::string::npos);
            for (const auto *part : {&key, &value}) {
                FUZZ_CHECK(part->find('\n') == std::string::npos);
                FUZZ_CHECK(part->empty() ||
                           (part->front() != ' ' && part->back() != ' ' && part->front() != '\t' &&
                            part->back() != '\t' && part->back() != '\r'));
            }
            FUZZ_CHECK(allowCode || !pb::kafka::runsCode(key));
            out.keys.push_back(key);
        }
    } catch (const pb::Error &e) {
        FUZZ_CHECK(e.kind() == pb::ErrorKind::Fatal);
        out.error = e.what();
    }
    return out;
}

// Every line cut after its first '='.
std::string withoutValues(std::string_view text)
{
    std::string out;
    for (std::size_t start = 0; start <= text.size();) {
        const auto newline = std::min(text.find('\n', start), text.size());
        const auto line = text.substr(start, newline - start);
        out += line.substr(0, line.find('=') == std::string_view::npos ? line.size()
                                                                       : line.find('=') + 1);
        if (newline < text.size())
            out += '\n';
        start = newline + 1;
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto text = asText(data, size);
    try {
        const auto [key, value] = pb::kafka::parseProperty(text);
        FUZZ_CHECK(!key.empty() && key.find('=') == std::string::npos);
        FUZZ_CHECK(key + "=" + value == text);
    } catch (const pb::Error &e) {
        FUZZ_CHECK(text.find('=') == std::string_view::npos || text.front() == '=');
        // Only the length shows.
        try {
            pb::kafka::parseProperty(std::string(text.size(), 'x'));
            FUZZ_CHECK(false);
        } catch (const pb::Error &same) {
            FUZZ_CHECK(std::string_view(same.what()) == e.what());
        }
    }

    const bool allowCode = size > 0 && data[0] % 2 == 1;
    const auto outcome = parse(text, allowCode);
    FUZZ_CHECK(parse(withoutValues(text), allowCode) == outcome);
    return 0;
}
