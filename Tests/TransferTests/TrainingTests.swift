import Engine
import Foundation
import Layers
import Optimizers
import TestSupport
import Transfer
import Vision
import XCTest
import Zoo

final class TrainingTests: XCTestCase {
    private func setup(seed: UInt64 = 0, lr: Float = 0.01, patience: Int? = nil,
                       callbacks: [TrainingCallback] = []) -> (LeNet5, Trainer, BatchLoader, BatchLoader) {
        Random.seed(seed)
        let data = DemoShapes.make(perClass: 12, size: 32, seed: seed)
        let split = DatasetSplit.stratified(labels: data.labels, validation: 0.25, seed: seed)
        let model = LeNet5(inputChannels: 3, classes: 3)
        let optimizer = Optimizer(Adam(), parameters: model.trainableParameters, learningRate: lr)
        let train = BatchLoader(source: data, indices: split.train, batchSize: 9, imageSize: (32, 32), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], seed: seed)
        let validation = BatchLoader(source: data, indices: split.validation, batchSize: 9, imageSize: (32, 32), mean: [0.5, 0.5, 0.5],
                                     std: [0.25, 0.25, 0.25], shuffle: false)
        let trainer = Trainer(model: model, optimizer: optimizer,
                              callbacks: callbacks + [DivergenceGuard(), EarlyStopping(patience: patience)], seed: seed)
        return (model, trainer, train, validation)
    }

    /// Whenever training ends the weights of the best epoch are back: when the epoch limit
    /// comes first, the final validation loss equals the best one in the history.
    func testTheBestWeightsAreRestoredWhenTheEpochLimitComesFirst() throws {
        let (model, trainer, train, validation) = setup(lr: 0.02, patience: 10)
        let history = try trainer.fit(train: train, validation: validation, epochs: 6)
        XCTAssertEqual(history.count, 6, "no early stop with patience 10")
        let best = history.enumerated().min { $0.element.validationLoss! < $1.element.validationLoss! }!
        XCTAssertEqual(evaluate(model, on: validation).loss, best.element.validationLoss!, accuracy: 1e-5)
        XCTAssertEqual(trainer.callback(EarlyStopping.self)?.bestEpoch, best.offset + 1)
    }

    /// When patience runs out: stops exactly `patience` epochs after the best, with its weights.
    func testEarlyStoppingStopsAfterPatienceWithTheBestWeightsAndKeepsNoStateBetweenFits() throws {
        let (model, trainer, train, validation) = setup(lr: 0.02, patience: 2)  // overfits 27 images: soon stops improving
        let first = try trainer.fit(train: train, validation: validation, epochs: 30)
        XCTAssertLessThan(first.count, 30)
        let best = first.enumerated().min { $0.element.validationLoss! < $1.element.validationLoss! }!
        XCTAssertEqual(first.count, min(best.offset + 1 + 2, 30), "stops exactly `patience` epochs after the best")
        XCTAssertEqual(trainer.context?.stopReason, .noImprovement(patience: 2))
        XCTAssertEqual(evaluate(model, on: validation).loss, best.element.validationLoss!, accuracy: 1e-5)
        let second = try trainer.fit(train: train, validation: validation, epochs: 1)
        XCTAssertEqual(second.count, 1, "a new fit starts with fresh early-stopping state")
    }

    func testANaNLossStopsWithAClearErrorAndRestoresTheWeights() throws {
        let (model, trainer, train, validation) = setup(lr: 1e30)
        XCTAssertThrowsError(try trainer.fit(train: train, validation: validation, epochs: 3)) { error in
            XCTAssertTrue("\(error)".contains("NaN or infinite") && "\(error)".contains("probably too high"), "\(error)")
        }
        XCTAssertFalse(model.namedParameters.contains { $0.parameter.value.hasNonFinite }, "no NaN weights are left behind")
    }

    func testSameSeedSameHistory() throws {
        let a = setup(seed: 4), b = setup(seed: 4)
        let ha = try a.1.fit(train: a.2, validation: a.3, epochs: 2), hb = try b.1.fit(train: b.2, validation: b.3, epochs: 2)
        XCTAssertEqual(ha.map(\.trainLoss), hb.map(\.trainLoss))
        XCTAssertEqual(ha.map(\.validationLoss), hb.map(\.validationLoss))
    }

    /// A callback written here sees every event in order and can stop training.
    func testACustomCallbackObservesEveryEventInOrderAndCanStop() throws {
        final class Recorder: TrainingCallback {
            var events: [String] = []
            func fitBegan(_ c: TrainingContext) throws { events.append("fitBegan") }
            func epochBegan(_ c: TrainingContext) throws { events.append("epochBegan \(c.epoch)") }
            func batchBegan(_ c: TrainingContext) throws { events.append("batchBegan \(c.batch)") }
            func afterBackward(_ c: TrainingContext) throws {
                events.append("afterBackward \(c.batch) \(c.model.trainableParameters.allSatisfy { $0.parameter.grad != nil })")
            }
            func batchEnded(_ c: TrainingContext) throws { events.append("batchEnded \(c.batch)") }
            func epochEnded(_ c: TrainingContext) throws {
                events.append("epochEnded \(c.record!.epoch)")
                if c.epoch == 2 { c.requestStop(.requested("seen enough")) }
            }
            func fitEnded(_ c: TrainingContext) throws { events.append("fitEnded \(c.history.count)") }
        }
        let recorder = Recorder()
        let (_, trainer, train, validation) = setup(callbacks: [recorder])
        let history = try trainer.fit(train: train, validation: validation, epochs: 5)
        XCTAssertEqual(history.count, 2)
        XCTAssertEqual(trainer.context?.stopReason, .requested("seen enough"))
        let batches = train.batchesPerEpoch
        var expected = ["fitBegan"]
        for epoch in 1...2 {
            expected.append("epochBegan \(epoch)")
            for b in 1...batches { expected += ["batchBegan \(b)", "afterBackward \(b) true", "batchEnded \(b)"] }
            expected.append("epochEnded \(epoch)")
        }
        expected.append("fitEnded 2")
        XCTAssertEqual(recorder.events, expected)
    }

    func testReplaceHead() {
        Random.seed(0)
        let model = ResNet(.cifar(20, classes: 10))
        model.replaceHead(classes: 4)
        XCTAssertEqual(model.fc?.weight.shape, [64, 4])
        XCTAssertEqual(model.configuration, .resnet(.cifar(20, classes: 4)))
        XCTAssertEqual(model.predict(.zeros([1, 32, 32, 3])).shape, [1, 4])
    }
}

