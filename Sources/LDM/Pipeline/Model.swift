/// A loaded model: its mapped weights and the components found in them. Immutable after
/// loading, so any number of contexts on any threads may share it.
public final class Model {
    public let path: String
    public let store: TensorStore
    public let autoencoder: Autoencoder?
    public let unet: UNet?

    public init(path: String) throws {
        self.path = path
        store = try ModelLoader.load(path)
        let ae = WeightScope(store: store, prefix: ModelLoader.prefixes[.autoencoder]!)
        autoencoder = ae.has("encoder.conv_in.weight") || ae.has("decoder.conv_in.weight")
            ? try Autoencoder(ae, metadata: store.metadata, scaleTensor: store.tensors["scale_factor"]) : nil
        let un = WeightScope(store: store, prefix: ModelLoader.prefixes[.unet]!)
        unet = un.has("input_blocks.0.0.weight") ? try UNet(un, metadata: store.metadata) : nil
        guard autoencoder != nil || unet != nil else {
            throw LDMError.model("\(path) holds no component libldm knows (no autoencoder, no UNet)")
        }
        if let c = autoencoder?.config {
            Log.write(.info, "\(path): \(c.kind == .kl ? "KL" : "VQ") autoencoder, f\(c.downsampleFactor), z=\(c.embedDim), ch=\(c.channels) x \(c.channelMult), scale \(c.scaleFactor), \(store.dominantType)")
        }
        if let c = unet?.config {
            Log.write(.info, "\(path): UNet, \(c.inChannels)->\(c.outChannels) channels, \(c.levels) levels of \(c.numResBlocks) blocks, model channels \(c.modelChannels), heads \(c.heads), context \(c.contextDim.map(String.init) ?? "none")")
        }
    }

    func requireAutoencoder() throws -> Autoencoder {
        guard let autoencoder else { throw LDMError.model("\(path) has no autoencoder") }
        return autoencoder
    }
}
