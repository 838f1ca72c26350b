import Engine
import Layers

/// ResNet (He et al., 2016) from a depth table, as torchvision's resnet.py and
/// keras.applications' resnet.py.
///
/// `stem` (7x7 stride-2 convolution, BatchNorm, ReLU, 3x3 stride-2 max pooling; or for small
/// inputs a 3x3 stride-1 convolution without pooling), then stages of `BasicBlock`s
/// (ResNet-18/34) or `Bottleneck`s (ResNet-50/101/152), global average pooling and `fc`.
/// Options cover the two lineages: Keras puts a stage's stride on the first 1x1 convolution
/// of a bottleneck, uses 'same' padding, convolution biases and BatchNorm epsilon 1.001e-5;
/// torchvision ("v1.5") puts it on the 3x3, pads symmetrically, has no convolution biases and
/// uses epsilon 1e-5. Stages: `stem`, `stage1` … `stage4`; head: `fc` (HDF5 `predictions`).
public struct ResNetConfig: Codable, Equatable, Sendable {
    /// The residual block: `basic` (two 3x3 convolutions, ResNet-18/34 and CIFAR) or `bottleneck`
    /// (1x1, 3x3, 1x1 with 4x expansion, ResNet-50/101/152).
    public enum Block: String, Codable, Sendable {
        /// Two 3x3 convolutions, expansion 1 (ResNet-18/34, CIFAR ResNets).
        case basic
        /// 1x1, 3x3, 1x1 convolutions, expansion 4 (ResNet-50/101/152).
        case bottleneck
    }
    /// Where a bottleneck's stride goes: the first 1x1 convolution (Keras) or the 3x3 (torchvision).
    public enum StrideOn: String, Codable, Sendable {
        /// The stride on the first 1x1 convolution (Keras, ResNet v1).
        case first
        /// The stride on the 3x3 convolution (torchvision, "v1.5").
        case spatial
    }
    /// 'same' padding (Keras, extra pixel bottom/right) or symmetric explicit padding (PyTorch).
    public enum PaddingStyle: String, Codable, Sendable {
        /// Keras 'same' padding: the odd extra pixel goes bottom/right.
        case keras
        /// PyTorch explicit symmetric padding of kernel / 2 on every side.
        case torch
    }
    /// ImageNet stem (7x7/2 + max pool) or small-input stem (3x3/1, no pool).
    public enum Stem: String, Codable, Sendable {
        /// 7x7 convolution with stride 2, then 3x3 max pooling with stride 2 (224 px inputs).
        case imagenet
        /// One 3x3 convolution with stride 1 and no pooling (32 px inputs, CIFAR).
        case small
    }

    /// The residual block every stage is made of.
    public var block: Block
    /// Output channels of the stem convolution (64; CIFAR-style: 16).
    public var stemWidth: Int
    /// Base widths per stage (bottlenecks output 4x).
    public var widths: [Int]
    /// Blocks per stage, one entry per `widths` entry.
    public var blocks: [Int]
    /// The stride of each stage's first block (default: 1 for the first stage, 2 for the others).
    public var strides: [Int]
    /// Which convolution of a bottleneck takes the stride (unused by basic blocks).
    public var strideOn: StrideOn
    /// How 3x3 convolutions are padded: Keras 'same' or PyTorch symmetric.
    public var padding: PaddingStyle
    /// Whether convolutions have biases (Keras: yes; torchvision: no).
    public var convBias: Bool
    /// BatchNorm epsilon (torchvision: 1e-5; Keras: 1.001e-5).
    public var epsilon: Float
    /// The ImageNet stem or the small-input (CIFAR) one.
    public var stem: Stem
    /// Outputs of the `fc` head (ignored without the top).
    public var classes: Int
    /// [height, width, channels]; weights depend only on the channels, so any size works.
    public var input: [Int]
    /// Whether the model has the `fc` head after global average pooling.
    public var includeTop: Bool
    /// Global pooling of the last stage without the top (nil: the feature map); with the top the
    /// features are always average-pooled.
    public var pooling: GlobalPooling?
    /// Dropout rate on the pooled features before `fc` (timm's `drop_rate`; 0: none).
    public var dropout: Float = 0
    /// DropBlock rate after every block of the last two stages (Ghiasi et al., 2018, §4.1: groups
    /// 3 and 4; blocks of `dropBlockSize`, clamped to the map, so on maps of 7x7 or less each block
    /// is a whole channel: spatial dropout; 0: none).
    public var dropBlock: Float = 0
    /// DropBlock's block side (the paper: 7).
    public static let dropBlockSize = 7
    /// How many of the last residual stages get DropBlock (the paper: groups 3 and 4).
    public static let dropBlockStages = 2

