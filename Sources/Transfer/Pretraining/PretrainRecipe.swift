import Engine
import Foundation
import Layers
import Vision
import Zoo

/// One of the zoo's own pretrained models: the dataset, the architecture and the recipe that
/// make it, reproducible from the seed (`finetune pretrain NAME` runs it and writes
/// zoo/NAME.h5). The options are ordinary fine-tuning options with nothing frozen and no
/// starting weights.
public struct PretrainRecipe: Sendable {
    /// The recipe's name, which is also the zoo entry's (`resnet18-clipart`).
    public let name: String
    /// One line for listings and the model card.
    public let summary: String
    /// The source dataset, its classes and licence, for the model card.
    public let dataset: String
    /// The dataset's licence(s), for the model card.
    public let license: String
    /// The fine-tuning options that train the model (nothing frozen, no starting weights).
    public let options: FineTuneOptions

    /// The Debian packages holding the recipe's data folders (checked before training).
    public var packages: [(folder: String, package: String)] {
        var needed: [(String, String)] = []
        if options.data == Self.clipartRoot { needed.append((Self.clipartRoot, "openclipart-png")) }
        if options.extraData == Self.tuxpaintRoot { needed.append((Self.tuxpaintRoot, "tuxpaint-stamps-default")) }
        return needed
    }

    /// The recipes, in the order they are worth running: the RGB ResNet-18 is what
    /// `--base resnet` starts from on the demo dataset.
    public static let all: [PretrainRecipe] = [
        resnet18Clipart, lenet5Fashion, resnet20Fashion, vgg11Clipart, vgg11Fashion,
    ]

    /// The recipe named `name`.
    /// - Throws: `PretrainError.unknownRecipe` listing the recipes there are.
    public static func named(_ name: String) throws -> PretrainRecipe {
        guard let recipe = all.first(where: { $0.name == name }) else {
            throw PretrainError.unknownRecipe(name, known: all.map(\.name))
        }
        return recipe
    }

    /// Open Clip Art (Debian `openclipart-png`, public domain): ten topic folders, never `food`
    /// (the demo dataset's).
    public static let clipartFolders = [
        "computer", "shapes", "signs_and_symbols", "special", "recreation", "transportation",
        "people", "science", "office", "tools",
    ]
    /// Where Debian's `openclipart-png` installs the drawings.
    public static let clipartRoot = "/usr/share/openclipart/png"
    /// Debian `tuxpaint-stamps-default` (GPL-2): every category but food.
    public static let tuxpaintRoot = "/usr/share/tuxpaint/stamps"
    /// The Tux Paint stamp categories the clip-art recipes add (all but food).
    public static let tuxpaintFolders = [
        "animals", "clothes", "hobbies", "household", "medical", "military", "naturalforces",
        "people", "plants", "seasonal", "space", "sports", "symbols", "town", "vehicles",
    ]
    /// Statistics of the clip-art folders at 64 px, alpha composited on white (400 images).
    static let clipartMean: [Float] = [0.823, 0.802, 0.788]
    static let clipartStd: [Float] = [0.307, 0.318, 0.336]
    /// Fashion-MNIST's pixel mean and standard deviation.
    static let fashionMean: [Float] = [0.2860]
    static let fashionStd: [Float] = [0.3530]

    /// VGG-11 with BatchNorm at half width and a global-average-pooling head (the body works
    /// at any input size; 38 M multiply-adds at 32 px, like ResNet-20).
    static func vgg11Half(input: [Int]) -> ModelConfiguration {
        .vgg(
            VGGConfig(
                blocks: [[32], [64], [128, 128], [256, 256], [256, 256]], batchNorm: true, fc: [], classes: 10,
                input: input, includeTop: true, pooling: .avg))
    }

