import Foundation

/// The configuration of a zoo architecture, as stored (JSON) in weight files.
public enum ModelConfiguration: Codable, Equatable, Sendable {
    /// LeNet-5 (`"name": "lenet5"` in JSON).
    case lenet(LeNetConfig)
    /// VGG of any depth, with or without BatchNorm (`"name": "vgg"`).
    case vgg(VGGConfig)
    /// ResNet in the torchvision, Keras or CIFAR layout (`"name": "resnet"`).
    case resnet(ResNetConfig)
    /// AlexNet, torchvision's single-tower variant (`"name": "alexnet"`).
    case alexnet(AlexNetConfig)

    private enum Key: String, CodingKey { case name }

    /// Decodes the flat JSON object weight files store: a `name` key picks the architecture, the
    /// other keys are its configuration's fields.
    /// - Throws: `DecodingError.dataCorrupted` for an unknown name or a configuration with a `problem`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let name = try container.decode(String.self, forKey: .name)
        switch name {
        case "lenet5": self = .lenet(try LeNetConfig(from: decoder))
        case "vgg": self = .vgg(try VGGConfig(from: decoder))
        case "resnet": self = .resnet(try ResNetConfig(from: decoder))
        case "alexnet": self = .alexnet(try AlexNetConfig(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .name, in: container, debugDescription: "unknown architecture \(name)")
        }
        if let problem = problem {
            throw DecodingError.dataCorruptedError(forKey: .name, in: container, debugDescription: "invalid \(name) configuration: \(problem)")
        }
    }

    /// What is wrong with the configuration (nil when it can be built): files are input.
    public var problem: String? {
        func checkInput(_ input: [Int]) -> String? {
            input.count == 3 && input.allSatisfy({ $0 >= 1 && $0 <= 100_000 }) ? nil : "input \(input) must be [height, width, channels], all positive"
        }
        switch self {
        case let .lenet(c):
            return c.classes >= 1 && c.inputChannels >= 1 ? nil : "classes and input channels must be positive"
        case let .vgg(c):
            if let p = checkInput(c.input) { return p }
            guard !c.blocks.isEmpty, c.blocks.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= 1 } }), c.fc.allSatisfy({ $0 >= 1 }), c.classes >= 1 else {
                return "blocks, fc widths and classes must be non-empty and positive"
            }
            let scale = 1 << min(c.blocks.count, 30)
            return !c.includeTop || (c.input[0] / scale >= 1 && c.input[1] / scale >= 1) ? nil : "a \(c.input) input is too small for \(c.blocks.count) pooling blocks"
        case let .resnet(c):
            if let p = checkInput(c.input) { return p }
            guard !c.widths.isEmpty, c.widths.count == c.blocks.count, c.strides.count == c.widths.count else {
                return "widths, blocks and strides must have one entry per stage"
            }
            return c.widths.allSatisfy({ $0 >= 1 }) && c.blocks.allSatisfy({ $0 >= 1 }) && c.strides.allSatisfy({ $0 >= 1 })
                && c.stemWidth >= 1 && c.classes >= 1 && c.epsilon > 0 ? nil : "widths, blocks, strides, stem width, classes and epsilon must be positive"
        case let .alexnet(c):
            if let p = checkInput(c.input) { return p }
            return c.classes >= 1 && (!c.includeTop || Array(c.input[0...1]) == [224, 224]) ? nil : "classes must be positive; the original top needs 224x224"
        }
    }

    /// Encodes the configuration's fields and the architecture's `name` into one flat JSON object.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case let .lenet(config): try c.encode("lenet5", forKey: .name); try config.encode(to: encoder)
        case let .vgg(config): try c.encode("vgg", forKey: .name); try config.encode(to: encoder)
        case let .resnet(config): try c.encode("resnet", forKey: .name); try config.encode(to: encoder)
        case let .alexnet(config): try c.encode("alexnet", forKey: .name); try config.encode(to: encoder)
        }
    }

    /// The configuration as compact JSON with sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Decodes a configuration from `json` text (the inverse of `json`).
    /// - Throws: `DecodingError` for malformed JSON, an unknown architecture or an invalid configuration.
    public static func parse(_ json: String) throws -> ModelConfiguration {
        try JSONDecoder().decode(ModelConfiguration.self, from: Data(json.utf8))
    }

    /// Builds the model (weights initialised from the global seed).
    public func build() -> any ZooModel {
        switch self {
        case let .lenet(c): return LeNet5(c)
        case let .vgg(c): return VGG(c)
        case let .resnet(c): return ResNet(c)
        case let .alexnet(c): return AlexNet(c)
        }
    }

    /// The only input side the architecture accepts (LeNet-5: 32; AlexNet with its top: 224),
    /// or nil when any size works.
    public var fixedInputSize: Int? {
        switch self {
        case .lenet: return 32
        case let .alexnet(c): return c.includeTop ? 224 : nil
        default: return nil
        }
    }

    /// [height, width, channels] of the input.
    public var inputSize: [Int] {
        switch self {
        case let .lenet(c): return [32, 32, c.inputChannels]
        case let .vgg(c): return c.input
        case let .resnet(c): return c.input
        case let .alexnet(c): return c.input
        }
    }
}

/// How the head ends when the original top is left off.
public enum GlobalPooling: String, Codable, Sendable {
    /// Global average pooling: the mean over height and width of each channel.
    case avg
    /// Global max pooling: the maximum over height and width of each channel.
    case max
}

extension ModelConfiguration {
    /// The configuration with a `classes`-way head.
    public func withClasses(_ classes: Int) -> ModelConfiguration {
        switch self {
        case var .lenet(x):
            x.classes = classes
            return .lenet(x)
        case var .vgg(x):
            x.classes = classes
            return .vgg(x)
        case var .resnet(x):
            x.classes = classes
            return .resnet(x)
        case var .alexnet(x):
            x.classes = classes
            return .alexnet(x)
        }
    }

    /// The configuration for `channels`-channel images (1: grey, 3: RGB); only the first
    /// convolution's weights depend on it.
    public func withInputChannels(_ channels: Int) -> ModelConfiguration {
        switch self {
        case var .lenet(c):
            c.inputChannels = channels
            return .lenet(c)
        case var .resnet(c):
            c.input = [c.input[0], c.input[1], channels]
            return .resnet(c)
        case var .vgg(c):
            c.input = [c.input[0], c.input[1], channels]
            return .vgg(c)
        case var .alexnet(c):
            c.input = [c.input[0], c.input[1], channels]
            return .alexnet(c)
        }
    }

    /// The configuration at `size` x `size` input, for the architectures whose weights do not
    /// depend on it (ResNet, VGG); the others (LeNet, AlexNet) keep their fixed input.
    public func sized(to size: Int) -> ModelConfiguration {
        switch self {
        case var .resnet(c):
            c.input = [size, size, c.input[2]]
            return .resnet(c)
        case var .vgg(c):
            c.input = [size, size, c.input[2]]
            return .vgg(c)
        default:
            return self
        }
    }
}
