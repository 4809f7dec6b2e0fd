import Glibc

/// The forward process of a diffusion model: alpha_bar_t = prod_{s<=t} (1 - beta_s) for the T
/// training timesteps. Built the way diffusers builds it (betas and their cumulative product in
/// float32, the product accumulated in double as torch.cumprod does on CPU), so every sampler
/// sees the same numbers as its diffusers counterpart.
public struct NoiseSchedule: Sendable {
    /// How the betas were made. Only DPM-Solver's Karras timesteps depend on it (see there).
    public enum Kind: String, Sendable {
        /// CompVis "linear", diffusers "scaled_linear": linspace(sqrt(b0), sqrt(b1), T)^2.
        case scaledLinear = "scaled_linear"
        /// CompVis "sqrt_linear", diffusers "linear": linspace(b0, b1, T).
        case linear
        /// diffusers "squaredcos_cap_v2" (Nichol & Dhariwal), betas capped at 0.999.
        case cosine = "squaredcos_cap_v2"
        /// Betas or alphas_cumprod stored in a checkpoint.
        case custom
    }

    public let kind: Kind
    public let alphasCumprod: [Float]
    /// sqrt((1 - alpha_bar) / alpha_bar): the noise level of x / sqrt(alpha_bar), in float32.
    public let sigmas: [Float]

    /// The number of training timesteps T.
    public var count: Int { alphasCumprod.count }

    /// Stable Diffusion 1.x/2.x and the CompVis LDMs: scaled_linear from 0.00085 to 0.012, T = 1000.
    public static let stableDiffusion = NoiseSchedule(kind: .scaledLinear,
        betas: linspace(Float(0.00085.squareRoot()), Float(0.012.squareRoot()), 1000).map { $0 * $0 })

    public static func scaledLinear(betaStart: Double = 0.00085, betaEnd: Double = 0.012, timesteps: Int = 1000) throws -> NoiseSchedule {
        try checkRange(betaStart, betaEnd, timesteps)
        let roots = linspace(Float(betaStart.squareRoot()), Float(betaEnd.squareRoot()), timesteps)
        return try NoiseSchedule(kind: .scaledLinear, checking: roots.map { $0 * $0 })
    }

    public static func linear(betaStart: Double = 0.0001, betaEnd: Double = 0.02, timesteps: Int = 1000) throws -> NoiseSchedule {
        try checkRange(betaStart, betaEnd, timesteps)
        return try NoiseSchedule(kind: .linear, checking: linspace(Float(betaStart), Float(betaEnd), timesteps))
    }

    public static func cosine(timesteps: Int = 1000) throws -> NoiseSchedule {
        try checkCount(timesteps)
        // In double, as diffusers' betas_for_alpha_bar does in Python floats.
        func alphaBar(_ t: Double) -> Double {
            let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
            return c * c
        }
        let n = Double(timesteps)
        let betas = (0..<timesteps).map { i in
            Float(min(1 - alphaBar(Double(i + 1) / n) / alphaBar(Double(i) / n), 0.999))
        }
        return try NoiseSchedule(kind: .cosine, checking: betas)
    }

    /// From betas stored in a checkpoint; each must lie in (0, 1).
    public init(betas: [Float]) throws {
        try self.init(kind: .custom, checking: betas)
    }

    /// From alphas_cumprod stored in a checkpoint: strictly decreasing, inside (0, 1).
    public init(alphasCumprod: [Float]) throws {
        guard !alphasCumprod.isEmpty else { throw LDMError.invalidArgument("alphas_cumprod is empty") }
        for (i, a) in alphasCumprod.enumerated() {
            guard a > 0, a < 1, i == 0 || a < alphasCumprod[i - 1] else {
                throw LDMError.invalidArgument("alphas_cumprod[\(i)] = \(a): values must decrease strictly inside (0, 1)")
            }
        }
        self.init(kind: .custom, alphasCumprod: alphasCumprod)
    }

    private init(kind: Kind, checking betas: [Float]) throws {
        guard !betas.isEmpty else { throw LDMError.invalidArgument("a noise schedule needs at least one timestep") }
        for (i, b) in betas.enumerated() where !(b > 0 && b < 1) {
            throw LDMError.invalidArgument("beta[\(i)] = \(b): betas must lie in (0, 1)")
        }
        self.init(kind: kind, betas: betas)
    }

    private init(kind: Kind, betas: [Float]) {
        var product = 1.0
        let cumprod = betas.map { b -> Float in
            product *= Double(1 - b)
            return Float(product)
        }
        self.init(kind: kind, alphasCumprod: cumprod)
    }

    private init(kind: Kind, alphasCumprod: [Float]) {
        self.kind = kind
        self.alphasCumprod = alphasCumprod
        sigmas = alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
    }

    /// More training timesteps than any model uses; a larger count in a file is refused.
    static let maxTimesteps = 100_000

    private static func checkCount(_ timesteps: Int) throws {
        guard timesteps >= 1, timesteps <= maxTimesteps else {
            throw LDMError.invalidArgument("a noise schedule has 1 to \(maxTimesteps) timesteps, not \(timesteps)")
        }
    }

    private static func checkRange(_ b0: Double, _ b1: Double, _ timesteps: Int) throws {
        try checkCount(timesteps)
        guard b0 > 0, b1 > 0, b0 < 1, b1 < 1 else {
            throw LDMError.invalidArgument("beta range \(b0)...\(b1) must lie in (0, 1)")
        }
    }
}

/// torch.linspace in float32: start + i*step for the first half, end - (n-1-i)*step for the
/// rest, each a fused multiply-add as torch's vectorised kernel computes it.
func linspace(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
    guard n > 1 else { return n == 1 ? [start] : [] }
    let step = (end - start) / Float(n - 1)
    return (0..<n).map { i in
        i < n / 2 ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - 1 - i))
    }
}
