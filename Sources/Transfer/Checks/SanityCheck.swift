import Engine
import Foundation
import Layers
import Logging
import Optimizers
import Vision
import Zoo

/// The lecture notes' sanity checks, run once before a long training: the loss at the start is
/// about chance (ln C for C classes, with regularisation off), it rises when regularisation is
/// cranked up, and the model overfits a handful of images with regularisation off (no
/// augmentation, weight decay, L1 penalty, label smoothing, mixup or dropout). Failing any of
/// them means a bug: wrong labels, a broken loss, a head initialised far too large, a learning
/// rate far off, a frozen model.
public enum SanityCheck {
    /// The L1 penalty `strength · Σ|w|` (`--l1`) over the weights the optimiser trains that the
    /// loss-dynamics check adds to the first loss (the notes crank a two-layer net's regularisation
    /// to 1e3 on weights of 1e-4; any positive strength must raise the loss).
    public static let penaltyStrength: Float = 1e-2

    /// How far above chance the first loss may be: `ln C + allowance` (a fresh head on features
    /// of any scale starts within a few tenths of chance; a head initialised far too large, or
    /// inputs not normalised, starts several nats above).
    public static let chanceAllowance = 2.0

    /// How the checks ended.
    public struct Result: Sendable, CustomStringConvertible {
        /// The images in the subset: the number asked for, or the whole training split if smaller.
        public var images: Int
        /// The steps taken (one full-batch epoch each) until memorised or `maxSteps`.
        public var steps: Int
        /// The training accuracy of the last step, in [0, 1] (measured during the step).
        public var accuracy: Double
        /// The mean training loss of the last step (NaN when no step ran).
        public var loss: Double
        /// Whether the last step classified every image of the subset right.
        public var reached: Bool
        /// The gradient check run before training (nil when it was not asked for).
        public var gradients: GradientCheck.Result? = nil
        /// The loss of the untrained model on the subset (`InitialLossCheck`'s measure; NaN when none).
        public var initialLoss: Double = .nan
        /// The classes C the head predicts.
        public var classes = 0
        /// `initialLoss` plus the L1 penalty `SanityCheck.penaltyStrength · Σ|w|` of the recipe's
        /// optimiser (what training adds to the loss) at the start.
        public var regularisedLoss: Double = .nan

        /// Chance: ln C, the loss of a uniform prediction.
        public var chanceLoss: Double { Foundation.log(Double(classes)) }

        /// Whether the first loss is finite and at most `chanceAllowance` above chance.
        public var atChance: Bool { initialLoss.isFinite && initialLoss <= chanceLoss + SanityCheck.chanceAllowance }
        /// Whether the penalty raised the first loss (it cannot when the optimiser trains no weight).
        public var lossRises: Bool { regularisedLoss.isFinite && regularisedLoss > initialLoss }

        /// Whether every check passed: the loss at chance and rising with regularisation, the subset
        /// memorised, the gradient check (if any).
        public var passed: Bool { atChance && lossRises && reached && (gradients?.passed ?? true) }

        /// The gradient check's line (if it ran), the loss-dynamics lines, then the overfitting line:
        /// `ok: …` where a check passed, `FAILED: …` with what to check where it did not.
        public var description: String {
            (gradients.map { "\($0)\n" } ?? "") + chance + "\n" + regularisation + "\n" + overfitting
        }

        private var chance: String {
            let figures = String(
                format: "loss %.4f at the start; chance for %d classes is ln C = %.4f", initialLoss, classes,
                chanceLoss)
            return atChance
                ? "ok: " + figures
                : "FAILED: " + figures
                    + String(format: " (more than %.1f above): ", SanityCheck.chanceAllowance)
                    + "the new head starts far too confident; check its initialisation and the input normalisation"
        }

        private var regularisation: String {
            let figures = String(
                format: "with an L1 penalty of %g·Σ|w| (--l1) over the trained weights the first loss is %.4f",
                Double(SanityCheck.penaltyStrength), regularisedLoss)
            return lossRises
                ? "ok: " + figures + " (it rises)"
                : "FAILED: " + figures + ", no higher: the optimiser trains no weight; check the freeze"
        }

