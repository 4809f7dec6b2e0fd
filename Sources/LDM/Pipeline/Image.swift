import Glibc

/// An 8-bit interleaved image (HWC), RGB or single-channel. Storage comes from malloc so a
/// failed allocation is an error, and C hosts can read it in place.
public final class Image {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let pixels: UnsafeMutablePointer<UInt8>

    /// The largest side accepted anywhere (images, PNG files, latent sizes times the factor).
    public static let maxSide = 16384

    public init(width: Int, height: Int, channels: Int) throws {
        guard width > 0, height > 0, width <= Self.maxSide, height <= Self.maxSide else {
            throw LDMError.shape("image size \(width)x\(height) is outside 1...\(Self.maxSide)")
        }
        guard channels == 1 || channels == 3 || channels == 4 else {
            throw LDMError.shape("images have 1, 3 or 4 channels, not \(channels)")
        }
        guard let p = malloc(width * height * channels) else {
            throw LDMError.outOfMemory("cannot allocate a \(width)x\(height) image")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = p.bindMemory(to: UInt8.self, capacity: width * height * channels)
    }

    deinit { free(pixels) }

    public var byteCount: Int { width * height * channels }

    /// [1, 3, H, W] in [-1, 1], as the autoencoder takes it (x / 127.5 - 1).
    public func tensor() throws -> Tensor {
        guard channels == 3 else { throw LDMError.shape("the autoencoder needs an RGB image, not \(channels) channels") }
        let plane = width * height
        let t = try Tensor([1, 3, height, width])
        for i in 0..<plane {
            for c in 0..<3 { t.data[c * plane + i] = Float(pixels[i * 3 + c]) / 255 * 2 - 1 }
        }
        return t
    }

    /// From batch item `n` of [N, 3, H, W] in [-1, 1]: clamp((x + 1) / 2) * 255, rounded.
    /// A NaN (a diverged decoder) becomes 0 rather than trapping the host.
    public static func from(_ t: Tensor, item n: Int = 0) throws -> Image {
        guard t.shape.count == 4, t.shape[1] == 3 else { throw LDMError.shape("an image tensor is [N, 3, H, W], not \(t.shape)") }
        let img = try Image(width: t.shape[3], height: t.shape[2], channels: 3)
        let plane = img.width * img.height, src = t.item(n)
        for i in 0..<plane {
            for c in 0..<3 {
                let x = (src[c * plane + i] + 1) / 2
                img.pixels[i * 3 + c] = x.isNaN ? 0 : UInt8((min(max(x, 0), 1) * 255).rounded(.toNearestOrEven))
            }
        }
        return img
    }
}
