import Engine
import Layers

/// LeNet-5 (LeCun et al., 1998) as in the lecture notes' table: input 32x32x1 (NHWC),
/// 61,706 parameters, ReLU and max pooling.
///
/// | stage | layers | output |
/// |---|---|---|
/// | conv1 | Conv2D 5x5, 1→6, ReLU, MaxPool 2 | 14x14x6 |
/// | conv2 | Conv2D 5x5, 6→16, ReLU, MaxPool 2 | 5x5x16 |
/// | fc1 | Flatten, Dense 400→120, ReLU | 120 |
/// | fc2 | Dense 120→84, ReLU | 84 |
/// | fc3 (head) | Dense 84→classes | classes |
///
/// Flatten runs in NHWC order (h, w, c), as Keras's.
public struct LeNetConfig: Codable, Equatable, Sendable {
    public var inputChannels: Int
    public var classes: Int
    public init(inputChannels: Int = 1, classes: Int = 10) { self.inputChannels = inputChannels; self.classes = classes }
}

public final class LeNet5: Module, ZooModel {
    public let conv1: Sequential
    public let conv2: Sequential
    public let fc1: Sequential
    public let fc2: Sequential
    public private(set) var fc3: Dense

    public private(set) var config: LeNetConfig

    public convenience init(inputChannels: Int = 1, classes: Int = 10) {
        self.init(LeNetConfig(inputChannels: inputChannels, classes: classes))
    }

    public init(_ config: LeNetConfig) {
        self.config = config
        let (inputChannels, classes) = (config.inputChannels, config.classes)
        conv1 = Sequential(Conv2D(inputChannels, 6, kernel: 5, kernelInitializer: .heUniform()), ReLU(), MaxPool2D(2))
        conv2 = Sequential(Conv2D(6, 16, kernel: 5, kernelInitializer: .heUniform()), ReLU(), MaxPool2D(2))
        fc1 = Sequential(Flatten(), Dense(5 * 5 * 16, 120, kernelInitializer: .heUniform()), ReLU())
        fc2 = Sequential(Dense(120, 84, kernelInitializer: .heUniform()), ReLU())
        fc3 = Dense(84, classes)
    }

    /// The stages in order, then the head: what `--freeze N` counts.
    public var stages: [(name: String, module: Module)] {
        [("conv1", conv1), ("conv2", conv2), ("fc1", fc1), ("fc2", fc2)]
    }

    public var headKey: String? { "fc3" }

    public func features(_ x: Variable, throughStage index: Int) -> Variable { sequentialFeatures(x, throughStage: index) }

    public func forward(_ h: Variable, fromStage index: Int) -> Variable? {
        fc3(stages.dropFirst(index).reduce(h) { $1.module($0) })
    }

    public func replaceHead(classes: Int) {
        ensure(classes >= 1, "replaceHead: \(classes) classes")
        fc3 = Dense(84, classes)
        config.classes = classes
    }
    public var configuration: ModelConfiguration { .lenet(config) }

    /// `conv1`, `conv2`, `fc1`, `fc2`, `fc3`: one HDF5 layer per stage.
    public func layerName(forModuleKey key: String) -> String {
        ["conv1.0": "conv1", "conv2.0": "conv2", "fc1.1": "fc1", "fc2.0": "fc2"][key] ?? defaultLayerName(forModuleKey: key)
    }

    public override func forward(_ x: Variable) -> Variable {
        ensure(x.shape.count == 4 && x.shape[1] == 32 && x.shape[2] == 32,
               "LeNet5: expects NHWC input [n, 32, 32, c], got \(x.shape); pad 28x28 images by 2 pixels on each side")
        return fc3(fc2(fc1(conv2(conv1(x)))))
    }
}
