import Foundation

/// Maps items 0..<count on `workers` threads and hands the results to `consume` in item order,
/// on the calling thread. At most `window` results are computed ahead of the one being consumed,
/// so memory stays bounded however fast the workers are. Each worker thread gets its own
/// transform from `makeTransform` (for state that is not thread-safe, like a zlib stream).
///
/// The first error (from a transform, `consume` or cancellation) stops every thread; it is
/// rethrown once all worker threads have returned. Blocking: call it off the cooperative pool.
enum OrderedParallelMap {
    static func run<Output>(
        count: Int, workers: Int, window: Int,
        isCancelled: @escaping @Sendable () -> Bool = { false },
        makeTransform: @escaping @Sendable () throws -> (Int) throws -> Output,
        consume: (Int, Output) throws -> Void
    ) throws {
        guard count > 0 else { return }
        let state = State<Output>(count: count, window: max(1, window))
        let finished = DispatchGroup()
        for _ in 0..<max(1, min(workers, count)) {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                state.work(isCancelled: isCancelled, makeTransform: makeTransform)
            }
        }
        for index in 0..<count {
            guard let output = state.take(index) else { break }
            do {
                try consume(index, output)
            } catch {
                state.fail(error)
                break
            }
        }
        finished.wait()
        if let failure = state.firstFailure() { throw failure }
    }

    /// The claim counter, the reorder window and the first failure, behind one condition.
    private final class State<Output>: @unchecked Sendable {
        private let condition = NSCondition()
        private let count: Int
        private var slots: [Output?]
        private var nextToClaim = 0
        private var nextToConsume = 0
        private var stopped = false
        private var failure: Error?

        init(count: Int, window: Int) {
            self.count = count
            slots = Array(repeating: nil, count: window)
        }

        func fail(_ error: Error) {
            condition.withLock {
                if failure == nil { failure = error }
                stopped = true
                condition.broadcast()
            }
        }

        func firstFailure() -> Error? { condition.withLock { failure } }

        /// The next item to work on, once its slot in the window is free; nil when done or stopped.
        private func claim() -> Int? {
            condition.withLock {
                while !stopped && nextToClaim < count && nextToClaim >= nextToConsume + slots.count {
                    condition.wait()
                }
                guard !stopped, nextToClaim < count else { return nil }
                defer { nextToClaim += 1 }
                return nextToClaim
            }
        }

        func work(isCancelled: @Sendable () -> Bool, makeTransform: @Sendable () throws -> (Int) throws -> Output) {
            let transform: (Int) throws -> Output
            do {
                transform = try makeTransform()
            } catch {
                fail(error)
                return
            }
            while let index = claim() {
                if isCancelled() {
                    fail(CancellationError())
                    return
                }
                do {
                    let output = try transform(index)
                    condition.withLock {
                        slots[index % slots.count] = output
                        condition.broadcast()
                    }
                } catch {
                    fail(error)
                    return
                }
            }
        }

        /// Waits for item `index`'s result and frees its slot; nil once stopped.
        func take(_ index: Int) -> Output? {
            condition.withLock {
                let slot = index % slots.count
                while !stopped && slots[slot] == nil { condition.wait() }
                guard !stopped, let output = slots[slot] else { return nil }
                slots[slot] = nil
                nextToConsume = index + 1
                condition.broadcast()
                return output
            }
        }
    }
}
