import CLDM
import Glibc
import LDM

private let ctxDefaults = ldm_ctx_params_t(struct_size: MemoryLayout<ldm_ctx_params_t>.size, n_threads: 0, low_memory: 0)

@_cdecl("ldm_ctx_params_init")
public func ldm_ctx_params_init(_ p: UnsafeMutablePointer<ldm_ctx_params_t>?, _ size: Int) {
    fill(p, size: size, ctxDefaults)
}

@_cdecl("ldm_ctx_new")
public func ldm_ctx_new(_ model: OpaquePointer?, _ p: UnsafePointer<ldm_ctx_params_t>?,
                        _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        let m = try object(model, "model", as: Model.self)
        let params = try params(p, ctxDefaults, size: \.struct_size, "params")
        guard params.n_threads >= 0, params.n_threads <= 1024 else {
            throw LDMError.invalidArgument("n_threads must be 0 (all CPUs) to 1024, not \(params.n_threads)")
        }
        let threads = params.n_threads > 0 ? Int(params.n_threads) : max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return Context(model: m, threads: threads, lowMemory: params.low_memory != 0)
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

private let encodeDefaults = ldm_encode_params_t(struct_size: MemoryLayout<ldm_encode_params_t>.size, sample: false, seed: 0)

@_cdecl("ldm_encode_params_init")
public func ldm_encode_params_init(_ p: UnsafeMutablePointer<ldm_encode_params_t>?, _ size: Int) {
    fill(p, size: size, encodeDefaults)
}

@_cdecl("ldm_encode")
public func ldm_encode(_ ctx: OpaquePointer?, _ image: OpaquePointer?, _ p: UnsafePointer<ldm_encode_params_t>?,
                       _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        let c = try object(ctx, "ctx", as: Context.self)
        let img = try object(image, "image", as: Image.self)
        let params = try params(p, encodeDefaults, size: \.struct_size, "params")
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

private let sampleDefaults: ldm_sample_params_t = {
    var p = ldm_sample_params_t()
    p.struct_size = MemoryLayout<ldm_sample_params_t>.size
    p.sampler = LDM_SAMPLER_DDIM
    p.steps = 50
    p.guidance = 1
    p.strength = 0.8
    return p
}()

@_cdecl("ldm_sample_params_init")
public func ldm_sample_params_init(_ p: UnsafeMutablePointer<ldm_sample_params_t>?, _ size: Int) {
    fill(p, size: size, sampleDefaults)
}

/// ldm_sampler_t values in declaration order.
private let samplers: [SamplerKind] = [.ddim, .plms, .ddpm, .euler, .euler_a, .heun, .dpmpp_2m, .dpmpp_2m_karras]

@_cdecl("ldm_sample")
public func ldm_sample(_ ctx: OpaquePointer?, _ p: UnsafePointer<ldm_sample_params_t>?, _ cond: OpaquePointer?,
                       _ uncond: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        let c = try object(ctx, "ctx", as: Context.self)
        let params = try params(p, sampleDefaults, size: \.struct_size, "params")
        let kind = Int(params.sampler.rawValue)
        guard kind < samplers.count else { throw LDMError.invalidArgument("unknown sampler \(kind)") }
        var o = SampleOptions()
        o.sampler = samplers[kind]
        o.steps = Int(params.steps)
        o.guidance = params.guidance
        o.eta = params.eta
        o.seed = params.seed
        if params.latent_width != 0 || params.latent_height != 0 {
            o.latentSize = [Int(params.latent_height), Int(params.latent_width)]
        } else {
            o.latentSize = try c.latentSize(width: Int(params.width), height: Int(params.height))
        }
        if params.init_image != nil {
            o.initImage = try object(params.init_image, "init_image", as: Image.self)
            o.strength = params.strength
        }
        if params.init_latent != nil {
            o.initLatent = try object(params.init_latent, "init_latent", as: Tensor.self)
            o.strength = params.strength
        }
        let progress = params.progress, user = params.progress_user
        return try c.sample(o, cond: peek(cond, as: Conditioning.self), uncond: peek(uncond, as: Conditioning.self)) { step, total in
            progress.map { $0(Int32(step), Int32(total), user) } ?? true
        }
    }
}
