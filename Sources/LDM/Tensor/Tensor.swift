/// A dense fp32 tensor, row-major (NCHW for images, batch first). It owns 64-byte aligned
/// storage (`Buffer`), so a failed allocation is an error rather than a trap.
public final class Tensor {
    public private(set) var shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>

    /// Bytes the storage really holds (a pooled buffer may be larger than asked).
    let capacity: Int

    public init(_ shape: [Int], zeroed: Bool = false) throws {
        let n = try Shape.count(shape)
        let bytes = max(n, 1) * MemoryLayout<Float>.stride
        let raw: UnsafeMutableRawPointer
        if let (p, held) = TensorPool.take(bytes) {
            raw = p
            capacity = held
        } else {
            guard let p = Buffer.allocate(bytes) else {
                throw LDMError.outOfMemory("cannot allocate a tensor of shape \(shape)")
            }
            raw = p
            capacity = bytes
        }
        self.shape = shape
        self.count = n
        self.data = raw.bindMemory(to: Float.self, capacity: max(n, 1))
        if zeroed { data.initialize(repeating: 0, count: n) }
    }

    /// A tensor holding a copy of `values`.
    public convenience init(_ shape: [Int], _ values: [Float]) throws {
        try self.init(shape)
        guard values.count == count else {
            throw LDMError.shape("\(values.count) values for shape \(shape)")
        }
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        if !TensorPool.give(data, capacity) { Buffer.free(data, capacity) }
    }

    /// Self when it has the `expected` shape: an output a kernel adds into.
    func expect(_ expected: [Int]) throws -> Tensor {
        guard shape == expected else { throw LDMError.shape("a tensor of shape \(shape) cannot take an output of shape \(expected)") }
        return self
    }

    /// Reinterprets the same storage with another shape of equal element count.
    public func reshape(_ newShape: [Int]) {
        precondition((try? Shape.count(newShape)) == count, "reshape \(shape) -> \(newShape)")
        shape = newShape
    }

    /// Hands the memory of rows `rows` of every channel of item `n` ([N, C, H, W]) back to the
    /// system where whole pages allow: for a tensor read for the last time, band by band.
    /// Those values are lost (they read as zeros, or keep their values where pages are shared).
    func drop(item n: Int, rows: Range<Int>) {
        guard shape.count == 4, !rows.isEmpty else { return }
        let (channels, plane, width) = (shape[1], shape[2] * shape[3], shape[3])
        for c in 0..<channels {
            Buffer.drop(data + (n * channels + c) * plane + rows.lowerBound * width, rows.count * width * 4, capacity: capacity)
        }
    }

    /// A `Consumed` for a convolution reading this tensor for the last time: each band of rows
    /// it finishes with is shown to `use`, then dropped.
    func dropAsConsumed(_ use: ((_ item: Int, _ rows: Range<Int>) throws -> Void)? = nil) -> Consumed {
        var done = [Int](repeating: 0, count: shape.first ?? 0)
        return { [self] item, rows in
            guard rows > done[item] else { return }
            try use?(item, done[item]..<rows)
            drop(item: item, rows: done[item]..<rows)
            done[item] = rows
        }
    }

    /// Elements per batch item.
    public var itemCount: Int { shape.isEmpty ? count : count / max(shape[0], 1) }

    /// The storage of batch item `n`.
    public func item(_ n: Int) -> UnsafeMutablePointer<Float> { data + n * itemCount }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public func copy() throws -> Tensor {
        let t = try Tensor(shape)
        t.data.update(from: data, count: count)
        return t
    }
}

/// Shape arithmetic that cannot overflow: every product is checked.
public enum Shape {
    /// The largest element count a tensor may have (2^40 floats = 4 TiB), far above any real
    /// model, low enough that byte sizes never overflow.
    public static let maxElements = 1 << 40

    public static func count(_ shape: [Int]) throws -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw LDMError.shape("negative dimension in \(shape)") }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o, p <= maxElements else { throw LDMError.shape("shape \(shape) is too large") }
            n = p
        }
        return n
    }
}
