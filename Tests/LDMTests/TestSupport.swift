import Foundation
import XCTest
@testable import LDM

/// Tests/Fixtures, made by tools/make_fixtures.py.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

func fixture(_ name: String) -> String { fixtures + "/" + name }

/// The float tensors of a safetensors file, read with the library's own reader.
func references(_ name: String) throws -> [String: Tensor] {
    let file = try MappedFile(fixture(name))
    var out = [String: Tensor]()
    for t in try SafeTensors.read(file).tensors {
        out[t.name] = try Tensor(t.shape, try t.floats())
    }
    return out
}

/// max |a - b| / max |b|: the error measure every parity test states its tolerance in;
/// infinite where either holds a NaN or an infinity (max() would pass over a NaN).
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "\(a.shape) vs \(b.shape)")
    var diff: Float = 0, scale: Float = 0
    for i in 0..<a.count {
        guard a.data[i].isFinite, b.data[i].isFinite else { return .infinity }
        diff = max(diff, abs(a.data[i] - b.data[i]))
        scale = max(scale, abs(b.data[i]))
    }
    return diff / max(scale, 1e-30)
}

func XCTAssertClose(_ a: Tensor, _ b: Tensor, _ tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): \(a.shape) vs \(b.shape)", file: file, line: line)
    guard a.count == b.count else { return }
    let e = relativeError(a, b)
    XCTAssertLessThanOrEqual(e, tolerance, "\(what): relative error \(e)", file: file, line: line)
}

/// Asserts that `body` throws exactly the LDMError case `expected` matches.
func XCTAssertLDMError<T>(_ body: @autoclosure () throws -> T, _ expected: (LDMError) -> Bool, _ what: String,
                          file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("\(what): no error", file: file, line: line)
    } catch let e as LDMError {
        XCTAssertTrue(expected(e), "\(what): got \(e)", file: file, line: line)
    } catch {
        XCTFail("\(what): unexpected \(error)", file: file, line: line)
    }
}

/// An RGB image from a [H, W, 3] float tensor of 0...255 values.
func image(from t: Tensor) throws -> Image {
    let img = try Image(width: t.shape[1], height: t.shape[0], channels: 3)
    for i in 0..<t.count { img.pixels[i] = UInt8(t.data[i]) }
    return img
}

/// A scratch directory for one test, removed afterwards.
func temporaryDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "ldm-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
