// Heartbeat documents (decodeHeartbeat: a value of the heartbeats hash, which any client of
// that Redis could have written) on any bytes. Oracle: what decodes, encodes to a document that
// decodes to the same.
#include "core/heartbeat.h"
#include "fuzz_check.h"

namespace {

bool same(const pb::AggregatorHealth &a, const pb::AggregatorHealth &b)
{
    if (a.id != b.id || a.host != b.host || a.group != b.group || a.pid != b.pid ||
        a.startedMs != b.startedMs || a.lastBeatMs != b.lastBeatMs ||
        a.eventsProcessed != b.eventsProcessed || a.partitions.size() != b.partitions.size())
        return false;
    for (std::size_t i = 0; i < a.partitions.size(); ++i) {
        const auto &p = a.partitions[i];
        const auto &q = b.partitions[i];
        if (p.topic != q.topic || p.partition != q.partition || p.nextOffset != q.nextOffset ||
            p.highWatermark != q.highWatermark || p.lag != q.lag)
            return false;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto health = pb::decodeHeartbeat(asText(data, size));
    if (!health)
        return 0;
    const auto again = pb::decodeHeartbeat(pb::encodeHeartbeat(*health));
    FUZZ_CHECK(again && same(*again, *health));
    return 0;
}
