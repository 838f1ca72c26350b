import Foundation

/// The configuration of a zoo architecture, as stored (JSON) in weight files.
public enum ModelConfiguration: Codable, Equatable, Sendable {
    case lenet(LeNetConfig)
    case vgg(VGGConfig)
    case resnet(ResNetConfig)
    case alexnet(AlexNetConfig)

    private enum Key: String, CodingKey { case name }

    public init(from decoder: Decoder) throws {
        let name = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .name)
        switch name {
        case "lenet5": self = .lenet(try LeNetConfig(from: decoder))
        case "vgg": self = .vgg(try VGGConfig(from: decoder))
        case "resnet": self = .resnet(try ResNetConfig(from: decoder))
        case "alexnet": self = .alexnet(try AlexNetConfig(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .name, in: try decoder.container(keyedBy: Key.self),
                                                   debugDescription: "unknown architecture \(name)")
        }
    }

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
public enum GlobalPooling: String, Codable, Sendable { case avg, max }
