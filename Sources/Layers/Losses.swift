import Engine
import Foundation

/// Errors from losses: labels or targets that do not fit the predictions.
public enum LossError: Error, CustomStringConvertible {
    case labelOutOfRange(loss: String, label: Int, index: Int, classes: Int)
    case shapeMismatch(loss: String, predictions: [Int], targets: [Int])

    public var description: String {
        switch self {
        case let .labelOutOfRange(loss, label, index, classes):
            return "\(loss): label \(label) of example \(index) is outside 0..<\(classes); the head has \(classes) outputs — does it match the dataset's class count?"
        case let .shapeMismatch(loss, predictions, targets):
            return "\(loss): predictions \(predictions) and targets \(targets) do not fit"
        }
    }
}

/// Checks that `logits` is `[n, k]` with one label in `0..<k` per row; returns `(n, k)`.
private func checkLabels(_ loss: String, logits: Variable, labels: [Int]) throws -> (Int, Int) {
    guard logits.shape.count == 2, logits.shape[0] == labels.count else {
        throw LossError.shapeMismatch(loss: loss, predictions: logits.shape, targets: [labels.count])
    }
    let k = logits.shape[1]
    if let (i, bad) = labels.enumerated().first(where: { $0.element < 0 || $0.element >= k }) {
        throw LossError.labelOutOfRange(loss: loss, label: bad, index: i, classes: k)
    }
    return (logits.shape[0], k)
}

/// Softmax cross-entropy of `logits: [n, k]` against integer `labels`, averaged, computed
/// from log-softmax (stable for any logit size). PyTorch's `F.cross_entropy` semantics:
/// with `labelSmoothing = ε` the target is `(1 - ε)·onehot + ε/k`; with `classWeights: [k]`
/// each example counts `w[label]` and the mean divides by the sum of those weights (the
/// smoothing term is weighted by `w[class]` too).
public func softmaxCrossEntropy(logits: Variable, labels: [Int], labelSmoothing: Float = 0,
                                classWeights: Tensor? = nil) throws -> Variable {
    let name = "softmaxCrossEntropy"
    let (n, k) = try checkLabels(name, logits: logits, labels: labels)
    if let w = classWeights, w.shape != [k] {
        throw LossError.shapeMismatch(loss: name + " class weights", predictions: logits.shape, targets: w.shape)
    }
    let w = classWeights?.scalars ?? [Float](repeating: 1, count: k)
    let total = labels.reduce(Float(0)) { $0 + w[$1] }
    // q[i, j]: the weighted target distribution, so that loss = -sum(q · logp).
    let q = Tensor(shape: [n, k]) { q in
        for (i, y) in labels.enumerated() {
            for j in 0..<k { q[i * k + j] = labelSmoothing / Float(k) * w[j] / total }
            q[i * k + y] += (1 - labelSmoothing) * w[y] / total
        }
    }
    let logp = Kernels.softmax(logits.value, axis: 1, log: true)
    let loss = -(q * logp).sum().scalar
    return Variable.operation(name, inputs: [logits], value: Tensor(loss)) { g in
        // d/dlogits = softmax · rowsum(q) - q
        let p = logp.exp()
        let rowMass = q.sum(axes: [1], keepDims: true)
        return [(p * rowMass - q) * g.scalar]
    }
}

/// Softmax cross-entropy against soft targets `[n, k]` (rows summing to 1, e.g. from mixup
/// or cutmix): `-mean_i sum_j t_ij · log softmax(x)_ij`.
public func softmaxCrossEntropy(logits: Variable, targets: Tensor) throws -> Variable {
    guard logits.shape.count == 2, targets.shape == logits.shape else {
        throw LossError.shapeMismatch(loss: "softmaxCrossEntropy (soft targets)", predictions: logits.shape, targets: targets.shape)
    }
    let n = Float(logits.shape[0])
    let logp = Kernels.softmax(logits.value, axis: 1, log: true)
    let loss = -(targets * logp).sum().scalar / n
    return Variable.operation("softmaxCrossEntropy", inputs: [logits], value: Tensor(loss)) { g in
        let p = logp.exp()
        return [(p * targets.sum(axes: [1], keepDims: true) - targets) * (g.scalar / n)]
    }
}

/// Binary cross-entropy on logits, averaged over every element (PyTorch's
/// `binary_cross_entropy_with_logits`): `pw·t·softplus(-x) + (1 - t)·softplus(x)`, stable for
/// large |x|. `positiveWeight` (`[c]`, over the last axis) scales the positive term.
public func binaryCrossEntropyWithLogits(logits: Variable, targets: Tensor, positiveWeight: Tensor? = nil) throws -> Variable {
    let name = "binaryCrossEntropyWithLogits"
    guard logits.shape == targets.shape else {
        throw LossError.shapeMismatch(loss: name, predictions: logits.shape, targets: targets.shape)
    }
    let pw = positiveWeight ?? Tensor.ones([logits.shape.last ?? 1])
    guard pw.shape == [logits.shape.last ?? 1] else {
        throw LossError.shapeMismatch(loss: name + " positive weights", predictions: logits.shape, targets: pw.shape)
    }
    func softplus(_ z: Float) -> Float { Swift.max(z, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(z))) }
    func sigmoid(_ z: Float) -> Float { z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z)) }
    let x = logits.value.scalars, t = targets.scalars, c = pw.count, count = Float(x.count)
    var loss: Double = 0
    for i in x.indices {
        let p = pw.scalars[i % c]
        loss += Double(p * t[i] * softplus(-x[i]) + (1 - t[i]) * softplus(x[i]))
    }
    return Variable.operation(name, inputs: [logits], value: Tensor(Float(loss / Double(count)))) { g in
        let scale = g.scalar / count
        return [Tensor(shape: logits.shape, scalars: x.indices.map { i in
            let p = pw.scalars[i % c], s = sigmoid(x[i])
            return scale * (-p * t[i] * (1 - s) + (1 - t[i]) * s)
        })]
    }
}

/// Mean squared error over every element.
public func meanSquaredError(_ predictions: Variable, _ targets: Tensor) throws -> Variable {
    guard predictions.shape == targets.shape else {
        throw LossError.shapeMismatch(loss: "meanSquaredError", predictions: predictions.shape, targets: targets.shape)
    }
    return (predictions - Variable(targets)).squared().mean()
}

/// The multiclass hinge loss of Weston & Watkins (1999), as PyTorch's `MultiMarginLoss`
/// (p = 1): `sum_{j ≠ y} max(0, margin - x_y + x_j) / k`, averaged over examples.
public func multiClassHinge(logits: Variable, labels: [Int], margin: Float = 1) throws -> Variable {
    let name = "multiClassHinge"
    let (n, k) = try checkLabels(name, logits: logits, labels: labels)
    let x = logits.value.scalars
    var loss: Float = 0
    var slope = [Float](repeating: 0, count: n * k)  // d(loss·n·k)/dx
    for (i, y) in labels.enumerated() {
        for j in 0..<k where j != y {
            let h = margin - x[i * k + y] + x[i * k + j]
            if h > 0 { loss += h; slope[i * k + j] += 1; slope[i * k + y] -= 1 }
        }
    }
    let slopes = Tensor(shape: [n, k], scalars: slope)
    let scale = 1 / Float(n * k)
    return Variable.operation(name, inputs: [logits], value: Tensor(loss * scale)) { g in [slopes * (g.scalar * scale)] }
}
