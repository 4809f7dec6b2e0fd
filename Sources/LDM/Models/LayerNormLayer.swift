/// LayerNorm over the last dimension of token-major rows, with its affine parameters.
struct LayerNormLayer {
    let gamma: [Float]
    let beta: [Float]
    let eps: Float

    init(_ w: WeightScope, n: Int, eps: Float) throws {
        gamma = try w.tensor("weight", shape: [n]).floats()
        beta = try w.tensor("bias", shape: [n]).floats()
        self.eps = eps
    }

    /// y = LayerNorm(x); both [rows, n].
    func callAsFunction(_ x: Tensor, into y: Tensor, _ ws: Workspace) {
        layerNorm(x.data, rows: x.count / gamma.count, n: gamma.count, gamma: gamma, beta: beta, eps: eps, into: y.data,
                  threads: ws.threads)
    }
}
