/// Reusable fp32 work buffers, one per purpose. Each grows to the largest request it has seen
/// and is kept until the end of the top-level call (`release`), so a sampling loop allocates
/// its scratch once; the sizes are bounded by the kernels' block sizes (weights included),
/// never by the whole model.
public final class Scratch {
    public enum Slot: Int, CaseIterable {
        case weight      // a block of a layer's weight rows converted to fp32 just before its GEMMs
        case columns     // an im2col block
        case scores      // an attention block's score rows
        case packed      // attention's keys and values, packed once per head
        case winograd    // transformed filters of a Winograd convolution
        case rows        // per-thread rows of a Winograd transform
        case work        // anything else a kernel needs for the duration of one call
    }

    private var buffers = [UnsafeMutablePointer<Float>?](repeating: nil, count: Slot.allCases.count)
    private var capacities = [Int](repeating: 0, count: Slot.allCases.count)

    public init() {}

    deinit { release() }

    /// Frees every buffer: between calls a context holds no scratch (the UNet's would otherwise
    /// sit beside the decoder's activations).
    public func release() {
        for i in buffers.indices {
            Buffer.free(buffers[i], capacities[i] * MemoryLayout<Float>.stride)
            buffers[i] = nil
            capacities[i] = 0
        }
    }

    /// A buffer of at least `n` floats. Its contents are undefined; it stays valid until the
    /// next request for the same slot.
    public func floats(_ slot: Slot, _ n: Int) throws -> UnsafeMutablePointer<Float> {
        let i = slot.rawValue, want = max(n, 16)
        if capacities[i] < want {
            Buffer.free(buffers[i], capacities[i] * MemoryLayout<Float>.stride)
            buffers[i] = nil
            capacities[i] = 0
            // Huge pages: a fresh 256 px UNet call took 76k page faults, 34k so (512 px: 300k).
            // Tensors keep small pages: the autoencoder frees its input's rows as it reads them,
            // and on huge pages that freed little (512 px decode, peak anonymous 383 -> 590 MB).
            guard want <= Shape.maxElements, let raw = Buffer.allocate(want * MemoryLayout<Float>.stride, huge: true) else {
                throw LDMError.outOfMemory("cannot allocate \(n) floats of scratch")
            }
            buffers[i] = raw.bindMemory(to: Float.self, capacity: want)
            capacities[i] = want
        }
        return buffers[i]!
    }

    /// Bytes currently held, for reports and tests.
    public var bytes: Int { capacities.reduce(0, +) * MemoryLayout<Float>.stride }
}
