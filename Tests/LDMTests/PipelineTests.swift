import Foundation
import XCTest
@testable import LDM

final class PipelineTests: XCTestCase {
    func testPNGReadMatchesReference() throws {
        let png = try PNG.read(fixture("input32.png"))
        let ref = try references("ae_kl_attn.ref.safetensors")["image"]!
        XCTAssertEqual(png.width, 32)
        XCTAssertEqual(png.height, 32)
        for i in 0..<ref.count { XCTAssertEqual(Float(png.pixels[i]), ref.data[i]) }
    }

    func testNonFiniteDecoderOutputDoesNotTrap() throws {
        let t = try Tensor([1, 3, 1, 2], [.nan, .infinity, -.infinity, 0, 1, -1])
        let img = try Image.from(t)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: img.pixels, count: 6)), [0, 0, 255, 255, 128, 0])
    }

    func testPNGRoundTripAndErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let img = try Image(width: 5, height: 3, channels: 3)
        for i in 0..<img.byteCount { img.pixels[i] = UInt8(i * 7 % 256) }
        try PNG.write(img, to: dir + "/a.png")
        let back = try PNG.read(dir + "/a.png")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: back.pixels, count: back.byteCount)),
                       Array(UnsafeBufferPointer(start: img.pixels, count: img.byteCount)))
        XCTAssertLDMError(try PNG.read(dir + "/none.png"), { $0.kind == "notFound" }, "missing PNG")
        try "not a png".write(toFile: dir + "/b.png", atomically: true, encoding: .utf8)
        XCTAssertLDMError(try PNG.read(dir + "/b.png"), { $0.kind == "badMagic" }, "text as PNG")
        XCTAssertLDMError(try PNG.write(img, to: dir + "/no/such/dir.png"), { $0.kind == "io" }, "unwritable path")
    }

    func testWrongInputShapes() throws {
        let ctx = Context(model: try Model(path: fixture("ae_kl_f8.safetensors")), threads: 1)
        XCTAssertLDMError(try ctx.encode(try Image(width: 60, height: 64, channels: 3)), { $0.kind == "shape" }, "60 px for f8")
        XCTAssertLDMError(try ctx.encode(try Image(width: 64, height: 64, channels: 1)), { $0.kind == "shape" }, "grey image")
        XCTAssertLDMError(try ctx.decode(try Tensor([3, 8, 8])), { $0.kind == "shape" }, "3-channel latent for z=4")
        XCTAssertLDMError(try ctx.decode(try Tensor([4, 64])), { $0.kind == "shape" }, "2-D latent")
        XCTAssertLDMError(try ctx.decode(try Tensor([4, 4096, 8])), { $0.kind == "shape" }, "latent decoding past 16384 px")
        XCTAssertLDMError(try Image(width: 0, height: 4, channels: 3), { $0.kind == "shape" }, "empty image")
    }

    /// The thread count splits work, never reductions: outputs are bitwise identical.
    func testThreadCountDoesNotChangeResults() throws {
        func same(_ a: Tensor, _ b: Tensor) -> Bool { a.array.elementsEqual(b.array) { $0.bitPattern == $1.bitPattern } }
        let model = try Model(path: fixture("ae_kl_attn"))
        let ref = try references("ae_kl_attn.ref.safetensors")
        let img = try image(from: ref["image"]!)
        let one = Context(model: model, threads: 1), two = Context(model: model, threads: 2)
        XCTAssertTrue(same(try one.encode(img), try two.encode(img)), "encode")
        XCTAssertTrue(same(try one.decode(ref["latent_random"]!), try two.decode(ref["latent_random"]!)), "decode")
    }

    func testCancelledContextStops() throws {
        let ctx = Context(model: try Model(path: fixture("ae_kl_attn")), threads: 1)
        let latent = try references("ae_kl_attn.ref.safetensors")["latent_random"]!
        let z = try latent.copy()
        z.reshape([1] + latent.shape)
        ctx.ws.cancel()
        XCTAssertLDMError(try ctx.model.autoencoder!.decode(z, ws: ctx.ws), { $0.kind == "cancelled" }, "cancelled decode")
    }
}
