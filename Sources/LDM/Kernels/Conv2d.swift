/// How a convolution window moves over its input. Padding may be asymmetric: the autoencoder's
/// downsampling pads only right and bottom.
public struct ConvGeometry: Equatable {
    public var kernel: Int
    public var stride: Int
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int

    public init(kernel: Int, stride: Int = 1, pad: Int? = nil) {
        let p = pad ?? kernel / 2
        self.init(kernel: kernel, stride: stride, padTop: p, padLeft: p, padBottom: p, padRight: p)
    }

    public init(kernel: Int, stride: Int, padTop: Int, padLeft: Int, padBottom: Int, padRight: Int) {
        self.kernel = kernel
        self.stride = stride
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
    }

    func outSize(_ h: Int, _ w: Int) -> (Int, Int) {
        ((h + padTop + padBottom - kernel) / stride + 1, (w + padLeft + padRight - kernel) / stride + 1)
    }

    var isPointwise: Bool { kernel == 1 && stride == 1 && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0 }
}

/// The im2col block budget in floats: columns are built for a band of output pixels at a
/// time, so scratch stays bounded whatever the image size.
let columnBudget = 1 << 22

/// Told `(item, rows)` when rows 0 ..< rows of that item of a convolution's input will not be
/// read again, with growing counts that end at the input's height for every item: the caller
/// may use those rows one last time and drop them (the filters are transformed by then, so it
/// may convert weights of its own).
public typealias Consumed = (_ item: Int, _ rows: Int) throws -> Void

/// y = conv(x, W) + bias for x [N, Cin, H, W] as `map` presents it and W [Cout, Cin*k*k]
/// (PyTorch's layout, flattened), into a new tensor or added to `into`. Winograd takes the
/// 3x3 convolutions it suits and reads through the map; the others see the map applied.
/// Pointwise convolutions are one GEMM on the input per block of weight rows; the rest build
/// im2col bands and multiply each into its slice of the output (again per block of rows: a
/// converted weight is converted once, its columns rebuilt for each block).
public func conv2d(_ x: Tensor, weight: WeightRows, bias: [Float]?, outChannels cout: Int,
                   geometry g: ConvGeometry, ws: Workspace, map: InputMap = InputMap(), into: Tensor? = nil,
                   consumed: Consumed? = nil) throws -> Tensor {
    let seen = map.mapped(x.shape)
    let (n, cin, h, w) = (seen[0], seen[1], seen[2], seen[3])
    let kk = cin * g.kernel * g.kernel
    guard weight.rows == cout, weight.rowLength == kk else {
        throw LDMError.shape("a \(weight.rows)x\(weight.rowLength) weight cannot map \(cin) channels to \(cout) with \(g.kernel)x\(g.kernel) kernels")
    }
    if let variant = Winograd.variant(g, channels: cin, batch: n, height: h, width: w) {
        return try Winograd.conv(x, weight: weight, bias: bias, outChannels: cout, ws: ws, variant: variant, map: map, into: into,
                                 consumed: consumed)
    }
    let (ho, wo) = g.outSize(h, w)
    guard ho > 0, wo > 0 else { throw LDMError.shape("input \(h)x\(w) is too small for a \(g.kernel)x\(g.kernel) convolution") }
    let mapped = try map.apply(x, ws: ws)
    let y = try into.map { try $0.expect([n, cout, ho, wo]) } ?? Tensor([n, cout, ho, wo])
    let beta: Float = into == nil ? 0 : 1
    let pixels = ho * wo
    // Where every item's columns fit the budget (deep levels: few pixels, big weights) they are
    // built once, side by side, and each block of weight rows meets all of them in one product,
    // so the weights are streamed through once, not once per item; otherwise bands of one
    // item's pixels are built for each block.
    let together = kk * n * pixels <= columnBudget
    let band = together ? pixels : max(1, min(pixels, columnBudget / kk))
    let cols = g.isPointwise ? nil : try ws.scratch.floats(.columns, kk * (together ? n * pixels : band))
    if let cols, together {
        for b in 0..<n {
            im2col(mapped.item(b), cin: cin, h: h, w: w, g: g, wo: wo, p0: 0, count: pixels, into: cols + b * pixels, ld: n * pixels,
                   threads: ws.threads)
        }
    }
    try weight.forEachBlock { k0, nk, wk in
        if let cols, together {
            // One item's product lands in place; several go through a staging block.
            let stage = n == 1 ? y.data + k0 * pixels : try ws.scratch.floats(.work, nk * n * pixels)
            BLAS.gemm(m: nk, n: n * pixels, k: kk, a: wk, lda: kk, b: cols, ldb: n * pixels, beta: n == 1 ? beta : 0, c: stage,
                      ldc: n * pixels, threads: ws.threads)
            guard n > 1 else { return }
            parallelRanges(n * nk, threads: ws.threads) { rows in
                for r in rows {
                    let b = r / nk, src = stage + (r % nk) * n * pixels + b * pixels, dst = y.item(b) + (k0 + r % nk) * pixels
                    if beta == 0 { dst.update(from: src, count: pixels) } else { for i in 0..<pixels { dst[i] += src[i] } }
                }
            }
            return
        }
        for b in 0..<n {
            let out = y.item(b) + k0 * pixels
            guard let cols else {
                BLAS.gemm(m: nk, n: pixels, k: cin, a: wk, lda: cin, b: mapped.item(b), ldb: pixels, beta: beta, c: out, ldc: pixels, threads: ws.threads)
                continue
            }
            var p0 = 0
            while p0 < pixels {
                let nb = min(band, pixels - p0)
                im2col(mapped.item(b), cin: cin, h: h, w: w, g: g, wo: wo, p0: p0, count: nb, into: cols, ld: nb, threads: ws.threads)
                BLAS.gemm(m: nk, n: nb, k: kk, a: wk, lda: kk, b: cols, ldb: nb, beta: beta, c: out + p0, ldc: pixels, threads: ws.threads)
                p0 += nb
            }
        }
    }
    if let bias {
        for b in 0..<n { addChannelBias(y.item(b), bias, pixels: pixels, threads: ws.threads) }
    }
    if let consumed {
        for b in 0..<n { try consumed(b, x.shape[2]) }
    }
    return y
}

