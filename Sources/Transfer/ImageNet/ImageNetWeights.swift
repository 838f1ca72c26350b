import Foundation
import Zoo

/// The canonical ImageNet weights of keras.applications and torchvision, fetched on request
/// (`finetune zoo get NAME`) from the URLs those libraries download from and checked the way
/// they check them: Keras's `get_file` compares the MD5 in keras/applications/*.py,
/// torch.hub compares the SHA-256 prefix in the file's name. The full SHA-256 of what was
/// verified is recorded in the converted file's provenance.
public struct ImageNetWeights: Sendable {
    /// The published file's kind: a Keras HDF5 weights file (`keras`) or a PyTorch checkpoint (`torch`).
    public enum Format: String, Sendable {
        /// A keras.applications HDF5 weights file.
        case keras
        /// A torchvision checkpoint (`torch.save` zip archive).
        case torch
    }
    /// The check the publishing library makes on the download (hex digits, either case).
    public enum Digest: Sendable, Equatable {
        /// The file's full MD5, as Keras's `get_file` checks it.
        case md5(String)
        /// The first hex digits of the SHA-256, as torch.hub takes them from the file name.
        case sha256Prefix(String)
        /// The file's full SHA-256.
        case sha256(String)
    }

    /// The catalogue name (`resnet18-torchvision`), as `finetune zoo get` and `--weights` take it.
    public let name: String
    /// Where the publishing library downloads the file from.
    public let url: String
    /// The digest the download must match.
    public let digest: Digest
    /// How the file is converted.
    public let format: Format
    /// The Graft architecture the file converts to (`Architectures`).
    public let architecture: String
    /// Preprocessing the weights expect (nil: the architecture's).
    public let preprocessing: Preprocessing?
    /// One line for listings: the lineage, the model and the download size.
    public let summary: String

    /// A catalogue entry; `preprocessing` nil means the architecture's default.
    public init(
        name: String, url: String, digest: Digest, format: Format, architecture: String,
        preprocessing: Preprocessing? = nil, summary: String
    ) {
        self.name = name
        self.url = url
        self.digest = digest
        self.format = format
        self.architecture = architecture
        self.preprocessing = preprocessing
        self.summary = summary
    }

    /// keras.applications' "caffe" preprocessing: BGR, ImageNet mean subtracted, no scaling.
    static let caffe = Preprocessing(
        inputSize: [224, 224, 3], channelOrder: "BGR",
        mean: [103.939 / 255, 116.779 / 255, 123.68 / 255], std: [1 / 255, 1 / 255, 1 / 255])
    static let keras = "https://storage.googleapis.com/tensorflow/keras-applications/"
    static let torchvision = "https://download.pytorch.org/models/"
    static let licence =
        "ImageNet-trained; the weights' terms are their publishers' (Keras: Apache 2.0 code, torchvision: BSD-3 code; ImageNet is for non-commercial research)"

    /// Every fetchable file: VGG16 and ResNet50 from keras.applications, ResNet18, ResNet50 and
    /// VGG16 from torchvision.
    public static let catalogue: [ImageNetWeights] = [
        ImageNetWeights(
            name: "vgg16-keras", url: keras + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
            digest: .md5("64373286793e3c8b2b4e3219cbf3544b"), format: .keras, architecture: "vgg16",
            preprocessing: caffe, summary: "keras.applications VGG16, ImageNet, 553 MB"),
        ImageNetWeights(
            name: "resnet50-keras", url: keras + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
            digest: .md5("2cb95161c43110f7111970584f804107"), format: .keras, architecture: "resnet50_keras",
            summary: "keras.applications ResNet50, ImageNet, 103 MB"),
        ImageNetWeights(
            name: "resnet18-torchvision", url: torchvision + "resnet18-f37072fd.pth",
            digest: .sha256Prefix("f37072fd"), format: .torch, architecture: "resnet18",
            summary: "torchvision resnet18 IMAGENET1K_V1, 45 MB"),
        ImageNetWeights(
            name: "resnet50-torchvision", url: torchvision + "resnet50-0676ba61.pth",
            digest: .sha256Prefix("0676ba61"), format: .torch, architecture: "resnet50",
            summary: "torchvision resnet50 IMAGENET1K_V1, 98 MB"),
        ImageNetWeights(
            name: "vgg16-torchvision", url: torchvision + "vgg16-397923af.pth",
            digest: .sha256Prefix("397923af"), format: .torch, architecture: "vgg16",
            summary: "torchvision vgg16 IMAGENET1K_V1, 528 MB"),
    ]

    /// `url` with its scheme and host replaced by `GRAFT_ZOO_MIRROR` when set (a local mirror
    /// holding the same paths, e.g. http://mirror.example/ serving /models/resnet18-f37072fd.pth).
    public var downloadURL: String {
        guard let mirror = ProcessInfo.processInfo.environment["GRAFT_ZOO_MIRROR"], !mirror.isEmpty,
            let original = URLComponents(string: url)
        else { return url }
        return (mirror.hasSuffix("/") ? String(mirror.dropLast()) : mirror) + original.path
    }

    /// The catalogue entry named `name` (case-insensitive), or nil.
    public static func entry(_ name: String) -> ImageNetWeights? { catalogue.first { $0.name == name.lowercased() } }

    /// `GRAFT_HOME`, else `$XDG_CACHE_HOME/graft`, else `~/.cache/graft`.
    public static var home: String {
        let environment = ProcessInfo.processInfo.environment
        if let set = environment["GRAFT_HOME"], !set.isEmpty { return set }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty { return cache + "/graft" }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/graft"
    }

    /// Where the converted Graft file of an entry goes.
    public static func file(_ name: String, home: String = home) -> String { home + "/imagenet/\(name).h5" }
}
