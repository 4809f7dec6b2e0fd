import Foundation
import XCTest
@testable import LDM

/// The tokenizers against transformers 5 (tools/fixtures/tokenizers.py): exact ids for every
/// prompt of two separate sets, plus broken files and hostile text.
final class TokenizerTests: XCTestCase {
    struct Case {
        let text: String
        let ids: [String: [Int]]
    }

    static let cases: MetaValue? = try? TokenizerFiles.json(fixture("tokenizers/cases.json"))
    static let clip = try? CLIPTokenizer(directory: fixture("tokenizers/clip"))
    static let bert = try? WordPieceTokenizer(vocabFile: fixture("tokenizers/bert/vocab.txt"))
    static let bertCased = try? WordPieceTokenizer(vocabFile: fixture("tokenizers/bert/vocab.txt"), lowercase: false)

    func cases(_ set: String) throws -> [Case] {
        let list = try XCTUnwrap(Self.cases?[set]?.array, "tokenizers/cases.json has no \(set) set")
        return try list.map { c in
            let text = try XCTUnwrap(c["text"]?.string)
            var ids = [String: [Int]]()
            for key in ["clip", "bert", "bert_cased"] { ids[key] = try XCTUnwrap(c[key]?.ints) }
            return Case(text: text, ids: ids)
        }
    }

    /// Every prompt of `set` gives the reference ids; prints how many did.
    func check(_ tokenizer: Tokenizer?, _ key: String, _ set: String) throws {
        let tokenizer = try XCTUnwrap(tokenizer, "tokenizer did not load")
        let all = try cases(set)
        XCTAssertGreaterThanOrEqual(all.count, set == "seen" ? 300 : 100)
        var passed = 0
        for c in all {
            let got = tokenizer.encode(c.text)
            if got == c.ids[key] {
                passed += 1
            } else {
                XCTFail("\(key) \(set): \(c.text.debugDescription): got \(got), expected \(c.ids[key]!)")
            }
        }
        print("\(key) \(set): \(passed)/\(all.count) prompts match the reference")
    }

    func testCLIPSeen() throws { try check(Self.clip, "clip", "seen") }
    func testCLIPUnseen() throws { try check(Self.clip, "clip", "unseen") }
    func testWordPieceSeen() throws { try check(Self.bert, "bert", "seen") }
    func testWordPieceUnseen() throws { try check(Self.bert, "bert", "unseen") }
    func testWordPieceCasedSeen() throws { try check(Self.bertCased, "bert_cased", "seen") }
    func testWordPieceCasedUnseen() throws { try check(Self.bertCased, "bert_cased", "unseen") }

    func testSpecialTokens() throws {
        let clip = try XCTUnwrap(Self.clip), bert = try XCTUnwrap(Self.bert)
        XCTAssertEqual([clip.startToken, clip.endToken, clip.padToken, clip.maxLength], [49406, 49407, 49407, 77])
        XCTAssertEqual([bert.startToken, bert.endToken, bert.padToken, bert.maxLength], [101, 102, 0, 77])
        XCTAssertEqual(clip.encode("a photo of a cat"), [49406, 320, 1125, 539, 320, 2368, 49407])
    }

