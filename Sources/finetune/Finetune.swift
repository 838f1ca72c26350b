import ArgumentParser
import Foundation
import Graft

@main
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune pretrained image classifiers on a CPU.",
        discussion:
            "`finetune --base resnet --freeze 3` fine-tunes on the embedded demo dataset; add --data DIR for your own images.",
        subcommands: [
            Train.self, Resume.self, Sanity.self, LRFind.self, Probe.self, Tune.self, Bag.self, Pretrain.self,
            Summary.self, ZooCommand.self, Import.self, Augment.self, Extract.self, Evaluate.self, Predict.self,
            Explain.self,
        ],
        defaultSubcommand: Train.self)

    static func main() {
        // Line-buffered even into a pipe or a file: `| tee` shows each line as it comes, and a
        // Ctrl-C loses nothing already printed.
        setvbuf(stdout, nil, _IOLBF, 0)
        LoggingSystem.bootstrap { TerminalLogHandler(label: $0) }
        main(nil)
    }
}

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every layer's output shape and parameter count, and the stages.")

    @Option(help: "A zoo architecture, e.g. lenet5, vgg16, resnet50.")
    var base: String

    @Option(help: "Number of classes of the head (default: the architecture's).")
    var classes: Int?

    func validate() throws { try within("--classes", classes, Limits.classes) }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let entry = try Architectures.entry(base)
        Random.seed(0)
        let model = entry.configuration(classes).build()
        print("\(entry.name): \(entry.summary)")
        print(ModelSummary(model).text)
    }
}

struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo", abstract: "List and inspect the model zoo.",
        subcommands: [List.self, Show.self, Get.self, Initialise.self, Logits.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the pretrained models, then the architectures.")
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            let entries = ZooDirectory.manifest?.entries ?? []
            print("pretrained (\(ZooDirectory.path)); `--base NAME`, or the family: resnet, vgg, lenet:")
            if entries.isEmpty { print("  none: build them with `finetune pretrain NAME`") }
            for e in entries {
                print(
                    "  " + e.name.padding(toLength: 18, withPad: " ", startingAt: 0)
                        + String(format: "test accuracy %5.2f%%  ", e.testAccuracy * 100) + e.summary)
            }
            print(
                "ImageNet weights on request (`finetune zoo get NAME`, then `--weights NAME`; into \(ImageNetWeights.home)):"
            )
            for e in ImageNetWeights.catalogue {
                let fetched = FileManager.default.fileExists(atPath: ImageNetWeights.file(e.name)) ? "downloaded  " : ""
                print("  " + e.name.padding(toLength: 22, withPad: " ", startingAt: 0) + fetched + e.summary)
            }
            print("architectures (random initialisation, or --weights FILE):")
            for entry in Architectures.all {
                print("  " + entry.name.padding(toLength: 18, withPad: " ", startingAt: 0) + entry.summary)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show an architecture's (or a weight file's) stages, shapes, parameters, preprocessing and provenance.")
        @Argument(help: "An architecture name, or a Graft weight file (.h5).") var name: String
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            let model: any ZooModel
            let title: String
            let preprocessing: Preprocessing
            let provenance: String
            let zooEntry = ZooDirectory.manifest?.entry(name)
            let file = zooEntry.map(ZooDirectory.file(of:)) ?? name
            if let zooEntry { print("zoo entry \(zooEntry.name): \(zooEntry.summary); sha256 \(zooEntry.sha256)") }
            if zooEntry != nil || (name.hasSuffix(".h5") && FileManager.default.fileExists(atPath: name)) {
                let archive = try WeightArchive.read(file)
                guard let metadata = archive.metadata, let configuration = metadata.configuration else {
                    throw ValidationError(
                        "\(name) has no Graft metadata (a Keras file?): import it first with `finetune import`")
                }
                model = configuration.build()
                try WeightFile.load(archive, into: model)
                title =
                    "\(name): \(metadata.architecture)"
                    + (metadata.classNames.isEmpty ? "" : ", classes \(metadata.classNames.joined(separator: ", "))")
                preprocessing = try metadata.preprocessing ?? Architectures.entry(metadata.architecture).preprocessing
                provenance = metadata.provenance + (metadata.contentHash.map { "  content hash \($0)" } ?? "")
            } else {
                let entry = try Architectures.entry(name)
                Random.seed(0)
                model = entry.configuration(nil).build()
                title = "\(entry.name): \(entry.summary)"
                preprocessing = entry.preprocessing
                provenance =
                    "no pretrained weights in the zoo yet (random initialisation); import some with `finetune import`"
            }
            let summary = ModelSummary(model)
            print(title)
            print(
                "input \(preprocessing.inputSize) \(preprocessing.channelOrder), mean \(preprocessing.mean), std \(preprocessing.std)"
            )
            print("provenance: \(provenance)")
            print("configuration \(model.configuration.json)")
            print("stages (--freeze N freezes the first N):")
            for (i, s) in summary.stages.enumerated() {
                print(
                    "  \(i + 1). \(s.name.padding(toLength: 10, withPad: " ", startingAt: 0)) output \(s.outputShape.dropFirst().map(String.init).joined(separator: "x"))  \(s.parameters.commaGrouped) params"
                )
            }
            if let head = model.headKey { print("head: \(head)") }
            print("total: \(summary.total.commaGrouped) parameters")
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download ImageNet weights (keras.applications, torchvision), verify and convert them.",
            discussion:
                "Checked as Keras (MD5) and torch.hub (SHA-256 prefix) check them; written to GRAFT_HOME (default ~/.cache/graft). A failed or interrupted download keeps nothing."
        )
        @Argument(help: "The entry: \(ImageNetWeights.catalogue.map(\.name).joined(separator: ", ")).") var name: String
        @Flag(help: "Download again even when the converted file is there.") var force = false
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            guard let entry = ImageNetWeights.entry(name) else {
                throw ValidationError(
                    "no ImageNet entry \(name); choose one of \(ImageNetWeights.catalogue.map(\.name).joined(separator: ", "))"
                )
            }
            print("downloading \(entry.downloadURL)")
            var shown = -1
            let result = try ZooDownload.get(entry, force: force) { received, expected in
                let percent = expected > 0 ? received * 100 / expected : -1
                if percent != shown && percent % 10 == 0 {
                    shown = percent
                    print("  \(received / 1_000_000) MB" + (expected > 0 ? " of \(expected / 1_000_000) MB" : ""))
                }
            }
            if result.bytes == 0 {
                print("\(result.path) is already there (use --force to download again)")
            } else {
                print(
                    "verified (SHA-256 \(result.sha256)) and converted: \(result.path), \(result.parameters.commaGrouped) parameters"
                )
            }
            print("use it: finetune --weights \(entry.name) --base \(entry.architecture) --data DIR --freeze N")
        }
    }

    struct Initialise: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init", abstract: "Write a randomly initialised model (for checks against other frameworks).")
        @Argument(help: "The architecture.") var name: String
        @Option(help: "The seed of the initialisation.") var seed: UInt64 = 0
        @Option(help: "Number of classes.") var classes: Int?
        @Option(help: "Where to write the weight file.") var out: String
        func validate() throws { try within("--classes", classes, Limits.classes) }
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            let entry = try Architectures.entry(name)
            Random.seed(seed)
            let model = entry.configuration(classes).build()
            try WeightFile.save(
                model, to: out,
                metadata: WeightMetadata(
                    architecture: entry.name, configuration: model.configuration, preprocessing: entry.preprocessing,
                    provenance: #"{"source": "random initialisation", "seed": \#(seed)}"#))
            print("wrote \(out): \(entry.name), \(model.parameterCount.commaGrouped) parameters")
        }
    }

    struct Logits: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a weight file on the NHWC dataset 'input' of an HDF5 file; write dataset 'logits'.")
        @Option(help: "A Graft, Keras or converted weight file.") var model: String
        @Option(help: "The zoo architecture (needed for files without Graft metadata).") var arch: String?
        @Option(help: "HDF5 file with a float dataset 'input' [n, h, w, c].") var input: String
        @Option(help: "Where to write the logits (HDF5, dataset 'logits').") var out: String
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            let archive = try WeightArchive.read(model)
            let configuration: ModelConfiguration
            if let stored = archive.metadata?.configuration {
                configuration = stored
            } else if let arch {
                configuration = try Architectures.entry(arch).configuration(nil)
            } else {
                throw ValidationError("\(model) has no Graft metadata: pass --arch")
            }
            let network = configuration.build()
            print(try WeightFile.load(archive, into: network).description.split(separator: "\n").first ?? "")
            let x = try HDF5File(reading: input).readTensor("input")
            let logits = network.predict(x)
            try HDF5File.write(atomicallyTo: out) { file in
                try file.write(logits, at: "logits")
            }
            print("wrote \(out): logits \(logits.shape)")
        }
    }
}
