import Synchronization

/// Per-context mutable state the kernels need: scratch buffers, the thread count, and the
/// cancellation flag another thread may raise.
public final class Workspace {
    public let scratch = Scratch()
    public let threads: Int
    private let cancelFlag = Atomic<Bool>(false)

    /// A context that stays the same across the UNet calls of a sampling run, so each
    /// cross-attention layer projects it to keys and values once, not once per step (at 256 px
    /// those products were 2% of a call; SD1.5 at batch 2 keeps 15 MB of them). Set by the
    /// sampler, which must not change the tensor while it is set; `forgetFixedContext` ends it.
    public private(set) var fixedContext: Tensor?
    /// Keys and values of `fixedContext`, by the name of the layer's key weight.
    var contextProjections: [String: (k: Tensor, v: Tensor)] = [:]

    public init(threads: Int) {
        self.threads = max(1, threads)
    }

    public func fixContext(_ context: Tensor?) {
        forgetFixedContext()
        fixedContext = context
    }

    public func forgetFixedContext() {
        fixedContext = nil
        contextProjections = [:]
    }

    public func cancel() { cancelFlag.store(true, ordering: .relaxed) }
    public func resetCancel() { cancelFlag.store(false, ordering: .relaxed) }

    /// Throws `cancelled` once `cancel()` was called; checked between layers.
    public func checkCancelled() throws {
        if cancelFlag.load(ordering: .relaxed) { throw LDMError.cancelled }
    }
}
