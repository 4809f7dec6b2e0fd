/// Every failure the library reports. The C layer maps each case to a pinned `ldm_status_t`.
public enum LDMError: Error, Equatable {
    case invalidArgument(String)
    case notFound(String)
    case io(String)
    case badMagic(String)
    case corrupt(String)
    case unsupported(String)
    case model(String)
    case shape(String)
    case outOfMemory(String)
    case cancelled

    public var message: String {
        switch self {
        case .invalidArgument(let m), .notFound(let m), .io(let m), .badMagic(let m), .corrupt(let m),
             .unsupported(let m), .model(let m), .shape(let m), .outOfMemory(let m):
            return m
        case .cancelled:
            return "cancelled"
        }
    }
}
