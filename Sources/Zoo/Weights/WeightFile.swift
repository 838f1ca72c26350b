import Engine
import Foundation
import Layers

/// One HDF5 layer of a model: the module that owns the weights and its tensors, with their
/// Keras names (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`).
struct WeightLayer {
    enum Slot { case parameter(Parameter), buffer(Buffer) }
    let moduleKey: String
    let layerName: String
    /// Keras's snake-case class name (`conv2d`, `dense`, `batch_normalization`): Keras 3
    /// files name layers by it plus a per-class counter (`conv2d_1`).
    let kerasClass: String
    let isHead: Bool
    let entries: [(name: String, key: String, slot: Slot)]
}

extension ZooModel {
    /// The layers with weights, in the order weight files list them.
    func weightLayers() -> [WeightLayer] {
        func kerasName(_ property: String) -> String {
            ["weight": "kernel", "runningMean": "moving_mean", "runningVariance": "moving_variance"][property] ?? property
        }
        let layers = namedModules.compactMap { (key, module) -> WeightLayer? in
            let params = module.ownParameters.map { (kerasName($0.name), key + "." + $0.name, WeightLayer.Slot.parameter($0.parameter)) }
            let buffers = module.ownBuffers.map { (kerasName($0.name), key + "." + $0.name, WeightLayer.Slot.buffer($0.buffer)) }
            guard !params.isEmpty || !buffers.isEmpty else { return nil }
            let head = headKey.map { key == $0 || key.hasPrefix($0 + ".") } ?? false
            let kerasClass: String
            switch module {
            case is Conv2D: kerasClass = "conv2d"
            case is Dense: kerasClass = "dense"
            case is BatchNorm: kerasClass = "batch_normalization"
            case is LayerNorm: kerasClass = "layer_normalization"
            case is GroupNorm: kerasClass = "group_normalization"
            default: kerasClass = String(describing: type(of: module)).lowercased()
            }
            return WeightLayer(moduleKey: key, layerName: layerName(forModuleKey: key), kerasClass: kerasClass, isHead: head,
                               entries: params + buffers)
        }
        return orderedForKeras(layers.map(\.layerName)).compactMap { name in layers.first { $0.layerName == name } }
    }

    /// Keras loads weight files by position, so layers are listed in the order keras.applications
    /// builds them; a ResNet bottleneck with a projection lists `1_conv, 1_bn, 2_conv, 2_bn,
    /// 0_conv, 3_conv, 0_bn, 3_bn`.
    func orderedForKeras(_ names: [String]) -> [String] {
        guard let resnet = self as? ResNet, resnet.config.block == .bottleneck else { return names }
        var result: [String] = [], i = 0
        while i < names.count {
            let name = names[i]
            let prefix = String(name.dropLast("_1_conv".count))
            if name.hasSuffix("_1_conv"), names.contains(prefix + "_0_conv") {
                // Graft's own order here: 1_conv, 1_bn, 2_conv, 2_bn, 3_conv, 3_bn, 0_conv, 0_bn.
                result += ["_1_conv", "_1_bn", "_2_conv", "_2_bn", "_0_conv", "_3_conv", "_0_bn", "_3_bn"].map { prefix + $0 }
                i += 8
            } else {
                result.append(name)
                i += 1
            }
        }
        return result
    }
}

/// What happened to each tensor of a load.
public struct LoadReport: CustomStringConvertible, Sendable {
    /// The outcome for one tensor.
    public enum Status: Equatable, Sendable {
        /// Read from the file and assigned (shape and values checked).
        case loaded
        /// Deliberately not loaded, with the reason (`head`, `head in the file`); not a problem.
        case skipped(String)
        /// The model has the tensor but the file does not (no such layer, or no such weight in it).
        case missing
        /// Both have the tensor, with different shapes: `expected` the model's, `found` the file's.
        case shapeMismatch(expected: [Int], found: [Int])
        /// In the file but not in the model.
        case unexpected
    }

    /// One tensor of the load: where it goes in the model and where it comes from in the file.
    public struct Entry: Sendable {
        /// The model's dotted key (`stage1.block1.conv1.weight`); empty for tensors only in the file.
        public let key: String
        /// The HDF5 layer name (`conv2_block1_1_conv`).
        public let layer: String
        /// The weight's name in the layer (`kernel`, `bias`, `moving_mean`, … or a Keras 3 position).
        public let weight: String
        /// What happened to the tensor.
        public let status: Status
    }

    /// The file the weights were read from.
    public let path: String
    /// Every tensor of the model and of the file, in the model's layer order, then the file's leftovers.
    public let entries: [Entry]

