import Engine
import Foundation
import Layers
import Optimizers
import TestSupport
import Transfer
import Vision
import XCTest
import Zoo

/// Requests a stop at a given epoch and batch (after the batch), as Ctrl-C does.
final class StopAt: TrainingCallback {
    let epoch: Int
    let batch: Int
    init(epoch: Int, batch: Int) {
        self.epoch = epoch
        self.batch = batch
    }
    func batchEnded(_ context: TrainingContext) throws {
        if context.epoch == epoch && context.batch == batch { context.requestStop(.interrupted) }
    }
}

/// Calls `body` at every event it is given.
final class Probe: TrainingCallback {
    var onFitBegan: (TrainingContext) -> Void = { _ in }
    var onAfterBackward: (TrainingContext) -> Void = { _ in }
    var onEpochEnded: (TrainingContext) -> Void = { _ in }
    func fitBegan(_ c: TrainingContext) throws { onFitBegan(c) }
    func afterBackward(_ c: TrainingContext) throws { onAfterBackward(c) }
    func epochEnded(_ c: TrainingContext) throws { onEpochEnded(c) }
}

final class FineTuneRecipeTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    override func setUpWithError() throws { temporary = try TemporaryDirectory("recipe") }
    override func tearDownWithError() throws { temporary.remove() }

    private func options(_ base: String = "resnet20", epochs: Int = 3) -> FineTuneOptions {
        var o = demoOptions(base, in: temporary, epochs: epochs, imagesPerClass: 8, size: 16)
        o.batchSize = 8
        o.patience = 100
        return o
    }

    /// Four epochs in two warm-restart cycles with a snapshot at the end of each.
    private func snapshotOptions() -> FineTuneOptions {
        var o = options(epochs: 4)
        o.schedule = .restarts
        o.cycles = 2
        o.snapshots = true
        return o
    }

    /// The weights of a run's model.h5 (or, with `file`, of the weight file at `path`).
    private func weights(_ path: String, file: Bool = false) throws -> [String: Tensor] {
        Snapshot(try TrainedModel(contentsOf: file ? path : path + "/model.h5").model).named
    }

    /// A run stopped in the middle of epoch 3 and resumed from its checkpoint ends with
    /// weights bit-identical to the same run left alone (mixup, label smoothing, a warm-up
    /// and the plateau schedule included: their state travels in the checkpoint or follows
    /// from the seed and the step).
    func testAResumedRunEndsBitIdenticalToAnUninterruptedOne() throws {
        var o = options(epochs: 4)
        o.mixup = 0.4
        o.labelSmoothing = 0.1
        o.warmupEpochs = 1
        o.schedule = .plateau
        o.weightDecay = 1e-4
        let whole = try FineTune.run(o, log: .silent)
        XCTAssertThrowsError(try FineTune.run(o, callbacks: [StopAt(epoch: 3, batch: 2)], log: .silent)) { error in
            XCTAssertTrue("\(error)".contains("finetune resume"), "\(error)")
        }
        let stopped = try FileManager.default.contentsOfDirectory(atPath: temporary.url.path).filter {
            $0.hasSuffix("-2")
        }[0]
        let run = temporary.path(stopped)
        XCTAssertEqual(RunFolder.status(of: run)?.state, .interrupted)
        XCTAssertEqual(
            try TrainingCheckpoint.read(run + "/checkpoint.h5").epoch, 2, "the checkpoint holds the last whole epoch")
        XCTAssertNotNil(RunFolder.incompleteWarning(for: run + "/model.h5"))
        let resumed = try FineTune.resume(run, log: .silent)
        let timeless = { (h: [EpochRecord]) in
            h.map { r -> EpochRecord in
                var r = r
                r.seconds = 0
                r.imagesPerSecond = 0
                return r
            }
        }
        XCTAssertEqual(timeless(resumed.history), timeless(whole.history))
        XCTAssertEqual(try weights(run), try weights(whole.runFolder))
        XCTAssertEqual(RunFolder.status(of: run)?.state, .finished)
        XCTAssertNil(RunFolder.incompleteWarning(for: run + "/model.h5"))
        XCTAssertThrowsError(try FineTune.resume(run, log: .silent)) {
            XCTAssertTrue("\($0)".contains("already finished"), "\($0)")
        }
    }

    /// A snapshot run with a bootstrap resample and data normalisation, stopped in its second
    /// cycle and resumed, ends with the same snapshots and ensemble as the run left alone.
    func testAResumedSnapshotRunEndsWithTheSameSnapshots() throws {
        var o = snapshotOptions()
        o.bootstrap = 1
        o.normalization = .data
        let whole = try FineTune.run(o, log: .silent)
        XCTAssertThrowsError(try FineTune.run(o, callbacks: [StopAt(epoch: 4, batch: 1)], log: .silent))
        let run = whole.runFolder + "-2"  // a second run never overwrites the first
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/snapshots/cycle-1.h5"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/snapshots/cycle-2.h5"))
        let resumed = try FineTune.resume(run, log: .silent)
        for cycle in 1...2 {
            XCTAssertEqual(
                try weights(run + "/snapshots/cycle-\(cycle).h5", file: true),
                try weights(whole.runFolder + "/snapshots/cycle-\(cycle).h5", file: true), "cycle \(cycle)")
        }
        XCTAssertEqual(resumed.snapshotEnsemble?.validation.accuracy, whole.snapshotEnsemble?.validation.accuracy)
        XCTAssertEqual(try weights(run), try weights(whole.runFolder))
    }

    /// `--lr 1e6` stops with the too-high message; the saved model is the best epoch's, finite.
    func testAFarTooHighLearningRateStopsWithAdviceAndTheBestWeights() throws {
        var o = options(epochs: 5)
        o.learningRate = 1e6
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("probably too high") && text.contains("--lr 1e+05"), text)
        }
        let run = temporary.path(try FileManager.default.contentsOfDirectory(atPath: temporary.url.path)[0])
        XCTAssertEqual(RunFolder.status(of: run)?.state, .diverged)
        XCTAssertFalse(try weights(run).values.contains { $0.hasNonFinite })
    }

    /// Frozen stages come out bit-identical; with `--bn frozen` their statistics too, with
    /// `--bn train` the statistics move, with `--bn adapt` they move once (the same after one
    /// or two epochs) and then stay.
    func testFrozenStagesAndTheirBatchNormPolicies() throws {
        Random.seed(7)
        let start = ResNet(.cifar(20, classes: 10, input: [16, 16, 3]))
        let file = temporary.path("start.h5")
        try WeightFile.save(
            start, to: file,
            metadata: WeightMetadata(
                architecture: "resnet20", configuration: start.configuration,
                preprocessing: nil))
        let initial = Snapshot(start).named
        func frozenPart(_ named: [String: Tensor], buffers: Bool) -> [String: Tensor] {
            named.filter {
                ($0.key.hasPrefix("stem.") || $0.key.hasPrefix("stage1.")) && ($0.key.contains("running") == buffers)
            }
        }
        func run(_ policy: FrozenBatchNorm, epochs: Int) throws -> [String: Tensor] {
            var o = options(epochs: epochs)
            o.weights = file
            o.freeze = .stages(2)
            o.batchNorm = policy
            return try weights(try FineTune.run(o, log: .silent).runFolder)
        }
        let frozen = try run(.frozen, epochs: 2)
        XCTAssertEqual(
            frozenPart(frozen, buffers: false), frozenPart(initial, buffers: false), "frozen weights unchanged")
        XCTAssertEqual(
            frozenPart(frozen, buffers: true), frozenPart(initial, buffers: true), "--bn frozen: statistics unchanged")
        XCTAssertNotEqual(
            frozen["stage3.block1.conv1.weight"], initial["stage3.block1.conv1.weight"], "the rest trains")

        let trained = try run(.train, epochs: 2)
        XCTAssertEqual(frozenPart(trained, buffers: false), frozenPart(initial, buffers: false))
        XCTAssertNotEqual(
            frozenPart(trained, buffers: true), frozenPart(initial, buffers: true), "--bn train: statistics move")

        let adaptedOnce = try run(.adapt, epochs: 1)
        let adaptedTwice = try run(.adapt, epochs: 2)
        XCTAssertEqual(frozenPart(adaptedTwice, buffers: false), frozenPart(initial, buffers: false))
        XCTAssertNotEqual(
            frozenPart(adaptedOnce, buffers: true), frozenPart(initial, buffers: true), "--bn adapt: re-estimated")
        XCTAssertEqual(
            frozenPart(adaptedOnce, buffers: true), frozenPart(adaptedTwice, buffers: true), "--bn adapt: then fixed")
    }

    /// With `--head-epochs 1` only the head changes in epoch 1; the body trains from epoch 2,
    /// with early stopping started afresh.
    func testTwoPhaseFineTuningTrainsOnlyTheHeadFirst() throws {
        var o = options(epochs: 2)
        o.headEpochs = 1
        o.bodyLearningRateFactor = 0.5
        var start: [String: Tensor] = [:]
        var afterPhaseOne: [String: Tensor] = [:]
        var phases: [String?] = []
        let probe = Probe()
        probe.onFitBegan = { start = Snapshot($0.model).named }
        probe.onEpochEnded = { c in
            if c.epoch == 1 { afterPhaseOne = Snapshot(c.model).named }
            phases.append(c.record?.phase)
        }
        let result = try FineTune.run(o, callbacks: [probe], log: .silent)
        let head = { (named: [String: Tensor]) in named.filter { $0.key.hasPrefix("fc.") } }
        let body = { (named: [String: Tensor]) in
            named.filter { !$0.key.hasPrefix("fc.") && !$0.key.contains("running") }
        }
        XCTAssertNotEqual(head(afterPhaseOne), head(start), "phase one trains the head")
        XCTAssertEqual(body(afterPhaseOne), body(start), "phase one leaves the body alone")
        XCTAssertEqual(phases, ["head", "body"])
        XCTAssertEqual(result.history.map(\.phase), ["head", "body"])
        let final = try weights(result.runFolder)
        XCTAssertNotEqual(body(final), body(start), "phase two trains the body")
    }

    /// `--probe-head` (LP-FT): the head starts as the linear probe fitted on the last stage, and
    /// the whole network then classifies the validation split exactly as the probe did, which
    /// holds only if the probe's standardisation is folded into the Dense weights correctly.
    func testProbeHeadStartsAsTheFittedLinearProbe() throws {
        var o = FineTuneOptions(base: "resnet", freeze: .stages(3))  // the zoo's resnet20-fashion
        o.dataset = .fashionMNIST
        o.trainPerClass = 10
        o.validationPerClass = 10
        o.epochs = 1
        o.runsDirectory = temporary.url.path
        o.progressBar = false
        o.probeHead = true
        let plan = try FineTune.resolve(o)
        let data = try FineTune.loadData(plan, log: .silent)
        let model = try FineTune.buildModel(plan, data: data, log: .silent)
        let loaders = FineTune.loaders(plan, data: data, model: model)
        let randomHead = Snapshot(model.network).named.filter { $0.key.hasPrefix("fc.") }
        let probed = try XCTUnwrap(StageProbe.initialiseHead(model: model, loaders: loaders, seed: 0, log: .silent))
        XCTAssertNotEqual(Snapshot(model.network).named.filter { $0.key.hasPrefix("fc.") }, randomHead)
        let validation = evaluate(model.network, on: loaders.validation)
        XCTAssertEqual(loaders.validation.indices.count, 100)
        XCTAssertEqual(validation.accuracy, probed, accuracy: 1e-9, "the network with the head scores as the probe")
        XCTAssertGreaterThan(probed, 0.6, "pretrained features: a fitted probe is far above chance (10%)")

        // The run itself starts from the same fitted head (the callback, at fitBegan).
        let fitted = Snapshot(model.network).named.filter { $0.key.hasPrefix("fc.") }.values.map(\.scalars)
        var atStart: [[Float]] = []
        let watcher = Probe()
        watcher.onFitBegan = { c in
            atStart = Snapshot(c.model).named.filter { $0.key.hasSuffix("fc.weight") || $0.key.hasSuffix("fc.bias") }
                .values.map(\.scalars)
        }
        let result = try FineTune.run(o, callbacks: [watcher], log: .silent)
        XCTAssertEqual(Set(atStart), Set(fitted), "training starts from the probe")
        let summary = try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8)
        XCTAssertTrue(summary.contains("head started as the linear probe"), summary)
    }

    /// `--probe-head` fits only a head that reads the last stage's average-pooled features: a
    /// VGG whose head reads max-pooled ones keeps its random head (and says so).
    func testProbeHeadNeedsAHeadOnAveragePooledFeatures() throws {
        for pooling in [GlobalPooling.avg, .max] {
            var o = demoOptions("vgg11", in: temporary, epochs: 1, imagesPerClass: 8, size: 16)
            o.configuration = .vgg(VGGConfig(blocks: [[8], [8]], fc: [], input: [16, 16, 3], pooling: pooling))
            o.weights = "none"
            let plan = try FineTune.resolve(o)
            let data = try FineTune.loadData(plan, log: .silent)
            let model = try FineTune.buildModel(plan, data: data, log: .silent)
            let loaders = FineTune.loaders(plan, data: data, model: model)
            let head = { Snapshot(model.network).named.filter { $0.key.hasPrefix("classifier.") } }
            let randomHead = head()
            let probed = try StageProbe.initialiseHead(model: model, loaders: loaders, seed: 0, log: .silent)
            XCTAssertEqual(probed == nil, pooling == .max, "\(pooling)")
            XCTAssertEqual(head() == randomHead, pooling == .max, "\(pooling)")
        }
    }

    /// Clipping, the plateau schedule, mixup and cutmix reach the trainer from the options,
    /// and the recipe line names them.
    func testClippingPlateauMixupAndCutmixAreReachable() throws {
        for variant in 0..<2 {
            var o = options(epochs: 1)
            o.clipNorm = 0.5
            o.schedule = .plateau
            if variant == 0 { o.mixup = 0.2 } else { o.cutmix = 1 }
            var kinds: [String] = []
            var softTargets = false
            var clippedNorm: Float?
            let probe = Probe()
            probe.onFitBegan = { c in kinds = c.trainer.callbacks.map { "\(type(of: $0))" } }
            probe.onAfterBackward = { c in
                softTargets = softTargets || c.softTargets != nil
                clippedNorm = c.trainer.callback(ClipGradients.self)?.lastNorm
            }
            let result = try FineTune.run(o, callbacks: [probe], log: .silent)
            XCTAssertTrue(kinds.contains("ClipGradients") && kinds.contains("BatchMixing"), "\(kinds)")
            XCTAssertTrue(softTargets, "the batch was mixed")
            XCTAssertNotNil(clippedNorm)
            let summary = try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8)
            XCTAssertTrue(
                summary.contains("clip norm 0.5") && summary.contains(variant == 0 ? "mixup 0.2" : "cutmix 1.0"),
                summary)
            XCTAssertTrue(summary.contains("plateau"), summary)
        }
    }

    /// The same seed at the same thread count gives the same weights, run after run, and the
    /// same model file byte for byte (what `finetune pretrain`'s "same seed, same file hash" rests on).
    func testSameSeedSameThreadCountSameWeights() throws {
        let saved = Threads.count
        defer { Threads.count = saved }
        for threads in [1, 2] {
            Threads.count = threads
            let a = try FineTune.run(options(epochs: 1), log: .silent)
            let b = try FineTune.run(options(epochs: 1), log: .silent)
            XCTAssertEqual(try weights(a.runFolder), try weights(b.runFolder), "\(threads) thread(s)")
            XCTAssertEqual(
                try Pretraining.sha256(ofFile: a.runFolder + "/model.h5"),
                try Pretraining.sha256(ofFile: b.runFolder + "/model.h5"), "\(threads) thread(s)")
        }
    }

    /// `--momentum` reaches the momentum and Nesterov rules (the run summary's recipe line
    /// shows the rule built); Nesterov without momentum is refused before anything runs.
    func testMomentumReachesTheRule() throws {
        var o = options("lenet5", epochs: 1)
        o.imageSize = nil
        o.optimizer = .nesterov
        o.momentum = 0
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { XCTAssertTrue("\($0)".contains("momentum"), "\($0)") }
        o.momentum = 0.5
        let result = try FineTune.run(o, log: .silent)
        let summary = try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8)
        XCTAssertTrue(summary.contains("momentum: 0.5") && summary.contains("nesterov: true"), summary)
    }

    /// `--dropout` and `--drop-block` reach a ResNet (the recipe line names them, the saved model
    /// keeps them in its configuration); elsewhere, or with a freeze reaching the stages DropBlock
    /// regularises, they are refused with a message.
    func testDropoutAndDropBlockReachAResNetOnly() throws {
        var o = options(epochs: 1)  // resnet20: the stem and three stages
        o.dropout = 0.5
        o.dropBlock = 0.1
        o.freeze = .stages(2)
        let result = try FineTune.run(o, log: .silent)
        let summary = try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8)
        XCTAssertTrue(summary.contains("dropout 0.5 before the head") && summary.contains("DropBlock 0.1"), summary)
        let saved = try XCTUnwrap(try TrainedModel(contentsOf: result.runFolder + "/model.h5").model as? ResNet)
        XCTAssertEqual(saved.config.dropout, 0.5)
        XCTAssertEqual(saved.config.dropBlock, 0.1)
        o.freeze = .stages(3)
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) {
            XCTAssertTrue("\($0)".contains("--freeze 3"), "\($0)")
        }
        var ranges = Tuning.Ranges()
        ranges.freeze = [1, 3]
        let tuneFolder = temporary.url.path + "/tune"
        XCTAssertThrowsError(try Tuning.run(o, trials: 2, ranges: ranges, folder: tuneFolder, log: .silent)) {
            XCTAssertTrue("\($0)".contains("--freeze 3"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tuneFolder), "refused before any trial")
        var lenet = options("lenet5", epochs: 1)
        lenet.imageSize = nil
        lenet.dropout = 0.5
        XCTAssertThrowsError(try FineTune.run(lenet, log: .silent)) {
            XCTAssertTrue("\($0)".contains("ResNets only"), "\($0)")
        }
        o.freeze = .stages(2)
        o.dropout = 1
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { XCTAssertTrue("\($0)".contains("dropout"), "\($0)") }
    }

    /// `--l1` reaches every parameter group as a penalty in the loss: the first step's loss is
    /// the plain run's plus l1·Σ|w| over the trainable weights; a negative value is refused.
    func testL1PenaltyIsAddedToTheLoss() throws {
        var o = options("lenet5", epochs: 1)
        o.imageSize = nil
        var firstLoss: [Float] = []
        var penalty: Float = 0
        let watcher = Probe()
        watcher.onAfterBackward = { c in
            guard firstLoss.count < 2, c.batch == 1 else { return }
            firstLoss.append(c.loss)
        }
        watcher.onFitBegan = { c in
            penalty = c.trainer.optimizer.groups.flatMap(\.parameters).map { $0.parameter.value.abs().sum().scalar }
                .reduce(0, +)
        }
        _ = try FineTune.run(o, callbacks: [watcher], log: .silent)
        o.l1 = 1e-3
        let result = try FineTune.run(o, callbacks: [watcher], log: .silent)
        XCTAssertEqual(firstLoss.count, 2)
        XCTAssertEqual(firstLoss[1] - firstLoss[0], 1e-3 * penalty, accuracy: 1e-3 * penalty * 1e-3 + 1e-5)
        let summary = try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8)
        XCTAssertTrue(summary.contains("L1 penalty 0.001"), summary)
        o.l1 = -1
        XCTAssertThrowsError(try FineTune.run(o, log: .silent))
    }

    /// `--schedule restarts --snapshots` (SGDR, snapshot ensembles): each cycle starts at the
    /// full rate, the model of each cycle's last epoch is saved as it was then, early stopping
    /// does not stop the run, and the reported ensemble covers the validation split.
    func testSnapshotsSaveTheModelAtEachCycleEnd() throws {
        var o = snapshotOptions()
        o.patience = 1
        var firstFactor: [Int: Float] = [:]
        var endWeights: [Int: [String: Tensor]] = [:]
        let probe = Probe()
        probe.onAfterBackward = { c in
            if firstFactor[c.epoch] == nil { firstFactor[c.epoch] = c.optimizer.learningRateFactor }
        }
        probe.onEpochEnded = { c in endWeights[c.epoch] = Snapshot(c.model).named }
        let result = try FineTune.run(o, callbacks: [probe], log: .silent)
        XCTAssertEqual(result.history.count, 4, "no early stop with snapshots")
        XCTAssertEqual(firstFactor[1], 1)
        XCTAssertEqual(firstFactor[3], 1, "the second cycle restarts at the full rate")
        XCTAssertLessThan(firstFactor[2] ?? 1, 0.9, "the rate anneals within a cycle")
        let files = (1...2).map { result.runFolder + "/snapshots/cycle-\($0).h5" }
        XCTAssertEqual(try weights(files[0], file: true), endWeights[2])
        XCTAssertEqual(try weights(files[1], file: true), endWeights[4])
        XCTAssertNotEqual(endWeights[2], endWeights[4])
        XCTAssertEqual(try TrainedModel(contentsOf: files[0]).classNames, result.classNames)
        let ensemble = try XCTUnwrap(result.snapshotEnsemble)
        XCTAssertEqual(ensemble.files, files)
        let split = try DatasetSplit.load(result.runFolder + "/split.json")
        XCTAssertEqual(ensemble.validation.confusion.joined().reduce(0, +), split.validation.count)
        let summary = try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8)
        XCTAssertTrue(summary.contains(ensemble.summaryLine), summary)
    }

    /// Running `finetune bag` again after Ctrl-C loses nothing: the member that finished is
    /// reused as it is, the one cut short resumes from its checkpoint and ends as it would have,
    /// and the ensemble scores as the uninterrupted bag's did. Other options are other members,
    /// and a damaged or diverged folder is left where it is and trained anew beside.
    func testBaggingAgainReusesFinishedMembersAndResumesTheInterruptedOne() throws {
        var o = options(epochs: 2)
        o.freeze = .stages(1)
        let whole = try Bagging.run(o, models: 2, log: .silent)
        XCTAssertEqual(whole.members.map(\.origin), [.trained, .trained])
        // Member 2 of a third bag is stopped in its second epoch, as Ctrl-C stops it.
        var third = o
        third.runsDirectory = temporary.path("cut")
        third.bootstrap = 1
        _ = try FineTune.run(third, log: .silent)
        third.bootstrap = 2
        XCTAssertThrowsError(try FineTune.run(third, callbacks: [StopAt(epoch: 2, batch: 1)], log: .silent))
        third.bootstrap = nil
        let again = try Bagging.run(third, models: 2, log: .silent)
        XCTAssertEqual(again.members.map(\.origin), [.reused, .resumed])
        XCTAssertEqual(
            again.members.map { ($0.runFolder as NSString).lastPathComponent },
            whole.members.map {
                ($0.runFolder as NSString).lastPathComponent
            })
        for (a, b) in zip(again.members, whole.members) {
            XCTAssertEqual(try weights(a.runFolder), try weights(b.runFolder), a.runFolder)
        }
        XCTAssertEqual(again.validation.accuracy, whole.validation.accuracy)
        XCTAssertEqual(again.validation.confusion, whole.validation.confusion)
        let reusedAll = try Bagging.run(third, models: 2, log: .silent)
        XCTAssertEqual(reusedAll.members.map(\.origin), [.reused, .reused])
        // A folder whose options.json cannot be read, or a run that diverged, is not reused: trained anew
        // beside it, which is then reused.
        try "{".write(toFile: again.members[0].runFolder + "/options.json", atomically: true, encoding: .utf8)
        try #"{"state":"diverged","updated":"2026-12-03T00:00:00Z","epochs":1}"#.write(
            toFile: again.members[1].runFolder + "/status.json", atomically: true, encoding: .utf8)
        let member2 = again.members[1].runFolder
        // A diverged run keeps a checkpoint; it must not be resumed from it.
        try FileManager.default.copyItem(atPath: member2 + "/model.h5", toPath: member2 + "/checkpoint.h5")
        let past = try Bagging.run(third, models: 2, log: .silent)
        XCTAssertEqual(past.members.map(\.origin), [.trained, .trained])
        XCTAssertEqual(
            past.members.map { $0.runFolder.hasSuffix("-2") }, [true, true], "beside, not over, the old folders")
        XCTAssertEqual(try Bagging.run(third, models: 2, log: .silent).members.map(\.origin), [.reused, .reused])
        // Other options are other members: a different learning rate trains anew.
        third.learningRate *= 2
        XCTAssertEqual(try Bagging.run(third, models: 2, log: .silent).members.map(\.origin), [.trained, .trained])
    }

    /// Bagging: each member trains on its own bootstrap resample of the same training split
    /// (repeats, only training images; through the feature cache, which must take repeats), the
    /// validation split is shared, and the ensemble is scored on all of it.
    func testBaggingTrainsEachMemberOnItsOwnResample() throws {
        var o = options(epochs: 1)
        o.freeze = .stages(1)
        let data = try FineTune.loadData(try FineTune.resolve(o), log: .silent)
        let plain = data.split
        let result = try Bagging.run(o, models: 2, log: .silent)
        let splits = try result.members.map { try DatasetSplit.load($0.runFolder + "/split.json") }
        func classCounts(_ indices: [Int]) -> [Int: Int] {
            Dictionary(grouping: indices) { data.images.labels[$0] }.mapValues(\.count)
        }
        for split in splits {
            XCTAssertEqual(split.validation, plain.validation)
            XCTAssertEqual(classCounts(split.train), classCounts(plain.train), "resampled within each class")
            XCTAssertTrue(Set(split.train).isSubset(of: plain.train))
            XCTAssertLessThan(Set(split.train).count, split.train.count, "drawn with replacement")
        }
        XCTAssertNotEqual(splits[0].train, splits[1].train)
        XCTAssertTrue(result.members[1].runFolder.hasSuffix("-bag2"), result.members[1].runFolder)
        XCTAssertEqual(result.validation.confusion.joined().reduce(0, +), plain.validation.count)
        XCTAssertEqual(
            DatasetSplit.bootstrap(plain.train, labels: data.images.labels, seed: 9),
            DatasetSplit.bootstrap(plain.train, labels: data.images.labels, seed: 9))
        XCTAssertThrowsError(try Bagging.run(o, models: 1, log: .silent))
        o.bootstrap = 0
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { error in
            XCTAssertTrue("\(error)".contains("bootstrap"), "\(error)")
        }
    }

    /// `--normalize data`: the training images, normalised as the model's preprocessing says,
    /// have per-channel mean 0 and standard deviation 1 (also in BGR order); an explicit mean and
    /// std still win.
    func testNormalizeDataStandardisesTheTrainingSplit() throws {
        for base in ["resnet20", "resnet18_keras"] {
            var o = options(base, epochs: 1)
            o.normalization = .data
            o.imageSize = 32
            let plan = try FineTune.resolve(o)
            let data = try FineTune.loadData(plan, log: .silent)
            let p = try FineTune.buildModel(plan, data: data, log: .silent).preprocessing
            let batch = Tensor.batch(
                data.split.train.map { data.images.images[$0] }, mean: p.mean, std: p.std, channelOrder: p.channelOrder)
            for channel in 0..<3 {
                let values = stride(from: channel, to: batch.count, by: 3).map { Double(batch.scalars[$0]) }
                let mean = values.reduce(0, +) / Double(values.count)
                let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
                XCTAssertEqual(mean, 0, accuracy: 1e-4, "\(base) channel \(channel)")
                XCTAssertEqual(variance.squareRoot(), 1, accuracy: 1e-3, "\(base) channel \(channel)")
            }
            o.mean = [0.5, 0.5, 0.5]
            o.std = [0.25, 0.25, 0.25]
            let explicit = try FineTune.buildModel(try FineTune.resolve(o), data: data, log: .silent).preprocessing
            XCTAssertEqual(explicit.mean, [0.5, 0.5, 0.5])
        }
    }

    /// Snapshots need the warm-restart schedule, at least two cycles that fit the epochs, and no
    /// head-only epochs.
    func testSnapshotsAndCyclesAreChecked() throws {
        var o = options(epochs: 4)
        o.snapshots = true
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { error in
            XCTAssertTrue("\(error)".contains("--schedule restarts"), "\(error)")
        }
        o.schedule = .restarts
        for cycles in [5, 1] {
            o.cycles = cycles
            XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { error in
                XCTAssertTrue("\(error)".contains("cycles"), "\(error)")
            }
        }
        o.cycles = 2
        o.headEpochs = 1
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) { error in
            XCTAssertTrue("\(error)".contains("head epochs"), "\(error)")
        }
    }

    /// Every optimiser and schedule the command line offers builds and takes a step.
    func testEveryOptimizerAndScheduleRuns() throws {
        let schedules = FineTuneOptions.ScheduleKind.allCases
        for (index, kind) in FineTuneOptions.OptimizerKind.allCases.enumerated() {
            var o = options("lenet5", epochs: 1)
            o.cycles = 1  // --schedule restarts: one cycle fits one epoch
            o.imageSize = nil
            o.optimizer = kind
            o.schedule = schedules[index % schedules.count]
            let result = try FineTune.run(o, log: .silent)
            XCTAssertEqual(result.history.count, 1, "\(kind)")
        }
    }
}