    static func clipart(_ name: String, base: String, configuration: ModelConfiguration?, summary: String)
        -> PretrainRecipe
    {
        var o = FineTuneOptions(base: base, freeze: .stages(0))
        o.data = clipartRoot
        o.classes = clipartFolders
        // Labelled by sub-folder (stars, flags, road signs, music, birds, …; sub-folders of fewer
        // than 20 drawings merge into their parent: 93 classes with Tux Paint's) rather than by
        // the ten topics: finer classes were meant to teach features that transfer.
        o.subfolderClasses = 20
        // Tux Paint's stamps (animals, plants, town, vehicles, …; never its food) add drawings of
        // things rather than icons and symbols.
        o.extraData = tuxpaintRoot
        o.extraClasses = tuxpaintFolders
        o.excludeImagesOf = clipartRoot + "/food"  // the demo's images, some linked into these folders
        o.configuration = configuration
        o.imageSize = 64
        o.mean = clipartMean
        o.std = clipartStd
        o.epochs = 40
        o.patience = 10
        o.batchSize = 64
        o.optimizer = .adamw
        o.learningRate = 2e-3
        o.weightDecay = 0.05
        o.schedule = .onecycle
        o.labelSmoothing = 0.1
        o.pipeline = "hflip,rotate=10,zoom=0.1,translate=0.1,jitter=0.2"
        o.validationFraction = 0.15
        o.testFraction = 0.15
        o.runsDirectory = "runs/pretrain"
        return PretrainRecipe(
            name: name, summary: summary,
            dataset: "Open Clip Art (Debian openclipart-png), folders " + clipartFolders.joined(separator: ", ")
                + ", and Tux Paint's stamps (Debian tuxpaint-stamps-default) but food, labelled by sub-folder"
                + " (without the images that are also in Open Clip Art's food/, the demo dataset's)",
            license: "public domain (Open Clip Art Library); GPL-2 (Tux Paint stamps)", options: o)
    }

    static func fashion(
        _ name: String, base: String, configuration: ModelConfiguration?, size: Int, epochs: Int,
        summary: String, tweak: (inout FineTuneOptions) -> Void = { _ in }
    ) -> PretrainRecipe {
        var o = FineTuneOptions(base: base, freeze: .stages(0))
        o.dataset = .fashionMNIST
        o.configuration = configuration
        o.imageSize = size
        o.mean = fashionMean
        o.std = fashionStd
        o.epochs = epochs
        o.patience = epochs
        o.batchSize = 128
        o.optimizer = .nesterov
        o.learningRate = 0.1
        o.weightDecay = 5e-4
        o.schedule = .onecycle
        o.pipeline = "hflip,crop=\(size):2"
        o.validationFraction = 5000.0 / 60000
        o.runsDirectory = "runs/pretrain"
        tweak(&o)
        return PretrainRecipe(
            name: name, summary: summary, dataset: "Fashion-MNIST (Xiao et al., 2017; Debian dataset-fashion-mnist)",
            license: "MIT (Zalando Research)", options: o)
    }

    static let resnet18Clipart = clipart(
        "resnet18-clipart", base: "resnet18", configuration: nil,
        summary: "ResNet-18 (torchvision layout) on Open Clip Art and Tux Paint categories, 64x64 RGB")
    static let vgg11Clipart = clipart(
        "vgg11-clipart", base: "vgg11_bn", configuration: vgg11Half(input: [64, 64, 3]),
        summary:
            "VGG-11-BN at half width with a global-pooling head on Open Clip Art and Tux Paint categories, 64x64 RGB")
    static let lenet5Fashion = fashion(
        "lenet5-fashion", base: "lenet5", configuration: nil, size: 32, epochs: 15,
        summary: "LeNet-5 on Fashion-MNIST, 32x32 grey"
    ) { o in
        o.optimizer = .adam
        o.learningRate = 2e-3
        o.weightDecay = 0
        o.schedule = .cosine
        o.batchSize = 64
        o.pipeline = "hflip"
    }
    static let resnet20Fashion = fashion(
        "resnet20-fashion", base: "resnet20", configuration: nil, size: 28, epochs: 30,
        summary: "ResNet-20 (CIFAR-style) on Fashion-MNIST, 28x28 grey")
    static let vgg11Fashion = fashion(
        "vgg11-fashion", base: "vgg11_bn", configuration: vgg11Half(input: [32, 32, 1]), size: 32,
        epochs: 30, summary: "VGG-11-BN at half width with a global-pooling head on Fashion-MNIST, 32x32 grey")
}

/// Why a pretraining recipe cannot run or be recorded.
public enum PretrainError: Error, CustomStringConvertible {
    /// No recipe has this name; `known` lists those there are.
    case unknownRecipe(String, known: [String])
    /// The run folder is not a finished run of the recipe (other options, unfinished, or no test split).
    case notTheRecipesRun(String, recipe: String)
    /// A data folder of the recipe is missing; `package` is the Debian package that installs it.
    case missingData(recipe: String, folder: String, package: String)
    /// A message saying what to install or which recipes exist.
    public var description: String {
        switch self {
        case .missingData(let recipe, let folder, let package):
            return
                "the \(recipe) recipe trains on \(folder), which is not here: install it with `apt-get install \(package)`"
        case .notTheRecipesRun(let run, let recipe):
            return
                "\(run) is not a finished run of the \(recipe) recipe (its options.json differs, or it did not finish)"
        case .unknownRecipe(let name, let known):
            return "no pretraining recipe '\(name)'; the zoo's recipes are \(known.joined(separator: ", "))"
        }
    }
}
