import Glibc

/// The first stage: KL (diagonal Gaussian posterior) or VQ (codebook) autoencoder. Latents
/// it returns and accepts are scaled: latent = scale_factor * z.
public final class Autoencoder {
    public let config: AutoencoderConfig
    let encoder: AEEncoder
    let decoder: AEDecoder
    let quantConv: Conv2dLayer?
    let postQuantConv: Conv2dLayer?
    let codebook: WeightTensor?

    public init(_ w: WeightScope, metadata: [String: MetaValue], scaleTensor: WeightTensor?) throws {
        let c = try AutoencoderConfig.infer(w, metadata: metadata, scaleTensor: scaleTensor)
        config = c
        encoder = try AEEncoder(w("encoder"), c)
        decoder = try AEDecoder(w("decoder"), c)
        let moments = c.kind == .kl ? 2 : 1
        quantConv = c.hasQuantConv ? try Conv2dLayer(w("quant_conv"), in: moments * c.zChannels, out: moments * c.embedDim) : nil
        postQuantConv = c.hasPostQuantConv ? try Conv2dLayer(w("post_quant_conv"), in: c.embedDim, out: c.zChannels) : nil
        codebook = c.kind == .vq ? try w.tensor("quantize.embedding.weight") : nil
    }

    /// x [N, 3, H, W] in [-1, 1] -> scaled latent [N, embed, H/f, W/f]. KL returns the
    /// posterior mean, or mean + std * noise when `noise` (standard normal, latent-shaped) is given.
    public func encode(_ x: Tensor, noise: Tensor? = nil, ws: Workspace) throws -> Tensor {
        let f = config.downsampleFactor
        guard x.shape.count == 4, x.shape[1] == config.inChannels, x.shape[2] % f == 0, x.shape[3] % f == 0,
              x.shape[2] > 0, x.shape[3] > 0 else {
            throw LDMError.shape("the encoder needs [N, \(config.inChannels), H, W] with H and W multiples of \(f); got \(x.shape)")
        }
        var h = try encoder(x, ws)
        if let quantConv { h = try quantConv(h, ws) }
        let (n, e, hh, ww) = (h.shape[0], config.embedDim, h.shape[2], h.shape[3])
        let plane = e * hh * ww
        let z = try Tensor([n, e, hh, ww])
        let scale = config.scaleFactor
        if let noise { guard noise.count == z.count else { throw LDMError.shape("noise has \(noise.count) values, the latent \(z.count)") } }
        for b in 0..<n {
            let mean = h.item(b), out = z.item(b)
            if config.kind == .kl, let noise {
                let logvar = mean + plane, eps = noise.item(b)
                for i in 0..<plane {
                    let std = expf(0.5 * min(max(logvar[i], -30), 20))
                    out[i] = scale * (mean[i] + std * eps[i])
                }
            } else {
                for i in 0..<plane { out[i] = scale * mean[i] }
            }
        }
        return z
    }

    /// Scaled latent [N, embed, h, w] -> image [N, 3, h*f, w*f], nominally in [-1, 1].
    public func decode(_ latent: Tensor, ws: Workspace) throws -> Tensor {
        guard latent.shape.count == 4, latent.shape[1] == config.embedDim, latent.shape[2] > 0, latent.shape[3] > 0 else {
            throw LDMError.shape("the decoder needs a latent [N, \(config.embedDim), h, w]; got \(latent.shape)")
        }
        var z = try Tensor(latent.shape)
        let inv = 1 / config.scaleFactor
        for i in 0..<z.count { z.data[i] = latent.data[i] * inv }
        if let codebook { z = try quantize(z, codebook, ws) }
        if let postQuantConv { z = try postQuantConv(z, ws) }
        return try decoder(z, ws)
    }

    /// Replaces each pixel's vector by its nearest codebook entry: argmin ||e||^2 - 2 z.e,
    /// with the dot products as one GEMM per band of pixels.
    func quantize(_ z: Tensor, _ codebook: WeightTensor, _ ws: Workspace) throws -> Tensor {
        let e = z.shape[1], pixels = z.shape[2] * z.shape[3], n = codebook.shape[0]
        let book = try codebook.rows(ws).block(0, n)
        var norms = [Float](repeating: 0, count: n)
        for j in 0..<n {
            var s: Float = 0
            for c in 0..<e { s += book[j * e + c] * book[j * e + c] }
            norms[j] = s
        }
        let band = max(1, min(pixels, (1 << 20) / n))
        let dots = try ws.scratch.floats(.scores, n * band)
        let out = try Tensor(z.shape)
        for b in 0..<z.shape[0] {
            var p0 = 0
            while p0 < pixels {
                let nb = min(band, pixels - p0)
                // dots [n, nb] = book [n, e] * z[:, p0 ..< p0+nb]
                BLAS.gemm(m: n, n: nb, k: e, a: book, lda: e, b: z.item(b) + p0, ldb: pixels, c: dots, ldc: nb, threads: ws.threads)
                let dst = out.item(b)
                norms.withUnsafeBufferPointer { nrm in
                    parallelRanges(nb, threads: ws.threads) { ps in
                        for p in ps {
                            var best = 0, bestD = Float.infinity
                            for j in 0..<n {
                                let d = nrm[j] - 2 * dots[j * nb + p]
                                if d < bestD { bestD = d; best = j }
                            }
                            for c in 0..<e { dst[c * pixels + p0 + p] = book[best * e + c] }
                        }
                    }
                }
                p0 += nb
            }
        }
        return out
    }
}
