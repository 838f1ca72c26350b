import Engine
import Foundation
import Layers
import TestSupport
import XCTest
import Zoo

final class WeightFileTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    private var directory: URL { temporary.url }

    override func setUpWithError() throws { temporary = try TemporaryDirectory("weights") }

    override func tearDownWithError() throws { temporary.remove() }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func smallResNet(classes: Int = 5, seed: UInt64 = 0) -> ResNet {
        Random.seed(seed)
        return ResNet(ResNetConfig(block: .bottleneck, stemWidth: 8, widths: [4, 8], blocks: [1, 2], strideOn: .first, padding: .keras,
                                   convBias: true, epsilon: 1.001e-5, classes: classes, input: [32, 32, 3]))
    }

    private func metadata(_ model: any ZooModel) -> WeightMetadata {
        WeightMetadata(architecture: "resnet-mini", configuration: model.configuration, preprocessing: .imagenet(32),
                       classNames: ["a", "b", "c", "d", "e"], provenance: #"{"source": "test"}"#)
    }

    /// Dropout and DropBlock rates change no weight: a file saved without them loads into a
    /// model with them (how `--dropout` fine-tunes a zoo entry), and back.
    func testRegularisationRatesDoNotBlockALoad() throws {
        let plain = smallResNet(seed: 1)
        try WeightFile.save(plain, to: path("plain.h5"), metadata: metadata(plain))
        guard case var .resnet(config) = plain.configuration else { return XCTFail("not a ResNet") }
        config.dropout = 0.5
        config.dropBlock = 0.1
        let regularised = ResNet(config)
        XCTAssertEqual(try WeightFile.load(path("plain.h5"), into: regularised).problems.count, 0)
        XCTAssertEqual(regularised.namedParameters.map(\.parameter.value), plain.namedParameters.map(\.parameter.value))
        try WeightFile.save(regularised, to: path("regularised.h5"), metadata: metadata(regularised))
        XCTAssertEqual(try WeightFile.load(path("regularised.h5"), into: smallResNet(seed: 3)).problems.count, 0)
    }

    func testRoundTripRestoresEveryParameterAndBuffer() throws {
        let a = smallResNet(seed: 1)
        (a.stem["bn"] as! BatchNorm).runningMean.value = Tensor([1, 2, 3, 4, 5, 6, 7, 8])
        try WeightFile.save(a, to: path("model.h5"), metadata: metadata(a))
        let b = smallResNet(seed: 2)
        let report = try WeightFile.load(path("model.h5"), into: b)
        XCTAssertEqual(report.problems.count, 0, report.description)
        for ((ka, pa), (kb, pb)) in zip(a.namedParameters, b.namedParameters) { XCTAssertEqual(ka, kb); XCTAssertEqual(pa.value, pb.value, ka) }
        for ((ka, ba), (_, bb)) in zip(a.namedBuffers, b.namedBuffers) { XCTAssertEqual(ba.value, bb.value, ka) }
        let archive = try WeightArchive.read(path("model.h5"))
        XCTAssertEqual(archive.format, .graft)
        XCTAssertEqual(archive.metadata?.classNames, ["a", "b", "c", "d", "e"])
        XCTAssertEqual(archive.metadata?.preprocessing, .imagenet(32))
        XCTAssertEqual(archive.metadata?.configuration, a.configuration)
        XCTAssertEqual(Array(archive.layerNames.prefix(2)), ["conv1_conv", "conv1_bn"])
        XCTAssertEqual(Array(archive.layerNames[2..<10]), ["conv2_block1_1_conv", "conv2_block1_1_bn", "conv2_block1_2_conv", "conv2_block1_2_bn",
                                                          "conv2_block1_0_conv", "conv2_block1_3_conv", "conv2_block1_0_bn", "conv2_block1_3_bn"],
                       "keras.applications order, so Keras can load the file by position")
        XCTAssertEqual(archive.layers["conv1_bn"]!.map(\.name), ["gamma", "beta", "moving_mean", "moving_variance"])
        XCTAssertEqual(b.predict(.ones([1, 32, 32, 3])), a.predict(.ones([1, 32, 32, 3])))
    }

    func testDifferentHeadNeedsSkipHeadAndTheMessageSaysSo() throws {
        let a = smallResNet()
        try WeightFile.save(a, to: path("five.h5"), metadata: metadata(a))
        let b = smallResNet(classes: 3, seed: 4)
        let before = b.fc!.weight.value
        XCTAssertThrowsError(try WeightFile.load(path("five.h5"), into: b)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("predictions") && message.contains("[32, 3]") && message.contains("[32, 5]")
                          && message.contains("skipHead"), message)
        }
        XCTAssertEqual(b.fc!.weight.value, before, "a failed load changes nothing")
        let report = try WeightFile.load(path("five.h5"), into: b, options: LoadOptions(skipHead: true))
        XCTAssertEqual(report.problems.count, 0, report.description)
        XCTAssertEqual(report.entries.filter { $0.status == .skipped("head") }.map(\.key), ["fc.weight", "fc.bias"])
        XCTAssertEqual(b.fc!.weight.value, before, "the new head is kept")
        XCTAssertEqual(b.stem["conv"]!.ownParameters[0].parameter.value, a.stem["conv"]!.ownParameters[0].parameter.value)
    }

    func testAnotherArchitectureIsRefused() throws {
        let a = smallResNet()
        try WeightFile.save(a, to: path("resnet.h5"), metadata: metadata(a))
        XCTAssertThrowsError(try WeightFile.load(path("resnet.h5"), into: LeNet5())) { error in
            XCTAssertTrue("\(error)".contains("holds weights for resnet-mini, but the model is lenet5"), "\(error)")
            XCTAssertTrue("\(error)".contains("(`--base resnet-mini` on the command line)"), "\(error)")
        }
        // The model is named by the zoo's architecture name, not its configuration's JSON; a custom one has none.
        XCTAssertEqual(Architectures.name(of: .resnet(.cifar(20, classes: 7))), "resnet20")
        XCTAssertEqual(Architectures.name(of: .resnet(.torchvision(18, classes: 3))), "resnet18")
        XCTAssertNil(Architectures.name(of: a.configuration))
    }

    func testTruncatedAndNonHDF5FilesAreRefusedWithTheirPath() throws {
        let a = smallResNet()
        try WeightFile.save(a, to: path("whole.h5"), metadata: metadata(a))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("whole.h5")))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path("half.h5")))
        XCTAssertThrowsError(try WeightArchive.read(path("half.h5"))) { error in
            XCTAssertTrue("\(error)".contains(path("half.h5")), "\(error)")
        }
        try Data("not a weight file".utf8).write(to: URL(fileURLWithPath: path("text.h5")))
        XCTAssertThrowsError(try WeightArchive.read(path("text.h5"))) { error in
            XCTAssertEqual(error as? HDF5Error, .notHDF5(path: path("text.h5")))
        }
        XCTAssertThrowsError(try WeightArchive.read(path("absent.h5"))) { error in
            XCTAssertTrue("\(error)".contains("no such path"), "\(error)")
        }
    }

    func testMissingDatasetAndNaNWeightAreNamed() throws {
        let a = smallResNet()
        try WeightFile.save(a, to: path("ok.h5"), metadata: metadata(a))
        let archive = try WeightArchive.read(path("ok.h5"))
        // A file whose conv1_bn group is gone, and one with a NaN in one kernel.
        try copy(archive, to: path("missing.h5")) { layer, _, t in layer == "conv1_bn" ? nil : t }
        XCTAssertThrowsError(try WeightArchive.read(path("missing.h5"))) { error in
            XCTAssertTrue("\(error)".contains("conv1_bn"), "\(error)")
        }
        try copy(archive, to: path("nan.h5")) { layer, weight, t in
            var t = t
            if layer == "conv2_block1_2_conv" && weight == "kernel" { t.scalars[3] = .nan }
            return t
        }
        let b = smallResNet(seed: 9)
        XCTAssertThrowsError(try WeightFile.load(path("nan.h5"), into: b)) { error in
            XCTAssertTrue("\(error)".contains("conv2_block1_2_conv weight kernel holds 1 NaN"), "\(error)")
        }
    }

    /// Rewrites an archive in the Keras 2 layout, with `transform` editing or dropping tensors.
    private func copy(_ archive: WeightArchive, to destination: String, transform: (String, String, Tensor) -> Tensor?) throws {
        try HDF5File.write(atomicallyTo: destination) { file in
        try file.writeStrings(archive.layerNames, name: "layer_names")
        for name in archive.layerNames {
            let kept = archive.layers[name]!.compactMap { w, t in transform(name, w, t).map { (w, $0) } }
            guard !kept.isEmpty else { continue }
            try file.createGroup(name)
            try file.writeStrings(kept.map { "\(name)/\($0.0):0" }, name: "weight_names", on: name)
            for (w, t) in kept { try file.write(t, at: "\(name)/\(name)/\(w):0") }
        }
        }
    }

    func testSaveIsAtomicAndNeverLeavesATemporaryFile() throws {
        let a = smallResNet()
        try WeightFile.save(a, to: path("model.h5"), metadata: metadata(a))
        try WeightFile.save(a, to: path("model.h5"), metadata: metadata(a))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.h5"])
        XCTAssertThrowsError(try WeightFile.save(a, to: path("no such folder/model.h5"), metadata: metadata(a)))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.h5"])
    }

    /// HDF5 stamps every group and dataset with its modification time (whole seconds) unless
    /// told not to: two saves of the same weights straddling a second differed, which made a
    /// byte-comparison test fail now and then. Saves a second apart must give the same bytes.
    func testTheSameWeightsSavedASecondApartGiveTheSameBytes() throws {
        let a = smallResNet()
        try WeightFile.save(a, to: path("first.h5"), metadata: metadata(a))
        Thread.sleep(forTimeInterval: 1.1)
        try WeightFile.save(a, to: path("second.h5"), metadata: metadata(a))
        let first = try Data(contentsOf: directory.appendingPathComponent("first.h5"))
        let second = try Data(contentsOf: directory.appendingPathComponent("second.h5"))
        XCTAssertEqual(first.count, second.count)
        XCTAssertTrue(first == second, "two saves of the same weights differ")
    }
}
