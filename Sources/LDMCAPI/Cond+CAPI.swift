import CLDM
import LDM

@_cdecl("ldm_cond_new")
public func ldm_cond_new(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) { Conditioning() }
}

@_cdecl("ldm_cond_free")
public func ldm_cond_free(_ cond: OpaquePointer?) {
    release(cond, as: Conditioning.self)
}

/// Sets one part of a conditioning from a tensor argument, copied so the caller keeps theirs.
private func setPart(_ cond: OpaquePointer?, _ t: OpaquePointer?, ndim: Int, _ name: String,
                     _ set: (Conditioning, Tensor) -> Void) -> ldm_status_t {
    call {
        let c = try object(cond, "cond", as: Conditioning.self)
        let tensor = try object(t, name, as: Tensor.self)
        guard tensor.shape.count == ndim else {
            throw LDMError.shape("\(name) must have \(ndim) dimensions, not shape \(tensor.shape)")
        }
        set(c, try tensor.copy())
    }
}

@_cdecl("ldm_cond_set_context")
public func ldm_cond_set_context(_ cond: OpaquePointer?, _ context: OpaquePointer?) -> ldm_status_t {
    setPart(cond, context, ndim: 2, "context") { $0.context = $1 }
}

@_cdecl("ldm_cond_set_concat")
public func ldm_cond_set_concat(_ cond: OpaquePointer?, _ channels: OpaquePointer?) -> ldm_status_t {
    setPart(cond, channels, ndim: 3, "channels") { $0.concat = $1 }
}

@_cdecl("ldm_cond_set_vector")
public func ldm_cond_set_vector(_ cond: OpaquePointer?, _ vector: OpaquePointer?) -> ldm_status_t {
    setPart(cond, vector, ndim: 1, "vector") { $0.vector = $1 }
}

@_cdecl("ldm_cond_set_class")
public func ldm_cond_set_class(_ cond: OpaquePointer?, _ label: Int32) -> ldm_status_t {
    call {
        guard label >= 0 else { throw LDMError.invalidArgument("class label \(label) is negative") }
        try object(cond, "cond", as: Conditioning.self).classLabel = Int(label)
    }
}

@_cdecl("ldm_cond_text")
public func ldm_cond_text(_ ctx: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        try object(ctx, "ctx", as: Context.self).textConditioning(String(cString: try arg(prompt, "prompt")))
    }
}

@_cdecl("ldm_encode_text")
public func ldm_encode_text(_ ctx: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        let c = try object(ctx, "ctx", as: Context.self)
        c.ws.resetCancel()
        return try c.encodeText(String(cString: try arg(prompt, "prompt")))
    }
}

@_cdecl("ldm_cond_uncond")
public func ldm_cond_uncond(_ ctx: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) { try object(ctx, "ctx", as: Context.self).unconditional() }
}

@_cdecl("ldm_tokenize")
public func ldm_tokenize(_ ctx: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ ids: UnsafeMutablePointer<Int32>?,
                         _ capacity: Int32, _ count: UnsafeMutablePointer<Int32>?) -> ldm_status_t {
    call {
        let c = try object(ctx, "ctx", as: Context.self)
        let count = try arg(count, "n_ids")
        guard capacity >= 0 else { throw LDMError.invalidArgument("capacity \(capacity) is negative") }
        let all = try c.tokenWindows(String(cString: try arg(prompt, "prompt"))).joined()
        guard all.count <= Int(Int32.max) else { throw LDMError.invalidArgument("the prompt is too long") }
        count.pointee = Int32(all.count)
        if capacity > 0 {
            let ids = try arg(ids, "ids")
            for (i, id) in all.prefix(Int(capacity)).enumerated() { ids[i] = Int32(id) }
        }
    }
}
