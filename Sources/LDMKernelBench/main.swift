// ldm-kernel-bench: libldm's kernels at Stable Diffusion 1.5 shapes, in GFLOP/s next to the
// machine's OpenBLAS cblas_sgemm rate at the same thread count (its own threading).
//   swift run -c release ldm-kernel-bench [threads]
import CBLAS
import Glibc
import LDM

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Best of `repeats` timed runs after a warm-up.
func best(_ repeats: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var b = Double.infinity
    for _ in 0..<repeats {
        let t = now()
        try body()
        b = min(b, now() - t)
    }
    return b
}

func random(_ shape: [Int], seed: UInt64) throws -> Tensor {
    var r = TorchRandom(seed: seed)
    return try r.normal(shape)
}

let threads = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2 : 2
let ws = Workspace(threads: threads)
func report(_ name: String, _ flop: Double, _ seconds: Double) {
    let pad = String(repeating: " ", count: max(0, 44 - name.count))
    let ms = (seconds * 1e4).rounded() / 10, rate = (flop / seconds / 1e8).rounded() / 10
    print(name + pad + "\(ms) ms  \(rate) GFLOP/s")
}

print("libldm kernels, \(threads) threads")
let a = try random([320, 2880], seed: 1), bm = try random([2880, 4096], seed: 2), c = try Tensor([320, 4096])
openblas_set_num_threads(Int32(threads))
report("cblas_sgemm 320x4096x2880 (OpenBLAS)", 2.0 * 320 * 4096 * 2880, best {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 320, 4096, 2880, 1, a.data, 2880, bm.data, 4096, 0, c.data, 4096)
})
report("gemm 320x4096x2880 (libldm, \(BLAS.ownKernel ? "AVX-512" : "OpenBLAS"))", 2.0 * 320 * 4096 * 2880, best {
    BLAS.gemm(m: 320, n: 4096, k: 2880, a: a.data, lda: 2880, b: bm.data, ldb: 4096, c: c.data, ldc: 4096, threads: threads)
})
// The last two are direct (im2col) convolutions: too few pixels for Winograd.
for (cin, ch, side) in [(320, 320, 64), (640, 640, 32), (1280, 1280, 16), (1280, 1280, 8), (2560, 1280, 4)] {
    let x = try random([2, cin, side, side], seed: 3), w = try random([ch, cin * 9], seed: 4)
    report("conv3x3 \(cin)->\(ch) @\(side)x\(side) batch 2", 2.0 * 2 * Double(ch * cin * 9 * side * side), try best {
        _ = try conv2d(x, weight: WeightRows(w), bias: nil, outChannels: ch, geometry: ConvGeometry(kernel: 3), ws: ws)
    })
}
for (t, tk, dh) in [(4096, 4096, 40), (4096, 77, 40), (1024, 1024, 80)] {
    let q = try random([t, 8 * dh], seed: 5), k = try random([tk, 8 * dh], seed: 6), v = try random([tk, 8 * dh], seed: 7)
    let o = try Tensor([t, 8 * dh])
    report("attention 8 heads x \(dh), \(t) x \(tk) tokens", 4.0 * Double(t * tk * 8 * dh), try best {
        try attention(q: AttnMatrix(q.data, ld: 8 * dh, channelMajor: false), k: AttnMatrix(k.data, ld: 8 * dh, channelMajor: false),
                      v: AttnMatrix(v.data, ld: 8 * dh, channelMajor: false), out: o.data, outLd: 8 * dh, outChannelMajor: false,
                      heads: 8, headStride: dh, tq: t, tk: tk, d: dh, scale: 0.15, ws: ws)
    })
}
let g = try random([2, 320, 64, 64], seed: 8)
let gamma = [Float](repeating: 1, count: 320), beta = [Float](repeating: 0, count: 320)
report("groupnorm+silu 2x320x64x64 (GB/s as GFLOP)", 2.0 * 4 * Double(g.count), try best {
    _ = try groupNorm(g, groups: 32, gamma: gamma, beta: beta, eps: 1e-5, silu: true, ws: ws)
})
// The transformer blocks' linear layers at 512 px (tokens of both batch items; the feed-forward
// runs 1024 rows at a time).
for (rows, inF, outF) in [(8192, 320, 320), (1024, 320, 2560), (1024, 1280, 320), (2048, 640, 640),
                          (1024, 640, 5120), (1024, 2560, 640), (512, 1280, 1280), (512, 1280, 10240), (512, 5120, 1280)] {
    let x = try random([rows, inF], seed: 9), w = try random([outF, inF], seed: 10), y = try Tensor([rows, outF])
    report("linear \(rows)x\(inF)->\(outF)", 2.0 * Double(rows * inF * outF), try best {
        try linear(x.data, rows: rows, inFeatures: inF, weight: WeightRows(w), bias: nil, outFeatures: outF, into: y.data, ws: ws)
    })
}
