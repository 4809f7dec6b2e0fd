import XCTest
@testable import LDM

/// TorchRandom against torch.randn (tools/make_fixtures.py, randn.safetensors). torch's
/// vectorised path uses SLEEF's log/cos/sin, which may differ from libm in the last bit.
final class TorchRandomTests: XCTestCase {
    func testSingleDraws() throws {
        let ref = try references("randn.safetensors")
        for seed: UInt64 in [0, 42, 123_456_789, 4_294_967_295] {
            for n in [1, 2, 5, 15, 16, 17, 31, 100, 1000] {
                var rng = TorchRandom(seed: seed)
                let ours = try rng.normal([n])
                let theirs = try XCTUnwrap(ref["seed\(seed)_n\(n)"])
                for i in 0..<n {
                    XCTAssertEqual(ours.data[i], theirs.data[i], accuracy: 2e-6, "seed \(seed) n \(n) [\(i)]")
                }
            }
        }
    }

    func testOneStreamManyDraws() throws {
        let ref = try references("randn.safetensors")
        for seed: UInt64 in [0, 42] {
            var rng = TorchRandom(seed: seed)
            for (i, n) in [7, 20, 3, 48].enumerated() {
                let ours = try rng.normal([n])
                let theirs = try XCTUnwrap(ref["stream\(seed)_\(i)"])
                for j in 0..<n {
                    XCTAssertEqual(ours.data[j], theirs.data[j], accuracy: 2e-6, "stream seed \(seed) draw \(i) [\(j)]")
                }
            }
        }
    }
}
