import ArgumentParser
import Foundation
import Graft

@main
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune pretrained image classifiers on a CPU.",
        discussion: """
        Training (`finetune --base resnet --freeze 3`) lands with the Transfer issue; the model
        zoo, summaries and weight import are here.
        """,
        subcommands: [Train.self, Summary.self, ZooCommand.self, Import.self],
        defaultSubcommand: Train.self)
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fine-tune a zoo model (the default command).")

    @Option(help: "The zoo architecture to fine-tune (see `finetune zoo list`).")
    var base: String = "resnet"

    @Option(help: "Freeze the first N stages (0: train everything; 'all': only the new head).")
    var freeze: String = "0"

    func run() throws {
        throw ValidationError("training is not implemented yet; try `finetune summary --base \(base)` or `finetune zoo list`")
    }
}

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every layer's output shape and parameter count, and the stages.")

    @Option(help: "A zoo architecture, e.g. lenet5, vgg16, resnet50.")
    var base: String

    @Option(help: "Number of classes of the head (default: the architecture's).")
    var classes: Int?

    func run() throws {
        let entry = try Architectures.entry(base)
        Random.seed(0)
        let model = entry.configuration(classes).build()
        print("\(entry.name): \(entry.summary)")
        print(ModelSummary(model).text)
    }
}

struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zoo", abstract: "List and inspect the model zoo.",
                                                    subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the architectures.")
        func run() throws {
            for entry in Architectures.all { print(entry.name.padding(toLength: 16, withPad: " ", startingAt: 0) + entry.summary) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an architecture's stages, shapes, parameters and preprocessing.")
        @Argument(help: "The architecture.") var name: String
        func run() throws {
            let entry = try Architectures.entry(name)
            Random.seed(0)
            let model = entry.configuration(nil).build()
            let summary = ModelSummary(model)
            print("\(entry.name): \(entry.summary)")
            print("input \(entry.preprocessing.inputSize) \(entry.preprocessing.channelOrder), mean \(entry.preprocessing.mean), std \(entry.preprocessing.std)")
            print("configuration \(model.configuration.json)")
            print("stages (--freeze N freezes the first N):")
            for (i, s) in summary.stages.enumerated() {
                print("  \(i + 1). \(s.name.padding(toLength: 10, withPad: " ", startingAt: 0)) output \(s.outputShape.dropFirst().map(String.init).joined(separator: "x"))  \(s.parameters.commaGrouped) params")
            }
            if let head = model.headKey { print("head: \(head)") }
            print("total: \(summary.total.commaGrouped) parameters")
        }
    }
}
