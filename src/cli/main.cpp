// pulseboard-cli: the headless shell over the engines. One program, one subcommand per job.

#include "commands.h"
#include "pipeline/stop_signals.h"

#include <QCoreApplication>

#include <cstdio>
#include <cstring>

int main(int argc, char *argv[])
{
    pb::StopSignals stopSignals; // first: every later thread inherits the blocked signals
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("pulseboard-cli");
    QCoreApplication::setApplicationVersion(PULSEBOARD_VERSION);

    const auto args = app.arguments();
    if (args.size() < 2 || args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
        std::fputs(pb::cli::usage().c_str(), args.size() < 2 ? stderr : stdout);
        return args.size() < 2 ? 2 : 0;
    }
    if (args[1] == "--version" || args[1] == "-v") {
        std::printf("pulseboard-cli %s\n", PULSEBOARD_VERSION);
        return 0;
    }
    return pb::cli::runCommand(args, stopSignals);
}
