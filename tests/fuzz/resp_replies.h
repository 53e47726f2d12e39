#pragma once
// Redis replies from fuzz bytes, built as a Connection builds them: the bytes go through
// hiredis's own RESP reader, so every reply tree is one hiredis could hand the code.

#include "redis/hiredis_handles.h"

#include <string_view>
#include <vector>

// The replies the bytes hold, at most `max`; stops at the first incomplete or malformed one.
inline std::vector<pb::redis::ReplyPtr> readReplies(std::string_view bytes, std::size_t max)
{
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
