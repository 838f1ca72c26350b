import Engine
import Layers
/// AlexNet (Krizhevsky et al., 2012), torchvision's single-tower variant: five convolution
/// stages (`conv1` … `conv5`, ReLU, max pooling after 1, 2 and 5), `fc1`, `fc2` (dropout 0.5
/// in training) and the `classifier`. Input 224x224x3 with the top; 61,100,840 parameters
/// for 1000 classes. Flatten runs in NHWC order.
public struct AlexNetConfig: Codable, Equatable, Sendable {
    public var classes: Int
    public var input: [Int]
    public var includeTop: Bool
    public var pooling: GlobalPooling?

    public init(classes: Int = 1000, input: [Int] = [224, 224, 3], includeTop: Bool = true, pooling: GlobalPooling? = nil) {
        self.classes = classes; self.input = input; self.includeTop = includeTop; self.pooling = pooling
    }
}

public final class AlexNet: Module, ZooModel {
    public private(set) var config: AlexNetConfig
    public let conv1, conv2, conv3, conv4, conv5: Sequential
    public let fc1, fc2: Dense?
    public private(set) var classifier: Dense?
    public let dropout1 = Dropout(0.5), dropout2 = Dropout(0.5)

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

    public var stages: [(name: String, module: Module)] {
        [("conv1", conv1), ("conv2", conv2), ("conv3", conv3), ("conv4", conv4), ("conv5", conv5)]
            + (fc1.map { [("fc1", $0 as Module), ("fc2", fc2! as Module)] } ?? [])
    }

    public var headKey: String? { classifier == nil ? nil : "classifier" }

    /// Convolution stages compose; `fc1`/`fc2` get the flattened features and their ReLU.
    /// Not cached from a stage: its stages do not compose with the head that way.
    public func forward(_ h: Variable, fromStage index: Int) -> Variable? { index == 0 ? forward(h) : nil }

    public func features(_ x: Variable, throughStage index: Int) -> Variable {
        let convs = [conv1, conv2, conv3, conv4, conv5]
        var h = convs.prefix(min(index + 1, 5)).reduce(x) { $1($0) }
        guard index >= 5, let fc1 else { return h }
        h = relu(fc1(h.flattenedBatch()))
        if index >= 6, let fc2 { h = relu(fc2(h)) }
        return h
    }

    public func replaceHead(classes: Int) {
        ensure(classes >= 1 && classifier != nil, "AlexNet.replaceHead: needs the original top and at least one class")
        classifier = Dense(4096, classes)
        config.classes = classes
    }
    public var configuration: ModelConfiguration { .alexnet(config) }

    public func layerName(forModuleKey key: String) -> String {
        key.hasSuffix(".conv") ? String(key.dropLast(5)) : (key == "classifier" ? "predictions" : defaultLayerName(forModuleKey: key))
    }

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
