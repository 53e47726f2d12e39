#pragma once
// Runs a callable and keeps the pb::Error it threw (if any) and how long it took: for tests
// that check an error's words and that it came within a timeout. Header-only.

#include "core/error.h"

#include <QElapsedTimer>
#include <QString>

#include <optional>

namespace pb::test {

struct Caught {
    std::optional<Error> error;
    qint64 ms = 0;
    QString message() const { return error ? QString::fromUtf8(error->what()) : QString(); }
};

template <typename F> Caught catchError(F &&f)
{
    Caught caught;
    QElapsedTimer timer;
    timer.start();
    try {
        f();
    } catch (const Error &e) {
        caught.error = e;
    }
    caught.ms = timer.elapsed();
    return caught;
}

} // namespace pb::test
