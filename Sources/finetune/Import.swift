import ArgumentParser
import Foundation
import Graft

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import Keras or (converted) PyTorch weights into a Graft weight file.",
        discussion: """
        Keras: a Keras 2 weights or full-model .h5, or a Keras 3 .weights.h5.
        PyTorch: convert the state_dict first (needs PyTorch): python3 scripts/convert_torch.py --arch resnet50 --in model.pt --out converted.h5
        """)

    enum Source: String, ExpressibleByArgument { case keras, torch, graft }

    @Option(name: .customLong("from"), help: "keras, torch (a converted file) or graft.") var source: Source
    @Argument(help: "The weight file.") var file: String
    @Option(help: "The zoo architecture, e.g. resnet50_keras, vgg16.") var arch: String
    @Option(help: "Where to write the Graft weight file.") var out: String
    @Option(help: "Classes of the head (default: the file's).") var classes: Int?
    @Flag(help: "Keep a freshly initialised head instead of the file's.") var skipHead = false

    func validate() throws { try within("--classes", classes, Limits.classes) }

    func run() throws {
        if source == .torch && [".pt", ".pth"].contains(where: file.hasSuffix) {
            throw ValidationError("\(file) is a PyTorch checkpoint: convert it first with `python3 scripts/convert_torch.py --arch \(arch) --in \(file) --out converted.h5` (needs PyTorch), then import converted.h5")
        }
        guard !FileManager.default.fileExists(atPath: out) || out != file else {
            throw ValidationError("--out must differ from the input file")
        }
        let (model, report, metadata) = try WeightImport.load(file, architecture: arch, classes: classes, skipHead: skipHead,
                                                              source: source.rawValue)
        print(report)
        try WeightFile.save(model, to: out, metadata: metadata)
        print("wrote \(out): \(metadata.architecture), \(model.parameterCount.commaGrouped) parameters")
    }
}
