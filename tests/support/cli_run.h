#pragma once
// Runs pulseboard-cli (or any program) as a user would and collects what it said. Header-only:
// the integration tests share it.

#include <QElapsedTimer>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace pb::test {

struct Run {
    int exitCode = -1; // -1: crashed, -2: timed out (then killed)
    QString out;
    QString err;
    qint64 elapsedMs = 0;
};

// With the test's environment unless `environment` is given.
inline Run run(const QString &program, const QStringList &args, int timeoutMs = 30000,
               const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment())
{
    QProcess p;
    p.setProcessEnvironment(environment);
    QElapsedTimer timer;
    timer.start();
    p.start(program, args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return {-2, {}, "timed out: " + program + " " + args.join(' '), timer.elapsed()};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError()), timer.elapsed()};
}

} // namespace pb::test
