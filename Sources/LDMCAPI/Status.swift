import CLDM
import Glibc
import LDM

// Status codes, the per-thread last error, logging and the version: what every export uses.

extension LDMError {
    var status: ldm_status_t {
        switch self {
        case .invalidArgument: return LDM_ERR_INVALID_ARGUMENT
        case .notFound: return LDM_ERR_NOT_FOUND
        case .io: return LDM_ERR_IO
        case .badMagic: return LDM_ERR_BAD_MAGIC
        case .corrupt: return LDM_ERR_CORRUPT
        case .unsupported: return LDM_ERR_UNSUPPORTED
        case .model: return LDM_ERR_MODEL
        case .shape: return LDM_ERR_SHAPE
        case .outOfMemory: return LDM_ERR_OUT_OF_MEMORY
        case .cancelled: return LDM_ERR_CANCELLED
        }
    }
}

/// The last error message of each thread, as a malloc'd C string freed with the thread.
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

private func setLastError(_ message: String) {
    free(pthread_getspecific(errorKey))
    pthread_setspecific(errorKey, strdup(message))
}

/// Runs an export's body, turning a thrown error into its status and message.
func call(_ body: () throws -> Void) -> ldm_status_t {
    do {
        try body()
        return LDM_OK
    } catch let e as LDMError {
        setLastError(e.message)
        return e.status
    } catch {
        setLastError("\(error)")
        return LDM_ERR_INVALID_ARGUMENT
    }
}

/// Unwraps a pointer argument or fails with a message naming it.
func arg<T>(_ p: T?, _ name: String) throws -> T {
    guard let p else { throw LDMError.invalidArgument("\(name) is NULL") }
    return p
}

/// Fills the first `size` bytes of a caller's params struct (compiled against a header whose
/// struct may be older and smaller) with the defaults, and records that size in struct_size.
func fill<T>(_ p: UnsafeMutablePointer<T>?, size: Int, _ defaults: T) {
    guard let p, size >= MemoryLayout<Int>.size else { return }
    var d = defaults
    withUnsafeBytes(of: &d) { src in
        UnsafeMutableRawPointer(p).copyMemory(from: src.baseAddress!, byteCount: min(size, src.count))
    }
    UnsafeMutableRawPointer(p).storeBytes(of: size, as: Int.self)
}

/// Reads a caller's params struct: NULL gives `defaults`; a struct_size smaller than the
/// fields we know is an old caller, whose missing fields keep their defaults.
func params<T>(_ p: UnsafePointer<T>?, _ defaults: T, size: KeyPath<T, Int>, _ name: String) throws -> T {
    guard let p else { return defaults }
    let given = p.pointee[keyPath: size]
    guard given >= MemoryLayout<Int>.size else {
        throw LDMError.invalidArgument("\(name).struct_size is \(given); call the params init function first")
    }
    if given >= MemoryLayout<T>.size { return p.pointee }
    var out = defaults
    withUnsafeMutableBytes(of: &out) { dst in
        dst.copyMemory(from: UnsafeRawBufferPointer(start: p, count: given))
    }
    return out
}

@_cdecl("ldm_status_str")
public func ldm_status_str(_ status: ldm_status_t) -> UnsafePointer<CChar>? {
    let text: StaticString
    switch status {
    case LDM_OK: text = "ok"
    case LDM_ERR_INVALID_ARGUMENT: text = "invalid argument"
    case LDM_ERR_NOT_FOUND: text = "file not found"
    case LDM_ERR_IO: text = "input/output error"
    case LDM_ERR_BAD_MAGIC: text = "unknown file format"
    case LDM_ERR_CORRUPT: text = "malformed file"
    case LDM_ERR_UNSUPPORTED: text = "unsupported"
    case LDM_ERR_MODEL: text = "model does not match its architecture"
    case LDM_ERR_SHAPE: text = "wrong input shape"
    case LDM_ERR_OUT_OF_MEMORY: text = "out of memory"
    case LDM_ERR_CANCELLED: text = "cancelled"
    default: text = "unknown status"
    }
    return UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("ldm_last_error")
public func ldm_last_error() -> UnsafePointer<CChar>? {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    let empty: StaticString = ""
    return UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("ldm_version_string")
public func ldm_version_string() -> UnsafePointer<CChar>? {
    let v: StaticString = "0.1.0"
    return UnsafeRawPointer(v.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("ldm_log_set")
public func ldm_log_set(_ fn: ldm_log_fn?, _ user: UnsafeMutableRawPointer?) {
    guard let fn else { return Log.setSink(nil) }
    Log.setSink { level, message in
        message.withCString { fn(ldm_log_level_t(rawValue: UInt32(level.rawValue)), $0, user) }
    }
}
