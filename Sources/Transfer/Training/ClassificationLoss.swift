import Engine
import Layers
import Vision

/// The training objective of a classifier: softmax cross-entropy with optional class weights
/// and label smoothing, or against soft targets (mixup, cutmix). Validation uses the same
/// objective, so early stopping compares like with like.
public struct ClassificationLoss: Sendable {
    /// Per-class weights of the loss ([classes]); nil weighs every class alike.
    public var classWeights: Tensor?
    /// Label smoothing ε in [0, 1): the target puts 1 - ε on the label and spreads ε over the classes.
    public var labelSmoothing: Float

    /// Plain cross-entropy unless class weights or label smoothing are given.
    public init(classWeights: Tensor? = nil, labelSmoothing: Float = 0) {
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
    }

    /// The mean loss of [batch, classes] `logits`: cross-entropy against `softTargets` when given (mixing;
    /// no smoothing or class weights then), else against `labels`.
    public func callAsFunction(_ logits: Variable, labels: [Int], softTargets: Tensor? = nil) throws -> Variable {
        if let softTargets { return try softmaxCrossEntropy(logits: logits, targets: softTargets) }
        return try softmaxCrossEntropy(
            logits: logits, labels: labels, labelSmoothing: labelSmoothing, classWeights: classWeights)
    }
}

/// Loss, accuracy and confusion matrix of `model` on every image of `loader`, in inference
/// mode and without recording gradients.
public func evaluate(_ model: Module, on loader: BatchSource, loss: ClassificationLoss = ClassificationLoss())
    -> Evaluation
{
    model.eval()
    let classes = loader.classCount
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    var totalLoss = 0.0
    var seen = 0
    for batch in loader.batches(epoch: 0) {
        let logits = model.predict(batch.images)
        // Labels come from the same dataset as the head's classes, so this cannot fail.
        let value = try! loss(Variable(logits), labels: batch.labels).value.scalar
        totalLoss += Double(value) * Double(batch.labels.count)
        for (predicted, truth) in zip(logits.argmax(axis: 1), batch.labels) where predicted < classes {
            confusion[truth][predicted] += 1
        }
        seen += batch.labels.count
    }
    let correct = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
    return Evaluation(
        loss: totalLoss / Double(max(seen, 1)), accuracy: Double(correct) / Double(max(seen, 1)), confusion: confusion)
}
