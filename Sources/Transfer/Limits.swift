/// The ranges the numeric options accept, in one place: the command line checks every option
/// against them when it parses, and the library before it allocates anything.
public enum Limits {
    /// A model's input side in pixels (`--size` of train and extract). 2048 px batches of 32
    /// already need tens of GB in the first ResNet stage.
    public static let imageSide = 8...2048
    /// The cell size of augmentation previews (`augment --size`).
    public static let previewSide = 8...1024
    /// Classes of a head (`--classes`).
    public static let classes = 1...100_000
    /// Training epochs (`--epochs`).
    public static let epochs = 1...100_000
    /// Epochs without improvement before early stopping (`--patience`).
    public static let patience = 1...100_000
    /// Images per batch (`--batch-size`).
    public static let batchSize = 1...4096
    /// Source images and copies per image in an augmentation preview.
    public static let previewImages = 1...256
    /// Augmented copies per source image in a preview (`augment --versions`).
    public static let previewVersions = 1...64
    /// Classes shown per image by `predict --top`.
    public static let top = 1...100_000
    /// Pixels of a fully decoded image (`--max-pixels`); 2^31 is the hard bound of the
    /// decoders, beyond which headers are refused whatever the setting.
    public static let maxPixels = 1...(1 << 31)

    /// Throws unless `value` lies in `range`, with a message naming the option and the range.
    public static func check(_ option: String, _ value: Int?, in range: ClosedRange<Int>) throws {
        guard let value else { return }
        guard range.contains(value) else {
            throw LimitError(
                option: option, value: "\(value)", allowed: "between \(range.lowerBound) and \(range.upperBound)")
        }
    }
}

/// An option outside its range.
public struct LimitError: Error, CustomStringConvertible {
    /// The option's name as the user wrote it (`--epochs`) or as the library names it (`epochs`).
    public let option: String
    /// The rejected value, as text.
    public let value: String
    /// What is allowed, e.g. "between 8 and 2048".
    public let allowed: String
    /// The message: "<option> must be <allowed>, not <value>".
    public var description: String { "\(option) must be \(allowed), not \(value)" }
}
