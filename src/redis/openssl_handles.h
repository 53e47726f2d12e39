#pragma once
// RAII owners for OpenSSL handles. The only place that frees them.

#include <openssl/ssl.h>

#include <memory>

namespace pb::redis {

struct SslCtxDeleter {
    void operator()(SSL_CTX *c) const noexcept { SSL_CTX_free(c); }
};
struct SslDeleter {
    void operator()(SSL *s) const noexcept { SSL_free(s); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

} // namespace pb::redis