    /// The number of tensors assigned.
    public var loaded: Int { entries.filter { $0.status == .loaded }.count }
    /// The entries that are neither loaded nor deliberately skipped: missing, misshapen or unexpected.
    public var problems: [Entry] {
        entries.filter { if case .skipped = $0.status { return false }; return $0.status != .loaded }
    }

    /// A summary line (loaded, skipped, problems) and one line per tensor.
    public var description: String {
        var lines = ["\(path): \(loaded) tensors loaded, \(entries.count - loaded - problems.count) skipped, \(problems.count) problems"]
        for e in entries {
            let what: String
            switch e.status {
            case .loaded: what = "loaded    "
            case let .skipped(reason): what = "skipped   (\(reason))"
            case .missing: what = "MISSING   (not in the file)"
            case let .shapeMismatch(expected, found): what = "MISMATCH  model \(expected), file \(found)"
            case .unexpected: what = "UNEXPECTED (in the file, not in the model)"
            }
            lines.append("  \(what)  \(e.key.isEmpty ? "-" : e.key) <- \(e.layer)/\(e.weight)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Why a weight file was not loaded into a model (the model is left as it was).
public enum WeightLoadError: Error, CustomStringConvertible {
    /// A strict load found problems; the report lists every tensor.
    case incompatible(LoadReport)
    /// The file's stored configuration (`file`) builds another model than `model` (class count and, where
    /// the weights do not depend on it, input size aside).
    /// `file` and `model` are architecture names where the zoo knows them (else the configuration's JSON).
    case architectureMismatch(path: String, file: String, model: String)
    /// A tensor in the file holds `count` NaN or infinite values.
    case nonFinite(path: String, layer: String, weight: String, count: Int)
    /// The tensors' hash differs from the file's `graft_content_hash`: the file is damaged or edited.
    case contentHashMismatch(path: String, stored: String, computed: String)
    /// Not one tensor of the file fits the model (probably another architecture); `fileLayers` names its layers.
    case nothingMatches(path: String, fileLayers: [String])

    /// A message naming the file and, for an incompatible load, the first five problems, with a
    /// hint to skip the head when the head differs.
    public var description: String {
        switch self {
        case let .incompatible(report):
            let first = report.problems.prefix(5).map { e -> String in
                switch e.status {
                case let .shapeMismatch(expected, found):
                    return "layer \(e.layer) weight \(e.weight): the model expects \(expected), the file has \(found)"
                case .missing: return "layer \(e.layer) weight \(e.weight) (\(e.key)) is not in the file"
                case .unexpected: return "layer \(e.layer) weight \(e.weight) is in the file but not in the model"
                default: return "\(e.layer)/\(e.weight)"
                }
            }
            let headHint = report.problems.contains { $0.layer == "predictions" || $0.key.hasPrefix("fc.") || $0.key.hasPrefix("classifier") || $0.key.hasPrefix("fc3") }
                ? " The head differs (another class count?): load with skipHead (`--skip-head`) to keep a new head." : ""
            return "\(report.path): the weights do not fit the model (\(report.problems.count) problems): "
                + first.joined(separator: "; ") + (report.problems.count > 5 ? "; …" : "") + "." + headHint
        case let .architectureMismatch(path, file, model):
            return "\(path): holds weights for \(file), but the model is \(model); build the model the file was made for "
                + "(`--base \(file)` on the command line) or use weights made for \(model)"
        case let .nonFinite(path, layer, weight, count):
            return "\(path): layer \(layer) weight \(weight) holds \(count) NaN or infinite values; the file is damaged or came from a diverged run"
        case let .contentHashMismatch(path, stored, computed):
            return "\(path): content hash \(computed) differs from the stored \(stored); the file was damaged or edited"
        case let .nothingMatches(path, fileLayers):
            return "\(path): none of its layers (\(fileLayers.prefix(6).joined(separator: ", "))\(fileLayers.count > 6 ? ", …" : "")) belongs to this model; is it for another architecture?"
        }
    }
}

/// How `WeightFile.load` treats the head and tensors that do not fit.
public struct LoadOptions: Sendable {
    /// Leave the head as initialised and ignore the file's head (replacing the classifier).
    public var skipHead: Bool
    /// Fail unless every tensor loads (default); otherwise load what fits and report the rest.
    public var strict: Bool
    /// Options for a strict load of everything, head included, unless told otherwise.
    public init(skipHead: Bool = false, strict: Bool = true) { self.skipHead = skipHead; self.strict = strict }
}

/// Saving and loading zoo models in HDF5 (see DESIGN.md, "Weight files").
public enum WeightFile {
    /// Writes the model's weights in the Keras 2 weights layout with Graft's metadata,
    /// atomically (`HDF5File.write(atomicallyTo:)`): a crash, a kill or a full disk leaves the
    /// old file, or none, never half of one.
    public static func save(_ model: any ZooModel, to path: String, metadata: WeightMetadata) throws {
        try HDF5File.write(atomicallyTo: path) { try write(model, to: $0, metadata: metadata) }
    }

    private static func write(_ model: any ZooModel, to file: HDF5File, metadata: WeightMetadata) throws {
        let layers = model.weightLayers()
        var hash = ContentHash()
        for layer in layers {
            try file.createGroup(layer.layerName)
            try file.writeStrings(layer.entries.map { "\(layer.layerName)/\($0.name):0" }, name: "weight_names", on: layer.layerName)
            for entry in layer.entries {
                let tensor: Tensor
                switch entry.slot { case let .parameter(p): tensor = p.value; case let .buffer(b): tensor = b.value }
                try file.write(tensor, at: "\(layer.layerName)/\(layer.layerName)/\(entry.name):0")
                hash.add(layer: layer.layerName, weight: entry.name, tensor)
            }
        }
        try file.writeStrings(layers.map(\.layerName), name: "layer_names")
        try file.writeStrings(["tensorflow"], name: "backend", scalar: true)
        try file.writeStrings(["2.15.0"], name: "keras_version", scalar: true)
        try file.writeStrings([metadata.architecture], name: "graft_architecture", scalar: true)
        try file.writeStrings([(metadata.configuration ?? model.configuration).json], name: "graft_config", scalar: true)
        if let p = metadata.preprocessing {
            try file.writeNumbers(p.inputSize.map(Float.init), name: "graft_input_size", integer: true)
            try file.writeStrings([p.channelOrder], name: "graft_channel_order", scalar: true)
            try file.writeNumbers(p.mean, name: "graft_mean")
            try file.writeNumbers(p.std, name: "graft_std")
        }
        if !metadata.classNames.isEmpty { try file.writeStrings(metadata.classNames, name: "graft_class_names") }
        try file.writeStrings([metadata.provenance], name: "graft_provenance", scalar: true)
        try file.writeStrings([hash.value], name: "graft_content_hash", scalar: true)
    }

    /// The content hash a weight file of `model` would carry (`graft_content_hash`): the same
    /// weights give the same hash, whatever file they came from.
    public static func contentHash(of model: any ZooModel) -> String {
        var hash = ContentHash()
        for layer in model.weightLayers() {
            for entry in layer.entries {
                switch entry.slot {
                case let .parameter(p): hash.add(layer: layer.layerName, weight: entry.name, p.value)
                case let .buffer(b): hash.add(layer: layer.layerName, weight: entry.name, b.value)
                }
            }
        }
        return hash.value
    }

    /// Reads `path` and loads it into `model`.
    @discardableResult
    public static func load(_ path: String, into model: any ZooModel, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        try load(try WeightArchive.read(path), into: model, options: options)
    }

    /// Loads an archive into `model`. Nothing is assigned unless the load succeeds (strict),
    /// so a failed load leaves the model as it was.
    @discardableResult
    public static func load(_ archive: WeightArchive, into model: any ZooModel, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        if let stored = archive.metadata?.configuration, !stored.sameStructure(as: model.configuration, ignoringHead: true) {
            throw WeightLoadError.architectureMismatch(
                path: archive.path, file: archive.metadata?.architecture ?? Architectures.name(of: stored) ?? stored.json,
                model: Architectures.name(of: model.configuration) ?? model.configuration.json)
        }
        if let stored = archive.metadata?.contentHash {
            var hash = ContentHash()
            for layer in archive.layerNames { for (name, t) in archive.layers[layer] ?? [] { hash.add(layer: layer, weight: name, t) } }
            if hash.value != stored { throw WeightLoadError.contentHashMismatch(path: archive.path, stored: stored, computed: hash.value) }
        }
        var entries: [LoadReport.Entry] = []
        var assignments: [(WeightLayer.Slot, Tensor)] = []
        var used = Set<String>()
        var layers = model.weightLayers()
        if archive.format == .keras3 && !layers.contains(where: { archive.layers[$0.layerName] != nil }) {
            // Files without `vars/name` attributes name layers by class and order only: conv2d, conv2d_1, …
            var counters: [String: Int] = [:]
            layers = layers.map { layer in
                let n = counters[layer.kerasClass, default: 0]
                counters[layer.kerasClass] = n + 1
                return WeightLayer(moduleKey: layer.moduleKey, layerName: n == 0 ? layer.kerasClass : "\(layer.kerasClass)_\(n)",
                                   kerasClass: layer.kerasClass, isHead: layer.isHead, entries: layer.entries)
            }
        }
        for layer in layers {
            if layer.isHead && options.skipHead {
                entries += layer.entries.map { .init(key: $0.key, layer: layer.layerName, weight: $0.name, status: .skipped("head")) }
                used.insert(layer.layerName)
                continue
            }
            guard let stored = archive.layers[layer.layerName] else {
                entries += layer.entries.map { .init(key: $0.key, layer: layer.layerName, weight: $0.name, status: .missing) }
                continue
            }
            used.insert(layer.layerName)
            let positional = stored.allSatisfy { Int($0.name) != nil }
            var consumed = Set<Int>()
            for (i, entry) in layer.entries.enumerated() {
                let index = positional ? (i < stored.count ? i : nil) : stored.firstIndex { $0.name == entry.name }
                guard let index else {
                    entries.append(.init(key: entry.key, layer: layer.layerName, weight: entry.name, status: .missing)); continue
                }
                consumed.insert(index)
                let tensor = stored[index].tensor
                let expected: [Int]
                switch entry.slot { case let .parameter(p): expected = p.shape; case let .buffer(b): expected = b.value.shape }
                guard tensor.shape == expected else {
                    entries.append(.init(key: entry.key, layer: layer.layerName, weight: entry.name,
                                         status: .shapeMismatch(expected: expected, found: tensor.shape)))
                    continue
                }
                let bad = tensor.nonFiniteCount
                if bad > 0 { throw WeightLoadError.nonFinite(path: archive.path, layer: layer.layerName, weight: entry.name, count: bad) }
                entries.append(.init(key: entry.key, layer: layer.layerName, weight: entry.name, status: .loaded))
                assignments.append((entry.slot, tensor))
            }
            for (i, extra) in stored.enumerated() where !consumed.contains(i) {
                entries.append(.init(key: "", layer: layer.layerName, weight: extra.name, status: .unexpected))
            }
        }
        for name in archive.layerNames where !used.contains(name) {
            let isFileHead = options.skipHead && (name == "predictions" || name == model.headKey.map { model.layerName(forModuleKey: $0) })
            for (weight, _) in archive.layers[name] ?? [] {
                entries.append(.init(key: "", layer: name, weight: weight, status: isFileHead ? .skipped("head in the file") : .unexpected))
            }
        }
        let report = LoadReport(path: archive.path, entries: entries)
        if assignments.isEmpty && !entries.isEmpty { throw WeightLoadError.nothingMatches(path: archive.path, fileLayers: archive.layerNames) }
        if options.strict && !report.problems.isEmpty { throw WeightLoadError.incompatible(report) }
        for (slot, tensor) in assignments {
            switch slot { case let .parameter(p): p.value = tensor; case let .buffer(b): b.value = tensor }
        }
        return report
    }
}

/// FNV-1a (64-bit) over layer names, weight names, shapes and the float32 bits, in file
/// order: detects damaged or edited files (it is not a cryptographic signature).
struct ContentHash {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    private mutating func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { state = (state ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    }

    mutating func add(layer: String, weight: String, _ tensor: Tensor) {
        mix(layer.utf8); mix([0]); mix(weight.utf8); mix([0])
        for d in tensor.shape { withUnsafeBytes(of: UInt64(d).littleEndian) { mix($0) } }
        tensor.withUnsafeBufferPointer { p in mix(UnsafeRawBufferPointer(p)) }
    }

    var value: String { "fnv1a64:" + String(state, radix: 16) }
}

extension ModelConfiguration {
    /// Equal up to the class count (and input size where it does not shape the weights) when
    /// `ignoringHead`; a different head is reported tensor by tensor, with the hint to skip it.
    func sameStructure(as other: ModelConfiguration, ignoringHead: Bool) -> Bool {
        guard ignoringHead else { return self == other }
        return normalised == other.normalised
    }

    /// Without the class count, dropout and DropBlock rates (they change no weight), and without
    /// the input size where weights do not depend on it (ResNet; VGG and AlexNet without their
    /// top): a file imported at 224 px fine-tunes at 32, with or without dropout.
    private var normalised: ModelConfiguration {
        switch self {
        case var .lenet(c): c.classes = 0; return .lenet(c)
        case var .vgg(c):
            c.classes = 0
            c.dropout = 0
            if !c.includeTop || c.pooling != nil { c.input = [0, 0, c.input[2]] }
            return .vgg(c)
        case var .resnet(c):
            c.classes = 0
            c.input = [0, 0, c.input[2]]
            c.dropout = 0
            c.dropBlock = 0
            return .resnet(c)
        case var .alexnet(c):
            c.classes = 0
            if !c.includeTop { c.input = [0, 0, c.input[2]] }
            return .alexnet(c)
        }
    }
}