/// Options for a quick demo-dataset run into `temporary`.
func demoOptions(_ base: String, in temporary: TemporaryDirectory, freeze: FineTuneOptions.Freeze = .stages(0),
                 epochs: Int = 1, imagesPerClass: Int = 6, size: Int? = nil) -> FineTuneOptions {
    var options = FineTuneOptions(base: base, freeze: freeze)
    options.demo = .shapes
    options.epochs = epochs
    options.demoImagesPerClass = imagesPerClass
    options.imageSize = size
    options.runsDirectory = temporary.url.path
    return options
}

final class FineTuneRunTests: XCTestCase {
    /// The whole job on a small demo dataset: the run folder has every file, the model file
    /// loads back with its class names, and a second run never overwrites the first.
    func testRunFolderHasEveryFileAndIsNeverOverwritten() throws {
        let temporary = try TemporaryDirectory("runs")
        defer { temporary.remove() }
        let options = demoOptions("resnet20", in: temporary, freeze: .stages(2), epochs: 2, imagesPerClass: 10, size: 16)
        let lines = LogLines()
        let result = try FineTune.run(options, log: lines.logger)
        for file in ["model.h5", "log.jsonl", "split.json", "augmentation.png", "augmentation.json", "summary.txt",
                     "loss.png", "accuracy.png", "confusion.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: result.runFolder + "/" + file), file)
        }
        XCTAssertEqual(try String(contentsOfFile: result.runFolder + "/log.jsonl", encoding: .utf8).split(separator: "\n").count, 2)
        let archive = try WeightArchive.read(result.runFolder + "/model.h5")
        XCTAssertEqual(archive.metadata?.classNames, DemoShapes.classNames)
        XCTAssertTrue(archive.metadata!.provenance.contains("validation_accuracy"))
        XCTAssertTrue(lines.all.contains { $0.hasPrefix("epoch  2/2") }, "one line per epoch")
        let again = try FineTune.run(options, log: .silent)
        XCTAssertNotEqual(again.runFolder, result.runFolder)
        XCTAssertTrue(again.runFolder.hasSuffix("-2"))
    }

