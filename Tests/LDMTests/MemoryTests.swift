import Foundation
import XCTest
@testable import LDM

/// Weights stay in the mapping: loading and running a model must not copy it to the heap.
final class MemoryTests: XCTestCase {
    /// CompVis names and shapes of a KL autoencoder (mid attention, no level attention).
    func autoencoderTensors(ch: Int, mult: [Int], blocks: Int, z: Int) -> [(String, [Int])] {
        var t = [(String, [Int])]()
        func conv(_ name: String, _ cout: Int, _ cin: Int, _ k: Int) { t += [(name + ".weight", [cout, cin, k, k]), (name + ".bias", [cout])] }
        func norm(_ name: String, _ c: Int) { t += [(name + ".weight", [c]), (name + ".bias", [c])] }
        func resnet(_ name: String, _ cin: Int, _ cout: Int) {
            norm(name + ".norm1", cin); conv(name + ".conv1", cout, cin, 3)
            norm(name + ".norm2", cout); conv(name + ".conv2", cout, cout, 3)
            if cin != cout { conv(name + ".nin_shortcut", cout, cin, 1) }
        }
        func mid(_ side: String, _ c: Int) {
            resnet(side + ".mid.block_1", c, c); resnet(side + ".mid.block_2", c, c)
            norm(side + ".mid.attn_1.norm", c)
            for p in ["q", "k", "v", "proj_out"] { conv(side + ".mid.attn_1." + p, c, c, 1) }
        }
        conv("encoder.conv_in", ch, 3, 3)
        var cin = ch
        for (i, m) in mult.enumerated() {
            for j in 0..<blocks { resnet("encoder.down.\(i).block.\(j)", cin, ch * m); cin = ch * m }
            if i < mult.count - 1 { conv("encoder.down.\(i).downsample.conv", cin, cin, 3) }
        }
        mid("encoder", cin)
        norm("encoder.norm_out", cin); conv("encoder.conv_out", 2 * z, cin, 3)
        conv("quant_conv", 2 * z, 2 * z, 1); conv("post_quant_conv", z, z, 1)
        conv("decoder.conv_in", cin, z, 3)
        mid("decoder", cin)
        for i in mult.indices.reversed() {
            for j in 0...blocks { resnet("decoder.up.\(i).block.\(j)", cin, ch * mult[i]); cin = ch * mult[i] }
            if i > 0 { conv("decoder.up.\(i).upsample.conv", cin, cin, 3) }
        }
        norm("decoder.norm_out", cin); conv("decoder.conv_out", 3, cin, 3)
        return t
    }

