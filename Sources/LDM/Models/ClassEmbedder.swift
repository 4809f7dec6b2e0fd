/// The class-conditional LDMs' ClassEmbedder: a label's row of `cond_stage_model.embedding`
/// is the cross-attention context [1, dim]. The last class means "no class" (guidance).
public struct ClassEmbedder {
    let table: WeightTensor
    public var classes: Int { table.shape[0] }
    public var width: Int { table.shape[1] }

    init(_ w: WeightScope) throws {
        table = try w.tensor("embedding.weight")
        guard table.shape.count == 2, table.shape[0] > 0 else {
            throw LDMError.model("cond_stage_model.embedding.weight has shape \(table.shape)")
        }
    }

    public func context(for label: Int) throws -> Tensor {
        guard label >= 0, label < classes else { throw LDMError.invalidArgument("class label \(label) is outside 0..<\(classes)") }
        let t = try Tensor([1, width])
        try table.decode(label * width, width, into: t.data)
        return t
    }
}
