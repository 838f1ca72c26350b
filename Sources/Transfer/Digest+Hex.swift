import Crypto
import Foundation

extension Sequence where Element == UInt8 {
    /// The bytes as lowercase hexadecimal, two digits each (how SHA-256 and MD5 digests are published).
    var hexDigits: String { map { String(format: "%02x", $0) }.joined() }
}

extension SHA256 {
    /// SHA-256 of the file at `path` (mapped, not read into memory), as lowercase hex.
    static func hexDigest(ofFile path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return SHA256.hash(data: data).hexDigits
    }
}
