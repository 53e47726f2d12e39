// The verdict of pb_apply_v3 (parseApplyReply) on any RESP bytes, turned into reply trees by
// hiredis's reader. Oracles: only pb::Error is thrown; an applied batch has no mismatches; one
// not applied has one mismatch per field/offset pair, each naming a partition.
#include "fuzz_check.h"
#include "redis/batch_writer.h"
#include "resp_replies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    for (const auto &reply : readReplies(asText(data, size), 16)) {
        pb::redis::ApplyResult result;
        try {
            result = pb::redis::parseApplyReply(reply.get());
        } catch (const pb::Error &) {
            continue;
        }
        FUZZ_CHECK(reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1);
        if (result.applied)
            FUZZ_CHECK(result.mismatches.empty());
        else
            FUZZ_CHECK(result.mismatches.size() == (reply->elements - 1) / 2);
    }
    return 0;
}
