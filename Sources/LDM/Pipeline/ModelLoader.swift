/// Turns a path into a TensorStore under canonical names, the keys of a CompVis / Stable
/// Diffusion single-file checkpoint (`first_stage_model.*`, `model.diffusion_model.*`):
/// a GGUF file, a safetensors checkpoint (whole, or one bare component in CompVis or diffusers
/// naming), or a diffusers folder (one component with config.json, or a pipeline with
/// model_index.json). Configs that shapes cannot replace become metadata (DiffusersConfig).
enum ModelLoader {
    enum Role { case autoencoder, unet, clipText, bert, scheduler, tokenizer }

    /// Where each component's tensors live in a single-file checkpoint (the text encoders as
    /// SD1 names CLIP's, and LDM-BERT under a name of its own).
    static let prefixes: [Role: String] = [.autoencoder: "first_stage_model.", .unet: "model.diffusion_model.",
                                           .clipText: "cond_stage_model.transformer.", .bert: "cond_stage_model.bert."]
    static let textEncoderPrefix = "cond_stage_model."
    /// Folder names of diffusers pipelines (the converter keeps them as ldm.config.<name>).
    static let folderRoles: [String: Role] = ["vae": .autoencoder, "vqvae": .autoencoder, "unet": .unet, "text_encoder": .clipText,
                                              "bert": .bert, "scheduler": .scheduler, "tokenizer": .tokenizer]
    /// Component classes (diffusers' _class_name, or transformers' architectures[0]).
    static let classRoles: [String: Role] = ["AutoencoderKL": .autoencoder, "VQModel": .autoencoder,
                                             "UNet2DConditionModel": .unet, "UNet2DModel": .unet,
                                             "CLIPTextModel": .clipText, "LDMBertModel": .bert]

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
            for (folder, role) in folderRoles {
                if let text = metadata["ldm.config.\(folder)"]?.string {
                    try DiffusersConfig.apply(role, try JSON.parse(text, what: "\(path): ldm.config.\(folder)"), what: path, into: store)
                }
            }
            if let text = metadata[CompVisConfig.key]?.string {
                try CompVisConfig.apply(try JSON.parse(text, what: "\(path): \(CompVisConfig.key)"), what: path, into: store)
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

    /// A whole checkpoint (components under their CompVis prefixes, other tensors kept as they
    /// are) or one bare component.
    static func addCheckpoint(_ tensors: [WeightTensor], into store: TensorStore) throws {
        var parts = [Role: [(String, WeightTensor)]]()
        var rest = [WeightTensor]()
        for t in tensors {
            if let (role, prefix) = prefixes.first(where: { t.name.hasPrefix($0.value) }) {
                parts[role, default: []].append((String(t.name.dropFirst(prefix.count)), t))
            } else {
                rest.append(t)
            }
        }
        if parts.isEmpty, !rest.isEmpty, let role = bareRole(rest.map(\.name)) {
            return try add(role, rest.map { ($0.name, $0) }, into: store)
        }
        for t in rest { try store.add(t, as: t.name) }
        for (role, named) in parts { try add(role, named, into: store) }
    }

    /// The component a file without prefixes holds, from its key names.
    static func bareRole(_ names: [String]) -> Role? {
        if names.contains(where: { $0.hasPrefix("encoder.") || $0.hasPrefix("decoder.") }) { return .autoencoder }
        if names.contains(where: { $0.hasPrefix("time_embed") || $0.hasPrefix("input_blocks.") }) { return .unet }
        return nil
    }

    /// One component's tensors (names without prefix), in CompVis or diffusers naming.
    static func add(_ role: Role, _ tensors: [(String, WeightTensor)], into store: TensorStore) throws {
        guard let prefix = prefixes[role] else { return }
        let names = tensors.map(\.0)
        let rename: (String) -> String
        switch role {
        case .autoencoder where names.contains(where: { $0.hasPrefix("encoder.down_blocks.") || $0.hasPrefix("decoder.up_blocks.") }):
            let upBlocks = DiffusersNames.upBlockCount(names)
            rename = { DiffusersNames.autoencoder($0, upBlocks: upBlocks) }
        case .unet where names.contains(where: { $0.hasPrefix("down_blocks.") || $0.hasPrefix("time_embedding.") }):
            let layout = DiffusersNames.UNetLayout(names)
            rename = { DiffusersNames.unet($0, layout) }
        default:
            rename = { $0 }
        }
        for (name, t) in tensors { try store.add(t, as: prefix + rename(name)) }
    }

    // MARK: diffusers folders

    static func loadFolder(_ dir: String, into store: TensorStore) throws {
        if pathExists(dir + "/model_index.json") {
            let index = try readJSON(dir + "/model_index.json")
            var found = false
            for (folder, role) in folderRoles where index[folder] != nil && isDirectory(dir + "/" + folder) {
                switch role {
                case .scheduler:
                    try DiffusersConfig.apply(role, try readJSON(dir + "/scheduler/scheduler_config.json"), what: dir, into: store)
                case .tokenizer:
                    store.tokenizerFolder = dir + "/" + folder
                default:
                    try loadComponent(dir + "/" + folder, into: store)
                    found = true
                }
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
        let cls = config["_class_name"]?.string ?? config["architectures"]?.strings?.first ?? ""
        guard let role = classRoles[cls] else {
            throw LDMError.unsupported("\(dir): component class \(cls.isEmpty ? "(none)" : cls) is not supported")
        }
        try DiffusersConfig.apply(role, config, what: dir, into: store)
        let tensors = try SafeTensors.read(try MappedFile(try weightsFile(dir))).tensors
        try add(role, tensors.map { ($0.name, $0) }, into: store)
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
