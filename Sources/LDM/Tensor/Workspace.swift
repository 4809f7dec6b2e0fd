import Synchronization

/// Per-context mutable state the kernels need: scratch buffers, the thread count, and the
/// cancellation flag another thread may raise.
public final class Workspace {
    public let scratch = Scratch()
    public let threads: Int
    private let cancelFlag = Atomic<Bool>(false)

    public init(threads: Int) {
        self.threads = max(1, threads)
    }

    public func cancel() { cancelFlag.store(true, ordering: .relaxed) }
    public func resetCancel() { cancelFlag.store(false, ordering: .relaxed) }

    /// Throws `cancelled` once `cancel()` was called; checked between layers.
    public func checkCancelled() throws {
        if cancelFlag.load(ordering: .relaxed) { throw LDMError.cancelled }
    }
}
