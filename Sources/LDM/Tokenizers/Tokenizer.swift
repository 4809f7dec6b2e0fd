/// Turns a prompt into the token ids a text encoder reads.
public protocol Tokenizer: AnyObject {
    /// The start token, every token of `text` (never truncated: long prompts are chunked by the
    /// caller), then the end token; no padding.
    func encode(_ text: String) -> [Int]
    var startToken: Int { get }
    var endToken: Int { get }
    /// What fills the rest of the encoder's positions: SD1's CLIP pads with the end token,
    /// SD2's with "!" (id 0), BERT with [PAD] (id 0).
    var padToken: Int { get }
    /// The text encoder's positions (77 for CLIP and LDM's BERT).
    var maxLength: Int { get }
}