    /// vocab.json + merges.txt, and the pad token of tokenizer_config.json (SD2 pads with "!").
    func testCLIPFolders() throws {
        let pads = try XCTUnwrap(Self.cases?["clip_pad"])
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let merges = try TokenizerFiles.merges(fixture("tokenizers/clip/merges.txt"))
        let tokens = CLIPTokenizer.openAIVocabulary(merges: merges)
        var vocab = [String: Int]()
        for (i, t) in tokens.enumerated() { vocab[t] = i }
        try JSONSerialization.data(withJSONObject: vocab).write(to: URL(fileURLWithPath: dir + "/vocab.json"))
        try FileManager.default.copyItem(atPath: fixture("tokenizers/clip/merges.txt"), toPath: dir + "/merges.txt")
        let fromFiles = try CLIPTokenizer(vocabFile: dir + "/vocab.json", mergesFile: dir + "/merges.txt")
        XCTAssertEqual(fromFiles.padToken, pads["<|endoftext|>"]?.int)
        let reference = try XCTUnwrap(Self.clip)
        for c in try cases("seen") { XCTAssertEqual(fromFiles.encode(c.text), reference.encode(c.text)) }

        try #"{"pad_token": {"content": "!", "lstrip": false}, "model_max_length": 77}"#
            .write(toFile: dir + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        let sd2 = try CLIPTokenizer(directory: dir)
        XCTAssertEqual(sd2.padToken, pads["!"]?.int)
        XCTAssertEqual(sd2.encode("a cat!"), reference.encode("a cat!"))
    }

    func testWordPieceFolder() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: fixture("tokenizers/bert/vocab.txt"), toPath: dir + "/vocab.txt")
        XCTAssertEqual(try WordPieceTokenizer(directory: dir).encode("Héllo"), Self.bert?.encode("Héllo"))
        try #"{"do_lower_case": false}"#.write(toFile: dir + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try WordPieceTokenizer(directory: dir).encode("Héllo"), Self.bertCased?.encode("Héllo"))
    }

    /// Composed and decomposed accents are one text; BERT strips them after NFD.
    func testAccents() throws {
        let composed = "Crème brûlée à São Paulo, Ångström", decomposed = "Cre\u{300}me bru\u{302}le\u{301}e a\u{300} Sa\u{303}o Paulo, A\u{30A}ngstro\u{308}m"
        XCTAssertEqual(BertText.normalize(Array(composed.unicodeScalars)[...], lowercase: true),
                       Array("creme brulee a sao paulo, angstrom".unicodeScalars))
        for t in [Self.clip, Self.bert, Self.bertCased] as [Tokenizer?] {
            let t = try XCTUnwrap(t)
            XCTAssertEqual(t.encode(composed), t.encode(decomposed))
        }
        XCTAssertEqual(Self.bert?.encode("creme brulee"), Self.bert?.encode("CRÈME BRÛLÉE"))
    }

    func testMalformedFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ bytes: [UInt8]) -> String {
            let path = dir + "/" + name
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return path
        }
        func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }
        let isNotFound: (LDMError) -> Bool = { if case .notFound = $0 { true } else { false } }
        let isCorrupt: (LDMError) -> Bool = { if case .corrupt = $0 { true } else { false } }
        let isInvalid: (LDMError) -> Bool = { if case .invalidArgument = $0 { true } else { false } }
        let tiny = #"{"a": 0, "b</w>": 1, "ab</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}"#
        let vocab = write("vocab.json", tiny)
        let merges = write("merges.txt", "#version: 0.2\na b</w>\n")
        // What the vocabulary lacks is the unknown token, the end token as in CLIP.
        XCTAssertEqual(try CLIPTokenizer(vocabFile: vocab, mergesFile: merges).encode("AB ba"), [3, 2, 4, 4, 4])

        XCTAssertLDMError(try CLIPTokenizer(vocabFile: dir + "/none.json", mergesFile: merges), isNotFound, "missing vocab")
        XCTAssertLDMError(try CLIPTokenizer(directory: dir + "/nowhere"), isNotFound, "missing folder")
        XCTAssertLDMError(try WordPieceTokenizer(vocabFile: dir + "/vocab.txt"), isNotFound, "missing vocab.txt")
        let badVocabs = [
            "", "[]", "{", #"{"a": 0, "a": 1}"#, #"{"a": 0, "b": 0}"#, #"{"a": 1}"#, #"{"a": -1}"#, #"{"a": "0"}"#,
            #"{"a": 0.5}"#, #"{"a": 0, "b": 1}"#, #"{"a": 99999999999999999999}"#, String(repeating: "[", count: 10_000),
        ]
        for (i, text) in badVocabs.enumerated() {
            let path = write("bad\(i).json", text)
            XCTAssertLDMError(try CLIPTokenizer(vocabFile: path, mergesFile: merges), isCorrupt, "vocab.json \(text.prefix(20))")
        }
        for text in ["a b</w> c\n", "a\n", "a  b</w>\n", " a b</w>\n", "a x\n", "b a\n"] {
            let path = write("bad_merges.txt", text)
            XCTAssertLDMError(try CLIPTokenizer(vocabFile: vocab, mergesFile: path), isCorrupt, "merges \(text.debugDescription)")
        }
        XCTAssertLDMError(try CLIPTokenizer(vocabFile: vocab, mergesFile: write("bin.txt", [0x61, 0x20, 0xFF, 0x0A])),
                          isCorrupt, "merges not UTF-8")
        XCTAssertLDMError(try WordPieceTokenizer(vocabFile: write("v1.txt", [0x5B, 0x43, 0xC0, 0x0A])), isCorrupt, "vocab.txt not UTF-8")
        XCTAssertLDMError(try WordPieceTokenizer(vocabFile: write("v2.txt", "[CLS]\n[SEP]\nhello\n")), isCorrupt, "no [PAD]/[UNK]")
        XCTAssertLDMError(try WordPieceTokenizer(tokens: []), isCorrupt, "empty vocabulary")
        XCTAssertLDMError(try CLIPTokenizer(tokens: ["a", "b"], merges: []), isCorrupt, "no CLIP specials")
        XCTAssertLDMError(try CLIPTokenizer(tokens: ["<|startoftext|>", "<|endoftext|>"], merges: [], pad: 2), isInvalid, "pad")
        XCTAssertLDMError(try CLIPTokenizer(tokens: ["<|startoftext|>", "<|endoftext|>"], merges: [], maxLength: 1), isInvalid, "maxLength")
        XCTAssertLDMError(try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"], maxLength: 0), isInvalid, "maxLength")

        let folder = dir + "/sd2"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = write("sd2/merges.txt", "a b</w>\n")
        _ = write("sd2/vocab.json", tiny)
        _ = write("sd2/tokenizer_config.json", #"{"pad_token": "!"}"#)
        XCTAssertLDMError(try CLIPTokenizer(directory: folder), isCorrupt, "pad token not in the vocabulary")
        _ = write("sd2/tokenizer_config.json", #"{"pad_token": "#)
        XCTAssertLDMError(try CLIPTokenizer(directory: folder), isCorrupt, "broken tokenizer_config.json")
    }

    /// Text that has broken other tokenizers: never a crash, always start ... end with valid ids.
    func testHostileText() throws {
        let clip = try XCTUnwrap(Self.clip), bert = try XCTUnwrap(Self.bert), cased = try XCTUnwrap(Self.bertCased)
        var everyScalar = String.UnicodeScalarView()
        for v in stride(from: UInt32(0), to: 0x110000, by: 97) { if let s = Unicode.Scalar(v) { everyScalar.append(s) } }
        let noncharacters = String(String.UnicodeScalarView([0xFDD0, 0xE000, 0xFFFF, 0x10FFFF].map { Unicode.Scalar($0)! }))
        let texts: [String] = [
            String(decoding: [0xFF, 0xFE, 0xC0, 0x80, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0x61], as: UTF8.self),
            "\u{301}\u{302}\u{303}", "e" + String(repeating: "\u{301}", count: 5000),
            String(repeating: "👩‍👩‍👧‍👦\u{200D}", count: 500), String(repeating: "\u{200D}", count: 3000),
            "\u{202E}evil\u{202D}\u{2066}x\u{2069}", String(repeating: "مرحبا ", count: 300),
            String(everyScalar), String(repeating: "a", count: 200_000), String(repeating: "ab1!'s ", count: 20_000),
            String(repeating: "<|endoftext|>", count: 1000) + "[SEP]", String(repeating: "\0", count: 1000),
            String(repeating: "한", count: 10_000), String(repeating: noncharacters, count: 100),
        ]
        for text in texts {
            for (t, vocabSize) in [(clip, 49408), (bert, 30522), (cased, 30522)] as [(Tokenizer, Int)] {
                let ids = t.encode(text)
                XCTAssertGreaterThanOrEqual(ids.count, 2)
                XCTAssertEqual(ids.first, t.startToken)
                XCTAssertEqual(ids.last, t.endToken)
                XCTAssertTrue(ids.allSatisfy { (0..<vocabSize).contains($0) })
            }
        }
    }
}
