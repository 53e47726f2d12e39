#include "stop_signals.h"

#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <unistd.h>

namespace pb {

namespace {

sigset_t stopSet()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1); // our own wake-up at shutdown
    return set;
}

} // namespace

StopSignals::StopSignals()
{
    const auto set = stopSet();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    waiter_ = std::thread([this, set] {
        for (;;) {
            int signal = 0;
            if (sigwait(&set, &signal) != 0 || signal == SIGUSR1)
                return;
            std::function<void()> action;
            {
                std::lock_guard lock(mutex_);
                if (requested_) {
                    std::fputs("pulseboard: stopping at once\n", stderr);
                    _exit(130);
                }
                requested_ = true;
                action = action_;
            }
            if (action)
                action();
        }
    });
}

StopSignals::~StopSignals()
{
    pthread_kill(waiter_.native_handle(), SIGUSR1);
    waiter_.join();
}

void StopSignals::onStop(std::function<void()> action)
{
    bool already = false;
    {
        std::lock_guard lock(mutex_);
        action_ = std::move(action);
        already = requested_;
    }
    if (already && action_)
        action_();
}

bool StopSignals::stopRequested() const
{
    std::lock_guard lock(mutex_);
    return requested_;
}

} // namespace pb
