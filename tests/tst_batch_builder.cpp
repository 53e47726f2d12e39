// Unit tests for the aggregator's batch-builder thread: every item processed once, in order,
// and released; errors reach the caller; nothing leaks on the way out. Items carry stand-in
// message pointers, released through a recording callback instead of librdkafka.

#include "pipeline/batch_builder.h"

#include <QtTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace pb;

namespace {

rd_kafka_message_t *fakeMessage(std::uintptr_t n)
{
    return reinterpret_cast<rd_kafka_message_t *>(n + 1); // never 0, never dereferenced
}

std::uintptr_t numberOf(const rd_kafka_message_t *message)
{
    return reinterpret_cast<std::uintptr_t>(message) - 1;
}

// What the builder gave back, from its thread and from the destructor.
struct Released {
    std::mutex mutex;
    std::vector<std::uintptr_t> numbers;
    BatchBuilder::Release callback()
    {
        return [this](rd_kafka_message_t *m) {
            std::lock_guard lock(mutex);
            numbers.push_back(numberOf(m));
        };
    }
    std::vector<bool> seen(std::size_t n)
    {
        std::lock_guard lock(mutex);
        std::vector<bool> once(n, false);
        for (const auto x : numbers) {
            if (x >= n || once[x])
                throw std::logic_error("released twice or unknown: " + std::to_string(x));
            once[x] = true;
        }
        return once;
    }
    bool allOnce(std::size_t n)
    {
        const auto once = seen(n);
        return std::all_of(once.begin(), once.end(), [](bool b) { return b; });
    }
};

// Items 0..n-1 with stand-in messages; the timestamp carries the number when `numbered`.
void addItems(BatchBuilder &builder, std::size_t n, int partition, bool numbered)
{
    for (std::size_t i = 0; i < n; ++i)
        builder.add({fakeMessage(i), partition, numbered ? static_cast<std::int64_t>(i) : 0, 0});
}

// A Process calling f for each item of a chunk.
template <typename F> BatchBuilder::Process eachItem(F f)
{
    return [f](std::span<const BatchBuilder::Item> items) {
        for (const auto &item : items)
            f(item);
    };
}

} // namespace

class TestBatchBuilder : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void givenMoreItemsThanTheQueueHolds_whenDrained_thenEachIsProcessedOnceInOrder()
    {
        constexpr std::size_t n = 200000; // past the queue bound: add() has to wait
        Released released;
        std::vector<std::uintptr_t> processed; // the builder's thread only, read after drain()
        std::size_t mismatched = 0;
        const int partition = 3;
        {
            BatchBuilder builder(eachItem([&](const BatchBuilder::Item &item) {
                                     if (item.partition != partition ||
                                         item.timestampMs !=
                                             static_cast<std::int64_t>(numberOf(item.message)))
                                         ++mismatched;
                                     processed.push_back(numberOf(item.message));
                                 }),
                                 released.callback());
            addItems(builder, n, partition, true);
            builder.drain();
            QCOMPARE(mismatched, std::size_t(0));
            QCOMPARE(processed.size(), n);
            for (std::size_t i = 0; i < n; ++i)
                QCOMPARE(processed[i], i);
            QVERIFY(released.allOnce(n));
        }
    }

    void givenAProcessThatThrows_whenDrained_thenTheCallerGetsTheErrorAndTheRestIsReleased()
    {
        constexpr std::size_t n = 5000;
        Released released;
        std::atomic<std::size_t> processed{0};
        const int partition = 3;
        BatchBuilder builder(eachItem([&](const BatchBuilder::Item &item) {
                                 if (numberOf(item.message) == 1500)
                                     throw std::runtime_error("dead-letter topic gone");
                                 ++processed;
                             }),
                             released.callback());
        addItems(builder, n, partition, false);
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, builder.drain());
        QCOMPARE(processed.load(), std::size_t(1500));
        QVERIFY(released.allOnce(n));

        // The error is reported once; what comes after it is processed again.
        builder.add({fakeMessage(n), partition, 0, 0});
        builder.drain();
        QCOMPARE(processed.load(), std::size_t(1501));
        QCOMPARE(released.seen(n + 1).back(), true);
    }

    void givenQueuedItems_whenTheBuilderIsDestroyed_thenEveryMessageIsReleasedOnce()
    {
        constexpr std::size_t n = 50000;
        Released released;
        std::atomic<std::size_t> processed{0};
        const int partition = 3;
        {
            BatchBuilder builder(eachItem([&](const BatchBuilder::Item &) {
                                     if (processed++ == 0)
                                         std::this_thread::sleep_for(std::chrono::milliseconds(50));
                                 }),
                                 released.callback());
            addItems(builder, n, partition, false);
            builder.submit();
        } // no drain(): the destructor stops the builder with chunks still queued
        QVERIFY(processed.load() < n); // it did stop early
        QVERIFY(released.allOnce(n));
    }
};

QTEST_GUILESS_MAIN(TestBatchBuilder)
#include "tst_batch_builder.moc"
