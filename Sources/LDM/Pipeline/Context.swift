import CKernels

/// Per-thread state for running a model: the workspace (scratch, threads, cancellation). One
/// context is used by one thread at a time; it keeps its model alive.
public final class Context {
    public let model: Model
    public let ws: Workspace
    /// Drop the model's mapped weight pages after every call, so that resident memory holds
    /// only what one call touches (the UNet while sampling, the autoencoder while decoding).
    public let lowMemory: Bool

    public init(model: Model, threads: Int, lowMemory: Bool = false) {
        self.model = model
        self.ws = Workspace(threads: threads)
        self.lowMemory = lowMemory
    }

    /// Ends a top-level call: frees scratch, pooled tensors and packing buffers and hands the
    /// freed heap pages back to the system (malloc keeps them otherwise: a sampling loop's
    /// activations would stay resident beside the decoder's); in low-memory mode the weight
    /// pages go too.
    func finish() {
        ws.scratch.release()
        TensorPool.drain()
        ck_release_buffers()
        malloc_trim(0)
        if lowMemory { model.store.releasePages() }
    }

    /// RGB image -> scaled latent [C, h, w]: the KL posterior mean, or a sample drawn with
    /// torch's generator for `seed` when `sample` is set. VQ models return the pre-quantization h.
    public func encode(_ image: Image, sample: Bool = false, seed: UInt64 = 0) throws -> Tensor {
        defer { finish() }
        let ae = try model.requireAutoencoder()
        ws.resetCancel()
        let f = ae.config.downsampleFactor
        guard image.width % f == 0, image.height % f == 0 else {
            throw LDMError.shape("image \(image.width)x\(image.height) is not a multiple of the autoencoder's factor \(f)")
        }
        var noise: Tensor?
        if sample, ae.config.kind == .kl {
            var rng = TorchRandom(seed: seed)
            noise = try rng.normal([1, ae.config.embedDim, image.height / f, image.width / f])
        }
        let z = try ae.encode(try image.tensor(), noise: noise, ws: ws)
        z.reshape(Array(z.shape.dropFirst()))
        return z
    }

    /// Scaled latent [C, h, w] -> raw decoder output [3, H, W], nominally in [-1, 1].
    public func decode(_ latent: Tensor) throws -> Tensor {
        defer { finish() }
        let ae = try model.requireAutoencoder()
        ws.resetCancel()
        guard latent.shape.count == 3 else { throw LDMError.shape("a latent is [C, h, w], not \(latent.shape)") }
        let f = ae.config.downsampleFactor
        guard latent.shape[1] * f <= Image.maxSide, latent.shape[2] * f <= Image.maxSide else {
            throw LDMError.shape("latent \(latent.shape) would decode to more than \(Image.maxSide) pixels a side")
        }
        let z = try latent.copy()
        z.reshape([1] + latent.shape)
        let x = try ae.decode(z, ws: ws)
        x.reshape(Array(x.shape.dropFirst()))
        return x
    }

    /// Scaled latent [C, h, w] -> RGB image.
    public func decodeImage(_ latent: Tensor) throws -> Image {
        let x = try decode(latent)
        x.reshape([1] + x.shape)
        return try Image.from(x)
    }
}
