#include "batch_builder.h"

namespace pb {

namespace {

constexpr std::size_t kChunkItems = 1024;
constexpr std::size_t kMaxQueuedChunks = 64; // about 64,000 messages ahead of the builder

} // namespace

BatchBuilder::BatchBuilder(Process process, Release release)
    : process_(std::move(process))
    , release_(std::move(release))
    , thread_([this] { run(); })
{
    filling_.reserve(kChunkItems);
}

BatchBuilder::~BatchBuilder()
{
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    work_.notify_one();
    thread_.join();
    release(filling_);
    for (auto &chunk : queue_)
        release(chunk);
}

void BatchBuilder::release(std::vector<Item> &chunk)
{
    for (auto &item : chunk)
        release_(item.message);
    chunk.clear();
}

void BatchBuilder::add(const Item &item)
{
    filling_.push_back(item);
    if (filling_.size() >= kChunkItems)
        submit();
}

void BatchBuilder::submit()
{
    if (filling_.empty())
        return;
    std::vector<Item> next;
    {
        std::unique_lock lock(mutex_);
        done_.wait(lock, [this] { return queue_.size() < kMaxQueuedChunks; });
        queue_.push_back(std::move(filling_));
        if (!spare_.empty()) {
            next = std::move(spare_.back());
            spare_.pop_back();
        }
    }
    work_.notify_one();
    filling_ = std::move(next);
    filling_.reserve(kChunkItems);
}

void BatchBuilder::drain()
{
    submit();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return queue_.empty() && !busy_; });
    if (error_)
        std::rethrow_exception(std::exchange(error_, nullptr));
}

void BatchBuilder::run()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        work_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_)
            return;
        auto chunk = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        const bool failed = error_ != nullptr;
        lock.unlock();
        done_.notify_all(); // room in the queue

        std::exception_ptr error;
        if (!failed) {
            try {
                process_(chunk);
            } catch (...) {
                error = std::current_exception();
            }
        }
        release(chunk);

        lock.lock();
        if (error && !error_)
            error_ = error;
        spare_.push_back(std::move(chunk));
        busy_ = false;
        if (queue_.empty())
            done_.notify_all();
    }
}

} // namespace pb
