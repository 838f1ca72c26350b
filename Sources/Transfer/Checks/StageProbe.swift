import Engine
import Foundation
import Layers
import Logging
import Optimizers
import Vision
import Zoo

/// "Try a linear classifier from different stages" (the lecture notes): for every stage, a
/// softmax regression on the stage's globally average-pooled features of the training split,
/// with a small L2 sweep, scored on the validation split. It says how far into the
/// pretrained body the features stay useful for the new data, which is what `--freeze auto`
/// uses to choose N.
public enum StageProbe {
    /// One stage's probe: the best of its L2 sweep, scored on the validation split.
    public struct Result: Codable, Equatable, Sendable {
        /// 1-based: the features after stages 1...stage (what `--freeze stage` would keep fixed).
        public var stage: Int
        /// The stage's name, as the architecture's `stages` list it.
        public var name: String
        /// The best probe's accuracy on the validation split, in [0, 1].
        public var validationAccuracy: Double
        /// The L2 penalty of the best probe (one of `penalties`).
        public var l2: Float
        /// The probe's input width: the stage's channels after pooling (a dense stage's units).
        public var features: Int

        /// A result for the 1-based `stage` named `name`.
        public init(stage: Int, name: String, validationAccuracy: Double, l2: Float, features: Int) {
            self.stage = stage
            self.name = name
            self.validationAccuracy = validationAccuracy
            self.l2 = l2
            self.features = features
        }
    }

    /// The L2 penalties each stage's probe is trained with; the best on the validation split counts.
    public static let penalties: [Float] = [1e-4, 1e-3, 1e-2]

    /// Probes every stage of `model` (its weights as loaded, inference mode) on the run's
    /// training and validation images, without augmentation.
    public static func run(model: FineTune.Model, loaders: FineTune.Loaders, seed: UInt64, log: Logger = .graft) throws
        -> [Result]
    {
        let network = model.network
        var results: [Result] = []
        let trainImages = try images(loaders.train)
        let validationImages = try images(loaders.validation)
        for (index, stage) in network.stages.enumerated() {
            let extractor = try FeatureExtractor(model: network, stage: stage.name, pooling: .avg)
            let train = pooled(extractor, trainImages.batches)
            let validation = pooled(extractor, validationImages.batches)
            let best = try sweep(
                train: (train, trainImages.labels), validation: (validation, validationImages.labels),
                classes: loaders.train.classCount, seed: seed)
            let accuracy = best.fitted.validationAccuracy
            results.append(
                Result(
                    stage: index + 1, name: stage.name, validationAccuracy: accuracy, l2: best.l2,
                    features: train.shape.last ?? 0))
            let message = String(
                format: "probe: after stage %d (%@), %d features: %.1f%% validation accuracy (L2 %g)", index + 1,
                stage.name,
                train.shape.last ?? 0, accuracy * 100, Double(best.l2))
            log.info("\(message)")
        }
        return results
    }

    /// LP-FT (Kumar et al., 2022, "Fine-tuning can distort pretrained features"): the new head
    /// starts as the linear probe of the last stage's features (the best of the L2 sweep on the
    /// validation split) instead of at random, so fine-tuning the body begins from a head that
    /// already fits. Needs a model whose head is one Dense layer on the last stage's average-pooled
    /// features (checked on a batch); returns the probe's validation accuracy, or nil (head left
    /// as it was, with a notice) otherwise.
    @discardableResult
    public static func initialiseHead(
        model: FineTune.Model, loaders: FineTune.Loaders, seed: UInt64,
        log: Logger = .graft
    ) throws -> Double? {
        let network = model.network
        guard let key = network.headKey, let last = network.stages.last,
            let head = network.namedModules.first(where: { $0.key == key })?.module as? Dense
        else { return nil }
        let extractor = try FeatureExtractor(model: network, stage: last.name, pooling: .avg)
        let trainImages = try images(loaders.train)
        let validationImages = try images(loaders.validation)
        let train = pooled(extractor, trainImages.batches)
        let validation = pooled(extractor, validationImages.batches)
        // The head must read exactly these features: pooled the same way, nothing in between.
        guard train.shape.count == 2, train.shape[1] == head.inputs, head.bias != nil,
            let sample = trainImages.batches.first,
            network.predict(sample).isClose(to: head.predict(extractor.features(sample)), rtol: 1e-4, atol: 1e-4)
        else {
            log.notice(
                "--probe-head: \(key) does not read \(last.name)'s average-pooled features; the head starts at random")
            return nil
        }
        let best = try sweep(
            train: (train, trainImages.labels), validation: (validation, validationImages.labels),
            classes: head.outputs, seed: seed)
        head.weight.value = best.fitted.weight
        head.bias!.value = best.fitted.bias
        let message = String(
            format: "head initialised as the linear probe of %@ (%.1f%% validation accuracy, L2 %g)", last.name,
            best.fitted.validationAccuracy * 100, Double(best.l2))
        log.info("\(message)")
        return best.fitted.validationAccuracy
    }

