import Engine
import Layers
/// The per-layer table `finetune summary` prints, in the style of the lecture notes' tables
/// (torchsummary's): every leaf layer's output shape (NHWC, batch as -1) and parameter count,
/// the stage it belongs to, and totals. BatchNorm running statistics are buffers, not
/// parameters, and are not counted.
public struct ModelSummary {
    /// One leaf layer of the table, in call order.
    public struct Row: Sendable {
        /// The module's dotted key in the model (`stage1.block1.conv1`), as in checkpoints.
        public let key: String
        /// The module's Swift type name (`Conv2D`, `BatchNorm`, …).
        public let type: String
        /// The output shape (NHWC, or [n, features] after flattening) for a batch of 1; `text` prints the batch as -1.
        public let outputShape: [Int]
        /// The number of scalars in the layer's own parameters (buffers excluded).
        public let parameters: Int
        /// The stage (or the head key) the layer belongs to; nil for layers outside every stage.
        public let stage: String?
    }

    /// Every leaf layer (a module without children) in call order.
    public let rows: [Row]
    /// All parameter scalars of the model, frozen or not.
    public let total: Int
    /// The parameter scalars that are not frozen.
    public let trainable: Int
    /// Per stage in `stages` order: its name, its parameter count and its output shape (batch of 1).
    public let stages: [(name: String, parameters: Int, outputShape: [Int])]

    /// Traces `model` once on a zero input of its configured size (batch 1, no gradients) and
    /// collects the table.
    public init(_ model: any ZooModel) {
        let input = [1] + model.configuration.inputSize
        let calls = model.trace(.zeros(input))
        let stageNames = model.stages.map(\.name) + (model.headKey.map { [$0] } ?? [])
        func stage(of key: String) -> String? { stageNames.first { key == $0 || key.hasPrefix($0 + ".") } }
        rows = calls.filter { $0.module.namedChildren.isEmpty }.map { call in
            Row(key: call.key, type: String(describing: type(of: call.module)),
                outputShape: call.outputShape, parameters: call.module.ownParameters.reduce(0) { $0 + $1.parameter.value.count },
                stage: stage(of: call.key))
        }
        let shapes = Dictionary(calls.map { ($0.key, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
        stages = model.stages.map { ($0.name, $0.module.parameterCount, shapes[$0.name] ?? []) }
        total = model.parameterCount
        trainable = model.trainableParameterCount
    }

    /// The table as text.
    public var text: String {
        func shape(_ s: [Int]) -> String { "[" + (["-1"] + s.dropFirst().map(String.init)).joined(separator: ", ") + "]" }
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        func left(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        var lines = [pad("Layer (type)", 44) + pad("Output Shape", 22) + left("Param #", 12) + "  Stage",
                     String(repeating: "=", count: 90)]
        for row in rows {
            lines.append(pad("\(row.key) (\(row.type))", 44) + pad(shape(row.outputShape), 22)
                         + left(row.parameters.commaGrouped, 12) + "  " + (row.stage ?? ""))
        }
        lines.append(String(repeating: "=", count: 90))
        lines.append("Total params: \(total.commaGrouped)")
        lines.append("Trainable params: \(trainable.commaGrouped)")
        lines.append("Non-trainable params: \((total - trainable).commaGrouped)")
        lines.append("")
        lines.append("Stages (--freeze N freezes the first N):")
        for (i, s) in stages.enumerated() {
            lines.append("  \(i + 1). " + pad(s.name, 10) + pad(shape(s.outputShape), 22) + left(s.parameters.commaGrouped, 12) + " params")
        }
        return lines.joined(separator: "\n")
    }
}