/// Columns for output pixels p0 ..< p0+count: row (c, ky, kx), `ld` floats after the last,
/// holds the input value each of those pixels sees at that kernel tap, or 0 in the padding.
func im2col(_ x: UnsafePointer<Float>, cin: Int, h: Int, w: Int, g: ConvGeometry, wo: Int,
            p0: Int, count: Int, into cols: UnsafeMutablePointer<Float>, ld: Int, threads: Int) {
    let k = g.kernel
    let (ho, _) = g.outSize(h, w)
    let wholePlanes = g.stride == 1 && ho == h && wo == w && p0 == 0 && count == h * w
    parallelRanges(cin * k * k, threads: threads) { rows in
        for row in rows {
            let c = row / (k * k), ky = (row / k) % k, kx = row % k
            let plane = x + c * h * w
            if wholePlanes {
                shiftedPlane(plane, h: h, w: w, dy: ky - g.padTop, dx: kx - g.padLeft, into: cols + row * ld)
                continue
            }
            var dst = cols + row * ld
            var p = p0
            let end = p0 + count
            while p < end {
                let oy = p / wo, ox0 = p % wo
                let run = min(wo - ox0, end - p)  // pixels left in this output row
                let iy = oy * g.stride - g.padTop + ky
                if iy < 0 || iy >= h {
                    dst.update(repeating: 0, count: run)
                } else {
                    let src = plane + iy * w
                    for j in 0..<run {
                        let ix = (ox0 + j) * g.stride - g.padLeft + kx
                        dst[j] = ix >= 0 && ix < w ? src[ix] : 0
                    }
                }
                dst += run
                p += run
            }
        }
    }
}

/// dst[y, x] = plane[y + dy, x + dx], or 0 outside the plane: a stride-1 tap's whole row of
/// columns as one shifted copy, then the columns that wrapped round a row edge zeroed (the
/// deep levels' 8x8 and 4x4 planes make rows too short for a copy per row).
private func shiftedPlane(_ plane: UnsafePointer<Float>, h: Int, w: Int, dy: Int, dx: Int, into dst: UnsafeMutablePointer<Float>) {
    let n = h * w, shift = dy * w + dx
    let lo = min(n, max(0, -shift)), hi = max(lo, min(n, n - shift))
    dst.update(repeating: 0, count: lo)
    dst.advanced(by: lo).update(from: plane.advanced(by: lo + shift), count: hi - lo)
    dst.advanced(by: hi).update(repeating: 0, count: n - hi)
    let wrapped = dx < 0 ? 0..<min(w, -dx) : max(0, w - dx)..<w
    for y in 0..<h {
        for x in wrapped { dst[y * w + x] = 0 }
    }
}

/// y[c, :] += bias[c] over `pixels` values per channel, channels `stride` values apart.
func addChannelBias(_ y: UnsafeMutablePointer<Float>, _ bias: [Float], pixels: Int, stride: Int? = nil, threads: Int) {
    bias.withUnsafeBufferPointer { bp in
        parallelRanges(bp.count, threads: threads) { cs in
            for c in cs {
                let row = y + c * (stride ?? pixels), v = bp[c]
                for i in 0..<pixels { row[i] += v }
            }
        }
    }
}