    func testFreezeText() {
        XCTAssertEqual(FineTuneOptions.parseFreeze("3"), .stages(3))
        XCTAssertEqual(FineTuneOptions.parseFreeze("all"), .allButHead)
        XCTAssertNil(FineTuneOptions.parseFreeze("-1"))
        XCTAssertNil(FineTuneOptions.parseFreeze("some"))
    }
}

final class PlotTests: XCTestCase {
    func testChartsDrawWhereTheDataIs() {
        let chart = Plot.lines([([1, 0.5, 0.25], (1, 0, 0))], width: 100, height: 60)
        XCTAssertEqual([chart.width, chart.height], [100, 60])
        XCTAssertEqual(chart[12, 12, 0], 1, "the first (highest) point sits at the top left")
        XCTAssertEqual(chart[12, 12, 1], 0)
        let heat = Plot.confusion([[3, 1], [0, 4]], cell: 10)
        XCTAssertLessThan(heat[15, 15, 0], heat[5, 15, 0], "the full diagonal cell is darker than an empty one")
    }
}

final class InferenceTests: XCTestCase {
    func testFeatureExtractionAtEachStage() throws {
        Random.seed(0)
        let model = ResNet(.cifar(20, classes: 3, input: [16, 16, 3]))
        let images = Tensor.zeros([2, 16, 16, 3])
        XCTAssertEqual(try FeatureExtractor(model: model, stage: "stage2").features(images).shape, [2, 32])
        XCTAssertEqual(try FeatureExtractor(model: model, stage: "stage3", pooling: nil).features(images).shape, [2, 4, 4, 64])
        XCTAssertThrowsError(try FeatureExtractor(model: model, stage: "stage9")) { XCTAssertTrue("\($0)".contains("stem, stage1")) }
        let vgg = VGG(VGGConfig(blocks: [[4], [8]], fc: [16, 12], classes: 2, input: [8, 8, 3]))
        XCTAssertEqual(try FeatureExtractor(model: vgg, stage: "fc2").features(.zeros([3, 8, 8, 3])).shape, [3, 12])
        XCTAssertEqual(try FeatureExtractor(model: vgg, stage: "block2").features(.zeros([3, 8, 8, 3])).shape, [3, 8])
        let lenet = LeNet5()
        XCTAssertEqual(try FeatureExtractor(model: lenet, stage: "fc1").features(.zeros([1, 32, 32, 1])).shape, [1, 120])
    }

    func testTrainedModelClassifiesWithItsPreprocessing() throws {
        let temporary = try TemporaryDirectory("trained")
        defer { temporary.remove() }
        let options = demoOptions("lenet5", in: temporary)
        let run = try FineTune.run(options, log: .silent)
        let trained = try TrainedModel(contentsOf: run.runFolder + "/model.h5")
        XCTAssertEqual(trained.classNames, DemoShapes.classNames)
        let p = trained.probabilities(DemoShapes.make(perClass: 1, size: 40, seed: 9).images)
        XCTAssertEqual(p.count, 3)
        for row in p { XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5) }
    }
}

final class FineTuneInputTests: XCTestCase {
    func testImpossibleRequestsAreRefusedBeforeAnyWork() throws {
        let temporary = try TemporaryDirectory("inputs")
        defer { temporary.remove() }
        var o = demoOptions("lenet5", in: temporary)
        o.imageSize = 64
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { XCTAssertTrue("\($0)".contains("takes 32x32 images only"), "\($0)") }
        o = demoOptions("resnet20", in: temporary)
        o.freeze = .stages(9)
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { XCTAssertTrue("\($0)".contains("has 4 stages; use 0...4"), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporary.url.path), [], "no run folder for a refused request")
    }

