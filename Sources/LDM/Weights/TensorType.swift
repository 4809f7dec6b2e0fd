/// The storage types a weight can have in a model file.
public enum TensorType: Equatable, CustomStringConvertible {
    case f32, f16, bf16, q8_0
    /// A type the file format knows but no layer can use (int64 step counters and the like).
    /// Such tensors are checked like any other and only fail when a layer asks for them.
    case other(String, bytesPerElement: Int)

    /// Q8_0 as ggml lays it out: blocks of 32 weights, one fp16 scale then 32 int8 values.
    public static let q8Block = 32
    static let q8BlockBytes = 34

    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q8_0: return "Q8_0"
        case .other(let name, _): return name
        }
    }

    /// The bytes `count` elements occupy, or nil if the count is invalid for the type or the
    /// size overflows.
    func byteCount(_ count: Int) -> Int? {
        let perElement: Int
        switch self {
        case .f32: perElement = 4
        case .f16, .bf16: perElement = 2
        case .other(_, let b): perElement = b
        case .q8_0:
            guard count % Self.q8Block == 0 else { return nil }
            let (b, o) = (count / Self.q8Block).multipliedReportingOverflow(by: Self.q8BlockBytes)
            return o ? nil : b
        }
        let (b, o) = count.multipliedReportingOverflow(by: perElement)
        return o ? nil : b
    }
}
