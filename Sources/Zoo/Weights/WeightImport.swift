import Foundation

/// Bringing weights from Keras (2 or 3) or converted PyTorch files into a zoo model.
public enum WeightImport {
    /// Builds `architecture` (a zoo name), sized to the file's head unless `classes` is
    /// given, and loads the file into it. Returns the model, the per-tensor report and the
    /// metadata to save it with.
    /// PyTorch checkpoints (`.pth`, a zip archive or the legacy format) are read natively and
    /// converted by `TorchConversion`; `inputSize` sets their input side (default: 224, or
    /// what a VGG's classifier implies).
    public static func load(
        _ path: String, architecture: String, classes: Int? = nil, skipHead: Bool = false,
        source: String, inputSize: Int? = nil
    ) throws -> (model: any ZooModel, report: LoadReport, metadata: WeightMetadata) {
        let archive =
            TorchCheckpoint.looksLikeCheckpoint(path)
            ? try TorchConversion.archive(
                TorchCheckpoint(reading: path), architecture: architecture, inputSize: inputSize)
            : try WeightArchive.read(path)
        let entry = try Architectures.entry(architecture)
        let fileClasses = (archive.layers["predictions"] ?? archive.layers["fc3"])?.first {
            $0.name == "kernel" || $0.name == "0"
        }?.tensor.shape.last
        if let stored = archive.metadata?.configuration,
            !stored.sameStructure(as: entry.configuration(nil), ignoringHead: true)
        {
            throw WeightLoadError.architectureMismatch(
                path: path, file: archive.metadata?.architecture ?? stored.json, model: entry.name)
        }
        let configuration = archive.metadata?.configuration ?? entry.configuration(classes ?? fileClasses)
        let model = (classes.map { configuration.withClasses($0) } ?? configuration).build()
        let report = try WeightFile.load(archive, into: model, options: LoadOptions(skipHead: skipHead))
        let provenance = try JSONSerialization.data(
            withJSONObject: [
                "source": source, "file": (path as NSString).lastPathComponent,
                "format": archive.format.rawValue,
            ], options: [.sortedKeys])
        let metadata = WeightMetadata(
            architecture: entry.name, configuration: model.configuration,
            preprocessing: archive.metadata?.preprocessing ?? entry.preprocessing,
            classNames: classes == nil || classes == fileClasses ? (archive.metadata?.classNames ?? []) : [],
            provenance: String(decoding: provenance, as: UTF8.self))
        return (model, report, metadata)
    }
}