    /// A diverging run stops with an error naming the saved model of its best epoch.
    func testDivergenceKeepsTheBestModel() throws {
        let temporary = try TemporaryDirectory("diverge")
        defer { temporary.remove() }
        var o = demoOptions("resnet20", in: temporary)
        o.imageSize = 16
        o.epochs = 3  // one step per epoch here: the second forward pass sees the exploded weights
        o.learningRate = 1e30
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("the run diverges") || text.contains("NaN or infinite"), text)
            XCTAssertTrue(text.contains("model of the best epoch was saved to") && text.contains("model.h5"), text)
        }
        let runs = try FileManager.default.contentsOfDirectory(atPath: temporary.url.path)
        let model = temporary.path(runs[0]) + "/model.h5"
        XCTAssertTrue(FileManager.default.fileExists(atPath: model))
        XCTAssertFalse(try TrainedModel(contentsOf: model).model.namedParameters.contains { $0.parameter.value.hasNonFinite })
    }

    /// The weights' own preprocessing is used (and announced) and stored with the new model.
    func testPreprocessingTravelsWithTheWeights() throws {
        let temporary = try TemporaryDirectory("preprocessing")
        defer { temporary.remove() }
        Random.seed(2)
        let source = ResNet(.cifar(20, classes: 10))
        let bgr = Preprocessing(inputSize: [32, 32, 3], channelOrder: "BGR", mean: [0.4, 0.45, 0.5], std: [0.2, 0.2, 0.2])
        try WeightFile.save(source, to: temporary.path("bgr.h5"), metadata: WeightMetadata(architecture: "resnet20", configuration: source.configuration,
                                                                                          preprocessing: bgr))
        var o = demoOptions("resnet20", in: temporary)
        o.weights = temporary.path("bgr.h5")
        o.imageSize = 16
        let lines = LogLines()
        let run = try FineTune.run(o, log: lines.logger)
        XCTAssertTrue(lines.all.contains { $0.contains("was trained with BGR") }, lines.all.joined(separator: "\n"))
        let stored = try WeightArchive.read(run.runFolder + "/model.h5").metadata!.preprocessing!
        XCTAssertEqual([stored.channelOrder], ["BGR"])
        XCTAssertEqual(stored.mean, bgr.mean)
        XCTAssertEqual(stored.inputSize, [16, 16, 3])
    }

    /// Weights imported at one input size fine-tune at another (ResNet's weights do not depend on it).
    func testWeightsLoadAtAnotherInputSize() throws {
        let temporary = try TemporaryDirectory("sizes")
        defer { temporary.remove() }
        Random.seed(1)
        let at32 = ResNet(.cifar(20, classes: 10, input: [32, 32, 3]))
        try WeightFile.save(at32, to: temporary.path("r20.h5"), metadata: WeightMetadata(architecture: "resnet20", configuration: at32.configuration,
                                                                                        preprocessing: nil))
        let at16 = ResNet(.cifar(20, classes: 3, input: [16, 16, 3]))
        let report = try WeightFile.load(temporary.path("r20.h5"), into: at16, options: LoadOptions(skipHead: true))
        XCTAssertEqual(report.problems.count, 0, report.description)
        XCTAssertEqual(at16.stem["conv"]!.ownParameters[0].parameter.value, at32.stem["conv"]!.ownParameters[0].parameter.value)
    }
}

/// A pretrained model's new head is not the random head its pretraining started from, even
/// with the same seed and as many classes: the body was trained against that head, so reusing
/// it would hand a "fresh" head most of the pretrained one's knowledge (seed 0's Fashion-MNIST
/// linear probe scored 93% while seeds 1 and 2 scored 16-32%).
final class HeadInitialisationTests: XCTestCase {
    func testTheReplacedHeadIsNotThePretrainingRunsInitialHead() throws {
        let temporary = try TemporaryDirectory("head-init")
        defer { temporary.remove() }
        let scratch = demoOptions("lenet5", in: temporary)
        let plan = try FineTune.resolve(scratch)
        let data = try FineTune.loadData(plan, log: .silent)
        let pretraining = try FineTune.buildModel(plan, data: data, log: .silent)  // what a seed-0 run starts from
        let file = temporary.path("pretrained.h5")
        try WeightFile.save(
            pretraining.network, to: file,
            metadata: WeightMetadata(
                architecture: plan.entry.name, configuration: pretraining.network.configuration,
                preprocessing: pretraining.preprocessing))
        var fineTuning = scratch
        fineTuning.weights = file
        let tuned = try FineTune.buildModel(try FineTune.resolve(fineTuning), data: data, log: .silent)
        let head = try XCTUnwrap(pretraining.network.headKey)
        let parameters = Dictionary(uniqueKeysWithValues: tuned.network.namedParameters.map { ($0.key, $0.parameter) })
        for (key, parameter) in pretraining.network.namedParameters {
            let same = parameter.value.scalars == parameters[key]!.value.scalars
            if key.hasPrefix(head + ".") {
                if key.hasSuffix("weight") { XCTAssertFalse(same, "\(key): the new head repeats the pretraining's initial one") }
            } else {
                XCTAssertTrue(same, "\(key): the body is the pretrained file's")
            }
        }
    }
}
