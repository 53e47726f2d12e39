#pragma once
// Redis replies from fuzz bytes, built as a Connection builds them: the bytes go through
// hiredis's own RESP reader, so every reply tree is one hiredis could hand the code.

#include "redis/hiredis_handles.h"

#include <string_view>
#include <vector>

// The replies the bytes hold, at most `max`; stops at the first incomplete or malformed one.
// hiredis allocates an array's element pointers as soon as it reads the count ("*999999999"
// asks for 8 GB), so larger counts than a test needs are refused here: the harness finds
// bugs in our interpretation, not the size of the server's replies.
inline std::vector<pb::redis::ReplyPtr> readReplies(std::string_view bytes, std::size_t max)
{
    for (auto star = bytes.find('*'); star != std::string_view::npos;
         star = bytes.find('*', star + 1)) {
        std::size_t digits = 0;
        while (star + 1 + digits < bytes.size() && bytes[star + 1 + digits] >= '0' &&
               bytes[star + 1 + digits] <= '9')
            ++digits;
        if (digits > 5)
            return {};
    }
    const pb::redis::ReaderPtr reader(redisReaderCreate());
    std::vector<pb::redis::ReplyPtr> replies;
    if (!reader || redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK)
        return replies;
    while (replies.size() < max) {
        void *reply = nullptr;
        if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK || reply == nullptr)
            break;
        replies.emplace_back(static_cast<redisReply *>(reply));
    }
    return replies;
}

// Pads `replies` with nil replies up to `count`: what fewer bytes than commands stand for.
inline void padWithNil(std::vector<pb::redis::ReplyPtr> &replies, std::size_t count)
{
    while (replies.size() < count)
        replies.push_back(std::move(readReplies("$-1\r\n", 1).front()));
}
