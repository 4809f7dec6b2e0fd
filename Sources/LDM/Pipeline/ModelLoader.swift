/// Turns a path into a TensorStore under canonical (CompVis single-file checkpoint) names:
/// a GGUF file, a safetensors checkpoint (full, or a bare or diffusers-named autoencoder), or
/// a diffusers folder (one component with config.json, or a pipeline with model_index.json).
enum ModelLoader {
    static let autoencoderPrefix = "first_stage_model."

    static func load(_ path: String) throws -> TensorStore {
        let store = TensorStore()
        if isDirectory(path) {
            try loadFolder(path, into: store)
        } else {
            try loadFile(path, into: store)
        }
        return store
    }

    // MARK: single files

    static func loadFile(_ path: String, into store: TensorStore) throws {
        let file = try MappedFile(path)
        if GGUF.looksLike(file) {
            let (tensors, metadata) = try GGUF.read(file)
            try addCheckpoint(tensors, into: store)
            // The converter keeps each diffusers component's config.json as text.
            if let text = metadata["ldm.config.vae"]?.string {
                try applyAutoencoderConfig(try JSON.parse(text, what: "\(path): ldm.config.vae"), what: path, into: store)
            }
            store.metadata.merge(metadata) { mine, _ in mine }
        } else if SafeTensors.looksLike(file) {
            try addCheckpoint(try SafeTensors.read(file).tensors, into: store)
        } else if file.size >= 2, file.base.load(as: UInt8.self) == UInt8(ascii: "P"), file.base.load(fromByteOffset: 1, as: UInt8.self) == UInt8(ascii: "K") {
            throw LDMError.unsupported("\(path) is a PyTorch pickle (.ckpt); convert it with tools/ldm-convert, which loads it safely")
        } else {
            throw LDMError.badMagic("\(path) is neither a GGUF nor a safetensors file")
        }
    }

    /// A whole checkpoint (components under their CompVis prefixes) or a standalone autoencoder.
    static func addCheckpoint(_ tensors: [WeightTensor], into store: TensorStore) throws {
        let full = tensors.contains { t in
            [autoencoderPrefix, "model.diffusion_model.", "cond_stage_model."].contains { t.name.hasPrefix($0) }
        }
        guard full else { return try addAutoencoder(tensors.map { ($0.name, $0) }, into: store) }
        var autoencoder = [(String, WeightTensor)]()
        for t in tensors {
            if t.name.hasPrefix(autoencoderPrefix) {
                autoencoder.append((String(t.name.dropFirst(autoencoderPrefix.count)), t))
            } else {
                try store.add(t, as: t.name)
            }
        }
        try addAutoencoder(autoencoder, into: store)
    }

    /// Autoencoder tensors (names without prefix) in CompVis naming (`encoder.down.0...`) or
    /// diffusers naming (`encoder.down_blocks.0...`).
    static func addAutoencoder(_ tensors: [(String, WeightTensor)], into store: TensorStore) throws {
        let names = tensors.map(\.0)
        let diffusers = names.contains { $0.hasPrefix("encoder.down_blocks.") || $0.hasPrefix("decoder.up_blocks.") }
        let upBlocks = DiffusersNames.upBlockCount(names)
        for (name, t) in tensors {
            try store.add(t, as: autoencoderPrefix + (diffusers ? DiffusersNames.autoencoder(name, upBlocks: upBlocks) : name))
        }
    }

    // MARK: diffusers folders

    static func loadFolder(_ dir: String, into store: TensorStore) throws {
        if pathExists(dir + "/model_index.json") {
            let index = try readJSON(dir + "/model_index.json")
            var found = false
            for name in ["vae", "vqvae"] where index[name] != nil && isDirectory(dir + "/" + name) {
                try loadComponent(dir + "/" + name, into: store)
                found = true
            }
            guard found else { throw LDMError.unsupported("\(dir): the pipeline has no component libldm can load") }
        } else if pathExists(dir + "/config.json") {
            try loadComponent(dir, into: store)
        } else {
            throw LDMError.notFound("\(dir) has neither model_index.json nor config.json")
        }
    }

    static func loadComponent(_ dir: String, into store: TensorStore) throws {
        let config = try readJSON(dir + "/config.json")
        let cls = config["_class_name"]?.string ?? ""
        switch cls {
        case "AutoencoderKL", "VQModel":
            let tensors = try SafeTensors.read(try MappedFile(try weightsFile(dir))).tensors
            try addAutoencoder(tensors.map { ($0.name, $0) }, into: store)
            try applyAutoencoderConfig(config, what: dir, into: store)
        default:
            throw LDMError.unsupported("\(dir): component class \(cls.isEmpty ? "(none)" : cls) is not supported")
        }
    }

    /// What a diffusers AutoencoderKL / VQModel config.json says that shapes cannot.
    static func applyAutoencoderConfig(_ config: MetaValue, what: String, into store: TensorStore) throws {
        let known = ["DownEncoderBlock2D", "UpDecoderBlock2D", "AttnDownEncoderBlock2D", "AttnUpDecoderBlock2D"]
        for key in ["down_block_types", "up_block_types"] {
            for type in config[key]?.strings ?? [] where !known.contains(type) {
                throw LDMError.unsupported("\(what): autoencoder block type \(type) is not supported")
            }
        }
        if config["norm_type"]?.string == "spatial" {
            throw LDMError.unsupported("\(what): spatially normalised (MoVQ) decoders are not supported")
        }
        if let g = config["norm_num_groups"]?.int { store.metadata[AutoencoderConfig.groupsKey] = .int(g) }
        if let s = config["scaling_factor"]?.double { store.metadata[AutoencoderConfig.scaleKey] = .double(s) }
    }

    static func weightsFile(_ dir: String) throws -> String {
        for name in ["diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.fp16.safetensors"] {
            let p = dir + "/" + name
            if pathExists(p) { return p }
        }
        if pathExists(dir + "/diffusion_pytorch_model.bin") {
            throw LDMError.unsupported("\(dir) holds only a PyTorch .bin; convert it with tools/ldm-convert")
        }
        throw LDMError.notFound("\(dir) has no .safetensors weights")
    }

    static func readJSON(_ path: String) throws -> MetaValue {
        let file = try MappedFile(path)
        guard file.size <= 16 << 20 else { throw LDMError.corrupt("\(path) is too large for a config file") }
        return try JSON.parse(UnsafeRawBufferPointer(start: file.base, count: file.size), what: path)
    }
}
