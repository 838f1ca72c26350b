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
            var best: (accuracy: Double, l2: Float) = (-1, 0)
            for l2 in penalties {
                let accuracy = try softmaxRegression(
                    train: train, labels: trainImages.labels, validation: validation,
                    validationLabels: validationImages.labels, classes: loaders.train.classCount,
                    l2: l2, seed: seed)
                if accuracy > best.accuracy { best = (accuracy, l2) }
            }
            results.append(
                Result(
                    stage: index + 1, name: stage.name, validationAccuracy: best.accuracy, l2: best.l2,
                    features: train.shape.last ?? 0))
            let message = String(
                format: "probe: after stage %d (%@), %d features: %.1f%% validation accuracy (L2 %g)", index + 1,
                stage.name,
                train.shape.last ?? 0, best.accuracy * 100, Double(best.l2))
            log.info("\(message)")
        }
        return results
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

    /// Full-batch softmax regression on standardised features (Adam, 200 steps).
    static func softmaxRegression(
        train: Tensor, labels: [Int], validation: Tensor, validationLabels: [Int], classes: Int,
        l2: Float, seed: UInt64
    ) throws -> Double {
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
        return Double(zip(predicted, validationLabels).filter { $0 == $1 }.count)
            / Double(max(validationLabels.count, 1))
    }
}