    /// The configuration; the defaults are torchvision's ImageNet layout (v1.5). `strides` nil gives
    /// 1 then 2s; `widths` and `blocks` must have the same count.
    public init(
        block: Block, stemWidth: Int = 64, widths: [Int] = [64, 128, 256, 512], blocks: [Int],
        strides: [Int]? = nil, strideOn: StrideOn = .spatial, padding: PaddingStyle = .torch, convBias: Bool = false,
        epsilon: Float = 1e-5, stem: Stem = .imagenet, classes: Int = 1000, input: [Int] = [224, 224, 3],
        includeTop: Bool = true, pooling: GlobalPooling? = .avg
    ) {
        ensure(widths.count == blocks.count, "ResNet: \(widths.count) widths for \(blocks.count) stages")
        self.block = block
        self.stemWidth = stemWidth
        self.widths = widths
        self.blocks = blocks
        self.strides = strides ?? [1] + Array(repeating: 2, count: max(widths.count - 1, 0))
        self.strideOn = strideOn
        self.padding = padding
        self.convBias = convBias
        self.epsilon = epsilon
        self.stem = stem
        self.classes = classes
        self.input = input
        self.includeTop = includeTop
        self.pooling = pooling
    }

    private enum CodingKeys: String, CodingKey {
        case block, stemWidth, widths, blocks, strides, strideOn, padding, convBias, epsilon, stem, classes, input,
            includeTop, pooling
        case dropout, dropBlock
    }

    /// Every setting, except `dropout` and `dropBlock` when they are 0 (so a configuration
    /// without them encodes as before they existed).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(block, forKey: .block)
        try c.encode(stemWidth, forKey: .stemWidth)
        try c.encode(widths, forKey: .widths)
        try c.encode(blocks, forKey: .blocks)
        try c.encode(strides, forKey: .strides)
        try c.encode(strideOn, forKey: .strideOn)
        try c.encode(padding, forKey: .padding)
        try c.encode(convBias, forKey: .convBias)
        try c.encode(epsilon, forKey: .epsilon)
        try c.encode(stem, forKey: .stem)
        try c.encode(classes, forKey: .classes)
        try c.encode(input, forKey: .input)
        try c.encode(includeTop, forKey: .includeTop)
        try c.encodeIfPresent(pooling, forKey: .pooling)
        if dropout != 0 { try c.encode(dropout, forKey: .dropout) }
        if dropBlock != 0 { try c.encode(dropBlock, forKey: .dropBlock) }
    }

    /// Decodes a configuration in which only `block` and `blocks` are required; missing keys take
    /// the memberwise initialiser's defaults.
    /// - Throws: `DecodingError.dataCorrupted` when `widths` and `blocks` differ in count.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let widths = try c.decodeIfPresent([Int].self, forKey: .widths) ?? [64, 128, 256, 512]
        guard widths.count == (try c.decode([Int].self, forKey: .blocks)).count else {
            throw DecodingError.dataCorruptedError(
                forKey: .blocks, in: c, debugDescription: "ResNet: one block count per width is needed")
        }
        self.init(
            block: try c.decode(Block.self, forKey: .block),
            stemWidth: try c.decodeIfPresent(Int.self, forKey: .stemWidth) ?? 64,
            widths: try c.decodeIfPresent([Int].self, forKey: .widths) ?? [64, 128, 256, 512],
            blocks: try c.decode([Int].self, forKey: .blocks),
            strides: try c.decodeIfPresent([Int].self, forKey: .strides),
            strideOn: try c.decodeIfPresent(StrideOn.self, forKey: .strideOn) ?? .spatial,
            padding: try c.decodeIfPresent(PaddingStyle.self, forKey: .padding) ?? .torch,
            convBias: try c.decodeIfPresent(Bool.self, forKey: .convBias) ?? false,
            epsilon: try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? 1e-5,
            stem: try c.decodeIfPresent(Stem.self, forKey: .stem) ?? .imagenet,
            classes: try c.decodeIfPresent(Int.self, forKey: .classes) ?? 1000,
            input: try c.decodeIfPresent([Int].self, forKey: .input) ?? [224, 224, 3],
            includeTop: try c.decodeIfPresent(Bool.self, forKey: .includeTop) ?? true,
            pooling: try c.decodeIfPresent(GlobalPooling.self, forKey: .pooling) ?? .avg)
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        dropBlock = try c.decodeIfPresent(Float.self, forKey: .dropBlock) ?? 0
    }

    /// The depth table: block type and blocks per stage.
    public static let depths: [Int: (Block, [Int])] = [
        18: (.basic, [2, 2, 2, 2]), 34: (.basic, [3, 4, 6, 3]),
        50: (.bottleneck, [3, 4, 6, 3]), 101: (.bottleneck, [3, 4, 23, 3]), 152: (.bottleneck, [3, 8, 36, 3]),
    ]

    /// torchvision's ResNet-`depth` (v1.5).
    public static func torchvision(_ depth: Int, classes: Int = 1000, input: [Int] = [224, 224, 3]) -> ResNetConfig {
        ensure(depths[depth] != nil, "ResNet: no depth \(depth); choose 18, 34, 50, 101 or 152")
        let (block, blocks) = depths[depth]!
        return ResNetConfig(block: block, blocks: blocks, classes: classes, input: input)
    }

    /// keras.applications' ResNet-`depth` (stride on the first 1x1, 'same', biases, eps 1.001e-5).
    public static func keras(_ depth: Int, classes: Int = 1000, input: [Int] = [224, 224, 3]) -> ResNetConfig {
        ensure(depths[depth] != nil, "ResNet: no depth \(depth); choose 18, 34, 50, 101 or 152")
        let (block, blocks) = depths[depth]!
        return ResNetConfig(
            block: block, blocks: blocks, strideOn: .first, padding: .keras, convBias: true,
            epsilon: 1.001e-5, classes: classes, input: input)
    }

    /// CIFAR-style ResNet-`depth` for 28-64 px images (He et al. 2016, section 4.2): a 3x3
    /// stem of 16, three stages of basic blocks of widths 16, 32, 64 with `(depth - 2) / 6`
    /// blocks each (20, 32, 56, …), projection shortcuts.
    public static func cifar(_ depth: Int, classes: Int = 10, input: [Int] = [32, 32, 3]) -> ResNetConfig {
        ensure((depth - 2) % 6 == 0 && depth >= 8, "ResNet CIFAR: depth \(depth) must be 6n + 2 (20, 32, 56, …)")
        let n = (depth - 2) / 6
        return ResNetConfig(
            block: .basic, stemWidth: 16, widths: [16, 32, 64], blocks: [n, n, n], stem: .small,
            classes: classes, input: input)
    }
}

