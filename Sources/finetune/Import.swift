import ArgumentParser
import Foundation
import Graft

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import Keras or (converted) PyTorch weights into a Graft weight file.",
        discussion: """
            Keras: a Keras 2 weights or full-model .h5, or a Keras 3 .weights.h5.
            PyTorch: a torchvision ResNet or VGG (or Graft's LeNet-5) state_dict saved with torch.save (.pth), read natively;
            only the classes a state_dict needs are unpickled, anything else is refused. scripts/convert_torch.py is the
            Python reference (and the way for whole pickled models you trust).
            """)

    enum Source: String, ExpressibleByArgument { case keras, torch, graft }

    @Option(name: .customLong("from"), help: "keras, torch (a .pth checkpoint or a converted file) or graft.")
    var source: Source
    @Argument(help: "The weight file.") var file: String
    @Option(help: "The zoo architecture, e.g. resnet50_keras, vgg16.") var arch: String
    @Option(help: "Where to write the Graft weight file.") var out: String
    @Option(help: "Classes of the head (default: the file's).") var classes: Int?
    @Flag(help: "Keep a freshly initialised head instead of the file's.") var skipHead = false
    @Option(help: "PyTorch checkpoints: the input side in pixels (default 224, or what a VGG's classifier implies).")
    var size: Int?

    func validate() throws {
        try within("--classes", classes, Limits.classes)
        try within("--size", size, Limits.imageSide)
    }

    @OptionGroup var logging: LoggingOptions


    func run() throws {
        guard !FileManager.default.fileExists(atPath: out) || out != file else {
            throw ValidationError("--out must differ from the input file")
        }
        let (model, report, metadata) = try WeightImport.load(
            file, architecture: arch, classes: classes, skipHead: skipHead,
            source: source.rawValue, inputSize: size)
        print(report)
        try WeightFile.save(model, to: out, metadata: metadata)
        print("wrote \(out): \(metadata.architecture), \(model.parameterCount.commaGrouped) parameters")
    }
}
