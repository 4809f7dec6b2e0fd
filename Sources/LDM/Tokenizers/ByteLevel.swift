/// GPT-2's reversible byte -> character table, which CLIP's vocabulary is written in: printable
/// Latin-1 bytes stand for themselves, the others (controls, space, soft hyphen) take the
/// characters from U+0100 on, in byte order, so no token holds whitespace or controls.
enum ByteLevel {
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()
}
