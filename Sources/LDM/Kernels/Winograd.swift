import CKernels

/// Winograd convolution for 3x3 kernels with stride 1 and padding 1 (Lavin & Gray 2016): per
/// output tile, `planes` products instead of 9 per output pixel, as `planes` GEMMs
/// U[e] (K x C) * V[e] (C x tiles) between transforms written in C. Batch items' tiles share the
/// GEMMs, so deep, small levels still multiply wide matrices. Work is blocked over output
/// channels and tiles so scratch stays bounded; blocks depend on shapes only, so results do not
/// depend on the thread count.
enum Winograd {
    struct Variant {
        let tile: Int
        let planes: Int
        let weights: (UnsafePointer<Float>?, Int, Int, Int, Int, UnsafeMutablePointer<Float>?) -> Void
        let input: (UnsafePointer<Float>?, Int, Int, Int, Int, Int, Int, Int, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?,
                    UnsafePointer<ck_input_map>?) -> Void
        let output: (UnsafePointer<Float>?, Int, Int, Int, Int, Int, Int, Int, Int, Int, UnsafePointer<Float>?,
                     UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int32) -> Void
        /// Per-thread floats the transforms need for an image `width` wide.
        let scratch: (Int) -> Int
    }

    /// F(2x2, 3x3): 16 products per 2x2 tile (2.25x fewer), about fp32's own accuracy.
    static let f2 = Variant(tile: 2, planes: 16, weights: ck_wino_weights, input: ck_wino_input, output: ck_wino_output,
                            scratch: { ck_wino_input_scratch($0) })
    /// F(4x4, 3x3): 36 products per 4x4 tile (4x fewer); relative error ~3e-6 per convolution.
    static let f4 = Variant(tile: 4, planes: 36, weights: ck_wino4_weights, input: ck_wino4_input, output: ck_wino4_output,
                            scratch: { ck_wino4_input_scratch($0) })

    /// Floats per transformed block of inputs or products (V, M), about 24 MB, and of filters
    /// (U): enough for 512 x 512 channels at F(4x4), so the input is transformed once per call
    /// (for more channels too where all tiles make one block).
    static let budget = 6 << 20
    static let filterBudget = 10 << 20

    /// The variant for an input, or nil where direct convolution is better: Winograd wants
    /// enough tiles to keep the GEMMs wide. F(4x4) pays from 1024 pixels (a 32x32 UNet level at
    /// batch 1, 2 threads, 3 alternating rounds: 320 channels 7.4-8.0 -> 6.6-7.6 ms, 640
    /// channels 29.3-29.9 -> 26.2-26.5 ms); at 512 it loses (640 channels 15.5 -> 16.4 ms).
    static func variant(_ g: ConvGeometry, channels: Int, batch: Int, height: Int, width: Int) -> Variant? {
        guard g.kernel == 3, g.stride == 1, g.padTop == 1, g.padLeft == 1, g.padBottom == 1, g.padRight == 1, channels >= 16 else {
            return nil
        }
        let pixels = batch * height * width
        return pixels >= 1024 ? f4 : pixels >= 256 ? f2 : nil
    }

