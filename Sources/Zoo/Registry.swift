/// The architectures the zoo can build by name, with their default preprocessing.
public enum Architectures {
    /// One buildable architecture: its name, a one-line summary and how to configure and feed it.
    public struct Entry: Sendable {
        /// The name users pass to `--arch` (`resnet18`, `vgg16_bn`, `resnet50_keras`, …).
        public let name: String
        /// One line for listings: the paper or lineage and the input size.
        public let summary: String
        /// The configuration for a head of `classes` classes (nil: the architecture's default, 10 or 1000).
        public let configuration: @Sendable (_ classes: Int?) -> ModelConfiguration
        /// The input size and pixel normalisation the architecture's pretrained weights expect.
        public let preprocessing: Preprocessing
    }

    static let cifar = Preprocessing(
        inputSize: [32, 32, 3], channelOrder: "RGB", mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])

    /// Every architecture in listing order: LeNet-5, AlexNet, VGG-11…19 (plain and `_bn`), ResNet-18…152
    /// (torchvision and `_keras` layouts), then the CIFAR ResNet-20/32/56.
    public static let all: [Entry] = {
        var entries = [
            Entry(
                name: "lenet5", summary: "LeNet-5 (LeCun et al., 1998), 32x32x1, 61,706 parameters",
                configuration: { .lenet(LeNetConfig(classes: $0 ?? 10)) },
                preprocessing: Preprocessing(inputSize: [32, 32, 1], channelOrder: "L", mean: [0.5], std: [0.5])),
            Entry(
                name: "alexnet", summary: "AlexNet (torchvision variant), 224x224x3",
                configuration: { .alexnet(AlexNetConfig(classes: $0 ?? 1000)) }, preprocessing: .imagenet()),
        ]
        for depth in [11, 13, 16, 19] {
            for bn in [false, true] {
                entries.append(
                    Entry(
                        name: "vgg\(depth)\(bn ? "_bn" : "")",
                        summary: "VGG-\(depth)\(bn ? " with BatchNorm" : ""), 224x224x3",
                        configuration: { .vgg(.vgg(depth, batchNorm: bn, classes: $0 ?? 1000)) },
                        preprocessing: .imagenet()))
            }
        }
        for depth in [18, 34, 50, 101, 152] {
            entries.append(
                Entry(
                    name: "resnet\(depth)", summary: "ResNet-\(depth), torchvision v1.5 layout, 224x224x3",
                    configuration: { .resnet(.torchvision(depth, classes: $0 ?? 1000)) }, preprocessing: .imagenet()))
            entries.append(
                Entry(
                    name: "resnet\(depth)_keras",
                    summary: "ResNet-\(depth), keras.applications layout (caffe BGR preprocessing)",
                    configuration: { .resnet(.keras(depth, classes: $0 ?? 1000)) },
                    preprocessing: Preprocessing(
                        inputSize: [224, 224, 3], channelOrder: "BGR",
                        mean: [103.939 / 255, 116.779 / 255, 123.68 / 255], std: [1 / 255, 1 / 255, 1 / 255])))
        }
        for depth in [20, 32, 56] {
            entries.append(
                Entry(
                    name: "resnet\(depth)", summary: "ResNet-\(depth) for 32x32 images (CIFAR-style, He et al. 2016)",
                    configuration: { .resnet(.cifar(depth, classes: $0 ?? 10)) }, preprocessing: cifar))
        }
        return entries
    }()

    /// Short names users type.
    public static let aliases = ["lenet": "lenet5", "vgg": "vgg16", "resnet": "resnet18"]

    /// The name of the architecture `configuration` builds, up to its head and input size
    /// (`resnet18`, `lenet5`, …); nil for a configuration no entry makes (a custom depth).
    public static func name(of configuration: ModelConfiguration) -> String? {
        all.first { $0.configuration(nil).sameStructure(as: configuration, ignoringHead: true) }?.name
    }

    /// The entry for `name` (or an alias); the error lists what exists.
    public static func entry(_ name: String) throws -> Entry {
        let resolved = aliases[name.lowercased()] ?? name.lowercased()
        guard let entry = all.first(where: { $0.name == resolved }) else {
            throw ZooError.unknownArchitecture(name, known: all.map(\.name))
        }
        return entry
    }
}

/// Errors from building zoo models by name or from a configuration.
public enum ZooError: Error, CustomStringConvertible {
    /// No architecture has this name (or alias); `known` lists the names that exist.
    case unknownArchitecture(String, known: [String])
    /// The configuration for `architecture` cannot be built; `problem` says why.
    case invalidConfiguration(architecture: String, problem: String)

    /// A one-line message for users, naming what exists when the name is unknown.
    public var description: String {
        switch self {
        case .unknownArchitecture(let name, let known):
            return
                "unknown architecture '\(name)'; the zoo has: \(known.joined(separator: ", ")) (aliases: lenet, vgg, resnet)"
        case .invalidConfiguration(let architecture, let problem):
            return "\(architecture): \(problem)"
        }
    }
}
