/// A loaded model: its mapped weights and the components found in them. Immutable after
/// loading, so any number of contexts on any threads may share it.
public final class Model {
    public let path: String
    public let store: TensorStore
    public let autoencoder: Autoencoder?

    public init(path: String) throws {
        self.path = path
        store = try ModelLoader.load(path)
        let ae = WeightScope(store: store, prefix: ModelLoader.autoencoderPrefix)
        autoencoder = ae.has("encoder.conv_in.weight") || ae.has("decoder.conv_in.weight")
            ? try Autoencoder(ae, metadata: store.metadata, scaleTensor: store.tensors["scale_factor"]) : nil
        guard autoencoder != nil else {
            throw LDMError.model("\(path) holds no component libldm knows (no autoencoder found)")
        }
        if let c = autoencoder?.config {
            Log.write(.info, "\(path): \(c.kind == .kl ? "KL" : "VQ") autoencoder, f\(c.downsampleFactor), z=\(c.embedDim), ch=\(c.channels) x \(c.channelMult), scale \(c.scaleFactor), \(store.dominantType)")
        }
    }

    func requireAutoencoder() throws -> Autoencoder {
        guard let autoencoder else { throw LDMError.model("\(path) has no autoencoder") }
        return autoencoder
    }
}