    /// The L2 sweep: the probe of every penalty, the best on the validation split kept (the
    /// smallest penalty on a tie).
    private static func sweep(
        train: (features: Tensor, labels: [Int]), validation: (features: Tensor, labels: [Int]), classes: Int,
        seed: UInt64
    ) throws -> (l2: Float, fitted: LinearClassifier) {
        var best: (l2: Float, fitted: LinearClassifier)?
        for l2 in penalties {
            let fitted = try softmaxRegression(
                train: train.features, labels: train.labels, validation: validation.features,
                validationLabels: validation.labels, classes: classes, l2: l2, seed: seed)
            if fitted.validationAccuracy > best?.fitted.validationAccuracy ?? -1 { best = (l2, fitted) }
        }
        return best!
    }

    /// `--freeze auto`: the deepest prefix whose probe is within `margin` of the best stage's
    /// (deeper frozen prefixes are cheaper to train and less prone to overfitting a small
    /// dataset; a stage that falls further behind has features too specific to the
    /// pretraining data to keep fixed).
    public static func chooseFreeze(_ results: [Result], margin: Double = 0.02) -> (stages: Int, reason: String) {
        guard let best = results.max(by: { $0.validationAccuracy < $1.validationAccuracy }) else {
            return (0, "no stage to probe")
        }
        let chosen = results.filter { $0.validationAccuracy >= best.validationAccuracy - margin }.max {
            $0.stage < $1.stage
        }!
        let reason = String(
            format:
                "--freeze auto: %d (the deepest stage, %@, whose linear probe (%.1f%%) is within %.0f points of the best, %@ with %.1f%%)",
            chosen.stage, chosen.name, chosen.validationAccuracy * 100, margin * 100, best.name,
            best.validationAccuracy * 100)
        return (chosen.stage, reason)
    }

    /// The loader's images in order, without augmentation.
    private static func images(_ loader: BatchLoader) throws -> (batches: [Tensor], labels: [Int]) {
        let plain = BatchLoader(
            source: loader.source, indices: loader.indices, batchSize: loader.batchSize, imageSize: loader.imageSize,
            mean: loader.mean, std: loader.std, channelOrder: loader.channelOrder, shuffle: false)
        var batches: [Tensor] = []
        var labels: [Int] = []
        for batch in plain.batches(epoch: 0) {
            batches.append(batch.images)
            labels += batch.labels
        }
        return (batches, labels)
    }

    private static func pooled(_ extractor: FeatureExtractor, _ batches: [Tensor]) -> Tensor {
        Tensor.concatenate(batches.map { extractor.features($0) })
    }

    /// A fitted softmax regression on `[n, features]` inputs: `logits = x · weight + bias`, the
    /// standardisation (the training features' per-feature mean and deviation) folded into
    /// `weight` `[features, classes]` and `bias` `[classes]`, ready to become a Dense head.
    struct LinearClassifier {
        var weight: Tensor
        var bias: Tensor
        /// Accuracy on the validation features, in [0, 1].
        var validationAccuracy: Double
    }

    /// Full-batch softmax regression on standardised features (Adam at 0.01, 200 steps, L2
    /// `l2`), scored on the validation features; the standardisation is then folded in.
    static func softmaxRegression(
        train: Tensor, labels: [Int], validation: Tensor, validationLabels: [Int], classes: Int,
        l2: Float, seed: UInt64
    ) throws -> LinearClassifier {
        let mean = train.mean(axes: [0], keepDims: true)
        let std = ((train - mean).squared().mean(axes: [0], keepDims: true) + 1e-6).sqrt()
        let x = (train - mean) / std
        let xv = (validation - mean) / std
        Random.seed(seed)
        let head = Dense(train.shape[1], classes)
        let optimizer = Optimizer(
            Adam(),
            groups: [
                ParameterGroup(
                    head.trainableParameters, learningRate: 0.01,
                    regularizer: .l2(l2))
            ])
        head.train()
        for _ in 0..<200 {
            optimizer.zeroGrad()
            var loss = try softmaxCrossEntropy(logits: head(Variable(x)), labels: labels)
            if let penalty = optimizer.penalty() { loss = loss + penalty }
            loss.backward()
            optimizer.step()
        }
        head.eval()
        let predicted = head.predict(xv).argmax(axis: 1)
        let accuracy =
            Double(zip(predicted, validationLabels).filter { $0 == $1 }.count) / Double(max(validationLabels.count, 1))
        // x' = (x - m) / s, so x' · W + b = x · (W / sᵀ) + (b - (m / s) · W).
        let weight = head.weight.value / std.reshaped([train.shape[1], 1])
        let bias = head.bias!.value - Kernels.matmul(mean / std, head.weight.value).reshaped([classes])
        return LinearClassifier(weight: weight, bias: bias, validationAccuracy: accuracy)
    }
}
