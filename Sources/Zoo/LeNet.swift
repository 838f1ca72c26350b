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
    /// Channels of the 32x32 input (1: grey, 3: RGB); only `conv1`'s weights depend on it.
    public var inputChannels: Int
    /// Outputs of the `fc3` head.
    public var classes: Int
    /// The configuration for `inputChannels`-channel 32x32 images and a `classes`-way head.
    public init(inputChannels: Int = 1, classes: Int = 10) { self.inputChannels = inputChannels; self.classes = classes }
}

/// LeNet-5 as configured by `LeNetConfig`: four stages (`conv1`, `conv2`, `fc1`, `fc2`) and the
/// `fc3` head. Input NHWC [n, 32, 32, channels]; output [n, classes] logits.
public final class LeNet5: Module, ZooModel {
    /// 5x5 convolution to 6 channels (valid padding), ReLU, 2x2 max pooling: 32x32 → 14x14x6.
    public let conv1: Sequential
    /// 5x5 convolution 6 → 16 channels, ReLU, 2x2 max pooling: 14x14x6 → 5x5x16.
    public let conv2: Sequential
    /// Flatten (NHWC order), Dense 400 → 120, ReLU.
    public let fc1: Sequential
    /// Dense 120 → 84, ReLU.
    public let fc2: Sequential
    /// The classification head, Dense 84 → classes; `replaceHead(classes:)` swaps it.
    public private(set) var fc3: Dense

    /// The configuration the model was built from (its `classes` follows `replaceHead`).
    public private(set) var config: LeNetConfig

    /// Builds LeNet-5 for `inputChannels`-channel 32x32 images and `classes` classes (weights
    /// initialised from the global seed).
    public convenience init(inputChannels: Int = 1, classes: Int = 10) {
        self.init(LeNetConfig(inputChannels: inputChannels, classes: classes))
    }

    /// Builds LeNet-5 from `config`; convolutions and hidden dense layers are He-uniform initialised.
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

    /// Always `fc3`: LeNet-5 always has its head.
    public var headKey: String? { "fc3" }

    /// The output of stage `index` (0: `conv1` … 3: `fc2`): the stages run in order.
    public func features(_ x: Variable, throughStage index: Int) -> Variable { sequentialFeatures(x, throughStage: index) }

    /// Runs stages `index...` then `fc3` on `h`, the output of stage `index - 1`; never nil.
    public func forward(_ h: Variable, fromStage index: Int) -> Variable? {
        fc3(stages.dropFirst(index).reduce(h) { $1.module($0) })
    }

    /// Replaces `fc3` with a freshly initialised Dense 84 → `classes` and updates `config`.
    public func replaceHead(classes: Int) {
        ensure(classes >= 1, "replaceHead: \(classes) classes")
        fc3 = Dense(84, classes)
        config.classes = classes
    }
    /// The configuration that rebuilds this model: `.lenet(config)`.
    public var configuration: ModelConfiguration { .lenet(config) }

    /// `conv1`, `conv2`, `fc1`, `fc2`, `fc3`: one HDF5 layer per stage.
    public func layerName(forModuleKey key: String) -> String {
        ["conv1.0": "conv1", "conv2.0": "conv2", "fc1.1": "fc1", "fc2.0": "fc2"][key] ?? defaultLayerName(forModuleKey: key)
    }

    /// The logits [n, classes] for an NHWC batch [n, 32, 32, c]; other sizes stop with a message
    /// (pad 28x28 images by 2 pixels).
    public override func forward(_ x: Variable) -> Variable {
        ensure(x.shape.count == 4 && x.shape[1] == 32 && x.shape[2] == 32,
               "LeNet5: expects NHWC input [n, 32, 32, c], got \(x.shape); pad 28x28 images by 2 pixels on each side")
        return fc3(fc2(fc1(conv2(conv1(x)))))
    }
}
