import ArgumentParser
import Foundation
import Graft

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Accuracy and confusion matrix of a model file on an image folder.")
    @Option(help: "A model file (e.g. runs/NAME/model.h5); repeat it to evaluate an ensemble (probabilities averaged).")
    var model: [String]
    @Option(help: "An image folder, one sub-folder per class.") var data: String
    @OptionGroup var decoding: DecodingOptions

    @OptionGroup var logging: LoggingOptions


    func run() throws {
        for file in model { if let warning = RunFolder.incompleteWarning(for: file) { warn(warning) } }
        let folder = try ImageFolder(data, decoder: decoding.decoder)
        if model.count > 1 {
            let ensemble = try Ensemble(files: model)
            guard folder.classNames == ensemble.classNames else {
                throw ValidationError("the folder's classes (\(folder.classNames.joined(separator: ", "))) differ from the models' (\(ensemble.classNames.joined(separator: ", ")))")
            }
            let result = ensemble.evaluate(folder)
            print(String(format: "ensemble of %d models on %@: accuracy %.2f%%, loss %.4f (%d images)", model.count, data, result.accuracy * 100, result.loss, folder.count))
            return
        }
        let model = self.model[0]
        let trained = try TrainedModel(contentsOf: model)
        guard folder.classNames == trained.classNames else {
            throw ValidationError("the folder's classes (\(folder.classNames.joined(separator: ", "))) differ from the model's (\(trained.classNames.joined(separator: ", ")))")
        }
        let loader = trained.loader(folder)
        let result = evaluate(trained.model, on: loader)
        print(String(format: "%@ on %@: accuracy %.2f%%, loss %.4f (%d images)", model, data, result.accuracy * 100, result.loss, folder.count))
        print("confusion matrix (rows: true class, columns: predicted):")
        for (name, row) in zip(folder.classNames, result.confusion) {
            print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + row.map { String(format: "%6d", $0) }.joined())
        }
        for (path, reason) in loader.failures.prefix(5) { warn("skipped \(path): \(reason)") }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images with a model file.",
        discussion: "Results go to standard output, one line per image; problems to standard error. Exit status: 0 when every image was classified, 1 when some failed (the others are still printed).")
    @Option(help: "A model file (e.g. runs/NAME/model.h5); repeat it for an ensemble (probabilities averaged).") var model: [String]
    @Option(help: "How many classes to show per image.") var top: Int = 3
    @Flag(help: "One JSON object per line: {\"image\", \"predictions\": [{\"class\", \"probability\"}]} or {\"image\", \"error\"}.")
    var json = false
    @Argument(help: "PNG or JPEG images.") var images: [String]
    @OptionGroup var decoding: DecodingOptions

    func validate() throws {
        try within("--top", top, Limits.top)
        guard !images.isEmpty else { throw ValidationError("name at least one image to classify") }
    }

    @OptionGroup var logging: LoggingOptions


    func run() throws {
        for file in model { if let warning = RunFolder.incompleteWarning(for: file) { warn(warning) } }
        let ensemble = try Ensemble(files: model)
        let decoder = decoding.decoder
        var failed = 0
        for path in images {
            do {
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                    throw ValidationError("\(path) is a folder; name the image files inside it instead")
                }
                let probabilities = try ensemble.probabilities(ofFile: path, decoder: decoder)
                let ranked = probabilities.enumerated().sorted { $0.element > $1.element }.prefix(top)
                if json {
                    print(jsonLine(["image": path, "predictions": ranked.map { ["class": ensemble.classNames[$0.offset], "probability": Double($0.element)] }]))
                } else {
                    print(path + ": " + ranked.map { String(format: "%@ %.1f%%", ensemble.classNames[$0.offset], $0.element * 100) }.joined(separator: ", "))
                }
            } catch {
                if json { print(jsonLine(["image": path, "error": "\(error)"])) }
                Logger.graft.error("\(error)")
                failed += 1
            }
        }
        if failed > 0 {
            warn("\(failed) of \(images.count) images could not be classified")
            throw ExitCode(1)
        }
    }
}

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stage's features of every image of a folder to HDF5.",
        discussion: """
        The file holds datasets 'features' (one row per image, globally pooled unless --pooling none), 'labels'         (int32 class indices), 'paths' (each image's path relative to --data, row by row), and attributes         'class_names', 'layer', 'pooling', 'input_size', 'channel_order', 'mean', 'std' and 'weights_content_hash'.         Images that cannot be decoded are left out and listed on standard error.
        """)
    enum Pooling: String, ExpressibleByArgument, CaseIterable { case avg, max, none }

    @Option(help: "A zoo architecture (with --weights) or use --model.") var base: String?
    @Option(help: "A model file (e.g. runs/NAME/model.h5) instead of --base.") var model: String?
    @Option(help: "Weights for --base (e.g. an imported file).") var weights: String?
    @Option(help: "The stage whose output to extract, e.g. stage3.") var layer: String
    @Option(help: "An image folder, one sub-folder per class.") var data: String
    @Option(help: "Where to write the features (HDF5).") var out: String
    @Option(help: "Input size for --base (default: the architecture's).") var size: Int?
    @Option(help: "Global pooling of feature maps: avg, max, or none (keep the maps).") var pooling: Pooling = .avg
    @OptionGroup var decoding: DecodingOptions

    func validate() throws { try within("--size", size, Limits.imageSide) }

    @OptionGroup var logging: LoggingOptions


    func run() throws {
        let (network, preprocessing) = try loadNetwork()
        let extractor = try FeatureExtractor(model: network, stage: layer,
                                             pooling: pooling == .none ? nil : GlobalPooling(rawValue: pooling.rawValue))
        let folder = try ImageFolder(data, decoder: decoding.decoder)
        let loader = BatchLoader(source: folder, batchSize: 32, imageSize: (preprocessing.inputSize[0], preprocessing.inputSize[1]),
                                 mean: preprocessing.mean, std: preprocessing.std, channelOrder: preprocessing.channelOrder, shuffle: false)
        let (features, labels, indices) = extractor.extract(loader)
        try HDF5File.write(atomicallyTo: out) { file in
            try file.write(features, at: "features")
            try file.write(labels.map(Int32.init), at: "labels")
            try file.writeStrings(indices.map(folder.relativePath(at:)), at: "paths")
            try file.writeStrings(folder.classNames, name: "class_names")
            try file.writeStrings([layer], name: "layer", scalar: true)
            try file.writeStrings([pooling.rawValue], name: "pooling", scalar: true)
            try file.writeNumbers(preprocessing.inputSize.map(Float.init), name: "input_size", integer: true)
            try file.writeStrings([preprocessing.channelOrder], name: "channel_order", scalar: true)
            try file.writeNumbers(preprocessing.mean, name: "mean")
            try file.writeNumbers(preprocessing.std, name: "std")
            try file.writeStrings([WeightFile.contentHash(of: network)], name: "weights_content_hash", scalar: true)
        }
        print("wrote \(out): features \(features.shape) from \(layer), \(labels.count) images, \(folder.classNames.count) classes")
        for (path, reason) in loader.failures { warn("skipped \(path): \(reason)") }
    }

    private func loadNetwork() throws -> (any ZooModel, Preprocessing) {
        if let model {
            let trained = try TrainedModel(contentsOf: model)
            return (trained.model, trained.preprocessing)
        }
        guard let base else { throw ValidationError("pass --base NAME (with --weights) or --model FILE") }
        let entry = try Architectures.entry(base)
        var config = entry.configuration(nil)
        if let size, case var .resnet(c) = config {
            c.input = [size, size, c.input[2]]
            config = .resnet(c)
        }
        Random.seed(0)
        let network = config.build()
        if let weights { try WeightFile.load(weights, into: network, options: LoadOptions(skipHead: true)) }
        var p = entry.preprocessing
        if let size { p.inputSize = [size, size, p.inputSize[2]] }
        return (network, p)
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grad-CAM heat maps of the top class over each image (PNG), and optionally a stage's feature maps.")
    @Option(help: "A model file (e.g. runs/NAME/model.h5).") var model: String
    @Option(help: "The stage to explain (default: the last convolutional stage).") var layer: String?
    @Option(name: .customLong("feature-maps"), help: "Also draw this stage's feature maps as a grid.") var featureMaps: String?
    @Option(help: "The folder for the pictures.") var out = "explain"
    @Argument(help: "PNG or JPEG images.") var images: [String]
    @OptionGroup var decoding: DecodingOptions

    @OptionGroup var logging: LoggingOptions


    func run() throws {
        let trained = try TrainedModel(contentsOf: model)
        let p = trained.preprocessing
        guard let stage = layer ?? GradCAM.defaultStage(trained.model, input: p.inputSize) else {
            throw ValidationError("\(model) has no convolutional stage to explain")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var failed = 0
        for path in images {
            do {
                let image = try decoding.decoder.decode(contentsOf: path, fitting: (p.inputSize[1], p.inputSize[0]))
                let input = Tensor.batch([image], mean: p.mean, std: p.std, channelOrder: p.channelOrder)
                let result = try GradCAM.explain(trained.model, input: input, stage: stage)
                let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                let caption = String(format: "%@: %@ %.0f%% (Grad-CAM, %@)", name, trained.classNames[result.classIndex],
                                     result.probability * 100, stage)
                try Charts.heatOverlay(image: image, heat: result.heat, caption: caption).writePNG(to: "\(out)/\(name)-gradcam.png")
                print("\(path): \(trained.classNames[result.classIndex]) \(String(format: "%.1f%%", result.probability * 100)); wrote \(out)/\(name)-gradcam.png")
                if let featureMaps {
                    let maps = try FeatureExtractor(model: trained.model, stage: featureMaps, pooling: nil).features(input)
                    guard maps.rank == 4 else { throw FeatureError.notSpatial(featureMaps) }
                    let (h, w, k) = (maps.shape[1], maps.shape[2], maps.shape[3])
                    let channels = (0..<min(k, 64)).map { c -> Image in
                        let values = (0..<(h * w)).map { maps.scalars[$0 * k + c] }
                        let lo = values.min() ?? 0, hi = values.max() ?? 1
                        return Image(width: w, height: h, channels: 1, data: values.map { ($0 - lo) / max(hi - lo, 1e-6) })
                    }
                    try Charts.featureMaps(channels, title: "\(name): \(featureMaps), \(min(k, 64)) of \(k) channels, \(w)x\(h)")
                        .writePNG(to: "\(out)/\(name)-\(featureMaps).png")
                }
            } catch {
                Logger.graft.error("\(error)")
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// One line of JSON (keys sorted) for `--json` output.
func jsonLine(_ object: [String: Any]) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
}
