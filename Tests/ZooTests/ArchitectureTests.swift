import Engine
import Layers
import XCTest
import Zoo

final class ArchitectureTests: XCTestCase {
    /// Parameter counts of the reference implementations (torchvision, keras.applications,
    /// the lecture notes' tables).
    func testParameterCountsMatchReferenceImplementations() throws {
        let expected: [(String, Int)] = [
            ("lenet5", 61_706), ("alexnet", 61_100_840), ("vgg16", 138_357_544), ("vgg11", 132_863_336),
            ("vgg16_bn", 138_365_992), ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032),
            ("resnet50_keras", 25_583_592),  // Keras: 25,636,712 = this + 53,120 BatchNorm moving statistics (buffers here)
        ]
        for (name, count) in expected {
            let model = try Architectures.entry(name).configuration(nil).build()
            XCTAssertEqual(model.parameterCount, count, name)
        }
    }

    /// `finetune summary` reproduces the notes' VGG-16 table layer by layer.
    func testVGG16SummaryMatchesTheNotesTable() throws {
        let summary = ModelSummary(try Architectures.entry("vgg16").configuration(nil).build())
        let convs = summary.rows.filter { $0.type == "Conv2D" }.map(\.parameters)
        XCTAssertEqual(convs, [1_792, 36_928, 73_856, 147_584, 295_168, 590_080, 590_080,
                               1_180_160, 2_359_808, 2_359_808, 2_359_808, 2_359_808, 2_359_808])
        XCTAssertEqual(summary.rows.filter { $0.type == "Dense" }.map(\.parameters), [102_764_544, 16_781_312, 4_097_000])
        XCTAssertEqual(summary.rows.first { $0.key == "block5.pool" }?.outputShape, [1, 7, 7, 512])
        XCTAssertEqual(summary.total, 138_357_544)
        XCTAssertTrue(summary.text.contains("Total params: 138,357,544"))
        XCTAssertEqual(summary.stages.map(\.name), ["block1", "block2", "block3", "block4", "block5", "fc1", "fc2"])
    }

    func testResNetStagesShapesAndFreezing() throws {
        Random.seed(0)
        let model = ResNet(.torchvision(18, classes: 7, input: [64, 64, 3]))
        XCTAssertEqual(model.stages.map(\.name), ["stem", "stage1", "stage2", "stage3", "stage4"])
        XCTAssertEqual(model.predict(.zeros([2, 64, 64, 3])).shape, [2, 7])
        let summary = ModelSummary(model)
        XCTAssertEqual(summary.stages.map(\.outputShape), [[1, 16, 16, 64], [1, 16, 16, 64], [1, 8, 8, 128], [1, 4, 4, 256], [1, 2, 2, 512]])
        model.freezeStages(3)
        XCTAssertTrue(model.stem.isFrozen && model.stageModules[1].isFrozen)
        XCTAssertFalse(model.stageModules[2].isFrozen)
        XCTAssertEqual(model.trainableParameters.first?.key, "stage3.block1.conv1.weight")
        model.freezeAllButHead()
        XCTAssertEqual(model.trainableParameters.map(\.key), ["fc.weight", "fc.bias"])
    }

    func testKerasLayerNames() {
        let model = ResNet(.keras(50, classes: 3, input: [64, 64, 3]))
        XCTAssertEqual(model.layerName(forModuleKey: "stem.conv"), "conv1_conv")
        XCTAssertEqual(model.layerName(forModuleKey: "stem.bn"), "conv1_bn")
        XCTAssertEqual(model.layerName(forModuleKey: "stage1.block1.conv2"), "conv2_block1_2_conv")
        XCTAssertEqual(model.layerName(forModuleKey: "stage3.block6.bn3"), "conv4_block6_3_bn")
        XCTAssertEqual(model.layerName(forModuleKey: "stage4.block1.shortcut.conv"), "conv5_block1_0_conv")
        XCTAssertEqual(model.layerName(forModuleKey: "fc"), "predictions")
        let vgg = VGG(.vgg(11, classes: 2, input: [32, 32, 3]))
        XCTAssertEqual(vgg.layerName(forModuleKey: "block3.conv2"), "block3_conv2")
        XCTAssertEqual(vgg.layerName(forModuleKey: "classifier"), "predictions")
        XCTAssertEqual(LeNet5().layerName(forModuleKey: "fc1.1"), "fc1")
    }

    func testSmallInputVariants() throws {
        Random.seed(1)
        let resnet20 = ResNet(.cifar(20))
        XCTAssertEqual(resnet20.stageModules.map { $0.layers.count }, [3, 3, 3])
        XCTAssertEqual(resnet20.predict(.zeros([1, 32, 32, 3])).shape, [1, 10])
        let headless = VGG(.vgg(11, batchNorm: true, input: [32, 32, 3], includeTop: false, pooling: .avg))
        XCTAssertEqual(headless.predict(.zeros([2, 48, 40, 3])).shape, [2, 512], "without the top any input size works")
        XCTAssertNil(headless.headKey)
        XCTAssertThrowsError(try Architectures.entry("resnet17")) { error in
            XCTAssertTrue("\(error)".contains("resnet18"), "the error lists the known architectures: \(error)")
        }
    }

    func testConfigurationRoundTripsThroughJSON() throws {
        for entry in Architectures.all {
            let config = entry.configuration(nil)
            XCTAssertEqual(try ModelConfiguration.parse(config.json), config, entry.name)
        }
    }
}

