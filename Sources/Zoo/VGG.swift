import Engine
import Layers
/// VGG (Simonyan & Zisserman, 2015), built from one configuration table.
///
/// Each block is a run of 3x3 'same' convolutions (with bias; optionally each followed by
/// BatchNorm, as torchvision's `vgg*_bn`), ReLU after each, then 2x2 max pooling. With the
/// original top: flatten (NHWC order), `fc1` and `fc2` (ReLU, optional dropout) and the
/// `classifier`; without it, optional global pooling. Stages: `block1` … `block5`, then
/// `fc1`, `fc2` (with the top); head: `classifier` (HDF5 name `predictions`, as
/// keras.applications). VGG-16 with the top has 138,357,544 parameters.
public struct VGGConfig: Codable, Equatable, Sendable {
    /// Convolution widths per block.
    public var blocks: [[Int]]
    /// Whether each convolution is followed by BatchNorm (torchvision's `vgg*_bn`).
    public var batchNorm: Bool
    /// Widths of the fully connected layers before the classifier (empty without the top).
    public var fc: [Int]
    /// Outputs of the `classifier` head (ignored without the top).
    public var classes: Int
    /// [height, width, channels].
    public var input: [Int]
    /// Whether the model has its original top (flatten, fc layers, classifier).
    public var includeTop: Bool
    /// Global pooling after the convolution blocks. Without the top: the output (nil: the
    /// feature map). With the top: in place of flattening, so the fc layers and classifier
    /// take `channels` inputs whatever the input size (a "global-pooling head").
    public var pooling: GlobalPooling?
    /// Dropout rate after each fc layer's ReLU, in training only (0: none, the default).
    public var dropout: Float
    /// BatchNorm epsilon (torchvision: 1e-5).
    public var epsilon: Float

    /// The configuration; the defaults give a 224x224x3 ImageNet model with 4096-wide fc layers
    /// and 1000 classes, without BatchNorm or dropout.
    public init(blocks: [[Int]], batchNorm: Bool = false, fc: [Int] = [4096, 4096], classes: Int = 1000,
                input: [Int] = [224, 224, 3], includeTop: Bool = true, pooling: GlobalPooling? = nil,
                dropout: Float = 0, epsilon: Float = 1e-5) {
        self.blocks = blocks; self.batchNorm = batchNorm; self.fc = fc; self.classes = classes; self.input = input
        self.includeTop = includeTop; self.pooling = pooling; self.dropout = dropout; self.epsilon = epsilon
    }

    private enum CodingKeys: String, CodingKey { case blocks, batchNorm, fc, classes, input, includeTop, pooling, dropout, epsilon }

    /// Decodes a configuration in which only `blocks` is required; missing keys take the
    /// memberwise initialiser's defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(blocks: try c.decode([[Int]].self, forKey: .blocks),
                  batchNorm: try c.decodeIfPresent(Bool.self, forKey: .batchNorm) ?? false,
                  fc: try c.decodeIfPresent([Int].self, forKey: .fc) ?? [4096, 4096],
                  classes: try c.decodeIfPresent(Int.self, forKey: .classes) ?? 1000,
                  input: try c.decodeIfPresent([Int].self, forKey: .input) ?? [224, 224, 3],
                  includeTop: try c.decodeIfPresent(Bool.self, forKey: .includeTop) ?? true,
                  pooling: try c.decodeIfPresent(GlobalPooling.self, forKey: .pooling),
                  dropout: try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0,
                  epsilon: try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? 1e-5)
    }

    /// The depth table: convolution widths per block for VGG-11/13/16/19 (configurations
    /// A, B, D, E of the paper).
    public static let depths: [Int: [[Int]]] = [
        11: [[64], [128], [256, 256], [512, 512], [512, 512]],
        13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
        16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
        19: [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
    ]

    /// VGG-`depth` (11, 13, 16 or 19) from `depths`, with the default fc layers; other depths stop
    /// with a message.
    public static func vgg(_ depth: Int, batchNorm: Bool = false, classes: Int = 1000, input: [Int] = [224, 224, 3],
                           includeTop: Bool = true, pooling: GlobalPooling? = nil) -> VGGConfig {
        ensure(depths[depth] != nil, "VGG: no depth \(depth); choose 11, 13, 16 or 19")
        return VGGConfig(blocks: depths[depth]!, batchNorm: batchNorm, classes: classes, input: input,
                         includeTop: includeTop, pooling: pooling)
    }
}

/// VGG as configured by `VGGConfig`. Input NHWC; output [n, classes] logits with the top, or
/// without it the last block's feature map (globally pooled if configured).
public final class VGG: Module, ZooModel {
    /// The configuration the model was built from (its `classes` follows `replaceHead`).
    public private(set) var config: VGGConfig
    /// The convolution blocks (`conv{i}`, `bn{i}`, `relu{i}` …, `pool`), named `block1` … in keys.
    public let blocks: [Sequential]
    /// The hidden fully connected layers (`fc1`, `fc2`, …); empty without the top.
    public let fcLayers: [Dense]
    /// One dropout per fc layer (`dropout1`, …), rate `config.dropout`; empty without the top.
    public let dropouts: [Dropout]
    /// The head (HDF5 `predictions`); nil without the top.
    public private(set) var classifier: Dense?

