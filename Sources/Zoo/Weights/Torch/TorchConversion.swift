import Engine
import Foundation

/// torchvision's ResNet and VGG, and Graft's PyTorch LeNet-5, as Graft (Keras-named) layers:
/// the Swift twin of scripts/convert_torch.py, which stays the reference (both give the same
/// weights bit for bit, `TorchImportTests`).
///
/// Names: `conv1`/`bn1` -> `conv1_conv`/`conv1_bn`; `layer{s}.{i}.conv{k}`/`bn{k}` ->
/// `conv{s+1}_block{i+1}_{k}_conv`/`_bn`; `downsample.0/.1` -> `…_0_conv`/`_0_bn`; `fc` ->
/// `predictions`; VGG `features.{n}` -> `block{b}_conv{c}`/`block{b}_bn{c}`, `classifier.0/.3/.6`
/// -> `fc1`/`fc2`/`predictions`. Layouts: conv OIHW -> HWIO, dense (out, in) -> (in, out), and
/// the first dense layer after the convolutions has its inputs permuted from C,H,W to H,W,C.
public enum TorchConversion {
    struct LayerSpec {
        enum Kind { case conv(bias: Bool), batchNorm, dense(chw: (Int, Int, Int)?) }
        let layer: String
        let prefix: String
        let kind: Kind
        let shapes: [(key: String, shape: [Int])]
    }

    static let resnets: [String: (block: String, blocks: [Int])] = [
        "resnet18": ("basic", [2, 2, 2, 2]), "resnet34": ("basic", [3, 4, 6, 3]),
        "resnet50": ("bottleneck", [3, 4, 6, 3]), "resnet101": ("bottleneck", [3, 4, 23, 3]),
        "resnet152": ("bottleneck", [3, 8, 36, 3]),
    ]
    static let vggBlocks: [Int: [Int]] = [
        11: [1, 1, 2, 2, 2], 13: [2, 2, 2, 2, 2], 16: [2, 2, 3, 3, 3], 19: [2, 2, 4, 4, 4],
    ]
    static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// The checkpoint as a weight archive of `architecture` (resnet18…152, vgg11…19[_bn],
    /// lenet5), refusing unknown, missing or misshapen tensors with one message listing them.
    public static func archive(_ checkpoint: TorchCheckpoint, architecture: String, inputSize: Int? = nil) throws
        -> WeightArchive
    {
        let arch = architecture.lowercased()
        let (specs, configuration, preprocessing) = try plan(arch, checkpoint, inputSize: inputSize)
        try checkKeys(arch, checkpoint, specs)
        var layers: [String: [(name: String, tensor: Tensor)]] = [:]
        for spec in specs {
            layers[spec.layer] = convert(spec, checkpoint)
        }
        let provenance =
            #"{"arch":"\#(arch)","file":"\#((checkpoint.path as NSString).lastPathComponent)","source":"torch"}"#
        let metadata = WeightMetadata(
            architecture: arch, configuration: try ModelConfiguration.parse(configuration),
            preprocessing: preprocessing, provenance: provenance)
        return WeightArchive(
            path: checkpoint.path, format: .torch, layerNames: specs.map(\.layer), layers: layers, metadata: metadata)
    }

    private static func plan(_ arch: String, _ c: TorchCheckpoint, inputSize: Int?) throws
        -> ([LayerSpec], String, Preprocessing)
    {
        if let resnet = resnets[arch] {
            return try resnetPlan(arch, c, block: resnet.block, blocks: resnet.blocks, inputSize: inputSize)
        }
        if arch.hasPrefix("vgg"), let depth = Int(arch.dropFirst(3).prefix { $0.isNumber }),
            let blocks = vggBlocks[depth],
            ["vgg\(depth)", "vgg\(depth)_bn"].contains(arch)
        {
            return try vggPlan(arch, c, blocks: blocks, batchNorm: arch.hasSuffix("_bn"), inputSize: inputSize)
        }
        if arch == "lenet5" { return try lenetPlan(c, inputSize: inputSize) }
        let known =
            resnets.keys.sorted() + vggBlocks.keys.sorted().flatMap { ["vgg\($0)", "vgg\($0)_bn"] } + ["lenet5"]
        throw TorchConversionError.unknownArchitecture(arch, known: known)
    }

    // MARK: layer plans

    static func conv(_ layer: String, _ prefix: String, _ cin: Int, _ cout: Int, _ k: Int, bias: Bool) -> LayerSpec {
        LayerSpec(
            layer: layer, prefix: prefix, kind: .conv(bias: bias),
            shapes: [(prefix + ".weight", [cout, cin, k, k])] + (bias ? [(prefix + ".bias", [cout])] : []))
    }

