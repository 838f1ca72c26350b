import Engine
import Layers
/// AlexNet (Krizhevsky et al., 2012), torchvision's single-tower variant: five convolution
/// stages (`conv1` … `conv5`, ReLU, max pooling after 1, 2 and 5), `fc1`, `fc2` (dropout 0.5
/// in training) and the `classifier`. Input 224x224x3 with the top; 61,100,840 parameters
/// for 1000 classes. Flatten runs in NHWC order.
public struct AlexNetConfig: Codable, Equatable, Sendable {
    /// Outputs of the `classifier` head (ignored without the top).
    public var classes: Int
    /// [height, width, channels]; the original top needs 224x224.
    public var input: [Int]
    /// Whether the model has `fc1`, `fc2` and the `classifier` (false: a feature extractor).
    public var includeTop: Bool
    /// Global pooling of the `conv5` output without the top (nil: the feature map); unused with it.
    public var pooling: GlobalPooling?

    /// The configuration; the defaults are torchvision's ImageNet AlexNet.
    public init(classes: Int = 1000, input: [Int] = [224, 224, 3], includeTop: Bool = true, pooling: GlobalPooling? = nil) {
        self.classes = classes; self.input = input; self.includeTop = includeTop; self.pooling = pooling
    }
}

/// AlexNet as configured by `AlexNetConfig`. Input NHWC [n, 224, 224, c] with the top; output
/// [n, classes] logits, or without the top the `conv5` features (globally pooled if configured).
public final class AlexNet: Module, ZooModel {
    /// The configuration the model was built from (its `classes` follows `replaceHead`).
    public private(set) var config: AlexNetConfig
    /// The convolution stages (`conv`, `relu`, and `pool` in 1, 2 and 5): 11x11/4 → 64, 5x5 → 192,
    /// 3x3 → 384, 3x3 → 256, 3x3 → 256, all symmetrically padded; 3x3/2 max pooling.
    public let conv1, conv2, conv3, conv4, conv5: Sequential
    /// The hidden fully connected layers (6·6·256 → 4096 → 4096); nil without the top.
    public let fc1, fc2: Dense?
    /// The head, Dense 4096 → classes (HDF5 `predictions`); nil without the top.
    public private(set) var classifier: Dense?
    /// Dropout (p = 0.5, training only) before `fc1` and before `fc2`, as torchvision.
    public let dropout1 = Dropout(0.5), dropout2 = Dropout(0.5)

    /// Builds AlexNet from `config` (weights initialised from the global seed); with the top the
    /// input must be 224x224.
    public init(_ config: AlexNetConfig) {
        self.config = config
        func stage(_ conv: Conv2D, pool: Bool) -> Sequential {
            Sequential(named: [("conv", conv), ("relu", ReLU())] + (pool ? [("pool", MaxPool2D(3, stride: 2))] : []))
        }
        conv1 = stage(Conv2D(config.input[2], 64, kernel: 11, stride: 4, padding: .symmetric(2)), pool: true)
        conv2 = stage(Conv2D(64, 192, kernel: 5, padding: .symmetric(2)), pool: true)
        conv3 = stage(Conv2D(192, 384, kernel: 3, padding: .symmetric(1)), pool: false)
        conv4 = stage(Conv2D(384, 256, kernel: 3, padding: .symmetric(1)), pool: false)
        conv5 = stage(Conv2D(256, 256, kernel: 3, padding: .symmetric(1)), pool: true)
        if config.includeTop {
            ensure(Array(config.input[0...1]) == [224, 224], "AlexNet: the original top needs a 224x224 input; use includeTop: false")
            fc1 = Dense(6 * 6 * 256, 4096); fc2 = Dense(4096, 4096); classifier = Dense(4096, config.classes)
        } else {
            fc1 = nil; fc2 = nil; classifier = nil
        }
    }

    /// `conv1` … `conv5`, then `fc1` and `fc2` with the top: what `--freeze N` counts.
    public var stages: [(name: String, module: Module)] {
        [("conv1", conv1), ("conv2", conv2), ("conv3", conv3), ("conv4", conv4), ("conv5", conv5)]
            + (fc1.map { [("fc1", $0 as Module), ("fc2", fc2! as Module)] } ?? [])
    }

    /// `classifier`, or nil without the top.
    public var headKey: String? { classifier == nil ? nil : "classifier" }

    /// The whole forward pass for `index` 0 (`h` is then the input, NHWC); nil for any later stage:
    /// AlexNet is not run from a stage's output, so the feature cache trains it uncached.
    public func forward(_ h: Variable, fromStage index: Int) -> Variable? { index == 0 ? forward(h) : nil }

    /// The output of stage `index`: 0…4 the convolution stages (NHWC), 5 `fc1` and 6 `fc2` on the
    /// flattened `conv5` features, each after its ReLU (no dropout).
    public func features(_ x: Variable, throughStage index: Int) -> Variable {
        let convs = [conv1, conv2, conv3, conv4, conv5]
        var h = convs.prefix(min(index + 1, 5)).reduce(x) { $1($0) }
        guard index >= 5, let fc1 else { return h }
        h = relu(fc1(h.flattenedBatch()))
        if index >= 6, let fc2 { h = relu(fc2(h)) }
        return h
    }

    /// Replaces the `classifier` with a freshly initialised Dense 4096 → `classes`; needs the top.
    public func replaceHead(classes: Int) {
        ensure(classes >= 1 && classifier != nil, "AlexNet.replaceHead: needs the original top and at least one class")
        classifier = Dense(4096, classes)
        config.classes = classes
    }
    /// The configuration that rebuilds this model: `.alexnet(config)`.
    public var configuration: ModelConfiguration { .alexnet(config) }

    /// `conv1` … `conv5` for the stages' convolutions, `fc1`, `fc2`, and `predictions` for the
    /// `classifier`.
    public func layerName(forModuleKey key: String) -> String {
        key.hasSuffix(".conv") ? String(key.dropLast(5)) : (key == "classifier" ? "predictions" : defaultLayerName(forModuleKey: key))
    }

    /// The logits [n, classes] with the top (dropout, `fc1`, ReLU, dropout, `fc2`, ReLU, classifier);
    /// without it the `conv5` features, globally pooled when `pooling` is set.
    public override func forward(_ x: Variable) -> Variable {
        let features = conv5(conv4(conv3(conv2(conv1(x)))))
        guard let fc1, let fc2, let classifier else {
            switch config.pooling {
            case .avg?: return globalAvgPool(features)
            case .max?: return globalMaxPool(features)
            case nil: return features
            }
        }
        // torchvision: Dropout, fc1, ReLU, Dropout, fc2, ReLU, classifier.
        return classifier(relu(fc2(dropout2(relu(fc1(dropout1(features.flattenedBatch())))))))
    }
}
