import Foundation
import XCTest
@testable import LDM

/// Real model files with random bytes flipped (mostly in their headers, where the structure
/// lives) or cut short: each must load with an LDMError, or load and run; never crash.
final class FuzzTests: XCTestCase {
    func testMutatedModelFilesNeverCrash() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = TorchRandom(seed: 2024)
        func below(_ n: Int) -> Int { Int(rng.next32()) % max(n, 1) }
        var loaded = 0, refused = 0
        for name in ["ae_vq.q8_0.gguf", "unet_sd1.q8_0.gguf", "sd2_tiny.f16.gguf", "cin_tiny.safetensors", "ae_kl_f8.safetensors"] {
            let original = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
            let header = name.hasSuffix(".gguf") ? min(original.count, 1 << 16) : 8 + Int(original.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            for trial in 0..<60 {
                var bytes = [UInt8](original)
                if trial % 6 == 5 {
                    bytes.removeLast(below(bytes.count))
                } else {
                    for _ in 0..<(1 + below(4)) {
                        let at = below(min(header, bytes.count))
                        bytes[at] = trial % 3 == 0 ? UInt8(below(256)) : bytes[at] ^ UInt8(1 << below(8))
                    }
                }
                let path = dir + "/" + name
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                do {
                    let model = try Model(path: path)
                    loaded += 1
                    try exercise(model)
                } catch is LDMError {
                    refused += 1
                }
            }
        }
        XCTAssertGreaterThan(refused, 0)
        XCTAssertGreaterThan(loaded, 0)
    }

    /// One short run of what the model has.
    func exercise(_ model: Model) throws {
        let ctx = Context(model: model, threads: 2)
        if let unet = model.unet {
            var o = SampleOptions()
            o.steps = 1
            o.latentSize = [unet.factor * 2, unet.factor * 2]
            let cond = Conditioning(context: try unet.config.contextDim.map { try Tensor([3, $0], zeroed: true) },
                                    classLabel: unet.config.numClasses.map { _ in 0 })
            _ = try ctx.sample(o, cond: model.textEncoder != nil ? try ctx.textConditioning("a cat") : cond, uncond: nil)
        } else if let ae = model.autoencoder {
            _ = try ctx.decode(try Tensor([ae.config.embedDim, 4, 4], zeroed: true))
        }
    }
}
