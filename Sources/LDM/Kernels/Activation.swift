import Glibc

/// The feed-forward nonlinearities of the text encoders, under their transformers config names.
public enum Activation: String {
    /// Exact (erf) GELU: OpenCLIP, LDMBert, x-transformers.
    case gelu
    /// x * sigmoid(1.702 x): OpenAI CLIP.
    case quickGELU = "quick_gelu"
}

/// x = activation(x), element by element.
public func activateInPlace(_ x: Tensor, _ activation: Activation, ws: Workspace) {
    let p = x.data
    parallelRanges(x.count, threads: ws.threads) { r in
        switch activation {
        case .gelu: for i in r { p[i] = 0.5 * p[i] * (1 + erff(p[i] * 0.70710678118654752)) }
        case .quickGELU: for i in r { p[i] = p[i] / (1 + expf(-1.702 * p[i])) }
        }
    }
}
