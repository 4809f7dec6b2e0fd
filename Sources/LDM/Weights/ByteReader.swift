/// A bounds-checked little-endian cursor over a mapped byte range. Every read that would pass
/// the end throws `corrupt`, so a truncated or lying header can never read outside the file.
struct ByteReader {
    let base: UnsafeRawPointer
    let end: Int
    var offset: Int
    let what: String

    init(_ base: UnsafeRawPointer, count: Int, what: String) {
        self.base = base
        self.end = count
        self.offset = 0
        self.what = what
    }

    var remaining: Int { end - offset }

    mutating func need(_ n: Int, _ field: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw LDMError.corrupt("\(what): truncated while reading \(field()) at byte \(offset)")
        }
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, field())
        let v = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func u8(_ f: @autoclosure () -> String) throws -> UInt8 { try load(UInt8.self, f()) }
    mutating func u32(_ f: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, f()) }
    mutating func u64(_ f: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, f()) }

    /// A u64 that must fit `limit` (defaults to the bytes left, since every counted thing
    /// occupies at least one byte): counts and lengths are never trusted beyond the file.
    mutating func count(_ field: @autoclosure () -> String, limit: Int? = nil) throws -> Int {
        let v = try u64(field())
        let cap = limit ?? remaining
        guard v <= UInt64(max(cap, 0)) else {
            throw LDMError.corrupt("\(what): \(field()) = \(v) exceeds what the file can hold")
        }
        return Int(v)
    }

    mutating func bytes(_ n: Int, _ field: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try need(n, field())
        defer { offset += n }
        return UnsafeRawBufferPointer(start: base + offset, count: n)
    }

    /// A string of `n` bytes; invalid UTF-8 is repaired rather than trusted.
    mutating func string(_ n: Int, _ field: @autoclosure () -> String) throws -> String {
        String(decoding: try bytes(n, field()), as: UTF8.self)
    }
}
