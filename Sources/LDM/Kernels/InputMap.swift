import CKernels

/// How a convolution reads its input, so the tensor it sees need not be stored: nearest 2x
/// upsampling of x, then v * scale + shift per (item, channel) (a GroupNorm) and SiLU.
public struct InputMap {
    public var scale: [Float]?
    public var shift: [Float]?
    public var silu = false
    public var upsample = false

    public init(scale: [Float]? = nil, shift: [Float]? = nil, silu: Bool = false, upsample: Bool = false) {
        self.scale = scale
        self.shift = shift
        self.silu = silu
        self.upsample = upsample
    }

    /// The shape the convolution sees for an input of `shape`.
    func mapped(_ shape: [Int]) -> [Int] {
        upsample ? [shape[0], shape[1], 2 * shape[2], 2 * shape[3]] : shape
    }

    /// The mapped tensor, stored (for the convolutions that cannot read through a map).
    func apply(_ x: Tensor, ws: Workspace) throws -> Tensor {
        let src = upsample ? try upsampleNearest2x(x, ws: ws) : x
        guard let scale, let shift else {
            guard silu else { return src }
            let y = upsample ? src : try src.copy()
            siluInPlace(y, ws: ws)
            return y
        }
        let y = try Tensor(src.shape)
        let plane = src.itemCount / src.shape[1], planes = src.shape[0] * src.shape[1]
        parallelRanges(planes, threads: ws.threads) { r in
            for p in r { ck_affine(src.data + p * plane, y.data + p * plane, plane, scale[p], shift[p], silu ? 1 : 0) }
        }
        return y
    }

    /// Runs `body` with the C view of this map.
    func withC<R>(_ body: (UnsafePointer<ck_input_map>) throws -> R) rethrows -> R {
        try (scale ?? []).withUnsafeBufferPointer { sp in
            try (shift ?? []).withUnsafeBufferPointer { hp in
                var m = ck_input_map(scale: scale == nil ? nil : sp.baseAddress, shift: shift == nil ? nil : hp.baseAddress,
                                     silu: silu ? 1 : 0, up: upsample ? 1 : 0)
                return try body(&m)
            }
        }
    }
}
