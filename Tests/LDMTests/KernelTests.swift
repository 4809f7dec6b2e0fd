import XCTest
import CKernels
@testable import LDM

/// Kernels against naive loops (Double accumulation) on random data.
final class KernelTests: XCTestCase {
    var rng = SystemRandomNumberGenerator()

    func random(_ shape: [Int]) throws -> Tensor {
        let t = try Tensor(shape)
        var r = TorchRandom(seed: UInt64(shape.reduce(7, *)))
        r.fillNormal(t.data, t.count)
        return t
    }

    func naiveConv(_ x: Tensor, _ w: Tensor, _ bias: [Float], _ g: ConvGeometry) throws -> Tensor {
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cout = w.shape[0], k = g.kernel
        let (ho, wo) = g.outSize(h, wd)
        let y = try Tensor([n, cout, ho, wo])
        for b in 0..<n { for o in 0..<cout { for oy in 0..<ho { for ox in 0..<wo {
            var s = Double(bias[o])
            for c in 0..<cin { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * g.stride - g.padTop + ky, ix = ox * g.stride - g.padLeft + kx
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                s += Double(x.data[((b * cin + c) * h + iy) * wd + ix]) * Double(w.data[((o * cin + c) * k + ky) * k + kx])
            } } }
            y.data[((b * cout + o) * ho + oy) * wo + ox] = Float(s)
        } } } }
        return y
    }

    /// Every transpose combination, sizes around the micro-tile (14 x 32) and block edges (224
    /// rows and 512 columns at k up to 384; 126 and 288 at 672, 98 and 224 at 832), k in one or
    /// two blocks (at most 1280 deep), padded leading dimensions, beta 0 over NaN (never read) and
    /// beta 0.5; one and two threads agree bitwise (the first reusing the packing buffers of the
    /// products before, the second with new ones). With AVX-512, 28 x 40 runs as C^T on one
    /// thread but not wholly on two, and 230 x 40 as C^T; 100 x 200 as C^T on one thread (a
    /// short C: the long operand is read once), as two narrow products on two. Both paths:
    /// ck_sgemm where the CPU has AVX-512, and OpenBLAS.
    func testGemm() throws {
        let own = BLAS.ownKernel
        defer { BLAS.ownKernel = own }
        for path in own ? [true, false] : [false] {
            BLAS.ownKernel = path
            try checkGemm(path ? "ck_sgemm" : "OpenBLAS")
        }
    }

    func checkGemm(_ path: String) throws {
        let sizes = [(1, 1, 1), (13, 17, 15), (15, 33, 17), (29, 31, 801), (130, 300, 1300), (230, 40, 33), (230, 40, 801), (28, 40, 300), (20, 530, 9), (100, 200, 50), (3, 5, 0)]
        for (m, n, k) in sizes { for transA in [false, true] { for transB in [false, true] { for beta: Float in [0, 0.5] {
            let (ra, ca) = transA ? (k, m) : (m, k), (rb, cb) = transB ? (n, k) : (k, n)
            let (lda, ldb, ldc) = (ca + 3, cb + 1, n + 2)
            let a = try random([max(ra, 1), lda]), b = try random([max(rb, 1), ldb]), c0 = try random([m, ldc])
            if beta == 0 { for i in 0..<c0.count { c0.data[i] = .nan } }
            var outs: [[Float]] = []
            for threads in [1, 2] {
                if threads == 2 { ck_release_buffers() }  // new packing buffers, against ones the products before used
                let c = try Tensor([m, ldc])
                c.data.update(from: c0.data, count: c0.count)
                BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.data, lda: lda, b: b.data, ldb: ldb,
                          beta: beta, c: c.data, ldc: ldc, alpha: 0.75, threads: threads)
                outs.append(Array(UnsafeBufferPointer(start: c.data, count: c.count)))
            }
            let what = "\(path) \(m)x\(n)x\(k) transA \(transA) transB \(transB) beta \(beta)"
            XCTAssertEqual(outs[0].map(\.bitPattern), outs[1].map(\.bitPattern), what)
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    s += Double(transA ? a.data[p * lda + i] : a.data[i * lda + p]) * Double(transB ? b.data[j * ldb + p] : b.data[p * ldb + j])
                }
                let want = 0.75 * s + (beta == 0 ? 0 : Double(beta) * Double(c0.data[i * ldc + j]))
                XCTAssertEqual(Double(outs[0][i * ldc + j]), want, accuracy: 1e-5 * (1 + abs(want)) * Double(max(k, 1)).squareRoot(), what)
            } }
            for i in 0..<m { for j in n..<ldc where outs[0][i * ldc + j].bitPattern != c0.data[i * ldc + j].bitPattern {
                XCTFail("\(what): padding column \(j) of row \(i) written")
            } }
        } } } }
    }

    /// A C at most four micro-tiles wide reads an fp32 A in place rather than packing it: the
    /// values the packing path gives the same columns of a wider product, over several k blocks.
    func testGemmNarrowReadsAInPlace() throws {
        try XCTSkipUnless(BLAS.ownKernel, "only ck_sgemm (AVX-512) reads A in place")
        let (m, k, wide) = (45, 2700, 140)
        let a = try random([m, k + 3]), b = try random([k, wide])
        for n in [1, 17, 32, 100, 128] {
            let narrow = try Tensor([m, n]), full = try Tensor([m, wide])
            BLAS.gemm(m: m, n: n, k: k, a: a.data, lda: k + 3, b: b.data, ldb: wide, c: narrow.data, ldc: n, threads: 2)
            BLAS.gemm(m: m, n: wide, k: k, a: a.data, lda: k + 3, b: b.data, ldb: wide, c: full.data, ldc: wide, threads: 2)
            let columns = (0..<(m * n)).map { full.data[$0 / n * wide + $0 % n] }
            XCTAssertTrue(narrow.array == columns, "n \(n)")
        }
    }

    /// Random weights stored as `type` from the second byte on (unaligned): a sane fp16, bf16
    /// or fp32 per element, or per Q8_0 block an fp16 scale, then random int8s.
    func randomStored(_ type: TensorType, _ count: Int) -> [UInt8] {
        let length = type.byteCount(count)! + 1
        var bytes = [UInt8](repeating: 0, count: length)
        for i in 0..<length { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        bytes.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress! + 1
            switch type {
            case .f16: for i in 0..<count { p.storeBytes(of: Float16(Float.random(in: -2...2, using: &rng)), toByteOffset: 2 * i, as: Float16.self) }
            case .bf16: for i in 0..<count { p.storeBytes(of: UInt16(Float.random(in: -2...2, using: &rng).bitPattern >> 16), toByteOffset: 2 * i, as: UInt16.self) }
            case .q8_0: for b in 0..<count / 32 { p.storeBytes(of: Float16(Float.random(in: 0.001...0.1, using: &rng)), toByteOffset: 34 * b, as: Float16.self) }
            default: for i in 0..<count { p.storeBytes(of: Float.random(in: -2...2, using: &rng), toByteOffset: 4 * i, as: Float.self) }
            }
        }
        return bytes
    }

    /// Weights read as stored (fp16, bf16, Q8_0, unaligned fp32), as A and as B^T, packed or
    /// (for a narrow C) converted rows read in place, over one or two k blocks, give bitwise
    /// the products of the same weights converted to fp32 first, on one and two threads; and
    /// WeightRows hands ck_sgemm the stored rows, OpenBLAS converted blocks.
    func testGemmStoredWeights() throws {
        try XCTSkipUnless(BLAS.ownKernel, "weights are read as stored only by ck_sgemm (AVX-512)")
        let types: [TensorType] = [.f16, .bf16, .q8_0, .f32]
        for (rows, k, other) in [(37, 96, 50), (300, 1280, 20), (14, 32, 33), (5, 64, 600), (30, 1600, 45), (20, 36, 7)] {
            let ld = k + 32
            let x = try random([other, k])
            for type in types where type != .q8_0 || k % 32 == 0 {
                let bytes = randomStored(type, rows * ld)
                try bytes.withUnsafeBytes { raw in
                    let stored = WeightBlock(stored: raw.baseAddress! + 1, type: type)
                    let w = stored.converted(rows: rows, length: ld, ld: ld)
                    try w.withUnsafeBufferPointer { wf in
                        let floats = WeightBlock(wf.baseAddress!)
                        for asA in [true, false] {
                            let (m, n) = asA ? (rows, other) : (other, rows)
                            var outs: [[UInt32]] = []
                            for (weights, threads) in [(floats, 1), (stored, 1), (stored, 2)] {
                                let c = try Tensor([m, n])
                                if asA {
                                    BLAS.gemm(transB: true, m: m, n: n, k: k, a: weights, lda: ld, b: x.data, ldb: k, c: c.data, ldc: n, threads: threads)
                                } else {
                                    BLAS.gemm(transB: true, m: m, n: n, k: k, a: x.data, lda: k, b: weights, ldb: ld, c: c.data, ldc: n, threads: threads)
                                }
                                outs.append(UnsafeBufferPointer(start: c.data, count: c.count).map(\.bitPattern))
                            }
                            let what = "\(type) \(rows)x\(k) as \(asA ? "A" : "B^T")"
                            XCTAssertEqual(zip(outs[0], outs[1]).filter { $0 != $1 }.count, 0, "\(what): elements differing from fp32 weights")
                            XCTAssertEqual(zip(outs[1], outs[2]).filter { $0 != $1 }.count, 0, "\(what): elements differing on 2 threads")
                        }
                    }
                    // A product sees the stored rows on ck_sgemm, converted blocks on OpenBLAS.
                    let held = try Tensor([rows, ld])
                    w.withUnsafeBufferPointer { held.data.update(from: $0.baseAddress!, count: rows * ld) }
                    let weightRows = WeightRows(rows: rows, rowLength: ld, stored: stored) { first, _ in UnsafePointer(held.data + first * ld) }
                    try weightRows.forEachBlock { _, _, block in XCTAssertEqual(block.type, type) }
                    BLAS.ownKernel = false
                    defer { BLAS.ownKernel = true }
                    try weightRows.forEachBlock { _, _, block in XCTAssertNil(block.type) }
                }
            }
        }
    }

    /// The AVX-512 Winograd filter transforms read weights as stored (fp32, fp16, bf16, Q8_0)
    /// and give, bit for bit, the portable transforms' values on the weights converted to fp32:
    /// whole vectors of 16 filters, a partial last one, blocks of output channels from k0 on.
    func testWinogradFiltersReadStoredWeights() throws {
        try XCTSkipUnless(ck_has_avx512() != 0, "the stored-weight filter transforms are AVX-512 code")
        let k = 5
        for type in [TensorType.f32, .f16, .bf16, .q8_0] {
            for c in type == .q8_0 ? [32, 96, 320] : [16, 40, 320] {
                let bytes = randomStored(type, k * c * 9)
                bytes.withUnsafeBytes { raw in
                    let stored = WeightBlock(stored: raw.baseAddress! + 1, type: type)
                    let w = stored.converted(rows: k, length: c * 9, ld: c * 9)
                    for (tile, planes, portable) in [(Int32(2), 16, ck_wino_weights), (4, 36, ck_wino4_weights)] {
                        let size = planes * ck_wino_plane(k * c)
                        var expected = [Float](repeating: .nan, count: size), ours = expected
                        portable(w, c, 0, k, k, &expected)
                        ours.withUnsafeMutableBufferPointer { u in
                            for (k0, nk) in [(0, 2), (2, 3)] {
                                XCTAssertEqual(ck_wino_filters(tile, stored.base, stored.ckType, c, k0, nk, k, u.baseAddress! + k0 * c), 0)
                            }
                        }
                        let differing = zip(expected, ours).filter { $0.bitPattern != $1.bitPattern }.count
                        XCTAssertEqual(differing, 0, "\(type), \(c) channels, F(\(tile)x\(tile))")
                    }
                }
            }
        }
        var u = [Float](repeating: 0, count: 16)
        XCTAssertEqual(ck_wino_filters(2, u, Int32(CK_Q8_0), 16, 0, 0, 1, &u), -2, "Q8_0 rows of 144 elements are not whole blocks")
    }

    func testConv2d() throws {
        let ws = Workspace(threads: 2)
        let cases: [([Int], Int, ConvGeometry)] = [
            ([2, 5, 9, 7], 6, ConvGeometry(kernel: 3)),
            ([1, 4, 8, 8], 3, ConvGeometry(kernel: 3, stride: 2, padTop: 0, padLeft: 0, padBottom: 1, padRight: 1)),
            ([1, 3, 7, 10], 5, ConvGeometry(kernel: 3, stride: 2, pad: 1)),
            ([2, 8, 5, 6], 4, ConvGeometry(kernel: 1)),
            ([1, 2, 6, 6], 2, ConvGeometry(kernel: 5, stride: 1, pad: 2)),
            ([2, 3, 2, 3], 2, ConvGeometry(kernel: 5, stride: 1, pad: 2)),  // taps shifted off the whole plane
            ([1, 2, 1, 1], 3, ConvGeometry(kernel: 3)),
            ([1, 64, 100, 100], 3, ConvGeometry(kernel: 3)),  // im2col in several bands
        ]
        for (shape, cout, g) in cases {
            let x = try random(shape)
            let w = try random([cout, shape[1], g.kernel, g.kernel])
            let bias = (0..<cout).map { Float($0) * 0.1 - 0.2 }
            let ours = try conv2d(x, weight: WeightRows(w), bias: bias, outChannels: cout, geometry: g, ws: ws)
            XCTAssertClose(ours, try naiveConv(x, w, bias, g), 1e-5, "conv \(shape) k\(g.kernel) s\(g.stride)")
        }
    }

    /// Winograd planes are at least as long as their contents and a multiple of 4 KB plus one
    /// cache line apart, so their streams fall into different cache sets.
    func testWinogradPlanesAvoidAliasing() {
        for n in [1, 16, 1000, 1024, 1040, 640 * 640, 1280 * 128 + 3] {
            XCTAssertGreaterThanOrEqual(ck_wino_plane(n), n)
            XCTAssertEqual(ck_wino_plane(n) % 1024, 16, "n \(n)")
        }
    }

    /// A convolution says when it has read rows of its input for the last time: rows poisoned
    /// with NaN as soon as they are reported leave the result as it was, the counts never
    /// shrink, and every item ends fully reported. Winograd F2 and F4 with blocks of filters and
    /// of tiles (one ending mid-row), reading through an upsampling map, im2col and pointwise.
    func testConvolutionReportsRowsItHasFinishedReading() throws {
        let ws = Workspace(threads: 2)
        let cases: [([Int], Int, Bool, Winograd.Variant?, Int)] = [
            ([2, 16, 23, 18], 10, false, Winograd.f4, 36 * 16 * 7), ([3, 16, 9, 13], 6, true, Winograd.f2, 16 * 16 * 5),
            ([2, 16, 12, 12], 8, false, Winograd.f4, Winograd.budget), ([2, 5, 9, 7], 6, false, nil, 0), ([2, 8, 5, 6], 4, false, nil, 0),
        ]
        for (shape, cout, upsample, variant, budget) in cases {
            let kernel = variant == nil && shape[1] == 8 ? 1 : 3
            let x = try random(shape), w = try random([cout, shape[1], kernel, kernel])
            let map = InputMap(upsample: upsample)
            func run(_ consumed: Consumed?) throws -> Tensor {
                guard let variant else {
                    return try conv2d(x, weight: WeightRows(w), bias: nil, outChannels: cout, geometry: ConvGeometry(kernel: kernel), ws: ws,
                                      map: map, consumed: consumed)
                }
                return try Winograd.conv(x, weight: WeightRows(w), bias: nil, outChannels: cout, ws: ws, variant: variant, map: map,
                                         consumed: consumed, budget: budget, filterBudget: budget)
            }
            let ref = try run(nil)
            var reported = [Int](repeating: 0, count: shape[0]), calls = 0
            let ours = try run { item, rows in
                XCTAssertGreaterThanOrEqual(rows, reported[item])
                let plane = shape[2] * shape[3]
                for c in 0..<shape[1] {
                    (x.item(item) + c * plane).update(repeating: .nan, count: rows * shape[3])
                }
                reported[item] = rows
                calls += 1
            }
            XCTAssertEqual(reported, [Int](repeating: shape[2], count: shape[0]), "\(shape)")
            XCTAssertClose(ours, ref, 0, "conv \(shape) -> \(cout) after poisoning consumed rows (\(calls) reports)")
        }
    }

    /// Dropping rows of a mapped tensor frees the whole pages inside them (rows of 2 KB: a row
    /// that shares a page with a kept row keeps its values) and nothing outside them.
    func testDroppingRowsFreesWholePagesOnly() throws {
        let t = try Tensor([2, 3, 512, 512])
        t.data.update(repeating: 1, count: t.count)
        t.drop(item: 1, rows: 101..<200)
        for item in 0..<2 {
            for c in 0..<3 {
                let plane = t.item(item) + c * 512 * 512
                for row in [0, 100, 101, 102, 199, 200, 511] {
                    let dropped = item == 1 && (102..<200).contains(row)
                    XCTAssertEqual(plane[row * 512], dropped ? 0 : 1, "item \(item) channel \(c) row \(row)")
                    XCTAssertEqual(plane[row * 512 + 511], dropped ? 0 : 1, "item \(item) channel \(c) row \(row) end")
                }
            }
        }
    }

    /// A tensor from 128 KB up is a mapping of its own (dropping its rows frees them, as it
    /// never does for a heap block), and a freed one serves the next tensor of its size: peak
    /// memory follows what is alive, not malloc's history.
    func testMidSizeTensorsAreMappedAndPooled() throws {
        TensorPool.drain()
        var a: Tensor? = try Tensor([1, 1, 64, 1024])
        let storage = a!.data
        a!.data.update(repeating: 1, count: a!.count)
        a!.drop(item: 0, rows: 0..<64)
        XCTAssertEqual(a!.data[a!.count / 2], 0)
        a = nil
        XCTAssertEqual(try Tensor([1, 1, 48, 1024]).data, storage)
        TensorPool.drain()
    }

    /// Large freed tensors: two kept whatever their size, more only while each of those others
    /// is at most 16 MB, together at most 128 MB (ten of 12 MB), and all fit the tier's sixteen
    /// slots (fourteen of 4 MB).
    func testLargeTensorPoolIsBounded() throws {
        let big = 200 << 20
        for (size, count, kept) in [(12 << 20, 12, 10), (4 << 20, 20, 14), (20 << 20, 3, 0)] {
            TensorPool.drain()
            var held: [Tensor]? = try (0..<2).map { _ in try Tensor([big / 4]) }
            held = nil
            XCTAssertTrue(TensorPool.holding == (2, 2 * big), "\(TensorPool.holding)")
            held = try (0..<count).map { _ in try Tensor([size / 4]) }
            held = nil
            XCTAssertTrue(TensorPool.holding == (2 + kept, 2 * big + kept * size), "\(size) bytes: \(TensorPool.holding)")
        }
        TensorPool.drain()
        XCTAssertTrue(TensorPool.holding == (0, 0))
    }

    /// Dropping the pooled buffers above a size (the encoder's, once its tensors have shrunk)
    /// keeps the others, in both tiers.
    func testTensorPoolDropsLargerBuffers() throws {
        TensorPool.drain()
        _ = try [64 << 20, 8 << 20, 5 << 20, 1 << 20].map { try Tensor([$0 / 4]) }  // all alive, then freed
        XCTAssertTrue(TensorPool.holding == (4, 78 << 20), "\(TensorPool.holding)")
        TensorPool.dropLarger(than: 6 << 20)
        XCTAssertTrue(TensorPool.holding == (2, 6 << 20), "\(TensorPool.holding)")
        TensorPool.drain()
    }

    /// Winograd F(2x2, 3x3) against the naive loop: odd sides (partial tiles), batches whose
    /// tiles share GEMMs, and budgets small enough to cut channels and tiles into blocks (the
    /// last: several blocks of filters over one block of tiles, whose input is transformed once).
    func testWinogradConvolution() throws {
        let ws = Workspace(threads: 2)
        for (shape, cout, budget, filterBudget) in [([2, 16, 7, 9], 24, Winograd.budget, Winograd.filterBudget),
                                                    ([3, 20, 11, 6], 17, 36 * 20 * 5, 36 * 20 * 5), ([1, 32, 16, 16], 8, 36 * 32 * 3, 36 * 32 * 3),
                                                    ([1, 16, 13, 21], 5, Winograd.budget, Winograd.filterBudget),
                                                    ([2, 16, 7, 9], 24, Winograd.budget, 36 * 16 * 5)] {
            let x = try random(shape), w = try random([cout, shape[1], 3, 3])
            let bias = (0..<cout).map { Float($0) * 0.05 }
            let ref = try naiveConv(x, w, bias, ConvGeometry(kernel: 3))
            // measured: F(2x2) ~2e-7, F(4x4) ~4e-6
            for (name, variant, tolerance) in [("F2", Winograd.f2, Float(1e-6)), ("F4", Winograd.f4, 2e-5)] {
                let ours = try Winograd.conv(x, weight: WeightRows(w), bias: bias, outChannels: cout, ws: ws, variant: variant, budget: budget,
                                             filterBudget: filterBudget)
                XCTAssertClose(ours, ref, tolerance, "winograd \(name) \(shape) budgets \(budget) \(filterBudget)")
            }
        }
    }

    /// Weights that must be converted are read a block of rows at a time, each block once,
    /// and every kernel gives what it gives on the same weights read in place: convolutions
    /// (pointwise, im2col, Winograd) and Linear, with weights big enough for several blocks.
    func testConvertedWeightsAreReadInBlocksOfRows() throws {
        final class Converted {
            let w: Tensor, buffer: Tensor
            var blocks = [Range<Int>]()
            init(_ w: Tensor) throws { self.w = w; buffer = try Tensor([w.count]) }
            var rows: WeightRows {
                WeightRows(rows: w.shape[0], rowLength: w.itemCount) { first, n in
                    self.blocks.append(first..<first + n)
                    self.buffer.data.update(from: self.w.data + first * self.w.itemCount, count: n * self.w.itemCount)
                    return UnsafePointer(self.buffer.data)
                }
            }
            /// The blocks, in order, covered every row once.
            var coveredOnce: Bool { blocks.count > 1 && blocks.first?.lowerBound == 0 && blocks.last?.upperBound == w.shape[0]
                && zip(blocks, blocks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound } }
        }
        let ws = Workspace(threads: 2)
        // Over WeightRows.blockBudget (8M floats) each: two blocks, one of them a whole 256 rows.
        for (shape, cout, g) in [([2, 1024, 8, 8], 1024, ConvGeometry(kernel: 3, stride: 2, pad: 1)), ([2, 4096, 2, 3], 2100, ConvGeometry(kernel: 1))] {
            let x = try random(shape), w = try random([cout, shape[1], g.kernel, g.kernel])
            let bias = (0..<cout).map { Float($0) * 0.01 }
            let converted = try Converted(w)
            let ours = try conv2d(x, weight: converted.rows, bias: bias, outChannels: cout, geometry: g, ws: ws)
            XCTAssert(converted.coveredOnce && converted.blocks[0].count % 256 == 0, "conv \(shape) k\(g.kernel): blocks \(converted.blocks)")
            XCTAssertClose(ours, try conv2d(x, weight: WeightRows(w), bias: bias, outChannels: cout, geometry: g, ws: ws), 1e-6,
                           "conv \(shape) k\(g.kernel)")
        }
        let x = try random([2, 16, 13, 21]), w = try random([20, 16, 3, 3])
        let converted = try Converted(w)
        let budget = 36 * 16 * 6
        let ours = try Winograd.conv(x, weight: converted.rows, bias: nil, outChannels: 20, ws: ws, variant: Winograd.f4, budget: budget, filterBudget: budget)
        XCTAssert(converted.coveredOnce, "winograd blocks \(converted.blocks)")
        XCTAssertClose(ours, try Winograd.conv(x, weight: WeightRows(w), bias: nil, outChannels: 20, ws: ws, variant: Winograd.f4,
                                               budget: budget, filterBudget: budget), 0, "winograd")
        let rows = try random([3, 4096]), lw = try random([2100, 4096]), bias = (0..<2100).map { Float($0) * 0.01 }
        let lc = try Converted(lw)
        let (a, b) = (try Tensor([3, 2100]), try Tensor([3, 2100]))
        try linear(rows.data, rows: 3, inFeatures: 4096, weight: lc.rows, bias: bias, outFeatures: 2100, into: a.data, ws: ws)
        try linear(rows.data, rows: 3, inFeatures: 4096, weight: WeightRows(lw), bias: bias, outFeatures: 2100, into: b.data, ws: ws)
        XCTAssert(lc.coveredOnce && lc.blocks[0].count % 256 == 0, "linear blocks \(lc.blocks)")
        XCTAssertClose(a, b, 1e-6, "linear")
    }

    /// A convolution reading through a map (upsampling, per-channel affine, SiLU) and adding
    /// into an existing output equals the naive convolution of the mapped input plus that
    /// output: Winograd F2 and F4, im2col (too few channels for Winograd; one item and two) and
    /// pointwise.
    func testConvolutionReadsThroughMap() throws {
        let ws = Workspace(threads: 2)
        for (shape, kernel, upsample) in [([2, 16, 10, 14], 3, false), ([1, 16, 40, 34], 3, true), ([2, 8, 6, 5], 3, true), ([1, 8, 7, 5], 3, false),
                                           ([2, 8, 6, 5], 1, false)] {
            let x = try random(shape)
            let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
            let scale = (0..<n * c).map { 0.5 + Float($0 % 7) * 0.1 }, shift = (0..<n * c).map { Float($0 % 5) * 0.2 - 0.4 }
            let map = InputMap(scale: scale, shift: shift, silu: true, upsample: upsample)
            let f = upsample ? 2 : 1
            let seen = try Tensor([n, c, h * f, w * f])
            for p in 0..<n * c {
                for i in 0..<h * f {
                    for j in 0..<w * f {
                        let v = x.data[(p * h + i / f) * w + j / f] * scale[p] + shift[p]
                        seen.data[(p * h * f + i) * w * f + j] = v / (1 + exp(-v))
                    }
                }
            }
            let weight = try random([12, c, kernel, kernel]), bias = (0..<12).map { Float($0) * 0.05 }
            let g = ConvGeometry(kernel: kernel)
            let ref = try naiveConv(seen, weight, bias, g)
            let into = try random(ref.shape)
            for i in 0..<ref.count { ref.data[i] += into.data[i] }
            let ours = try conv2d(x, weight: WeightRows(weight), bias: bias, outChannels: 12, geometry: g, ws: ws, map: map, into: into)
            XCTAssert(ours === into)
            XCTAssertClose(ours, ref, 2e-5, "mapped conv \(shape) k\(kernel) up \(upsample)")
        }
    }

    /// Large enough that GEMMs are tiled and every kernel splits its loops.
    func testResultsDoNotDependOnThreadCount() throws {
        let x = try random([1, 48, 40, 40]), w = try random([96, 48, 3, 3])
        let runs = try [1, 2, 3].map { threads -> [UInt32] in
            let ws = Workspace(threads: threads)
            let y = try conv2d(x, weight: WeightRows(w), bias: nil, outChannels: 96, geometry: ConvGeometry(kernel: 3), ws: ws)
            let n = try groupNorm(y, groups: 8, gamma: [Float](repeating: 1.5, count: 96), beta: [Float](repeating: 0.1, count: 96),
                                  eps: 1e-5, silu: true, ws: ws)
            let o = try Tensor([96, 1600])
            try attention(q: AttnMatrix(n.data, ld: 1600, channelMajor: true), k: AttnMatrix(n.data, ld: 1600, channelMajor: true),
                          v: AttnMatrix(n.data, ld: 1600, channelMajor: true), out: o.data, outLd: 1600, outChannelMajor: true,
                          tq: 1600, tk: 1600, d: 96, scale: 0.1, ws: ws)
            return o.array.map(\.bitPattern)
        }
        XCTAssertTrue(runs[0] == runs[1] && runs[1] == runs[2])
    }

    func testGroupNormWithSiLU() throws {
        let ws = Workspace(threads: 2)
        let x = try random([2, 12, 5, 3])
        for i in 0..<x.count { x.data[i] = x.data[i] * 3 + 100 }  // a large mean tests the variance sum
        let gamma = (0..<12).map { 1 + Float($0) * 0.05 }, beta = (0..<12).map { Float($0) * -0.1 }
        for silu in [false, true] {
            let ours = try groupNorm(x, groups: 4, gamma: gamma, beta: beta, eps: 1e-6, silu: silu, ws: ws)
            let ref = try Tensor(x.shape)
            for b in 0..<2 { for g in 0..<4 {
                let base = b * 180 + g * 45
                let vals = (0..<45).map { Double(x.data[base + $0]) }
                let mean = vals.reduce(0, +) / 45
                let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 45
                for i in 0..<45 {
                    let c = g * 3 + i / 15
                    var v = (vals[i] - mean) / (variance + 1e-6).squareRoot() * Double(gamma[c]) + Double(beta[c])
                    if silu { v = v / (1 + exp(-v)) }
                    ref.data[base + i] = Float(v)
                }
            } }
            XCTAssertClose(ours, ref, 1e-5, "groupNorm silu=\(silu)")
        }
    }

    func naiveAttention(q: [Float], k: [Float], v: [Float], tq: Int, tk: Int, d: Int, scale: Float) -> [Float] {
        var out = [Float](repeating: 0, count: tq * d)
        for i in 0..<tq {
            var s = (0..<tk).map { j in (0..<d).reduce(0.0) { $0 + Double(q[i * d + $1]) * Double(k[j * d + $1]) } * Double(scale) }
            let m = s.max()!
            s = s.map { exp($0 - m) }
            let z = s.reduce(0, +)
            for c in 0..<d { out[i * d + c] = Float((0..<tk).reduce(0.0) { $0 + s[$1] / z * Double(v[$1 * d + c]) }) }
        }
        return out
    }

    func transpose(_ a: [Float], rows: Int, cols: Int) -> [Float] {
        (0..<(rows * cols)).map { i in a[(i % rows) * cols + i / rows] }
    }

    func testAttentionLayoutsAndBlocks() throws {
        let ws = Workspace(threads: 2)
        for (tq, tk, d) in [(5, 7, 3), (300, 4000, 8)] {  // the second runs in several query blocks
            let q = try random([tq, d]), k = try random([tk, d]), v = try random([tk, d])
            let ref = try Tensor([tq, d], naiveAttention(q: q.array, k: k.array, v: v.array, tq: tq, tk: tk, d: d, scale: 0.4))
            // token-major operands and output
            let out = try Tensor([tq, d])
            try withExtendedLifetime((q, k, v)) {
                try attention(q: AttnMatrix(q.data, ld: d, channelMajor: false), k: AttnMatrix(k.data, ld: d, channelMajor: false),
                              v: AttnMatrix(v.data, ld: d, channelMajor: false), out: out.data, outLd: d, outChannelMajor: false,
                              tq: tq, tk: tk, d: d, scale: 0.4, ws: ws)
            }
            XCTAssertClose(out, ref, 1e-5, "token-major \(tq)x\(tk)")
            // channel-major, as the autoencoder's 1x1 convolutions leave them
            let qc = try Tensor([d, tq], transpose(q.array, rows: tq, cols: d))
            let kc = try Tensor([d, tk], transpose(k.array, rows: tk, cols: d)), vc = try Tensor([d, tk], transpose(v.array, rows: tk, cols: d))
            let outc = try Tensor([d, tq])
            try withExtendedLifetime((qc, kc, vc)) {
                try attention(q: AttnMatrix(qc.data, ld: tq, channelMajor: true), k: AttnMatrix(kc.data, ld: tk, channelMajor: true),
                              v: AttnMatrix(vc.data, ld: tk, channelMajor: true), out: outc.data, outLd: tq, outChannelMajor: true,
                              tq: tq, tk: tk, d: d, scale: 0.4, ws: ws)
            }
            XCTAssertClose(try Tensor([tq, d], transpose(outc.array, rows: d, cols: tq)), ref, 1e-5, "channel-major \(tq)x\(tk)")
        }
    }

    /// Self-attention heads over several query blocks, a worker's items crossing from one head
    /// to the next, token- and channel-major, heads one k block deep (40) and two (400): keys
    /// and values packed once per head give the values packing them for every block gives,
    /// with 1 or 2 threads, and each head matches the naive loop.
    func testAttentionHeadsPackedOnce() throws {
        try XCTSkipUnless(BLAS.ownKernel, "heads are packed once only on ck_sgemm (AVX-512)")
        let budget = packedHeadBudget
        defer { packedHeadBudget = budget }
        for (heads, t, d) in [(3, 1000, 40), (2, 600, 400)] { for channelMajor in [false, true] {
            let inner = heads * d, what = "\(heads) heads \(t)x\(d), channel-major \(channelMajor)"
            let q = try random([t, inner]), k = try random([t + 1, inner]), v = try random([t + 2, inner])
            func laid(_ x: Tensor) throws -> Tensor { channelMajor ? try Tensor([inner, t], transpose(x.array, rows: t, cols: inner)) : x }
            let (qm, km, vm) = (try laid(q), try laid(k), try laid(v))
            func run(threads: Int) throws -> [Float] {
                let out = try Tensor([t, inner])
                try withExtendedLifetime((qm, km, vm)) {
                    let ld = channelMajor ? t : inner
                    try attention(q: AttnMatrix(qm.data, ld: ld, channelMajor: channelMajor), k: AttnMatrix(km.data, ld: ld, channelMajor: channelMajor),
                                  v: AttnMatrix(vm.data, ld: ld, channelMajor: channelMajor), out: out.data, outLd: inner, outChannelMajor: false,
                                  heads: heads, headStride: channelMajor ? d * t : d, outHeadStride: d, tq: t, tk: t, d: d,
                                  scale: 0.4, ws: Workspace(threads: threads))
                }
                return out.array
            }
            packedHeadBudget = Int.max
            let once = try run(threads: 2)
            XCTAssertTrue(try run(threads: 1) == once, "\(what): 1 thread")
            packedHeadBudget = 0
            XCTAssertTrue(try run(threads: 2) == once, "\(what): packed per query block")
            func head(_ x: Tensor, _ h: Int) -> [Float] { (0..<(t * d)).map { x.data[$0 / d * inner + h * d + $0 % d] } }
            for h in 0..<heads {
                let ref = naiveAttention(q: head(q, h), k: head(k, h), v: head(v, h), tq: t, tk: t, d: d, scale: 0.4)
                let got = (0..<(t * d)).map { once[$0 / d * inner + h * d + $0 % d] }
                XCTAssertClose(try Tensor([t, d], got), try Tensor([t, d], ref), 1e-5, "\(what): head \(h)")
            }
        } }
    }

    /// Attention weights are never subnormal (products over them run on microcode, ~50x
    /// slower): a masked score (-inf) weighs exactly 0, and so do scores more than ~87 below
    /// their row's or column's maximum. Rows 40 long, so both the vector body and the tail.
    func testSoftmaxWeightsHoldNoSubnormals() {
        func score(_ j: Int) -> Float {
            if j == 0 { return 0 }
            switch j % 3 {
            case 0: return -.infinity
            case 1: return -86 - Float(j) / 10
            default: return -1
            }
        }
        let scores = (0..<40).map(score)
        var rows = scores
        ck_softmax_rows(&rows, 1, 40, 40)
        var cols = scores, inv = [Float](repeating: 0, count: 1)
        ck_exp_cols(&cols, 40, 1, 1, &inv)
        for (name, w) in [("softmax rows", rows), ("exp cols", cols)] {
            XCTAssertFalse(w.contains { $0.isSubnormal }, name)
            for j in stride(from: 3, to: 40, by: 3) { XCTAssertEqual(w[j], 0, "\(name): masked score \(j)") }
            XCTAssertGreaterThan(w[0], 0.05, name)
            XCTAssertEqual(w[2] / w[0], Float(exp(-1.0)), accuracy: 1e-6, name)
        }
        XCTAssertEqual(rows.reduce(0, +), 1, accuracy: 1e-6)
    }

    func testUpsample() throws {
        let x = try Tensor([1, 2, 2, 3], (0..<12).map(Float.init))
        let y = try upsampleNearest2x(x, ws: Workspace(threads: 2))
        XCTAssertEqual(y.shape, [1, 2, 4, 6])
        for c in 0..<2 { for i in 0..<4 { for j in 0..<6 {
            XCTAssertEqual(y.data[(c * 4 + i) * 6 + j], x.data[(c * 2 + i / 2) * 3 + j / 2])
        } } }
    }

    /// Every fp16 value, converted eight at a time (the vector path) and one at a time.
    func testHalfConversionIsExact() {
        let all = (0...UInt16.max).map { $0 }
        var wide = [Float](repeating: 0, count: all.count), single = Float(0)
        all.withUnsafeBytes { Convert.f16($0.baseAddress!, all.count, &wide) }
        for bits in all {
            withUnsafeBytes(of: bits) { Convert.f16($0.baseAddress!, 1, &single) }
            let swift = Float(Float16(bitPattern: bits))
            for ours in [wide[Int(bits)], single] {
                XCTAssertTrue(ours.bitPattern == swift.bitPattern || (ours.isNaN && swift.isNaN), "half \(bits)")
            }
        }
    }

    func testQ8BlockLayout() throws {
        // One block: scale 0.5 as fp16 (0x3800) then 32 int8 values -16 ... 15.
        var bytes: [UInt8] = [0x00, 0x38]
        bytes += (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        var out = [Float](repeating: 0, count: 32)
        bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { Convert.q8_0(raw.baseAddress!, 32, $0.baseAddress!) } }
        XCTAssertEqual(out, (0..<32).map { Float($0 - 16) * 0.5 })
        // unaligned, several blocks: scales 0.25 (0x3400) and -2 (0xC000)
        var two: [UInt8] = [0, 0x00, 0x34] + (0..<32).map { UInt8(bitPattern: Int8($0 * 3 - 50)) }
        two += [0x00, 0xC0] + (0..<32).map { UInt8(bitPattern: Int8(127 - $0 * 8)) }
        var out2 = [Float](repeating: 0, count: 64)
        two.withUnsafeBytes { raw in out2.withUnsafeMutableBufferPointer { Convert.q8_0(raw.baseAddress! + 1, 64, $0.baseAddress!) } }
        XCTAssertEqual(out2, (0..<32).map { Float($0 * 3 - 50) * 0.25 } + (0..<32).map { Float(127 - $0 * 8) * -2 })
    }

    func testJSON() throws {
        let v = try JSON.parse(#"{"a": [1, -2.5e1, true, null, "x\"\u00e9\ud83d\ude00"], "b": {"c": 12345678901234}}"#, what: "t")
        XCTAssertEqual(v["a"]?.array?.count, 5)
        XCTAssertEqual(v["a"]?.array?[1].double, -25)
        XCTAssertEqual(v["a"]?.array?[4].string, "x\"é😀")
        XCTAssertEqual(v["b"]?["c"]?.int, 12_345_678_901_234)
        for bad in ["{", "[1,]", "{\"a\" 1}", "01x", "\"\\q\"", "[1] 2", "\"\u{01}\""] {
            XCTAssertLDMError(try JSON.parse(bad, what: "t"), { $0.kind == "corrupt" }, bad)
        }
    }
}
