import Engine
import Foundation
import Layers
import Optimizers
import Vision
import Zoo

/// The learning-rate range test (Smith, 2017; fastai's `lr_find`): train with a rate that
/// grows exponentially from `start` to `end` over `steps` steps, record the loss (smoothed
/// with β = 0.98 and bias correction), stop once it exceeds 4x its minimum, and suggest the
/// rate where the smoothed loss falls fastest before that. The model's weights and buffers
/// are put back afterwards; the data order follows the loader's seed.
public struct LearningRateFinder {
    /// The first step's learning rate.
    public var start: Float = 1e-7
    /// The rate the sweep would reach at its last step (it usually stops earlier, on divergence).
    public var end: Float = 10
    /// The most steps to run (the loader's epochs repeat until then).
    public var steps = 200

    /// A sweep from `start` to `end` over `steps` steps (fastai's defaults apart from `steps`).
    public init(start: Float = 1e-7, end: Float = 10, steps: Int = 200) {
        self.start = start
        self.end = end
        self.steps = steps
    }

    /// What a sweep recorded, one entry per step that ran.
    public struct Result: Sendable {
        /// The learning rate of each step, growing exponentially.
        public var rates: [Float]
        /// The smoothed, bias-corrected loss after each step.
        public var losses: [Float]
        /// The rate of steepest descent of the smoothed loss (nil when too few steps ran).
        public var suggestion: Float?
    }

    /// Runs the sweep on `model` with a fresh `optimizer` (built over its trainable parameters).
    public func run(model: Module, optimizer: any GradientOptimizer, loader: BatchSource,
                    loss: ClassificationLoss = ClassificationLoss()) throws -> Result {
        let snapshot = Snapshot(model)
        defer {
            snapshot.restore(into: model)
            model.eval()
        }
        let base = optimizer.groups.first?.learningRate ?? 1
        let growth = Foundation.pow(Double(end / start), 1 / Double(max(steps - 1, 1)))
        var rates: [Float] = []
        var losses: [Float] = []
        var average = 0.0
        var best = Float.infinity
        var epoch = 0
        model.train()
        sweep: while rates.count < steps {
            epoch += 1
            for batch in loader.batches(epoch: epoch) {
                let rate = Float(Double(start) * Foundation.pow(growth, Double(rates.count)))
                optimizer.learningRateFactor = rate / base
                optimizer.zeroGrad()
                let value = try loss(model(Variable(batch.images)), labels: batch.labels)
                let raw = value.value.scalar
                guard raw.isFinite else { break sweep }
                value.backward()
                optimizer.step()
                average = 0.98 * average + 0.02 * Double(raw)
                let smoothed = Float(average / (1 - Foundation.pow(0.98, Double(rates.count + 1))))
                rates.append(rate)
                losses.append(smoothed)
                best = min(best, smoothed)
                if smoothed > 4 * best || rates.count >= steps { break sweep }
            }
        }
        return Result(rates: rates, losses: losses, suggestion: Self.steepest(rates: rates, losses: losses))
    }

    /// The rate where d(loss)/d(log rate) is most negative, over the part of the curve before
    /// its minimum (past it the loss is diverging), skipping the noisy first tenth.
    public static func steepest(rates: [Float], losses: [Float]) -> Float? {
        guard losses.count >= 10, let minimum = losses.indices.min(by: { losses[$0] < losses[$1] }) else { return nil }
        let first = losses.count / 10
        guard minimum - first >= 2 else { return rates[minimum] / 10 }
        var steepest = first + 1
        var slope = Float.infinity
        for i in (first + 1)..<minimum {
            let d = (losses[i + 1] - losses[i - 1]) / log(rates[i + 1] / rates[i - 1])
            if d < slope {
                slope = d
                steepest = i
            }
        }
        return rates[steepest]
    }

    /// Loss against rate (the rates grow exponentially, so the x axis is logarithmic).
    public static func chart(_ result: Result) -> Image {
        Plot.lines([(result.losses.map(Double.init), (0.12, 0.47, 0.71))])
    }
}
