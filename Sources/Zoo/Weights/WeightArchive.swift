import Engine
import Foundation

/// Graft's own metadata in a weight file (root attributes `graft_*`).
public struct WeightMetadata: Equatable, Sendable {
    /// The zoo architecture name (`graft_architecture`, e.g. `resnet18`).
    public var architecture: String
    /// The configuration that rebuilds the model (`graft_config`, JSON); nil when the file has none.
    public var configuration: ModelConfiguration?
    /// The input size, channel order, mean and std the weights expect (`graft_input_size`, …).
    public var preprocessing: Preprocessing?
    /// The head's class names in output order (`graft_class_names`); empty when unknown.
    public var classNames: [String]
    /// Where the weights come from: source, dataset, recipe, accuracy… (JSON object text).
    public var provenance: String
    /// The file's `graft_content_hash` (`fnv1a64:…`), checked on load; nil when it has none. Saving
    /// ignores it and writes the hash of the weights saved.
    public var contentHash: String?

    /// Metadata with no class names, an empty provenance object and no content hash unless given.
    public init(architecture: String, configuration: ModelConfiguration?, preprocessing: Preprocessing?,
                classNames: [String] = [], provenance: String = "{}", contentHash: String? = nil) {
        self.architecture = architecture; self.configuration = configuration; self.preprocessing = preprocessing
        self.classNames = classNames; self.provenance = provenance; self.contentHash = contentHash
    }
}

/// The weights of a file, by HDF5 layer name, whatever the file's flavour.
///
/// Formats read: Graft's own files and Keras 2 weights files (root `layer_names`, one group
/// per layer with `weight_names`), Keras 2 full-model files (the same under
/// `model_weights`), and Keras 3 `.weights.h5` files (`layers/<name>/vars/<i>`, where weights
/// have no names, only positions).
public struct WeightArchive {
    /// Where the weights came from: Graft's own file, a Keras 2 weights or full-model file, a
    /// Keras 3 `.weights.h5`, or a converted PyTorch checkpoint (`torch`). Raw values name them in provenance.
    public enum Format: String, Sendable {
        /// Graft's own file (`graft_format` attribute, metadata beside the weights).
        case graft
        /// A Keras 2 weights file (`save_weights`): root `layer_names`, a group per layer.
        case keras2Weights = "keras2-weights"
        /// A Keras 2 full-model file (`model.save`): the same under `model_weights`.
        case keras2Model = "keras2-model"
        /// A Keras 3 `.weights.h5`: `layers/<name>/vars/<i>`, weights by position only.
        case keras3 = "keras3"
        /// Converted from a PyTorch state_dict (`.pth`).
        case torch
    }

    /// The file the archive was read from.
    public let path: String
    /// The file's flavour.
    public let format: Format
    /// Layer names in file order.
    public let layerNames: [String]
    /// Per layer: (weight name, tensor) in file order. Keras 2 names are the last path
    /// component without `:0` (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`,
    /// `moving_variance`); Keras 3 names are positions ("0", "1", …).
    public let layers: [String: [(name: String, tensor: Tensor)]]
    /// Graft's metadata; nil for files Graft did not write (Keras files).
    public let metadata: WeightMetadata?

    /// An archive from already-read layers (what `TorchConversion` builds).
    public init(path: String, format: Format, layerNames: [String], layers: [String: [(name: String, tensor: Tensor)]],
                metadata: WeightMetadata?) {
        self.path = path; self.format = format; self.layerNames = layerNames; self.layers = layers; self.metadata = metadata
    }

    /// Reads any supported file. A damaged file that makes libhdf5 loop ends the process with
    /// a message naming it (`Watchdog`), rather than hanging.
    public static func read(_ path: String) throws -> WeightArchive {
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return try Watchdog.run(seconds: Watchdog.readLimit(bytes: bytes),
                                message: "\(path): libhdf5 did not finish reading it in \(Int(Watchdog.readLimit(bytes: bytes))) s; the file is damaged (re-download or re-export it)") {
            try readFile(path)
        }
    }

    private static func readFile(_ path: String) throws -> WeightArchive {
        let file = try HDF5File(reading: path)
        if file.hasAttribute("layer_names") { return try readKeras2(file, root: "/") }
        if file.exists("model_weights") && file.hasAttribute("layer_names", on: "model_weights") {
            return try readKeras2(file, root: "model_weights")
        }
        if file.exists("layers") { return try readKeras3(file) }
        throw HDF5Error.unsupported(path: path, object: "file",
            reason: "is HDF5 but holds no weights Graft knows (no layer_names attribute, model_weights group or layers group); is it a Keras weights file?")
    }

