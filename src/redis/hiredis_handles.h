#pragma once
// RAII owners for hiredis handles. The only place that frees them.

#include <hiredis/hiredis.h>

#include <memory>

namespace pb::redis {

struct ContextDeleter {
    void operator()(redisContext *c) const noexcept { redisFree(c); }
};
struct ReplyDeleter {
    void operator()(redisReply *r) const noexcept { freeReplyObject(r); }
};
struct ReaderDeleter {
    void operator()(redisReader *r) const noexcept { redisReaderFree(r); }
};
// The RESP text redisFormatCommandArgv() allocates.
struct FormattedCommandDeleter {
    void operator()(char *text) const noexcept { redisFreeCommand(text); }
};

using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;
using ReaderPtr = std::unique_ptr<redisReader, ReaderDeleter>;
using FormattedCommandPtr = std::unique_ptr<char, FormattedCommandDeleter>;

} // namespace pb::redis
