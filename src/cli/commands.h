#pragma once
// The subcommands of pulseboard-cli. Each parses its own flags, prints one clear line on
// stderr on failure and returns the exit status.

#include <QStringList>

#include <string>

namespace pb {
class StopSignals;
}

namespace pb::cli {

std::string usage();
int runCommand(const QStringList &args, StopSignals &stopSignals);

} // namespace pb::cli
