/// What one side of a sample is conditioned on. Parts a model does not use, or needs and
/// lacks, are reported when sampling.
public final class Conditioning {
    /// Cross-attention context [tokens, dim].
    public var context: Tensor?
    public var classLabel: Int?
    /// Channels appended to the latent at every UNet call [C, h, w].
    public var concat: Tensor?
    /// A vector [dim] for label_emb Linear layers.
    public var vector: Tensor?

    public init(context: Tensor? = nil, classLabel: Int? = nil, concat: Tensor? = nil, vector: Tensor? = nil) {
        self.context = context
        self.classLabel = classLabel
        self.concat = concat
        self.vector = vector
    }

    /// Throws unless this conditioning fits `unet` and a latent of `latent` = [C, h, w].
    func check(for unet: UNet, latent: [Int], side: String) throws {
        let c = unet.config
        func fail(_ why: String) -> LDMError { .invalidArgument("\(side): \(why)") }
        if let cd = c.contextDim {
            guard let context else { throw fail("this model needs a context [tokens, \(cd)]") }
            guard context.shape.count == 2, context.shape[1] == cd, context.shape[0] > 0 else {
                throw LDMError.shape("\(side): the context is \(context.shape), the model needs [tokens, \(cd)]")
            }
        } else if context != nil {
            throw fail("this model has no cross-attention, so it takes no context")
        }
        if let n = c.numClasses {
            guard let label = classLabel else { throw fail("this model needs a class label") }
            guard label >= 0, label < n else { throw fail("class label \(label) is outside 0..<\(n)") }
        } else if classLabel != nil {
            throw fail("this model takes no class label")
        }
        if let adm = c.admChannels {
            guard let vector, vector.count == adm else { throw fail("this model needs a vector of \(adm) values") }
        } else if vector != nil {
            throw fail("this model takes no conditioning vector")
        }
        let extra = c.inChannels - latent[0]
        if extra > 0 {
            guard let concat else { throw fail("this model needs \(extra) concat channels [\(extra), \(latent[1]), \(latent[2])]") }
            guard concat.shape == [extra, latent[1], latent[2]] else {
                throw LDMError.shape("\(side): concat channels are \(concat.shape), the model needs [\(extra), \(latent[1]), \(latent[2])]")
            }
        } else if concat != nil {
            throw fail("this model takes no concat channels")
        }
    }
}