/// A convolution followed by BatchNorm (the unit every ResNet layer is made of).
func convBN(_ inputs: Int, _ outputs: Int, kernel: Int, stride: Int, _ c: ResNetConfig) -> (Conv2D, BatchNorm) {
    let padding: Padding = kernel == 1 ? .valid : (c.padding == .keras ? .same : .symmetric(kernel / 2))
    return (
        Conv2D(
            inputs, outputs, kernel: kernel, stride: stride, padding: padding, bias: c.convBias,
            kernelInitializer: .heNormal(.fanOut)),
        BatchNorm(outputs, epsilon: c.epsilon)
    )
}

/// The projection shortcut: 1x1 convolution with the block's stride, then BatchNorm.
public final class Projection: Module {
    /// The 1x1 convolution (valid padding, the block's stride) and its BatchNorm.
    public let conv: Conv2D, bn: BatchNorm
    init(_ inputs: Int, _ outputs: Int, stride: Int, _ c: ResNetConfig) {
        (conv, bn) = convBN(inputs, outputs, kernel: 1, stride: stride, c)
    }
    /// `bn(conv(x))`: the shortcut brought to the block's output width and resolution.
    public override func forward(_ x: Variable) -> Variable { bn(conv(x)) }
    /// The same in inference, BatchNorm folded into the convolution (`Fusion`).
    func fused(_ x: Tensor) -> Tensor { Fusion.convBN(x, conv, bn, relu: false) }
}

/// Two 3x3 convolutions with a residual connection (ResNet-18/34): expansion 1.
public final class BasicBlock: Module {
    /// The two 3x3 convolutions (the first with the block's stride) and their BatchNorms.
    public let conv1: Conv2D, bn1: BatchNorm, conv2: Conv2D, bn2: BatchNorm
    /// The projection when the stride or width changes; nil for the identity shortcut.
    public let shortcut: Projection?

    init(_ inputs: Int, _ width: Int, stride: Int, _ c: ResNetConfig) {
        (conv1, bn1) = convBN(inputs, width, kernel: 3, stride: stride, c)
        (conv2, bn2) = convBN(width, width, kernel: 3, stride: 1, c)
        shortcut = stride != 1 || inputs != width ? Projection(inputs, width, stride: stride, c) : nil
    }

