import ArgumentParser
import Foundation
import Graft

struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a preview grid (PNG) of an augmentation pipeline on a few images, and the parameters each copy used (JSON).",
        discussion: "Pipeline syntax: comma-separated ops, name[=value][@probability], e.g. \"hflip,rotate=15,crop=56,jitter=0.3\" (see README).")

    @Option(help: "An image folder (one sub-folder per class).") var data: String
    @Option(help: "The augmentation pipeline.") var pipeline: String
    @Option(help: "Where to write the PNG (the JSON goes beside it).") var out: String
    @Option(help: "How many source images (spread over the classes).") var images: Int = 4
    @Option(help: "Augmented copies per image.") var versions: Int = 6
    @Option(help: "Images are resized to this size (the model's input size) before augmenting; also the cell size.") var size: Int = 96
    @Option(help: "The seed.") var seed: UInt64 = 0
    @OptionGroup var decoding: DecodingOptions

    func validate() throws {
        try within("--images", images, Limits.previewImages)
        try within("--versions", versions, Limits.previewVersions)
        try within("--size", size, Limits.previewSide)
    }

    @OptionGroup var logging: LoggingOptions


    func run() throws {
        let augmentation = try Augmentation(spec: pipeline)
        try augmentation.check(trainingSize: size)
        let folder = try ImageFolder(data, decoder: decoding.decoder)
        // One image from each class in turn, the first files of each.
        var picked: [(String, Image)] = []
        var perClass = Dictionary(grouping: folder.files.indices, by: folder.label(at:)).mapValues { $0.makeIterator() }
        var label = 0
        while picked.count < min(images, folder.count) {
            if let i = perClass[label % folder.classNames.count]?.next() {
                picked.append(((folder.files[i] as NSString).lastPathComponent, try folder.image(at: i, fitting: (size, size))))
            }
            label += 1
            if label > folder.count * 2 { break }
        }
        let preview = AugmentationPreview(images: picked, augmentation: augmentation, versions: versions, seed: seed, cellSize: size)
        try Charts.writeAugmentation(preview, pipeline: pipeline, to: out, cell: size)
        print("wrote \(out) (\(picked.count) images x \(versions) copies) and \((out as NSString).deletingPathExtension).json")
    }
}
