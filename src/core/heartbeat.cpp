#include "heartbeat.h"

#include <simdjson.h>

namespace pb {

namespace {

std::string jsonString(std::string_view text)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xF];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::int64_t intField(simdjson::dom::element e, const char *name)
{
    std::int64_t v = 0;
    if (e[name].get(v) != simdjson::SUCCESS)
        return 0;
    return v;
}

std::string stringField(simdjson::dom::element e, const char *name)
{
    std::string_view v;
    if (e[name].get(v) != simdjson::SUCCESS)
        return {};
    return std::string(v);
}

} // namespace

std::string encodeHeartbeat(const AggregatorHealth &h)
{
    const auto n = [](std::int64_t v) {
        return std::to_string(v);
    };
    std::string json = "{\"id\":" + jsonString(h.id) + ",\"host\":" + jsonString(h.host) +
                       ",\"group\":" + jsonString(h.group) + ",\"pid\":" + n(h.pid) +
                       ",\"started_ms\":" + n(h.startedMs) + ",\"beat_ms\":" + n(h.lastBeatMs) +
                       ",\"events\":" + n(h.eventsProcessed) + ",\"partitions\":[";
    bool first = true;
    for (const auto &p : h.partitions) {
        json += std::string(first ? "" : ",") + "{\"topic\":" + jsonString(p.topic) +
                ",\"partition\":" + n(p.partition) + ",\"next\":" + n(p.nextOffset) +
                ",\"high\":" + n(p.highWatermark) + ",\"lag\":" + n(p.lag) + "}";
        first = false;
    }
    return json + "]}";
}

std::optional<AggregatorHealth> decodeHeartbeat(std::string_view json)
{
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || !doc.is_object())
        return std::nullopt;
    AggregatorHealth h;
    h.id = stringField(doc, "id");
    h.host = stringField(doc, "host");
    h.group = stringField(doc, "group");
    h.pid = intField(doc, "pid");
    h.startedMs = intField(doc, "started_ms");
    h.lastBeatMs = intField(doc, "beat_ms");
    h.eventsProcessed = intField(doc, "events");
    simdjson::dom::array parts;
    if (doc["partitions"].get(parts) == simdjson::SUCCESS) {
        for (auto p : parts) {
            PartitionHealth ph;
            ph.topic = stringField(p, "topic");
            ph.partition = static_cast<int>(intField(p, "partition"));
            ph.nextOffset = intField(p, "next");
            ph.highWatermark = intField(p, "high");
            ph.lag = intField(p, "lag");
            h.partitions.push_back(std::move(ph));
        }
    }
    return h;
}

} // namespace pb
