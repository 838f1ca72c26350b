import Engine
import Foundation
import Layers
import Logging
import Optimizers
import Vision
import Zoo

/// The lecture notes' first check: a model that cannot overfit a handful of images, with
/// regularisation off (no augmentation, weight decay, label smoothing, mixup or dropout),
/// has a bug: wrong labels, a broken loss, a learning rate far off, a frozen model.
public enum SanityCheck {
    /// How the overfitting check ended.
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

        /// Whether the subset was memorised and the gradient check, if any, passed.
        public var passed: Bool { reached && (gradients?.passed ?? true) }

        /// The gradient check's line (if it ran), then `ok: …` when the subset was memorised, else
        /// `FAILED: …` with what to check.
        public var description: String {
            (gradients.map { "\($0)\n" } ?? "") + overfitting
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
        var gradients: GradientCheck.Result?
        if gradientCheck, let batch = loader.batches(epoch: 0).first(where: { _ in true }) {
            // Random normal images with the batch's labels (see GradientCheck on why not the images).
            let n = min(8, batch.labels.count)
            var random = RandomGenerator(seed: options.seed)
            let images = Tensor.randomNormal(batch.images.slice(batch: 0..<n).shape, using: &random)
            gradients = try GradientCheck.run(model.network, images: images, labels: Array(batch.labels.prefix(n)))
        }
        let optimizer = Recipe.optimizer(options, model: model.network)
        let trainer = Trainer(
            model: model.network, optimizer: optimizer,
            callbacks: [NoDropout(), DivergenceGuard(), StopWhenMemorised()],
            seed: options.seed)
        let history = try trainer.fit(train: loader, validation: nil, epochs: maxSteps)
        let last = history.last
        return Result(
            images: subset.count, steps: history.count, accuracy: last?.trainAccuracy ?? 0,
            loss: last?.trainLoss ?? .nan,
            reached: (last?.trainAccuracy ?? 0) >= 1, gradients: gradients)
    }
}
