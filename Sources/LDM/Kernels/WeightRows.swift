import CKernels

/// A weight matrix W [rows, rowLength] (one output channel or feature per row) that kernels
/// read a block of rows at a time: in place when it is stored as fp32; otherwise, for products,
/// as stored where ck_sgemm runs (it converts rows as it packs them), else converted just
/// before the products that use the block. A quantized layer then never has a whole fp32 copy
/// (SD's largest would be 59 MB).
public struct WeightRows {
    public let rows: Int
    public let rowLength: Int
    /// Stored as fp32: every block is a view, so one block of all rows costs nothing.
    let inPlace: Bool
    /// All rows as stored, for kernels that read every stored type (ck_sgemm, the Winograd
    /// filter transforms): the fp32 floats in place, or the stored rows they convert.
    let stored: WeightBlock?
    private let fetch: (Int, Int) throws -> UnsafePointer<Float>

    /// Floats of one converted block when a kernel has no block size of its own (32 MB: SD's
    /// 3x3 convolutions of 1280 channels go in three blocks).
    static let blockBudget = 1 << 23

    /// fp32 weights read in place.
    public init(_ w: UnsafePointer<Float>, rows: Int, rowLength: Int) {
        self.rows = rows
        self.rowLength = rowLength
        inPlace = true
        stored = WeightBlock(w)
        fetch = { first, _ in w + first * rowLength }
    }

    /// A tensor's items as rows, read in place.
    public init(_ t: Tensor) {
        self.init(t.data, rows: t.shape.first ?? 1, rowLength: t.itemCount)
    }

    /// Weights stored as `stored` (if given), whose `convert(first, count)` gives rows
    /// first ..< first+count as fp32, valid until the next call.
    init(rows: Int, rowLength: Int, stored: WeightBlock? = nil, convert: @escaping (Int, Int) throws -> UnsafePointer<Float>) {
        self.rows = rows
        self.rowLength = rowLength
        inPlace = false
        self.stored = stored
        fetch = convert
    }

    /// Rows first ..< first+count; valid until the next block is asked for.
    func block(_ first: Int, _ count: Int) throws -> UnsafePointer<Float> {
        precondition(first >= 0 && count >= 0 && first + count <= rows)
        return try fetch(first, count)
    }

    /// Calls `body(first, count, rows)` for consecutive blocks covering all rows, for products:
    /// one block when the weights are read in place or as stored, else converted blocks of at
    /// most `blockBudget` floats, whole multiples of 256 rows where they can be, so the GEMM
    /// tiles of each (64 rows, or 256 columns or more) share out evenly over threads.
    func forEachBlock(_ body: (Int, Int, WeightBlock) throws -> Void) throws {
        if let stored, inPlace || BLAS.ownKernel { return try body(0, rows, stored) }
        let fit = max(1, Self.blockBudget / max(rowLength, 1))
        let step = inPlace || fit >= rows ? rows : fit >= 256 ? fit / 256 * 256 : fit >= 64 ? fit / 64 * 64 : fit
        var first = 0
        while first < rows {
            let count = min(step, rows - first)
            try body(first, count, WeightBlock(try block(first, count)))
            first += count
        }
    }
}

/// Rows of a weight as a product reads them: fp32 floats, or rows as stored (fp16, bf16, Q8_0,
/// unaligned fp32) that only ck_sgemm reads, converting them as it packs (BLAS.gemm's weight
/// operands).
struct WeightBlock {
    let base: UnsafeRawPointer
    /// How the rows are stored, or nil for aligned fp32 floats.
    let type: TensorType?

    init(_ floats: UnsafePointer<Float>) {
        base = UnsafeRawPointer(floats)
        type = nil
    }

    init(stored base: UnsafeRawPointer, type: TensorType) {
        self.base = base
        self.type = type
    }

    /// The rows as fp32 floats, when they are held so.
    var floats: UnsafePointer<Float>? { type == nil ? base.assumingMemoryBound(to: Float.self) : nil }

    /// What ck_sgemm_typed is told the rows are (-1, refused, for a type no layer can use).
    var ckType: Int32 {
        switch type {
        case nil, .f32: return Int32(CK_F32)
        case .f16: return Int32(CK_F16)
        case .bf16: return Int32(CK_BF16)
        case .q8_0: return Int32(CK_Q8_0)
        case .other: return -1
        }
    }

    /// The block from row `row` on, rows `ld` elements apart (for Q8_0 a multiple of 32).
    func from(row: Int, ld: Int) -> WeightBlock {
        let next = base + row * ((type ?? .f32).byteCount(ld) ?? 0)
        return type.map { WeightBlock(stored: next, type: $0) } ?? WeightBlock(next.assumingMemoryBound(to: Float.self))
    }

    /// `rows` rows of `length` elements, `ld` apart, as fp32 (for a fallback path).
    func converted(rows: Int, length: Int, ld: Int) -> [Float] {
        let type = type ?? .f32, stride = type.byteCount(ld) ?? 0
        var out = [Float](repeating: 0, count: rows * length)
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<rows { _ = Convert.any(type, base + r * stride, length, o.baseAddress! + r * length) }
        }
        return out
    }
}