    /// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`; fused where no gradient is wanted.
    public override func forward(_ x: Variable) -> Variable {
        let convs = [conv1, conv2] + (shortcut.map { [$0.conv] } ?? [])
        let norms = [bn1, bn2] + (shortcut.map { [$0.bn] } ?? [])
        if Fusion.applies(to: x, convs: convs, norms: norms) {
            let h = Fusion.convBN(x.value, conv1, bn1, relu: true)
            let skip = shortcut?.fused(x.value) ?? x.value
            return Fusion.output(Fusion.convBN(h, conv2, bn2, adding: skip, relu: true), from: x)
        }
        let out = bn2(conv2(bn1.withReLU(conv1(x))))
        return relu(out + (shortcut?(x) ?? x))
    }
}

/// 1x1 reduce, 3x3, 1x1 expand (x4) with a residual connection (ResNet-50/101/152).
public final class Bottleneck: Module {
    /// Output channels per base width: a bottleneck of width w outputs 4w channels.
    public static let expansion = 4
    /// 1x1 reduce to the width, 3x3, 1x1 expand to 4x the width, each with its BatchNorm; the stride
    /// is on `conv1` or `conv2` as `ResNetConfig.strideOn` says.
    public let conv1: Conv2D, bn1: BatchNorm, conv2: Conv2D, bn2: BatchNorm, conv3: Conv2D, bn3: BatchNorm
    /// The projection when the stride or width changes; nil for the identity shortcut.
    public let shortcut: Projection?

    init(_ inputs: Int, _ width: Int, stride: Int, _ c: ResNetConfig) {
        let outputs = width * Bottleneck.expansion
        (conv1, bn1) = convBN(inputs, width, kernel: 1, stride: c.strideOn == .first ? stride : 1, c)
        (conv2, bn2) = convBN(width, width, kernel: 3, stride: c.strideOn == .spatial ? stride : 1, c)
        (conv3, bn3) = convBN(width, outputs, kernel: 1, stride: 1, c)
        shortcut = stride != 1 || inputs != outputs ? Projection(inputs, outputs, stride: stride, c) : nil
    }

    /// `relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))`; fused where no
    /// gradient is wanted.
    public override func forward(_ x: Variable) -> Variable {
        let convs = [conv1, conv2, conv3] + (shortcut.map { [$0.conv] } ?? [])
        let norms = [bn1, bn2, bn3] + (shortcut.map { [$0.bn] } ?? [])
        if Fusion.applies(to: x, convs: convs, norms: norms) {
            let h = Fusion.convBN(Fusion.convBN(x.value, conv1, bn1, relu: true), conv2, bn2, relu: true)
            let skip = shortcut?.fused(x.value) ?? x.value
            return Fusion.output(Fusion.convBN(h, conv3, bn3, adding: skip, relu: true), from: x)
        }
        let out = bn3(conv3(bn2.withReLU(conv2(bn1.withReLU(conv1(x))))))
        return relu(out + (shortcut?(x) ?? x))
    }
}

/// ResNet as configured by `ResNetConfig`. Input NHWC; output [n, classes] logits with the
/// top, or without it the last stage's features (globally pooled if configured).
public final class ResNet: Module, ZooModel {
    /// The configuration the model was built from (its `classes` follows `replaceHead`).
    public private(set) var config: ResNetConfig
    /// `conv`, `bn`, `relu` (and `pool` for the ImageNet stem): 224x224 → 56x56 for ImageNet,
    /// full resolution for the small stem.
    public let stem: Sequential
    /// The residual stages (`block1`, `block2`, … inside), keyed `stage1` … in the model.
    public let stageModules: [Sequential]
    /// The head, Dense `featureWidth` → classes after global average pooling; nil without the top.
    public private(set) var fc: Dense?
    /// Dropout on the pooled features before `fc` (`config.dropout`); nil when 0 or without the top.
    public let headDropout: Dropout?

