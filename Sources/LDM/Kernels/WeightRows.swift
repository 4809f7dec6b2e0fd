/// A weight matrix W [rows, rowLength] (one output channel or feature per row) that kernels
/// read a block of rows at a time: in place when it is stored as fp32, otherwise converted
/// just before the products that use the block. A quantized layer then never has a whole fp32
/// copy (SD's largest would be 59 MB).
public struct WeightRows {
    public let rows: Int
    public let rowLength: Int
    /// Stored as fp32: every block is a view, so one block of all rows costs nothing.
    let inPlace: Bool
    private let fetch: (Int, Int) throws -> UnsafePointer<Float>

    /// Floats of one converted block when a kernel has no block size of its own (32 MB: SD's
    /// 3x3 convolutions of 1280 channels go in three blocks).
    static let blockBudget = 1 << 23

    /// fp32 weights read in place.
    public init(_ w: UnsafePointer<Float>, rows: Int, rowLength: Int) {
        self.rows = rows
        self.rowLength = rowLength
        inPlace = true
        fetch = { first, _ in w + first * rowLength }
    }

    /// A tensor's items as rows, read in place.
    public init(_ t: Tensor) {
        self.init(t.data, rows: t.shape.first ?? 1, rowLength: t.itemCount)
    }

    /// Weights whose `convert(first, count)` gives rows first ..< first+count as fp32, valid
    /// until the next call.
    init(rows: Int, rowLength: Int, convert: @escaping (Int, Int) throws -> UnsafePointer<Float>) {
        self.rows = rows
        self.rowLength = rowLength
        inPlace = false
        fetch = convert
    }

    /// Rows first ..< first+count; valid until the next block is asked for.
    func block(_ first: Int, _ count: Int) throws -> UnsafePointer<Float> {
        precondition(first >= 0 && count >= 0 && first + count <= rows)
        return try fetch(first, count)
    }

    /// Calls `body(first, count, rows)` for consecutive blocks covering all rows: one block
    /// when the weights are read in place, else blocks of at most `blockBudget` floats, whole
    /// multiples of 256 rows where they can be, so the GEMM tiles of each (64 rows, or 256
    /// columns or more) share out evenly over threads.
    func forEachBlock(_ body: (Int, Int, UnsafePointer<Float>) throws -> Void) throws {
        let fit = max(1, Self.blockBudget / max(rowLength, 1))
        let step = inPlace || fit >= rows ? rows : fit >= 256 ? fit / 256 * 256 : fit >= 64 ? fit / 64 * 64 : fit
        var first = 0
        while first < rows {
            let count = min(step, rows - first)
            try body(first, count, try block(first, count))
            first += count
        }
    }
}
