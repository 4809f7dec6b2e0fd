import CLDM
import LDM

// C handles are retained Swift objects: a handle owns one reference, released by its
// ldm_*_free. Objects that need another (a context its model) hold their own.

func handle(_ object: AnyObject) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

func object<T: AnyObject>(_ p: OpaquePointer?, _ name: String, as _: T.Type = T.self) throws -> T {
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(try arg(p, name))).takeUnretainedValue()
}

func peek<T: AnyObject>(_ p: OpaquePointer?, as _: T.Type) -> T? {
    p.map { Unmanaged<T>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
}

func release<T: AnyObject>(_ p: OpaquePointer?, as _: T.Type) {
    if let p { Unmanaged<T>.fromOpaque(UnsafeRawPointer(p)).release() }
}

/// Runs `body` for an export that returns a new handle through `out`, which is set to NULL
/// first and only filled on success.
func create(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ body: () throws -> AnyObject) -> ldm_status_t {
    out?.pointee = nil
    return call {
        let out = try arg(out, "out")
        out.pointee = handle(try body())
    }
}
