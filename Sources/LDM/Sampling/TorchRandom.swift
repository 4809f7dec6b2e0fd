import Glibc

/// torch.randn on CPU, reproduced: a 32-bit Mersenne Twister seeded as
/// torch.Generator().manual_seed(seed), and torch's two normal-sampling paths (Box-Muller on
/// blocks of 16 floats for tensors of 16 or more elements, a double-precision scalar path with
/// a cached second value below that). Successive draws continue the same stream, as ancestral
/// samplers drawing noise each step from one generator do.
public struct TorchRandom {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624
    private var cachedNormal: Double?

    public init(seed: UInt64) {
        mt[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<624 {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    public mutating func next32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7FFF_FFFF)
            var v = mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            mt[i] = v
        }
        index = 0
    }

    /// A float uniform in [0, 1) from 24 random bits.
    mutating func uniformFloat() -> Float { Float(next32() & 0xFF_FFFF) * 0x1p-24 }

    /// A double uniform in [0, 1) from 53 of 64 random bits.
    mutating func uniformDouble() -> Double {
        let hi = UInt64(next32()), lo = UInt64(next32())
        return Double(((hi << 32) | lo) & ((1 << 53) - 1)) * 0x1p-53
    }

    /// Fills `out` with `n` standard normal values, as torch.randn(n) would.
    public mutating func fillNormal(_ out: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n >= 16 else {
            for i in 0..<n { out[i] = Float(scalarNormal()) }
            return
        }
        for i in 0..<n { out[i] = uniformFloat() }
        var i = 0
        while i + 16 <= n {
            boxMuller16(out + i)
            i += 16
        }
        if n % 16 != 0 {
            // torch redraws the last 16 slots as one more block.
            let tail = out + n - 16
            for j in 0..<16 { tail[j] = uniformFloat() }
            boxMuller16(tail)
        }
    }

    public mutating func normal(_ shape: [Int]) throws -> Tensor {
        let t = try Tensor(shape)
        fillNormal(t.data, t.count)
        return t
    }

    private func boxMuller16(_ d: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let u1 = 1 - d[j], u2 = d[j + 8]
            let radius = sqrtf(-2 * logf(u1))
            let theta = Float(2.0 * Double.pi * Double(u2))
            d[j] = radius * cosf(theta)
            d[j + 8] = radius * sinf(theta)
        }
    }

    private mutating func scalarNormal() -> Double {
        if let c = cachedNormal {
            cachedNormal = nil
            return c
        }
        let u1 = uniformDouble(), u2 = uniformDouble()
        let r = (-2 * log1p(-u2)).squareRoot()
        let theta = 2 * Double.pi * u1
        cachedNormal = r * sin(theta)
        return r * cos(theta)
    }
}
