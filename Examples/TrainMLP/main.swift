// Trains a two-hidden-layer MLP on a 3-class spiral (the CS231n toy problem) with plain
// minibatch SGD on Graft's engine, and prints the falling loss and the accuracy.
//
//   swift run -c release TrainMLP [--epochs N] [--seed S]
import Engine
import Foundation

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
let epochs = option("--epochs", 60), seed = UInt64(option("--seed", 0))
var rng = RandomGenerator(seed: seed)

// The spiral: 3 arms of 200 points each, with noise on the angle.
let classes = 3, perClass = 200, count = classes * perClass
var points = [Float](), labels = [Int]()
for c in 0..<classes {
    for i in 0..<perClass {
        let r = Float(i) / Float(perClass)
        let t = Float(c) * 4 + 4 * r + 0.2 * rng.nextNormal()
        points += [r * sin(t), r * cos(t)]
        labels.append(c)
    }
}
let data = Tensor(shape: [count, 2], scalars: points)

/// He-normal initialisation for a ReLU layer: std = sqrt(2 / fanIn).
func dense(_ fanIn: Int, _ fanOut: Int) -> (Variable, Variable) {
    (Variable(Tensor.randomNormal([fanIn, fanOut], std: (2 / Float(fanIn)).squareRoot(), using: &rng), requiresGrad: true),
     Variable(Tensor.zeros([fanOut]), requiresGrad: true))
}
let (w1, b1) = dense(2, 64), (w2, b2) = dense(64, 64), (w3, b3) = dense(64, classes)
let parameters = [w1, b1, w2, b2, w3, b3]

func logits(_ x: Variable) -> Variable {
    linear(relu(linear(relu(linear(x, w1, bias: b1)), w2, bias: b2)), w3, bias: b3)
}
func oneHot(_ ys: [Int]) -> Tensor {
    var t = Tensor.zeros([ys.count, classes])
    for (i, y) in ys.enumerated() { t[i, y] = 1 }
    return t
}

let batchSize = 32, learningRate: Float = 0.2
print("TrainMLP: 3-class spiral, \(count) points, MLP 2-64-64-3, SGD lr \(learningRate), batch \(batchSize), seed \(seed)")
let start = Date()
var order = Array(0..<count)
for epoch in 1...epochs {
    order.shuffle(using: &rng)
    var total: Float = 0
    for start in stride(from: 0, to: count, by: batchSize) {
        let idx = Array(order[start..<min(start + batchSize, count)])
        let x = Variable(data.gather(batch: idx))
        let target = Variable(oneHot(idx.map { labels[$0] }))
        // Softmax cross-entropy: -mean(sum(onehot * logSoftmax(logits))).
        let loss = -(logSoftmax(logits(x)) * target).sum() / Float(idx.count)
        for p in parameters { p.grad = nil }
        loss.backward()
        for p in parameters { p.value.add(p.grad!, scale: -learningRate) }
        total += loss.value.scalar * Float(idx.count)
    }
    if epoch == 1 || epoch % 10 == 0 || epoch == epochs {
        let predictions = Autodiff.withoutGradients { logits(Variable(data)).value.argmax(axis: 1) }
        let accuracy = Float(zip(predictions, labels).filter { $0 == $1 }.count) / Float(count)
        print(String(format: "epoch %3d  loss %.4f  train accuracy %.1f%%", epoch, total / Float(count), accuracy * 100))
    }
}
print(String(format: "done in %.2f s", Date().timeIntervalSince(start)))
