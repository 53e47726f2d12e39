#pragma once
// The one place that turns hiredis failures and Redis error replies into pb::Error.

#include "core/error.h"

#include <string_view>

struct redisContext;

namespace pb::redis {

// An I/O or protocol failure on the context (ctx->err / ctx->errstr).
pb::Error errorFromContext(const redisContext *ctx, std::string_view endpoint);
// The same from a hiredis error code (REDIS_ERR_IO, _EOF, _PROTOCOL, ...) and its text.
pb::Error errorFromIo(int err, std::string_view text, std::string_view endpoint);
// TLS failed at endpoint: OpenSSL's reason, with the verification result when there is one.
pb::Error errorFromTls(std::string_view text, std::string_view endpoint);
// The server hung up before answering AUTH/SELECT/PING on plain TCP: most likely a TLS port.
pb::Error errorClosedBeforeAnswering(std::string_view endpoint);
// No TCP connection within `timeout`: packets dropped on the way, or a host that is down.
pb::Error errorConnectTimeout(std::string_view endpoint, std::string_view timeout);
// Connected, but AUTH/SELECT/PING got no answer within `timeout` ("5000 ms"): a stalled Redis,
// or another kind of server that waits for its own protocol.
pb::Error errorNoAnswerToHandshake(std::string_view endpoint, std::string_view timeout);
// A TLS setting cannot be used (what: "load the CA file"; file: the path, may be empty).
pb::Error errorFromTlsSetup(std::string_view what, std::string_view file, std::string_view why);
// An error reply ("-NOAUTH ...", "-WRONGPASS ...", "-LOADING ...") with what to do next.
pb::Error errorFromReply(std::string_view replyText, std::string_view context);

} // namespace pb::redis