    /// Keras writes long attributes in chunks `name0`, `name1`, … when they exceed 64 KiB.
    static func chunkedStrings(_ file: HDF5File, _ name: String, on object: String) throws -> [String] {
        if file.hasAttribute(name, on: object) { return try file.readStrings(name, on: object) }
        var result: [String] = [], i = 0
        while file.hasAttribute("\(name)\(i)", on: object) { result += try file.readStrings("\(name)\(i)", on: object); i += 1 }
        guard i > 0 else { throw HDF5Error.missing(path: file.path, object: "attribute \(name) on \(object)") }
        return result
    }

    private static func readKeras2(_ file: HDF5File, root: String) throws -> WeightArchive {
        let names = try chunkedStrings(file, "layer_names", on: root)
        var layers: [String: [(name: String, tensor: Tensor)]] = [:]
        for layer in names {
            let group = root == "/" ? layer : "\(root)/\(layer)"
            guard file.exists(group) else { throw HDF5Error.missing(path: file.path, object: "group \(group) listed in layer_names") }
            let weightNames = try chunkedStrings(file, "weight_names", on: group)
            layers[layer] = try weightNames.map { weightName in
                let short = String(weightName.split(separator: "/").last ?? Substring(weightName)).replacingOccurrences(of: ":0", with: "")
                return (short, try file.readTensor("\(group)/\(weightName)"))
            }
        }
        let format: Format = file.hasAttribute("graft_architecture") ? .graft : (root == "/" ? .keras2Weights : .keras2Model)
        return WeightArchive(path: file.path, format: format, layerNames: names, layers: layers, metadata: try readMetadata(file))
    }

    private static func readKeras3(_ file: HDF5File) throws -> WeightArchive {
        var names: [String] = []
        var layers: [String: [(name: String, tensor: Tensor)]] = [:]
        func visit(_ group: String, name: String) throws {
            let children = try file.children(of: group)
            if children.contains("vars") {
                let vars = try file.children(of: "\(group)/vars").compactMap(Int.init).sorted()
                if !vars.isEmpty {
                    // Keras 3 names groups by class (conv2d_1); the real layer name is the `name` attribute of `vars`.
                    let layerName = file.hasAttribute("name", on: "\(group)/vars") ? (try file.readStrings("name", on: "\(group)/vars").first ?? name) : name
                    names.append(layerName)
                    layers[layerName] = try vars.map { ("\($0)", try file.readTensor("\(group)/vars/\($0)")) }
                }
            }
            // Nested layers (e.g. a Sequential inside a functional model) keep their own names.
            for child in children where child != "vars" && !file.isDataset("\(group)/\(child)") {
                try visit("\(group)/\(child)", name: child)
            }
        }
        for child in try file.children(of: "layers") { try visit("layers/\(child)", name: child) }
        return WeightArchive(path: file.path, format: .keras3, layerNames: names, layers: layers, metadata: nil)
    }

    private static func readMetadata(_ file: HDF5File) throws -> WeightMetadata? {
        guard file.hasAttribute("graft_architecture") else { return nil }
        func string(_ name: String) throws -> String? { file.hasAttribute(name) ? try file.readStrings(name).first : nil }
        let configuration = try string("graft_config").map { text in
            do { return try ModelConfiguration.parse(text) } catch {
                throw HDF5Error.unsupported(path: file.path, object: "attribute graft_config", reason: "is not a valid configuration: \(error)")
            }
        }
        var preprocessing: Preprocessing?
        if file.hasAttribute("graft_input_size") {
            let size = try file.readNumbers("graft_input_size"), mean = try file.readNumbers("graft_mean"), std = try file.readNumbers("graft_std")
            let order = try string("graft_channel_order") ?? "RGB"
            guard size.count == 3, size.allSatisfy({ $0.isFinite && $0 >= 1 && $0 <= 100_000 }), [1, 3].contains(mean.count),
                  std.count == mean.count, std.allSatisfy({ $0.isFinite && $0 > 0 }), mean.allSatisfy(\.isFinite),
                  ["RGB", "BGR", "L"].contains(order) else {
                throw HDF5Error.unsupported(path: file.path, object: "preprocessing attributes",
                                            reason: "input size \(size), channel order \(order), mean \(mean) and std \(std) do not describe an input")
            }
            preprocessing = Preprocessing(inputSize: size.map { Int($0) }, channelOrder: order, mean: mean, std: std)
        }
        return WeightMetadata(architecture: try string("graft_architecture") ?? "",
                              configuration: configuration, preprocessing: preprocessing,
                              classNames: file.hasAttribute("graft_class_names") ? try file.readStrings("graft_class_names") : [],
                              provenance: try string("graft_provenance") ?? "{}",
                              contentHash: try string("graft_content_hash"))
    }
}