final class ResNetRegularisationTests: XCTestCase {
    /// Head dropout and DropBlock: left out of the encoding when 0 (the configurations inside
    /// existing files encode as before), round-tripped when set; the parameter keys and stages
    /// are the plain model's (weight files load either way); DropBlock sits after the blocks of
    /// the last two stages only; in inference the output equals the plain model's with the same
    /// weights, in training it does not.
    func testDropoutAndDropBlockOnlyRegulariseTraining() throws {
        let plainConfig = ResNetConfig.torchvision(18, classes: 3, input: [32, 32, 3])
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(plainConfig), as: UTF8.self).contains("drop"))
        var config = plainConfig
        config.dropout = 0.5
        config.dropBlock = 0.2
        XCTAssertEqual(try JSONDecoder().decode(ResNetConfig.self, from: JSONEncoder().encode(config)), config)
        Random.seed(0)
        let plain = ResNet(plainConfig)
        let regularised = ResNet(config)
        XCTAssertEqual(plain.namedParameters.map(\.key), regularised.namedParameters.map(\.key))
        XCTAssertEqual(plain.stages.map(\.name), regularised.stages.map(\.name))
        XCTAssertEqual(
            regularised.namedModules.filter { $0.module is DropBlock }.map(\.key),
            ["stage3.dropBlock1", "stage3.dropBlock2", "stage4.dropBlock1", "stage4.dropBlock2"])
        XCTAssertEqual(regularised.namedModules.filter { $0.module is Dropout }.map(\.key), ["dropout"])
        let source = Dictionary(uniqueKeysWithValues: plain.namedParameters.map { ($0.key, $0.parameter) })
        for (key, parameter) in regularised.namedParameters { parameter.value = source[key]!.value }
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.randomNormal([2, 32, 32, 3], using: &rng)
        XCTAssertEqual(regularised.predict(x), plain.predict(x), "inference: no dropping")
        plain.train()
        regularised.train()
        let trained = { (model: ResNet) in Autodiff.withoutGradients { model(Variable(x)).value } }
        XCTAssertNotEqual(trained(regularised), trained(plain), "training: dropped")
    }
}

final class ConfigurationValidationTests: XCTestCase {
    /// Configurations come from files: impossible ones are errors, not crashes.
    func testImpossibleConfigurationsAreRefused() {
        let bad = [
            #"{"name": "resnet", "block": "basic", "blocks": [2, 2], "widths": [8]}"#,
            #"{"name": "resnet", "block": "basic", "blocks": [2], "widths": [8], "strides": [1, 2]}"#,
            #"{"name": "vgg", "blocks": [[8]], "input": [16, 16]}"#,
            #"{"name": "vgg", "blocks": [[8], [8], [8], [8], [8], [8]], "input": [16, 16, 3]}"#,
            #"{"name": "alexnet", "classes": 0}"#,
            #"{"name": "transformer"}"#,
        ]
        for json in bad { XCTAssertThrowsError(try ModelConfiguration.parse(json), json) }
    }

    func testDropoutLayersFollowTheTrainingMode() {
        let vgg = VGG(VGGConfig(blocks: [[4]], fc: [8], classes: 2, input: [8, 8, 3], dropout: 0.5))
        vgg.train()
        XCTAssertTrue(vgg.dropouts.allSatisfy(\.isTraining), "train() reaches VGG's dropout layers")
        XCTAssertEqual(vgg.stages.map(\.name), ["block1", "fc1"])
        let alexnet = AlexNet(AlexNetConfig(classes: 3))
        alexnet.train()
        XCTAssertTrue(alexnet.dropout1.isTraining && alexnet.dropout2.isTraining)
    }
}