    /// Builds VGG from `config`; convolutions are He-normal (fan-out) initialised from the global
    /// seed. With the top, each side of the input must be at least 2^blocks pixels (one per pooling).
    public init(_ config: VGGConfig) {
        self.config = config
        var channels = config.input[2]
        var blocks: [Sequential] = []
        for widths in config.blocks {
            var layers: [(String, Module)] = []
            for (i, width) in widths.enumerated() {
                layers.append(("conv\(i + 1)", Conv2D(channels, width, kernel: 3, padding: .same, kernelInitializer: .heNormal(.fanOut))))
                if config.batchNorm { layers.append(("bn\(i + 1)", BatchNorm(width, epsilon: config.epsilon))) }
                layers.append(("relu\(i + 1)", ReLU()))
                channels = width
            }
            layers.append(("pool", MaxPool2D(2)))
            blocks.append(Sequential(named: layers))
        }
        self.blocks = blocks
        let scale = 1 << config.blocks.count
        let (h, w) = (config.input[0] / scale, config.input[1] / scale)
        if config.includeTop {
            ensure(h >= 1 && w >= 1, "VGG: a \(config.input) input is too small for \(config.blocks.count) pooling blocks")
            var inputs = config.pooling == nil ? h * w * channels : channels
            fcLayers = config.fc.map { width in
                defer { inputs = width }
                return Dense(inputs, width)
            }
            dropouts = config.fc.map { _ in Dropout(config.dropout) }
            classifier = Dense(inputs, config.classes)
        } else {
            fcLayers = []
            dropouts = []
            classifier = nil
        }
    }

    /// `block1` …, `fc1` …, `dropout1` …, then `classifier`: the keys weight files and checkpoints use.
    public override var namedChildren: [(name: String, module: Module)] {
        blocks.enumerated().map { ("block\($0.offset + 1)", $0.element as Module) }
            + fcLayers.enumerated().map { ("fc\($0.offset + 1)", $0.element as Module) }
            + dropouts.enumerated().map { ("dropout\($0.offset + 1)", $0.element as Module) }
            + (classifier.map { [("classifier", $0 as Module)] } ?? [])
    }

    /// The blocks, then the fc layers: what `--freeze N` counts (dropouts and the head excluded).
    public var stages: [(name: String, module: Module)] {
        namedChildren.filter { $0.name != "classifier" && !$0.name.hasPrefix("dropout") }
    }

    /// `classifier`, or nil without the top.
    public var headKey: String? { classifier == nil ? nil : "classifier" }

    /// Convolution blocks compose; `fc1`/`fc2` get the flattened features and their ReLU.
    public func features(_ x: Variable, throughStage index: Int) -> Variable {
        let convolutional = min(index + 1, blocks.count)
        var h = blocks.prefix(convolutional).reduce(x) { $1($0) }
        guard index >= blocks.count else { return h }
        h = flattenOrPool(h)
        for dense in fcLayers.prefix(index + 1 - blocks.count) { h = relu(dense(h)) }
        return h
    }

    /// Runs blocks `index...` then the top on `h`, the output of stage `index - 1`, for `index` up
    /// to `blocks.count` (the first fc stage); nil beyond it, and for any index but 0 without the top.
    public func forward(_ h: Variable, fromStage index: Int) -> Variable? {
        guard let classifier, index <= blocks.count else { return index == 0 ? forward(h) : nil }
        var h = blocks.dropFirst(index).reduce(h) { $1($0) }
        h = flattenOrPool(h)
        for (dense, drop) in zip(fcLayers, dropouts) { h = drop(relu(dense(h))) }
        return classifier(h)
    }

    /// The original top flattens the last feature map; a global-pooling head pools it.
    private func flattenOrPool(_ h: Variable) -> Variable {
        switch config.pooling {
        case .avg?: return globalAvgPool(h)
        case .max?: return globalMaxPool(h)
        case nil: return h.flattenedBatch()
        }
    }

    /// Replaces the `classifier` with a freshly initialised one of the same inputs and `classes`
    /// outputs; stops with a message for a VGG without the top.
    public func replaceHead(classes: Int) {
        ensure(classes >= 1, "replaceHead: \(classes) classes")
        guard let old = classifier else { fatalError("VGG.replaceHead: this VGG has no top; build it with includeTop: true") }
        classifier = Dense(old.inputs, classes)
        config.classes = classes
    }
    /// The configuration that rebuilds this model: `.vgg(config)`.
    public var configuration: ModelConfiguration { .vgg(config) }

    /// keras.applications names: `block{b}_conv{c}` (and `block{b}_bn{c}`), `fc1`, `fc2`, and
    /// `predictions` for the `classifier`.
    public func layerName(forModuleKey key: String) -> String {
        key == "classifier" ? "predictions" : defaultLayerName(forModuleKey: key)
    }

    /// The logits [n, classes] with the top: the blocks, flattening (or global pooling), each fc
    /// layer with ReLU and dropout, the classifier. Without it the (pooled) feature map.
    public override func forward(_ x: Variable) -> Variable {
        var h = blocks.reduce(x) { $1($0) }
        guard let classifier else {
            switch config.pooling {
            case .avg?: return globalAvgPool(h)
            case .max?: return globalMaxPool(h)
            case nil: return h
            }
        }
        if config.pooling == nil {
            ensure(x.shape.count == 4 && Array(x.shape[1...]) == config.input,
                   "VGG: with the original top the input must be \(config.input) (NHWC), got \(x.shape); rebuild with includeTop: false for other sizes")
        }
        h = flattenOrPool(h)
        for (dense, drop) in zip(fcLayers, dropouts) { h = drop(relu(dense(h))) }
        return classifier(h)
    }
}