    /// The convolution of x as `map` presents it, into a new tensor or added to `into`. Tiles
    /// are visited in row order, so in the pass over the last block of filters the input is
    /// read from top to bottom: `consumed` (see `conv2d`) hears as each band of rows is done.
    static func conv(_ x: Tensor, weight: WeightRows, bias: [Float]?, outChannels k: Int, ws: Workspace,
                     variant v: Variant, map: InputMap = InputMap(), into: Tensor? = nil, consumed: Consumed? = nil,
                     budget: Int = budget, filterBudget: Int = filterBudget) throws -> Tensor {
        let seen = map.mapped(x.shape)
        let (n, c, h, w) = (seen[0], seen[1], seen[2], seen[3])
        let tilesPerItem = ((h + v.tile - 1) / v.tile) * ((w + v.tile - 1) / v.tile), tilesPerRow = (w + v.tile - 1) / v.tile
        let upsample = h / x.shape[2]
        var reported = 0  // items whose rows have all been reported
        /// Reports the rows no tile from `next` on reads: whole items before its own, and in
        /// its own the rows above its tile row's top halo.
        func report(next: Int) throws {
            guard let consumed else { return }
            let item = next / tilesPerItem
            while reported < min(item, n) {
                try consumed(reported, x.shape[2])
                reported += 1
            }
            if item < n {
                let top = (next % tilesPerItem) / tilesPerRow * v.tile - 1
                if top > 0 { try consumed(item, top / upsample) }
            }
        }
        let y = try into.map { try $0.expect([n, k, h, w]) } ?? Tensor([n, k, h, w])
        let e = v.planes
        let tiles = n * ((h + v.tile - 1) / v.tile) * ((w + v.tile - 1) / v.tile)
        let kBlock = max(1, min(k, filterBudget / (e * c)))
        let qBlock = max(1, min(tiles, budget / (e * max(c, kBlock))))
        let u = try ws.scratch.floats(.winograd, e * ck_wino_plane(kBlock * c))
        let vt = try ws.scratch.floats(.columns, e * ck_wino_plane(c * qBlock))
        let m = try ws.scratch.floats(.work, e * ck_wino_plane(kBlock * qBlock))
        let perThread = v.scratch(w)
        let rows = try ws.scratch.floats(.rows, ws.threads * perThread)
        // Filters as stored where ck_wino_filters reads them (fp16 and Q8_0 need no fp32
        // block), else converted a block at a time for the portable transforms.
        let tile = Int32(v.tile)
        let stored = weight.stored.flatMap { ck_wino_filters(tile, $0.base, $0.ckType, c, 0, 0, 0, u) == 0 ? $0 : nil }
        func run(_ biasPtr: UnsafePointer<Float>?, _ mapPtr: UnsafePointer<ck_input_map>) throws {
            func transformInput(_ q0: Int, _ nq: Int) {
                parallelChunks(c, threads: ws.threads) { worker, r in
                    v.input(x.data, c, h, w, r.lowerBound, r.count, q0, nq, vt, rows + worker * perThread, mapPtr)
                }
            }
            // Where all tiles make one block, their input is transformed once for every block of
            // filters, not once per block (the deep levels' 1280 channels take three).
            let oneBlock = qBlock == tiles
            if oneBlock { transformInput(0, tiles) }
            var k0 = 0
            while k0 < k {
                let nk = min(kBlock, k - k0)
                let wk = stored == nil ? try weight.block(k0, nk) : nil
                parallelRanges(nk, threads: ws.threads) { r in
                    if let stored {
                        _ = ck_wino_filters(tile, stored.base, stored.ckType, c, k0 + r.lowerBound, r.count, nk, u + r.lowerBound * c)
                    } else {
                        v.weights(wk, c, r.lowerBound, r.count, nk, u + r.lowerBound * c)
                    }
                }
                try ws.checkCancelled()
                var q0 = 0
                while q0 < tiles {
                    let nq = min(qBlock, tiles - q0)
                    if !oneBlock { transformInput(q0, nq) }
                    // Planes outnumber threads: each plane's product whole on one thread packs
                    // its filters once, in one parallel region for all planes.
                    let (uPlane, vPlane, mPlane) = (ck_wino_plane(nk * c), ck_wino_plane(c * nq), ck_wino_plane(nk * nq))
                    parallelRanges(e, threads: ws.threads) { ps in
                        for p in ps {
                            BLAS.gemm(m: nk, n: nq, k: c, a: u + p * uPlane, lda: c, b: vt + p * vPlane, ldb: nq,
                                      c: m + p * mPlane, ldc: nq, threads: 1)
                        }
                    }
                    parallelChunks(nk, threads: ws.threads) { worker, r in
                        v.output(m, k, h, w, k0, nk, k0 + r.lowerBound, r.count, q0, nq, biasPtr, y.data, rows + worker * perThread,
                                 into == nil ? 0 : 1)
                    }
                    q0 += nq
                    if k0 + nk == k { try report(next: q0) }
                }
                k0 += nk
            }
        }
        try map.withC { mapPtr in
            if let bias { try bias.withUnsafeBufferPointer { try run($0.baseAddress, mapPtr) } } else { try run(nil, mapPtr) }
        }
        return y
    }
}
