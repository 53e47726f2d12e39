#pragma once
// SIGINT/SIGTERM handling without async-signal-safety traps: the signals are blocked in every
// thread and one thread waits for them with sigwait(), then runs the stop action. Construct it
// first in main(), before any other thread starts, so every thread inherits the blocked mask.

#include <functional>
#include <mutex>
#include <thread>

namespace pb {

class StopSignals {
public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals &) = delete;
    StopSignals &operator=(const StopSignals &) = delete;

    // What to do on the first signal; a second one exits at once with status 130.
    void onStop(std::function<void()> action);
    bool stopRequested() const;

private:
    mutable std::mutex mutex_;
    std::function<void()> action_;
    bool requested_ = false;
    std::thread waiter_;
};

} // namespace pb
