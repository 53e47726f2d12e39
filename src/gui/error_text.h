#pragma once
// Engine errors in the dashboard's own words. pb::Error::what() is written for the CLI (it
// names flags such as --redis-password); here the cause, subject and detail are phrased for a
// dashboard user, with advice that points at the settings pane. Pure; thread-safe.

#include "core/error.h"

#include <QString>

#include <exception>

namespace pb::gui {

// Running: the engines retry what may pass ("Retrying." is said); Test: a one-off connection
// test, which does not.
enum class Wording { Running, Test };

QString errorText(const Error &error, Wording wording = Wording::Running);
// Any exception: a pb::Error as above, anything else as its what().
QString errorText(const std::exception &error, Wording wording = Wording::Running);

// The settings field to fix ("redis/password", "kafka/brokers", ...); empty when no one field
// is to blame (a server that is busy, an unknown failure).
QString settingsField(const Error &error);

} // namespace pb::gui