    /// A safetensors file of F16 tensors (all 0.01), streamed to disk.
    func writeF16(_ path: String, _ tensors: [(String, [Int])]) throws -> Int {
        var entries = [String](), offset = 0
        for (name, shape) in tensors {
            let bytes = shape.reduce(1, *) * 2
            entries.append("\"\(name)\":{\"dtype\":\"F16\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        _ = FileManager.default.createFile(atPath: path, contents: safetensors(header: "{" + entries.joined(separator: ",") + "}").data)
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        let chunk = Data([UInt8](repeating: 0, count: 1 << 20).enumerated().map { $0.offset % 2 == 0 ? 0x1F : 0x21 })  // 0x211F ~ 0.0101
        var left = offset
        while left > 0 { h.write(chunk.prefix(min(left, chunk.count))); left -= chunk.count }
        h.closeFile()
        return offset
    }

    /// An autoencoder ResnetBlock with a shortcut feeds x's rows through the shortcut as conv1
    /// finishes with them and drops them: it gives what the unstreamed block gives, and x's
    /// memory is handed back (its pages read as zeros) by the time the block returns. The input
    /// is big enough for several bands of tiles, one crossing from the first item to the second.
    func testResnetShortcutStreamsItsInput() throws {
        let (cin, cout) = (64, 32)
        var rng = TorchRandom(seed: 3)
        func values(_ n: Int, _ scale: Float) -> [Float] {
            var v = [Float](repeating: 0, count: n)
            v.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, n) }
            return v.map { $0 * scale }
        }
        let tensors: [(String, [Int], [Float])] = [
            ("norm1.weight", [cin], values(cin, 1)), ("norm1.bias", [cin], values(cin, 1)),
            ("conv1.weight", [cout, cin, 3, 3], values(cout * cin * 9, 0.05)), ("conv1.bias", [cout], values(cout, 1)),
            ("norm2.weight", [cout], values(cout, 1)), ("norm2.bias", [cout], values(cout, 1)),
            ("conv2.weight", [cout, cout, 3, 3], values(cout * cout * 9, 0.05)), ("conv2.bias", [cout], values(cout, 1)),
            ("nin_shortcut.weight", [cout, cin, 1, 1], values(cout * cin, 0.1)), ("nin_shortcut.bias", [cout], values(cout, 1)),
        ]
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeSafeTensors(dir + "/block.safetensors", tensors)
        let store = TensorStore()
        for t in try SafeTensors.read(try MappedFile(dir + "/block.safetensors")).tensors { try store.add(t, as: t.name) }
        let block = try AEResnetBlock(store.scope, in: cin, out: cout, groups: 16)
        let ws = Workspace(threads: 2)
        let x = try Tensor([2, cin, 256, 256])
        x.data.update(from: values(x.count, 1), count: x.count)
        let h = try block.conv1(x, map: block.norm1.map(x, silu: true, ws), ws)
        let ref = try block.conv2(h, map: block.norm2.map(h, silu: true, ws), into: try XCTUnwrap(block.shortcut)(x, ws), ws)
        let ours = try block(x, ws)
        XCTAssertClose(ours, ref, 1e-6, "streamed shortcut")
        let zeros = (0..<x.count).reduce(0) { $0 + (x.data[$1] == 0 ? 1 : 0) }
        XCTAssertGreaterThan(Double(zeros) / Double(x.count), 0.9, "x's pages were handed back as it was read")
    }

    func testLoadingAndRunningKeepsWeightsMapped() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/vae.safetensors"
        let bytes = try writeF16(path, autoencoderTensors(ch: 128, mult: [1, 2, 4, 4], blocks: 2, z: 4))
        XCTAssertGreaterThan(bytes, 100 << 20)
        let before = procStatus("RssAnon"), fileBefore = procStatus("RssFile")
        let model = try Model(path: path)
        let afterLoad = procStatus("RssAnon")
        XCTAssertEqual(model.autoencoder?.config.downsampleFactor, 8)
        XCTAssertEqual(model.autoencoder?.config.channelMult, [1, 2, 4, 4])
        let ctx = Context(model: model, threads: 2)
        _ = try ctx.decode(try Tensor([4, 4, 4], zeroed: true))
        let afterRun = procStatus("RssAnon"), fileAfterRun = procStatus("RssFile")
        XCTAssertEqual(ctx.ws.scratch.bytes, 0, "a context holds no scratch between calls")
        // Low-memory mode drops the weight pages a call touched (the decoder's ~90 MB here).
        _ = try Context(model: model, threads: 2, lowMemory: true).decode(try Tensor([4, 4, 4], zeroed: true))
        let fileAfterLean = procStatus("RssFile")
        XCTAssertGreaterThan(fileAfterRun - fileBefore, 60 << 10, "a decode maps in the decoder's weights")
        XCTAssertLessThan(fileAfterLean - fileBefore, 4 << 10, "RssFile still +\(fileAfterLean - fileBefore) kB in low-memory mode")
        // Loading keeps fp32 copies of vectors only (norms, biases: < 1 MB here). A run adds
        // the scratch: a block of weight rows as fp32 (up to 9.4 MB) plus bounded activations.
        XCTAssertLessThan(afterLoad - before, 4 << 10, "RssAnon grew \(afterLoad - before) kB on loading \(bytes >> 20) MB")
        XCTAssertLessThan(afterRun - before, 40 << 10, "RssAnon grew \(afterRun - before) kB after a decode")
        print("memory: model \(bytes >> 20) MB; RssAnon +\(afterLoad - before) kB after load, +\(afterRun - before) kB after decode;"
              + " RssFile +\(fileAfterRun - fileBefore) kB after decode, +\(fileAfterLean - fileBefore) kB in low-memory mode")
    }
}