    static func batchNorm(_ layer: String, _ prefix: String, _ c: Int) -> LayerSpec {
        LayerSpec(
            layer: layer, prefix: prefix, kind: .batchNorm,
            shapes: ["weight", "bias", "running_mean", "running_var"].map { (prefix + "." + $0, [c]) })
    }

    static func dense(_ layer: String, _ prefix: String, _ cin: Int, _ cout: Int, chw: (Int, Int, Int)? = nil)
        -> LayerSpec
    {
        LayerSpec(
            layer: layer, prefix: prefix, kind: .dense(chw: chw),
            shapes: [(prefix + ".weight", [cout, cin]), (prefix + ".bias", [cout])])
    }

    static func shape(_ c: TorchCheckpoint, _ key: String, _ arch: String, rank: Int) throws -> [Int] {
        guard let entry = c[key] else {
            throw TorchConversionError.missing(arch: arch, key: key, firstKeys: c.entries.prefix(8).map(\.key))
        }
        guard entry.shape.count == rank else {
            throw TorchConversionError.rank(arch: arch, key: key, shape: entry.shape, rank: rank)
        }
        return entry.shape
    }

    private static func resnetPlan(_ arch: String, _ c: TorchCheckpoint, block: String, blocks: [Int], inputSize: Int?)
        throws
        -> ([LayerSpec], String, Preprocessing)
    {
        let strides = [1, 2, 2, 2]
        let expansion = block == "bottleneck" ? 4 : 1
        let stem = try shape(c, "conv1.weight", arch, rank: 4)
        let (stemWidth, channels) = (stem[0], stem[1])
        let widths = try (1...blocks.count).map { try shape(c, "layer\($0).0.conv1.weight", arch, rank: 4)[0] }
        var specs = [
            conv("conv1_conv", "conv1", channels, stemWidth, 7, bias: false), batchNorm("conv1_bn", "bn1", stemWidth),
        ]
        var cin = stemWidth
        for (s, (width, count)) in zip(widths, blocks).enumerated() {
            let cout = width * expansion
            for i in 0..<count {
                let name = "conv\(s + 2)_block\(i + 1)_"
                let prefix = "layer\(s + 1).\(i)."
                let convs =
                    block == "basic"
                    ? [(cin, width, 3), (width, width, 3)] : [(cin, width, 1), (width, width, 3), (width, cout, 1)]
                for (k, (a, b, size)) in convs.enumerated() {
                    specs.append(conv(name + "\(k + 1)_conv", prefix + "conv\(k + 1)", a, b, size, bias: false))
                    specs.append(batchNorm(name + "\(k + 1)_bn", prefix + "bn\(k + 1)", b))
                }
                if i == 0 && (strides[s] != 1 || cin != cout) {  // torchvision's projection shortcut
                    specs.append(conv(name + "0_conv", prefix + "downsample.0", cin, cout, 1, bias: false))
                    specs.append(batchNorm(name + "0_bn", prefix + "downsample.1", cout))
                }
                cin = cout
            }
        }
        let classes = try shape(c, "fc.weight", arch, rank: 2)[0]
        specs.append(dense("predictions", "fc", cin, classes))
        let size = inputSize ?? 224
        let configuration = """
            {"block":"\(block)","blocks":\(blocks),"classes":\(classes),"convBias":false,"epsilon":1e-05,"includeTop":true,\
            "input":[\(size),\(size),\(channels)],"name":"resnet","padding":"torch","pooling":"avg","stem":"imagenet",\
            "stemWidth":\(stemWidth),"strideOn":"spatial","strides":\(strides),"widths":\(widths)}
            """
        return (
            specs, configuration.replacingOccurrences(of: " ", with: ""),
            try imagenet(channels, size: [size, size, channels])
        )
    }

