// swift-tools-version: 6.0
// Graft: transfer learning and fine-tuning of image classifiers on Linux CPUs.
// Module graph (left depends on right), see DESIGN.md:
//   finetune -> Transfer -> Zoo -> Layers -> Engine -> CDNNL
//               Transfer -> Vision -> CPNG, CTurboJPEG;  Zoo -> CHDF5;  Optimizers -> Layers
import PackageDescription

// No unsafe flags anywhere: SwiftPM refuses them in packages that others depend on by
// version. Debug builds compile Swift at -Onone, so the element-by-element hot loops live
// in C (CGraftKernels) or run on oneDNN; heavy work belongs in `-c release` builds.
let package = Package(
    name: "Graft",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Graft", targets: ["Graft"]),
        .executable(name: "finetune", targets: ["finetune"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // Every library message goes through swift-log; the CLI installs a stderr handler.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // `swift package generate-documentation` (DocC), see the README.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // PyTorch checkpoints are zip archives (TorchCheckpoint).
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // System libraries (Debian: libdnnl-dev, libhdf5-dev, libpng-dev, libturbojpeg0-dev).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg"),
        .systemLibrary(name: "CGraftZlib", path: "Sources/CGraftZlib"),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo"),

        // Graft's hot loops in C (debug builds of dependencies are -Onone Swift, see the header).
        .target(name: "CGraftKernels"),
        .target(name: "Engine", dependencies: ["CDNNL", "CGraftKernels"]),
        .target(name: "Layers", dependencies: ["Engine"]),
        .target(name: "Optimizers", dependencies: ["Layers"]),
        .target(name: "Vision", dependencies: ["Engine", "CPNG", "CTurboJPEG", "CGraftZlib"]),
        .target(name: "Zoo", dependencies: ["Layers", "CHDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // Charts (Cairo), report.html, Grad-CAM pictures: what people read. Vision keeps images.
        .target(name: "Report", dependencies: ["Engine", "Vision", "CCairo"]),
        .target(name: "Transfer", dependencies: ["Zoo", "Vision", "Optimizers", "Report",
                                            .product(name: "Crypto", package: "swift-crypto"),
                                            .product(name: "Logging", package: "swift-log")],
                resources: [.copy("Resources/demo-food")]),
        .target(name: "Graft", dependencies: ["Engine", "Layers", "Optimizers", "Vision", "Zoo", "Report", "Transfer",
                                            .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "finetune", dependencies: [
            "Graft", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Examples and benchmarks: run with `swift run -c release NAME`.
        // The README's library example, verbatim (scripts/check_dependency.sh builds it in a
        // package of its own that depends on a tagged Graft).
        .executableTarget(name: "LibraryExample", dependencies: ["Graft"], path: "Examples/LibraryExample"),
        // The DocC getting-started article's code, verbatim (LibraryExampleTests runs it).
        .executableTarget(name: "GettingStarted", dependencies: ["Graft"], path: "Examples/GettingStarted"),
        .executableTarget(name: "GradCAMCheck", dependencies: ["Graft"], path: "Examples/GradCAMCheck"),
        .executableTarget(name: "TransferEvidence", dependencies: ["Graft"], path: "Examples/TransferEvidence"),
        .executableTarget(name: "GraftBench", dependencies: ["Graft"], path: "Examples/GraftBench"),
        .executableTarget(name: "TrainMLP", dependencies: ["Graft"], path: "Examples/TrainMLP"),
        .executableTarget(name: "EngineBenchmarks", dependencies: ["Graft"], path: "Examples/EngineBenchmarks"),
        .executableTarget(name: "LeNetFashionMNIST", dependencies: ["Graft"], path: "Examples/LeNetFashionMNIST"),
        .executableTarget(name: "DecodeCheck", dependencies: ["Engine", "Vision"], path: "Examples/DecodeCheck"),
        .executableTarget(name: "LoaderBenchmark", dependencies: ["Engine", "Vision"], path: "Examples/LoaderBenchmark"),

        // Fixture loading and gradient checks shared by the test targets.
        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "OptimizersTests", dependencies: ["Optimizers", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "VisionTests", dependencies: ["Vision", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TransferTests", dependencies: ["Transfer", "TestSupport"]),
        .testTarget(name: "ZooTests", dependencies: ["Zoo", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CHDF5", "CPNG", "CTurboJPEG"]),
        // Runs the built `finetune` binary: exit codes and messages of the command line.
        .testTarget(name: "CLITests", dependencies: ["finetune", "LibraryExample", "GettingStarted", "Transfer", "TestSupport"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