        private var overfitting: String {
            reached
                ? String(
                    format: "ok: reached 100%% training accuracy on %d images after %d steps (loss %.4f)", images,
                    steps, loss)
                : String(
                    format:
                        "FAILED: %.0f%% training accuracy on %d images after %d steps (loss %.4f); a model should memorise "
                        + "this few: check the labels, the learning rate (finetune lr-find) and that enough of the model trains",
                    accuracy * 100, images, steps, loss)
        }
    }

    /// Stops once every image of an epoch is classified right.
    final class StopWhenMemorised: TrainingCallback {
        func epochEnded(_ context: TrainingContext) throws {
            if let r = context.record, r.trainAccuracy >= 1 { context.requestStop(.requested("memorised")) }
        }
    }

    /// Dropout off: `model.train()` turned it on, this turns it back off every epoch.
    final class NoDropout: TrainingCallback {
        func epochBegan(_ context: TrainingContext) throws {
            for case let layer as Dropout in context.model.namedModules.map(\.module) { layer.eval() }
        }
    }

    /// Overfits the first `images` training images (spread over the classes) for at most
    /// `maxSteps` steps, one batch per step; first, with `gradientCheck`, compares the model's
    /// gradients with central differences on 8 random normal images with those images' labels
    /// (`GradientCheck`).
    public static func run(
        _ options: FineTuneOptions, images count: Int = 20, maxSteps: Int = 200,
        gradientCheck: Bool = true, log: Logger = .graft
    ) throws -> Result {
        var options = options
        options.pipeline = ""
        options.weightDecay = 0
        options.l1 = 0
        options.labelSmoothing = 0
        options.mixup = nil
        options.cutmix = nil
        options.dropout = 0
        options.dropBlock = 0
        let plan = try FineTune.resolve(options)
        let data = try FineTune.loadData(plan, log: log)
        let model = try FineTune.buildModel(plan, data: data, log: log)
        // Round-robin over the classes, so every class is in the subset.
        let byClass = Dictionary(grouping: data.split.train) { data.images.labels[$0] }
        var subset: [Int] = []
        var round = 0
        while subset.count < min(count, data.split.train.count) {
            for label in byClass.keys.sorted() where round < byClass[label]!.count && subset.count < count {
                subset.append(byClass[label]![round])
            }
            round += 1
        }
        let p = model.preprocessing
        let loader = BatchLoader(
            source: data.images, indices: subset.sorted(), batchSize: subset.count, imageSize: (plan.size, plan.size),
            mean: p.mean, std: p.std, channelOrder: p.channelOrder, shuffle: false, seed: options.seed)
        // The one batch of every step (no shuffling, no augmentation), decoded once for both checks below.
        let batch = loader.batches(epoch: 0).first(where: { _ in true })
        var gradients: GradientCheck.Result?
        if gradientCheck, let batch {
            // Random normal images with the batch's labels (see GradientCheck on why not the images).
            let n = min(8, batch.labels.count)
            var random = RandomGenerator(seed: options.seed)
            let images = Tensor.randomNormal(batch.images.slice(batch: 0..<n).shape, using: &random)
            gradients = try GradientCheck.run(model.network, images: images, labels: Array(batch.labels.prefix(n)))
        }
        let optimizer = Recipe.optimizer(options, model: model.network)
        // The first loss is measured as training measures it (InitialLossCheck, before the first step).
        let first = InitialLossCheck(batch: { batch.map { ($0.images, $0.labels) } }, log: log)
        // Regularisation cranked up through the path training takes: the recipe's optimiser with
        // an L1 penalty, whose penalty() the trainer adds to the loss.
        var cranked = options
        cranked.l1 = penaltyStrength
        let penalty = Autodiff.withoutGradients {
            Recipe.optimizer(cranked, model: model.network).penalty().map { Double($0.value.scalar) }
        }
        let trainer = Trainer(
            model: model.network, optimizer: optimizer,
            callbacks: [first, NoDropout(), DivergenceGuard(), StopWhenMemorised()],
            seed: options.seed)
        let history = try trainer.fit(train: loader, validation: nil, epochs: maxSteps)
        let last = history.last
        return Result(
            images: subset.count, steps: history.count, accuracy: last?.trainAccuracy ?? 0,
            loss: last?.trainLoss ?? .nan,
            reached: (last?.trainAccuracy ?? 0) >= 1, gradients: gradients, initialLoss: first.initialLoss ?? .nan,
            classes: data.images.classNames.count,
            regularisedLoss: (first.initialLoss ?? .nan) + (penalty ?? 0))
    }
}
