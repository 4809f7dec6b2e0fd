/// One weight as stored in a mapped file: its shape, type and bytes, used in place.
public struct WeightTensor {
    public let name: String
    /// Row-major (numpy order) shape.
    public let shape: [Int]
    public let type: TensorType
    public let count: Int
    let bytes: UnsafeRawPointer
    let byteCount: Int
    /// Keeps the mapping alive as long as the tensor is referenced.
    let file: MappedFile

    /// Checks that the stored bytes are exactly what shape and type require.
    init(name: String, shape: [Int], type: TensorType, bytes: UnsafeRawPointer, byteCount: Int, file: MappedFile) throws {
        let n: Int
        do { n = try Shape.count(shape) } catch { throw LDMError.corrupt("\(file.path): tensor \(name) has an invalid shape \(shape)") }
        if case .q8_0 = type, n > 0 {
            let row = shape.count > 1 ? n / shape[0] : n
            guard row % TensorType.q8Block == 0 else {
                throw LDMError.corrupt("\(file.path): Q8_0 tensor \(name) has rows of \(row) elements, not a multiple of 32")
            }
        }
        guard let want = type.byteCount(n), want == byteCount else {
            throw LDMError.corrupt("\(file.path): tensor \(name) of shape \(shape) and type \(type) does not fit its \(byteCount) bytes")
        }
        self.name = name
        self.shape = shape
        self.type = type
        self.count = n
        self.bytes = bytes
        self.byteCount = byteCount
        self.file = file
    }

    /// The shape with trailing 1s dropped, so a Linear [o, i] and a 1x1 conv [o, i, 1, 1] compare equal.
    var coreShape: [Int] {
        var s = shape
        while s.count > 1, s.last == 1 { s.removeLast() }
        return s
    }

    /// Throws unless the tensor has `expected` shape (trailing 1s aside).
    public func expect(_ expected: [Int]) throws {
        var e = expected
        while e.count > 1, e.last == 1 { e.removeLast() }
        guard coreShape == e else {
            throw LDMError.model("\(name) has shape \(shape), expected \(expected)")
        }
    }

    /// Converts elements `start ..< start+n` to fp32. For Q8_0 both must be multiples of 32.
    public func decode(_ start: Int, _ n: Int, into dst: UnsafeMutablePointer<Float>) throws {
        precondition(start >= 0 && n >= 0 && start + n <= count)
        if case .q8_0 = type { precondition(start % TensorType.q8Block == 0 && n % TensorType.q8Block == 0) }
        try requireUsable()
        _ = Convert.any(type, bytes + type.byteCount(start)!, n, dst)
    }

    func requireUsable() throws {
        if case .other(let t, _) = type {
            throw LDMError.unsupported("\(name) has type \(t), which no layer can use")
        }
    }

    /// The whole tensor as a new array (for small tensors: norms, biases).
    public func floats() throws -> [Float] {
        var out = [Float](repeating: 0, count: count)
        try out.withUnsafeMutableBufferPointer { try decode(0, count, into: $0.baseAddress!) }
        return out
    }

    /// The tensor as a matrix of shape[0] rows that kernels read in blocks: in place when
    /// stored as aligned F32, otherwise as stored (for ck_sgemm) or each block converted into
    /// the workspace's weight slot.
    public func rows(_ ws: Workspace) throws -> WeightRows {
        let rows = shape.first ?? 1, length = rows > 0 ? count / rows : 0
        if type == .f32, Int(bitPattern: bytes) % 4 == 0 {
            return WeightRows(bytes.assumingMemoryBound(to: Float.self), rows: rows, rowLength: length)
        }
        try requireUsable()
        return WeightRows(rows: rows, rowLength: length, stored: WeightBlock(stored: bytes, type: type)) { first, n in
            let dst = try ws.scratch.floats(.weight, n * length)
            try decode(first * length, n * length, into: dst, threads: ws.threads)
            return UnsafePointer(dst)
        }
    }

    /// `decode` spread over threads in whole Q8_0 blocks (rows of Q8_0 tensors are whole blocks).
    private func decode(_ start: Int, _ n: Int, into dst: UnsafeMutablePointer<Float>, threads: Int) throws {
        let q = TensorType.q8Block
        guard n >= 1 << 16, start % q == 0, n % q == 0 else { return try decode(start, n, into: dst) }
        parallelRanges(n / q, threads: threads) { r in
            try? decode(start + r.lowerBound * q, r.count * q, into: dst + r.lowerBound * q)
        }
    }
}