    /// Builds ResNet from `config`; convolutions are He-normal (fan-out) initialised from the
    /// global seed.
    public init(_ config: ResNetConfig) {
        self.config = config
        let (conv, bn) =
            config.stem == .imagenet
            ? (
                Conv2D(
                    config.input[2], config.stemWidth, kernel: 7, stride: 2, padding: .symmetric(3),
                    bias: config.convBias,
                    kernelInitializer: .heNormal(.fanOut)), BatchNorm(config.stemWidth, epsilon: config.epsilon)
            )
            : convBN(config.input[2], config.stemWidth, kernel: 3, stride: 1, config)
        stem = Sequential(
            named: [("conv", conv), ("bn", bn), ("relu", ReLU())]
                + (config.stem == .imagenet ? [("pool", MaxPool2D(3, stride: 2, padding: .symmetric(1)))] : []))
        var channels = config.stemWidth
        var stages: [Sequential] = []
        for (s, width) in config.widths.enumerated() {
            var blocks: [(String, Module)] = []
            for b in 0..<config.blocks[s] {
                let stride = b == 0 ? config.strides[s] : 1
                let block: Module =
                    config.block == .basic
                    ? BasicBlock(channels, width, stride: stride, config)
                    : Bottleneck(channels, width, stride: stride, config)
                channels = config.block == .basic ? width : width * Bottleneck.expansion
                blocks.append(("block\(b + 1)", block))
                if config.dropBlock > 0 && s >= config.widths.count - ResNetConfig.dropBlockStages {
                    blocks.append(
                        ("dropBlock\(b + 1)", DropBlock(rate: config.dropBlock, blockSize: ResNetConfig.dropBlockSize)))
                }
            }
            stages.append(Sequential(named: blocks))
        }
        stageModules = stages
        fc = config.includeTop ? Dense(channels, config.classes) : nil
        headDropout = config.includeTop && config.dropout > 0 ? Dropout(config.dropout) : nil
    }

    /// Output channels of the last stage (the feature width).
    public var featureWidth: Int {
        config.block == .basic ? config.widths.last! : config.widths.last! * Bottleneck.expansion
    }

    /// `stem`, `stage1` …, then `dropout` (if any) and `fc`: the keys weight files and checkpoints use.
    public override var namedChildren: [(name: String, module: Module)] {
        [("stem", stem as Module)] + stageModules.enumerated().map { ("stage\($0.offset + 1)", $0.element as Module) }
            + (headDropout.map { [("dropout", $0 as Module)] } ?? []) + (fc.map { [("fc", $0 as Module)] } ?? [])
    }

    /// `stem`, `stage1` … `stage4` (three stages for CIFAR): what `--freeze N` counts.
    public var stages: [(name: String, module: Module)] {
        namedChildren.filter { $0.name != "fc" && $0.name != "dropout" }
    }
    /// `fc`, or nil without the top.
    public var headKey: String? { fc == nil ? nil : "fc" }

    /// The output of stage `index` (0: the stem): the stages run in order; NHWC.
    public func features(_ x: Variable, throughStage index: Int) -> Variable {
        sequentialFeatures(x, throughStage: index)
    }

    /// Replaces `fc` with a freshly initialised Dense `featureWidth` → `classes`; stops with a
    /// message for a ResNet without the top.
    public func replaceHead(classes: Int) {
        ensure(classes >= 1, "replaceHead: \(classes) classes")
        guard fc != nil else {
            fatalError("ResNet.replaceHead: this ResNet has no top; build it with includeTop: true")
        }
        fc = Dense(featureWidth, classes)
        config.classes = classes
    }
    /// The configuration that rebuilds this model: `.resnet(config)`.
    public var configuration: ModelConfiguration { .resnet(config) }

    /// keras.applications names: `conv1_conv`, `conv1_bn`, `conv{s+1}_block{b}_{k}_conv`/`_bn`,
    /// the shortcut as `_0_conv`/`_0_bn`, `predictions`.
    public func layerName(forModuleKey key: String) -> String {
        let parts = key.split(separator: ".").map(String.init)
        switch parts.first {
        case "stem": return "conv1_" + parts[1]
        case "fc": return "predictions"
        case let stage? where stage.hasPrefix("stage") && parts.count >= 3:
            let prefix = "conv\(Int(stage.dropFirst(5))! + 1)_\(parts[1])_"
            if parts[2] == "shortcut" { return prefix + "0_" + parts[3] }
            let kind = parts[2].hasPrefix("conv") ? "conv" : "bn"
            return prefix + parts[2].dropFirst(kind.count) + "_" + kind
        default: return defaultLayerName(forModuleKey: key)
        }
    }

    /// The logits [n, classes] with the top, or the (pooled) last-stage features without it.
    public override func forward(_ x: Variable) -> Variable { forward(x, fromStage: 0)! }

    /// Runs stages `index...` on `h`, the output of stage `index - 1` (index 0: the input), then
    /// average pooling and `fc` (or the configured pooling without the top); never nil.
    public func forward(_ h: Variable, fromStage index: Int) -> Variable? {
        let all = [stem] + stageModules
        let features = all.dropFirst(index).reduce(h) { $1($0) }
        switch (fc, config.pooling) {
        case (let fc?, _):
            let pooled = globalAvgPool(features)
            return fc(headDropout.map { $0(pooled) } ?? pooled)
        case (nil, .avg?): return globalAvgPool(features)
        case (nil, .max?): return globalMaxPool(features)
        case (nil, nil): return features
        }
    }
}
