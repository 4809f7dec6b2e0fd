import Glibc

/// Sinusoidal timestep features [N, dim]: frequency i = exp(-ln(10000) * i / (half - shift)),
/// [cos | sin] when flipped (CompVis and diffusers' SD configs), [sin | cos] otherwise. Each
/// operation is the reference's float32 operation, so features match to the last bit or so.
func timestepFeatures(_ t: [Float], dim: Int, flipSinToCos: Bool, freqShift: Float) throws -> Tensor {
    let half = dim / 2
    let out = try Tensor([t.count, dim], zeroed: true)
    let logPeriod = Float(-9.210340371976184)  // -ln(10000) as float32
    let freqs = (0..<half).map { expf(logPeriod * Float($0) / (Float(half) - freqShift)) }
    for (n, tn) in t.enumerated() {
        let row = out.data + n * dim
        for i in 0..<half {
            let a = tn * freqs[i]
            let (first, second) = flipSinToCos ? (cosf(a), sinf(a)) : (sinf(a), cosf(a))
            row[i] = first
            row[half + i] = second
        }
    }
    return out
}
