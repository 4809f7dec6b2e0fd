import CLDM
import LDM

@_cdecl("ldm_model_load")
public func ldm_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) { try Model(path: String(cString: try arg(path, "path"))) }
}

@_cdecl("ldm_model_free")
public func ldm_model_free(_ model: OpaquePointer?) {
    release(model, as: Model.self)
}

@_cdecl("ldm_model_info")
public func ldm_model_info(_ model: OpaquePointer?, _ info: UnsafeMutablePointer<ldm_model_info_t>?) -> ldm_status_t {
    call {
        let m = try object(model, "model", as: Model.self)
        let info = try arg(info, "info")
        let given = info.pointee.struct_size
        guard given >= MemoryLayout<Int>.size else { throw LDMError.invalidArgument("info.struct_size is \(given)") }
        var full = ldm_model_info_t()
        full.struct_size = given
        if let ae = m.autoencoder?.config {
            full.autoencoder = ae.kind == .kl ? LDM_AUTOENCODER_KL : LDM_AUTOENCODER_VQ
            full.latent_channels = Int32(clamping: ae.embedDim)
            full.downsample_factor = Int32(clamping: ae.downsampleFactor)
            full.scale_factor = ae.scaleFactor
        } else {
            full.autoencoder = LDM_AUTOENCODER_NONE
        }
        switch m.store.dominantType {
        case .f16: full.weight_type = LDM_TYPE_F16
        case .bf16: full.weight_type = LDM_TYPE_BF16
        case .q8_0: full.weight_type = LDM_TYPE_Q8_0
        default: full.weight_type = LDM_TYPE_F32
        }
        full.n_params = UInt64(m.store.parameterCount)
        full.components = (m.autoencoder != nil ? LDM_COMPONENT_AUTOENCODER : 0) | (m.unet != nil ? LDM_COMPONENT_UNET : 0)
            | (m.textEncoder != nil ? LDM_COMPONENT_TEXT_ENCODER : 0) | (m.tokenizer != nil ? LDM_COMPONENT_TOKENIZER : 0)
            | (m.classEmbedder != nil ? LDM_COMPONENT_CLASS_EMBEDDER : 0)
        full.text_max_length = Int32(clamping: m.textEncoder?.maxLength ?? 0)
        if let u = m.unet?.config {
            full.unet_in_channels = Int32(clamping: u.inChannels)
            full.unet_out_channels = Int32(clamping: u.outChannels)
            full.context_dim = Int32(clamping: u.contextDim ?? 0)
            full.n_classes = Int32(clamping: u.numClasses ?? 0)
            full.sample_size = Int32(clamping: m.nativeLatentSize?[0] ?? 0)
        }
        switch m.prediction {
        case .epsilon: full.prediction = LDM_PREDICTION_EPSILON
        case .sample: full.prediction = LDM_PREDICTION_SAMPLE
        case .v: full.prediction = LDM_PREDICTION_V
        }
        withUnsafeBytes(of: &full) { src in
            UnsafeMutableRawPointer(info).copyMemory(from: src.baseAddress!, byteCount: min(given, src.count))
        }
    }
}