    private static func vggPlan(
        _ arch: String, _ c: TorchCheckpoint, blocks counts: [Int], batchNorm bn: Bool, inputSize: Int?
    ) throws
        -> ([LayerSpec], String, Preprocessing)
    {
        let channels = try shape(c, "features.0.weight", arch, rank: 4)[1]
        var specs: [LayerSpec] = []
        var blocks: [[Int]] = []
        var cin = channels
        var index = 0
        for (b, count) in counts.enumerated() {
            var widths: [Int] = []
            for k in 1...count {
                let width = try shape(c, "features.\(index).weight", arch, rank: 4)[0]
                specs.append(conv("block\(b + 1)_conv\(k)", "features.\(index)", cin, width, 3, bias: true))
                if bn { specs.append(batchNorm("block\(b + 1)_bn\(k)", "features.\(index + 1)", width)) }
                index += bn ? 3 : 2  // conv, [BN], ReLU
                widths.append(width)
                cin = width
            }
            index += 1  // max pooling
            blocks.append(widths)
        }
        // torchvision pools the features to 7x7 (AdaptiveAvgPool2d), then flattens C,H,W.
        let fc1In = try shape(c, "classifier.0.weight", arch, rank: 2)[1]
        let side = Int((Double(fc1In) / Double(cin)).squareRoot().rounded())
        guard side * side * cin == fc1In else {
            throw TorchConversionError.classifierInputs(arch: arch, inputs: fc1In, channels: cin)
        }
        let scale = 1 << blocks.count
        let size = inputSize ?? side * scale
        guard size / scale == side else {
            throw TorchConversionError.vggInputSize(arch: arch, side: side, needed: side * scale, asked: size)
        }
        let fc1 = try shape(c, "classifier.0.weight", arch, rank: 2)[0]
        let fc2 = try shape(c, "classifier.3.weight", arch, rank: 2)[0]
        let classes = try shape(c, "classifier.6.weight", arch, rank: 2)[0]
        specs += [
            dense("fc1", "classifier.0", fc1In, fc1, chw: (cin, side, side)), dense("fc2", "classifier.3", fc1, fc2),
            dense("predictions", "classifier.6", fc2, classes),
        ]
        let configuration = """
            {"batchNorm":\(bn),"blocks":\(blocks),"classes":\(classes),"dropout":0.5,"epsilon":1e-05,"fc":[\(fc1),\(fc2)],\
            "includeTop":true,"input":[\(size),\(size),\(channels)],"name":"vgg"}
            """
        return (
            specs, configuration.replacingOccurrences(of: " ", with: ""),
            try imagenet(channels, size: [size, size, channels])
        )
    }

