/// Conversions from stored weight types to fp32. Sources may be unaligned (safetensors offsets
/// need not be), so they are read with unaligned loads.
enum Convert {
    /// fp16 -> fp32 by table: exact, portable (no F16C assumed), and fast.
    static let halfTable: [Float] = (0..<65536).map { halfToFloat(UInt16($0)) }

    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            // zero or subnormal: mant * 2^-24
            let v = Float(mant) * Float(bitPattern: 0x3380_0000)
            return sign == 0 ? v : -v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp + 112) << 23 | (mant << 13))
    }

    static func f16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        halfTable.withUnsafeBufferPointer { t in
            for i in 0..<n { dst[i] = t[Int(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))] }
        }
    }

    static func bf16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            dst[i] = Float(bitPattern: UInt32(h) << 16)
        }
    }

    /// `n` must be a multiple of 32; `src` points at the first block.
    static func q8_0(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        halfTable.withUnsafeBufferPointer { t in
            var p = src
            var o = dst
            for _ in 0..<(n / TensorType.q8Block) {
                let d = t[Int(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))]
                let q = (p + 2).assumingMemoryBound(to: Int8.self)
                for j in 0..<TensorType.q8Block { o[j] = d * Float(q[j]) }
                p += TensorType.q8BlockBytes
                o += TensorType.q8Block
            }
        }
    }
}
