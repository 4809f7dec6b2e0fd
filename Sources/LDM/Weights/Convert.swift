import CKernels

/// Conversions from stored weight types to fp32. Sources may be unaligned (safetensors offsets
/// need not be), so they are read with unaligned loads.
enum Convert {
    /// fp16 -> fp32, exact (F16C where the CPU has it).
    static func f16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        ck_f16_to_f32(src, n, dst)
    }

    static func bf16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            dst[i] = Float(bitPattern: UInt32(h) << 16)
        }
    }

    /// `n` must be a multiple of 32; `src` points at the first block.
    static func q8_0(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        ck_q8_0_to_f32(src, n / TensorType.q8Block, dst)
    }

    /// `n` elements stored as `type` from `src` on (for Q8_0 whole blocks); false for a type
    /// no layer can use.
    static func any(_ type: TensorType, _ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) -> Bool {
        switch type {
        case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 4 * n)
        case .f16: f16(src, n, dst)
        case .bf16: bf16(src, n, dst)
        case .q8_0: q8_0(src, n, dst)
        case .other: return false
        }
        return true
    }
}
