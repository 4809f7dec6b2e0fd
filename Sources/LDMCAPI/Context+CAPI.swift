import CLDM
import Glibc
import LDM

@_cdecl("ldm_ctx_params_init")
public func ldm_ctx_params_init(_ p: UnsafeMutablePointer<ldm_ctx_params_t>?) {
    p?.pointee = ldm_ctx_params_t(struct_size: MemoryLayout<ldm_ctx_params_t>.size, n_threads: 0)
}

@_cdecl("ldm_ctx_new")
public func ldm_ctx_new(_ model: OpaquePointer?, _ p: UnsafePointer<ldm_ctx_params_t>?,
                        _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        let m = try object(model, "model", as: Model.self)
        var defaults = ldm_ctx_params_t()
        ldm_ctx_params_init(&defaults)
        let params = try params(p, defaults, size: \.struct_size, "params")
        guard params.n_threads >= 0, params.n_threads <= 1024 else {
            throw LDMError.invalidArgument("n_threads must be 0 (all CPUs) to 1024, not \(params.n_threads)")
        }
        let threads = params.n_threads > 0 ? Int(params.n_threads) : max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return Context(model: m, threads: threads)
    }
}

@_cdecl("ldm_ctx_free")
public func ldm_ctx_free(_ ctx: OpaquePointer?) {
    release(ctx, as: Context.self)
}

@_cdecl("ldm_ctx_cancel")
public func ldm_ctx_cancel(_ ctx: OpaquePointer?) {
    peek(ctx, as: Context.self)?.ws.cancel()
}

@_cdecl("ldm_encode_params_init")
public func ldm_encode_params_init(_ p: UnsafeMutablePointer<ldm_encode_params_t>?) {
    p?.pointee = ldm_encode_params_t(struct_size: MemoryLayout<ldm_encode_params_t>.size, sample: false, seed: 0)
}

@_cdecl("ldm_encode")
public func ldm_encode(_ ctx: OpaquePointer?, _ image: OpaquePointer?, _ p: UnsafePointer<ldm_encode_params_t>?,
                       _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        let c = try object(ctx, "ctx", as: Context.self)
        let img = try object(image, "image", as: Image.self)
        var defaults = ldm_encode_params_t()
        ldm_encode_params_init(&defaults)
        let params = try params(p, defaults, size: \.struct_size, "params")
        return try c.encode(img, sample: params.sample, seed: params.seed)
    }
}

@_cdecl("ldm_decode")
public func ldm_decode(_ ctx: OpaquePointer?, _ latent: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        try object(ctx, "ctx", as: Context.self).decodeImage(try object(latent, "latent", as: Tensor.self))
    }
}

@_cdecl("ldm_decode_float")
public func ldm_decode_float(_ ctx: OpaquePointer?, _ latent: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        try object(ctx, "ctx", as: Context.self).decode(try object(latent, "latent", as: Tensor.self))
    }
}
