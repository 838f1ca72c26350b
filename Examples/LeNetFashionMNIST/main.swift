// Trains LeNet-5 (the lecture notes' table: 61,706 parameters, input 32x32x1) from scratch
// on Fashion-MNIST and reports test accuracy.
//
//   apt-get install dataset-fashion-mnist
//   swift run -c release LeNetFashionMNIST [--epochs 12] [--seed 0] [--limit N]
import Foundation
import Graft

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
let epochs = option("--epochs", 12), seed = UInt64(option("--seed", 0)), limit = option("--limit", 60_000)
let batchSize = 64

do {
    var (train, trainLabels) = try FashionMNIST.load(.train)
    let (test, testLabels) = try FashionMNIST.load(.test)
    if limit < train.shape[0] { train = train.slice(batch: 0..<limit); trainLabels = Array(trainLabels[0..<limit]) }
    // Standardise with the training set's statistics, then pad 28x28 -> 32x32 (LeNet's input).
    let mean = train.mean().scalar
    let std = (train - mean).squared().mean().scalar.squareRoot()
    func prepare(_ images: Tensor) -> Tensor { ((images - mean) / std).padded2d(top: 2, bottom: 2, left: 2, right: 2) }
    let trainX = prepare(train), testX = prepare(test)

    Random.seed(seed)
    var rng = RandomGenerator(seed: seed &+ 1)
    let model = LeNet5()
    print("LeNet-5 on Fashion-MNIST: \(trainX.shape[0]) training / \(testX.shape[0]) test images, \(model.parameterCount) parameters")
    let stepsPerEpoch = (trainX.shape[0] + batchSize - 1) / batchSize
    let schedule = CosineDecay(period: epochs * stepsPerEpoch, minimum: 0.01)
    print("Adam lr 2e-3 with cosine decay, batch \(batchSize), \(epochs) epochs, seed \(seed), \(Threads.count) threads")
    let optimizer = Optimizer(Adam(), parameters: model.trainableParameters, learningRate: 2e-3)

    func accuracy(_ x: Tensor, _ labels: [Int]) -> Float {
        model.eval()
        var correct = 0
        for start in stride(from: 0, to: x.shape[0], by: 1000) {
            let end = min(start + 1000, x.shape[0])
            let predictions = model.predict(x.slice(batch: start..<end)).argmax(axis: 1)
            correct += zip(predictions, labels[start..<end]).filter { $0 == $1 }.count
        }
        return Float(correct) / Float(x.shape[0])
    }

    let started = Date()
    var order = Array(0..<trainX.shape[0])
    for epoch in 1...epochs {
        let epochStart = Date()
        model.train()
        order.shuffle(using: &rng)
        var totalLoss: Double = 0
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let idx = Array(order[start..<min(start + batchSize, order.count)])
            optimizer.learningRateFactor = schedule.factor(at: optimizer.stepCount)
            optimizer.zeroGrad()
            let loss = try softmaxCrossEntropy(logits: model(Variable(trainX.gather(batch: idx))), labels: idx.map { trainLabels[$0] })
            loss.backward()
            optimizer.step()
            totalLoss += Double(loss.value.scalar) * Double(idx.count)
        }
        let seconds = Date().timeIntervalSince(epochStart)
        print(String(format: "epoch %2d  loss %.4f  test accuracy %.2f%%  %.1f s (%.0f images/s)", epoch,
                     totalLoss / Double(order.count), accuracy(testX, testLabels) * 100, seconds, Double(order.count) / seconds))
    }
    print(String(format: "final test accuracy %.2f%% after %d epochs, %.1f s in all", accuracy(testX, testLabels) * 100, epochs,
                 Date().timeIntervalSince(started)))
} catch {
    print("error: \(error)")
    exit(1)
}
