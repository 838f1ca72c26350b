/// Why an image could not be read or written; every case names the file.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case missing(path: String)
    case unknownFormat(path: String)
    case tooLarge(path: String, width: Int, height: Int, limit: Int)
    case empty(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot decode the image (\(reason)); the file may be truncated or damaged"
        case let .missing(path): return "\(path): no such file"
        case let .unknownFormat(path): return "\(path): neither PNG nor JPEG (by its content); convert it or remove it from the folder"
        case let .tooLarge(path, w, h, limit):
            return "\(path): \(w)x\(h) is \(w * h) pixels, over the limit of \(limit); downscale it, or raise the limit (ImageDecoder.maxPixels / --max-pixels)"
        case let .empty(path): return "\(path): the file is empty (0 bytes)"
        case let .writeFailed(path, reason): return "\(path): cannot write the image (\(reason))"
        }
    }
}
