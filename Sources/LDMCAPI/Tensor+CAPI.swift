import CLDM
import LDM

@_cdecl("ldm_tensor_new")
public func ldm_tensor_new(_ ndim: Int32, _ shape: UnsafePointer<Int64>?, _ data: UnsafePointer<Float>?,
                           _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        guard ndim >= 1, ndim <= 4 else { throw LDMError.invalidArgument("ndim must be 1 to 4, not \(ndim)") }
        let dims = UnsafeBufferPointer(start: try arg(shape, "shape"), count: Int(ndim))
        guard dims.allSatisfy({ $0 > 0 && $0 <= Int64(Shape.maxElements) }) else {
            throw LDMError.invalidArgument("tensor dimensions must be positive: \(Array(dims))")
        }
        let t = try Tensor(dims.map { Int($0) }, zeroed: data == nil)
        if let data { t.data.update(from: data, count: t.count) }
        return t
    }
}

@_cdecl("ldm_tensor_ndim")
public func ldm_tensor_ndim(_ t: OpaquePointer?) -> Int32 {
    Int32(peek(t, as: Tensor.self)?.shape.count ?? 0)
}

@_cdecl("ldm_tensor_dim")
public func ldm_tensor_dim(_ t: OpaquePointer?, _ axis: Int32) -> Int64 {
    guard let s = peek(t, as: Tensor.self)?.shape, axis >= 0, Int(axis) < s.count else { return 0 }
    return Int64(s[Int(axis)])
}

@_cdecl("ldm_tensor_count")
public func ldm_tensor_count(_ t: OpaquePointer?) -> Int64 {
    Int64(peek(t, as: Tensor.self)?.count ?? 0)
}

@_cdecl("ldm_tensor_data")
public func ldm_tensor_data(_ t: OpaquePointer?) -> UnsafeMutablePointer<Float>? {
    peek(t, as: Tensor.self)?.data
}

@_cdecl("ldm_tensor_free")
public func ldm_tensor_free(_ t: OpaquePointer?) {
    release(t, as: Tensor.self)
}