    private static func lenetPlan(_ c: TorchCheckpoint, inputSize: Int?) throws -> ([LayerSpec], String, Preprocessing)
    {
        guard inputSize == nil || inputSize == 32 else { throw TorchConversionError.lenetInputSize(inputSize ?? 0) }
        let channels = try shape(c, "conv1.weight", "lenet5", rank: 4)[1]
        let classes = try shape(c, "fc3.weight", "lenet5", rank: 2)[0]
        let specs = [
            conv("conv1", "conv1", channels, 6, 5, bias: true), conv("conv2", "conv2", 6, 16, 5, bias: true),
            dense("fc1", "fc1", 16 * 5 * 5, 120, chw: (16, 5, 5)), dense("fc2", "fc2", 120, 84),
            dense("fc3", "fc3", 84, classes),
        ]
        let preprocessing = Preprocessing(
            inputSize: [32, 32, channels], channelOrder: channels == 1 ? "L" : "RGB",
            mean: Array(repeating: 0.5, count: channels), std: Array(repeating: 0.5, count: channels))
        return (specs, #"{"classes":\#(classes),"inputChannels":\#(channels),"name":"lenet5"}"#, preprocessing)
    }

    private static func imagenet(_ channels: Int, size: [Int]) throws -> Preprocessing {
        guard channels == 3 else { throw TorchConversionError.channels(channels) }
        return Preprocessing(inputSize: size, channelOrder: "RGB", mean: imagenetMean, std: imagenetStd)
    }

    // MARK: checking and converting

    private static func checkKeys(_ arch: String, _ c: TorchCheckpoint, _ specs: [LayerSpec]) throws {
        let expected = Set(specs.flatMap { $0.shapes.map(\.key) })
        let ignorable = Set(
            specs.compactMap { spec -> String? in
                if case .batchNorm = spec.kind { return spec.prefix + ".num_batches_tracked" }
                return nil
            })
        let unknown = c.entries.map(\.key).filter { !expected.contains($0) && !ignorable.contains($0) }
        let missing = specs.flatMap { $0.shapes.map(\.key) }.filter { c[$0] == nil }
        let misshapen = specs.flatMap(\.shapes).compactMap { key, shape -> String? in
            guard let found = c[key]?.shape, found != shape else { return nil }
            return "\(key) is \(found), expected \(shape)"
        }
        var problems: [String] = []
        if !unknown.isEmpty {
            problems.append(
                "\(unknown.count) unknown tensor(s) (not part of \(arch)): \(unknown.prefix(20).joined(separator: ", "))"
            )
        }
        if !missing.isEmpty {
            problems.append("\(missing.count) missing tensor(s): \(missing.prefix(20).joined(separator: ", "))")
        }
        if !misshapen.isEmpty {
            problems.append(
                "\(misshapen.count) tensor(s) of the wrong shape: \(misshapen.prefix(20).joined(separator: "; "))")
        }
        guard problems.isEmpty else { throw TorchConversionError.mismatch(arch: arch, problems: problems) }
    }

    private static func convert(_ spec: LayerSpec, _ c: TorchCheckpoint) -> [(name: String, tensor: Tensor)] {
        let p = spec.prefix
        switch spec.kind {
        case .conv(let bias):
            let w = c[p + ".weight"]!
            let (o, i, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
            let kernel = Tensor(
                shape: [kh, kw, i, o],
                unsafeUninitialized: { out in
                    for a in 0..<o {
                        for b in 0..<i {
                            for y in 0..<kh {
                                for x in 0..<kw {
                                    out[((y * kw + x) * i + b) * o + a] = w.values[((a * i + b) * kh + y) * kw + x]
                                }
                            }
                        }
                    }
                })
            return [("kernel", kernel)] + (bias ? [("bias", c[p + ".bias"]!.tensor)] : [])
        case .batchNorm:
            return [
                ("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                ("moving_variance", "running_var"),
            ]
            .map { ($0.0, c[p + "." + $0.1]!.tensor) }
        case .dense(let chw):
            let w = c[p + ".weight"]!
            let (outputs, inputs) = (w.shape[0], w.shape[1])
            // Column c*H*W + y*W + x of the PyTorch matrix becomes row (y*W + x)*C + c.
            let (channels, h, wd) = chw ?? (inputs, 1, 1)
            let kernel = Tensor(
                shape: [inputs, outputs],
                unsafeUninitialized: { out in
                    for row in 0..<outputs {
                        for ch in 0..<channels {
                            for y in 0..<h {
                                for x in 0..<wd {
                                    out[((y * wd + x) * channels + ch) * outputs + row] =
                                        w.values[row * inputs + (ch * h + y) * wd + x]
                                }
                            }
                        }
                    }
                })
            return [("kernel", kernel), ("bias", c[p + ".bias"]!.tensor)]
        }
    }
}

/// Why a PyTorch checkpoint could not be converted for an architecture.
public enum TorchConversionError: Error, CustomStringConvertible {
    /// The architecture has no PyTorch conversion; `known` lists those that have.
    case unknownArchitecture(String, known: [String])
    /// A tensor the layout needs is not in the checkpoint; `firstKeys` are its first keys, as a clue.
    case missing(arch: String, key: String, firstKeys: [String])
    /// The tensor at `key` has `shape`, not the `rank` dimensions its layer needs.
    case rank(arch: String, key: String, shape: [Int], rank: Int)
    /// The checkpoint's tensors do not match `arch`: unknown, missing or misshapen tensors, summarised.
    case mismatch(arch: String, problems: [String])
    /// A VGG's `classifier.0` takes `inputs` features, which is not `channels` times a square map.
    case classifierInputs(arch: String, inputs: Int, channels: Int)
    /// The asked input size does not give the `side` x `side` feature map the VGG classifier
    /// expects; only `needed` px does.
    case vggInputSize(arch: String, side: Int, needed: Int, asked: Int)
    /// LeNet-5 was asked for an input size other than 32.
    case lenetInputSize(Int)
    /// The first convolution takes this many channels; torchvision's ImageNet models need 3.
    case channels(Int)

    /// A message naming the architecture and, where it helps, the `--arch` to check.
    public var description: String {
        switch self {
        case .unknownArchitecture(let arch, let known):
            return "PyTorch checkpoints convert for --arch \(known.joined(separator: ", ")); not \(arch)"
        case .missing(let arch, let key, let first):
            return
                "\(arch): missing tensor \(key); is this really a \(arch) checkpoint? Its first keys are: \(first.joined(separator: ", "))"
        case .rank(let arch, let key, let shape, let rank):
            return "\(arch): \(key) has shape \(shape), expected \(rank) dimensions"
        case .mismatch(let arch, let problems):
            return
                "the checkpoint does not match --arch \(arch): \(problems.joined(separator: "; ")). Check --arch (the depth and _bn must match the checkpoint)."
        case .classifierInputs(let arch, let inputs, let channels):
            return
                "\(arch): classifier.0 takes \(inputs) inputs, which is not \(channels) channels x a square feature map"
        case .vggInputSize(let arch, let side, let needed, let asked):
            return
                "\(arch): the classifier expects a \(side)x\(side) feature map, so the input must be \(needed) px (Graft's VGG has no adaptive pooling), not \(asked)"
        case .lenetInputSize(let size): return "lenet5: the input is always 32x32, not \(size)"
        case .channels(let c): return "the checkpoint takes \(c) input channels; torchvision models take 3 (RGB)"
        }
    }
}
