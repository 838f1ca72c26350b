import Foundation
import Vision
import Zoo

/// Everything `finetune --base NAME --freeze N` needs; the command line only fills this in,
/// so every default lives here.
public struct FineTuneOptions: Codable, Equatable, Sendable {
    /// How much of the base model stays frozen (`--freeze`).
    public enum Freeze: Codable, Equatable, Sendable {
        /// Freeze the first N stages (`--freeze N`; 0 trains everything).
        case stages(Int)
        /// Freeze every stage and train only the new head, a linear probe (`--freeze all`).
        case allButHead
        /// Probe every stage first (`StageProbe`) and freeze the deepest prefix whose linear
        /// probe is within 2 points of the best.
        case auto

        /// As the command line writes it.
        public var text: String {
            switch self {
            case .stages(let n): return "\(n)"
            case .allButHead: return "all"
            case .auto: return "auto"
            }
        }
    }

    /// The update rule (`--optimizer`); `Recipe.optimizer(_:model:)` builds it.
    public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
        /// Plain SGD, SGD with momentum 0.9 (classical or Nesterov), Adam, AdamW (decoupled weight
        /// decay), NAdam, RMSProp, Adagrad and Adadelta, each with the library's default settings.
        case sgd, momentum, nesterov, adam, adamw, nadam, rmsprop, adagrad, adadelta
    }

    /// The learning-rate schedule after warm-up (`--schedule`); `Recipe.scheduler` builds it.
    public enum ScheduleKind: String, Codable, CaseIterable, Sendable {
        /// A constant rate.
        case constant
        /// ×0.1 every third of the steps.
        case step
        /// Exponential decay, down to 1% by the last step.
        case exponential
        /// 1/t (inverse time) decay, down to 10% by the last step.
        case inverseTime = "inverse-time"
        /// Cosine annealing down to 1%.
        case cosine
        /// The one-cycle policy (30% of the steps rising).
        case onecycle
        /// Constant, ×0.1 after a plateau of half the patience.
        case plateau
        /// Cosine with warm restarts (SGDR): `cycles` equal cycles, each from the full rate down to 1%.
        case restarts
    }

    /// Datasets Graft knows how to load without a folder.
    public enum BuiltInDataset: String, Codable, CaseIterable, Sendable {
        /// Fashion-MNIST (Debian `dataset-fashion-mnist`): the 60,000 training images give the
        /// training and validation splits, the official 10,000 test images the test split.
        case fashionMNIST = "fashion-mnist"
    }

    /// The model to start from (`--base`): a zoo entry (`resnet18-clipart`), a family alias
    /// (`resnet`, `vgg`, `lenet`: the zoo's model for the data's channels) or an architecture name.
    public var base: String
    /// How many stages stay frozen (`--freeze`).
    public var freeze: Freeze
    /// An image folder (one sub-folder per class); nil trains on the embedded demo dataset.
    public var data: String?
    /// Only these class sub-folders of `data` (nil: all of them).
    public var classes: [String]?
    /// Label images by the sub-folder they sit in rather than the class folder, merging
    /// sub-folders with fewer than this many images into their parent (nil: class folders).
    public var subfolderClasses: Int?
    /// Leave out every image of `data` whose content equals an image below this folder (the
    /// zoo's recipes keep the demo dataset's images out of pretraining, links included).
    public var excludeImagesOf: String?
    /// A second image folder whose classes join `data`'s, named `FOLDER/CLASS` (the last
    /// component of its path), labelled the same way; `extraClasses` picks its class folders.
    public var extraData: String?
    /// Only these class sub-folders of `extraData` (nil: all of them).
    public var extraClasses: [String]?
    /// A built-in dataset instead of a folder.
    public var dataset: BuiltInDataset?
    /// The architecture's configuration in full, instead of `base`'s (the zoo's recipes use
    /// it for sizes the registry has no name for); its class count follows the data.
    public var configuration: ModelConfiguration?
    /// Per-channel normalisation instead of the architecture's (or the weights') own: the
    /// zoo's recipes use their dataset's statistics.
    public var mean: [Float]?
    /// Per-channel standard deviation to go with `mean` (nil: the architecture's or the weights').
    public var std: [Float]?
    /// Where the input normalisation comes from when `mean` and `std` are not given.
    public enum Normalization: String, Codable, CaseIterable, Sendable {
        /// The starting weights' own (a pretrained model's features expect them), else the architecture's.
        case weights
        /// Measured on the training split: per-channel mean and standard deviation (the lecture notes'
        /// "normalise each dimension of the input").
        case data
    }
    /// Where the input normalisation comes from (`--normalize`); an explicit `mean`/`std` wins.
    public var normalization: Normalization = .weights
    /// Weights to start from (Graft, Keras or converted PyTorch file; the head is replaced),
    /// or "none" for a random start; nil: the zoo's entry for `base`, when it has one.
    public var weights: String?
    /// The most epochs to train (early stopping may end sooner).
    public var epochs = 10
    /// Early stopping: epochs without a better monitored figure before stopping.
    public var patience = 3
    /// The validation figure early stopping and the best-epoch choice watch.
    public var monitor: Monitor = .validationLoss
    /// The smallest change of the monitored figure that counts as better.
    public var minDelta = 0.0
    /// Images per training step.
    public var batchSize = 32
    /// The head's (base) learning rate; with a body factor, lower stages train at multiples of it.
    public var learningRate: Float = 1e-3
    /// `--lr auto`: run the learning-rate finder first and train at its suggestion.
    public var autoLearningRate = false
    /// The update rule (default Adam).
    public var optimizer: OptimizerKind = .adam
    /// The momentum of `momentum` and `nesterov` (the lecture notes: 0.5 to 0.99).
    public var momentum: Float = 0.9
    /// L2 weight decay (decoupled for AdamW).
    public var weightDecay: Float = 0
    /// An L1 penalty `l1 · Σ|w|` over the trainable weights, added to the loss (the lecture notes'
    /// L1 regularisation; with `weightDecay`, elastic net); 0: none.
    public var l1: Float = 0
    /// The learning-rate schedule after warm-up.
    public var schedule: ScheduleKind = .cosine
    /// Epochs of linear learning-rate warm-up before the schedule.
    public var warmupEpochs = 0
    /// The warm-restart cycles of `schedule` `.restarts`: the epochs after warm-up split into this
    /// many equal cycles of whole epochs (left-over epochs run at the last cycle's end rate).
    public var cycles = 3
    /// Snapshot ensembles (Huang et al., 2017): save the model at the end of every warm-restart
    /// cycle (`snapshots/cycle-K.h5` in the run folder) and report the ensemble of them; needs
    /// `schedule` `.restarts`. Early stopping does not stop such a run (a restart raises the loss on purpose).
    public var snapshots = false
    /// Dropout on the pooled features before the new head (ResNets; 0: none).
    public var dropout: Float = 0
    /// DropBlock rate after every block of a ResNet's last two stages (Ghiasi et al., 2018; 0: none).
    public var dropBlock: Float = 0
    /// Label smoothing of the cross-entropy targets, in [0, 1) (0: none).
    public var labelSmoothing: Float = 0
    /// Mixup / cutmix with Beta(α, α); nil: off.
    public var mixup: Double?
    /// Cutmix with Beta(α, α); nil: off. At most one of `mixup` and `cutmix`.
    public var cutmix: Double?
    /// Clip gradients to this global norm; nil: no clipping.
    public var clipNorm: Float?
    /// How frozen stages' BatchNorm layers behave.
    public var batchNorm: FrozenBatchNorm = .frozen
    /// Two-phase fine-tuning: epochs that train only the new head first (0: one phase).
    public var headEpochs = 0
    /// LP-FT (Kumar et al., 2022): start the new head as the linear probe fitted on the last
    /// stage's pooled training features (`StageProbe.initialiseHead`) instead of at random.
    public var probeHead = false
    /// Discriminative learning rates: each stage below the head trains at this factor of the
    /// next one up (1: every trainable stage at the full rate).
    public var bodyLearningRateFactor: Float = 1
    /// Seeds the split, the initialisation, shuffling, augmentation and mixing: the same seed, the same run.
    public var seed: UInt64 = 0
    /// The stratified share of the images held out for validation (it also chooses the best epoch).
    public var validationFraction = 0.2
    /// Few-shot: keep only this many training (and validation) images per class, the first of
    /// each class's share of the split (nil: all).
    public var trainPerClass: Int?
    /// Few-shot: keep only this many validation images per class (nil: all).
    public var validationPerClass: Int?
    /// Bagging: train on bootstrap resample number k (from 1) of the training split, as many
    /// images drawn with replacement (`DatasetSplit.bootstrap`, seeded by `seed` and k); the
    /// validation and test splits stay as they are. nil: the training split itself. `Bagging` sets it.
    public var bootstrap: Int?
    /// Frozen-prefix feature cache: K augmented views per training image (0: off; nil: 4 when
    /// the cache applies and the pipeline augments, 1 when it does not).
    public var cacheViews: Int?
    /// The cache's memory budget in MB (nil: a quarter of the machine's memory); beyond it the
    /// cache spills to a file in the run folder.
    public var cacheMemoryMB: Int?
    /// Store cached features as float16 (half the memory).
    public var cacheFloat16 = false
    /// A held-out test split (never used to choose the epoch), evaluated at the end; 0: none.
    public var testFraction = 0.0
    /// The training augmentation pipeline (`Augmentation(spec:)`); empty: none.
    public var pipeline = "hflip,rotate=10,jitter=0.1"
    /// Input side in pixels (default: 32 for the demo, the architecture's otherwise).
    public var imageSize: Int?
    /// Fail on the first image that cannot be decoded instead of skipping it with a warning.
    public var strictImages = false
    /// The folder that receives the run; an existing one is never overwritten (a suffix is added).
    public var runsDirectory = "runs"
    /// The embedded demo datasets: Open Clip Art's food drawings (6 classes, 289 images, the
    /// default), or drawn circles, squares and triangles (for quick tests).
    public enum DemoDataset: String, Codable, Sendable {
        /// Open Clip Art's food drawings: 6 classes, 289 images (public domain).
        case food
        /// Drawn circles, squares and triangles: fast, for tests.
        case shapes
    }
    /// Which embedded demo dataset trains when neither `data` nor `dataset` is set.
    public var demo: DemoDataset = .food
    /// Images per class of the shapes demo.
    public var demoImagesPerClass = 120
    /// Weigh the loss by "balanced" class weights computed from the training split's counts.
    public var balanceClasses = false
    /// Show a progress bar when standard output is a terminal.
    public var progressBar = true
    /// Images with more pixels than this are refused when they must be decoded at full size.
    public var maxPixels = ImageDecoder.defaultMaxPixels

    /// Options for fine-tuning `base` with `freeze`; every other setting takes its default.
    public init(base: String, freeze: Freeze) {
        self.base = base
        self.freeze = freeze
    }

    /// The defaults, for help texts: `finetune --base resnet --freeze 3` changes only these two.
    public static let defaults = FineTuneOptions(base: "resnet", freeze: .stages(0))

    /// Throws unless every number lies in its `Limits` range and the options fit together.
    public func validate() throws {
        try Limits.check("epochs", epochs, in: Limits.epochs)
        try Limits.check("patience", patience, in: Limits.patience)
        try Limits.check("batch size", batchSize, in: Limits.batchSize)
        try Limits.check("image size", imageSize, in: Limits.imageSide)
        try Limits.check("max pixels", maxPixels, in: Limits.maxPixels)
        try Limits.check("warm-up epochs", warmupEpochs, in: 0...epochs)
        try Limits.check("head epochs", headEpochs, in: 0...epochs)
        if let bootstrap, bootstrap < 1 {
            throw LimitError(option: "bootstrap", value: "\(bootstrap)", allowed: "a resample number of at least 1")
        }
        if schedule == .restarts {
            try Limits.check("cycles", cycles, in: 1...max(1, epochs - warmupEpochs))
        }
        if snapshots && schedule == .restarts {
            try Limits.check("cycles with --snapshots", cycles, in: 2...max(2, epochs - warmupEpochs))
            guard headEpochs == 0 else {
                throw LimitError(
                    option: "head epochs with --snapshots", value: "\(headEpochs)",
                    allowed:
                        "0 (the cycles would count the head-only epochs, and the first snapshot would be a head-only model)"
                )
            }
        }
        guard !snapshots || schedule == .restarts else {
            throw LimitError(
                option: "snapshots", value: "--schedule \(schedule.rawValue)",
                allowed: "used with --schedule restarts (a snapshot is taken at the end of each warm-restart cycle)")
        }
        func positive(_ name: String, _ value: Float?) throws {
            guard let value else { return }
            guard value > 0, value.isFinite else {
                throw LimitError(option: name, value: "\(value)", allowed: "a positive number")
            }
        }
        try positive("learning rate", learningRate)
        try positive("clip norm", clipNorm)
        try positive("mixup alpha", mixup.map(Float.init))
        try positive("cutmix alpha", cutmix.map(Float.init))
        try positive("body learning-rate factor", bodyLearningRateFactor)
        guard momentum >= 0, momentum < 1, optimizer != .nesterov || momentum > 0 else {
            throw LimitError(
                option: "momentum", value: "\(momentum)",
                allowed: optimizer == .nesterov ? "in (0, 1) for nesterov" : "in [0, 1)")
        }
        guard l1 >= 0, l1.isFinite else {
            throw LimitError(option: "l1", value: "\(l1)", allowed: "zero or positive")
        }
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw LimitError(option: "weight decay", value: "\(weightDecay)", allowed: "zero or positive")
        }
        for (name, rate) in [("dropout", dropout), ("drop block", dropBlock)] where !(rate >= 0 && rate < 1) {
            throw LimitError(option: name, value: "\(rate)", allowed: "in [0, 1)")
        }
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw LimitError(option: "label smoothing", value: "\(labelSmoothing)", allowed: "in [0, 1)")
        }
        guard mixup == nil || cutmix == nil else {
            throw LimitError(option: "mixup and cutmix", value: "both", allowed: "one of the two")
        }
        guard validationFraction > 0, testFraction >= 0, validationFraction + testFraction < 1 else {
            throw LimitError(
                option: "validation + test fraction", value: "\(validationFraction) + \(testFraction)",
                allowed: "a positive validation fraction with a sum below 1")
        }
    }

    /// Options from JSON written by this or an earlier version: settings the file does not
    /// have keep their defaults (a run folder from before an option existed still resumes).
    public static func decode(_ data: Foundation.Data) throws -> FineTuneOptions {
        let defaults =
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(FineTuneOptions.defaults)) as? [String: Any]
            ?? [:]
        guard let saved = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return try JSONDecoder().decode(FineTuneOptions.self, from: data)
        }
        let merged = defaults.merging(saved) { _, file in file }
        return try JSONDecoder().decode(FineTuneOptions.self, from: JSONSerialization.data(withJSONObject: merged))
    }

    /// Parses `--freeze`: a stage count, `all` or `auto`.
    public static func parseFreeze(_ text: String) -> Freeze? {
        switch text.lowercased() {
        case "all": return .allButHead
        case "auto": return .auto
        default: return Int(text).flatMap { $0 >= 0 ? .stages($0) : nil }
        }
    }
}
