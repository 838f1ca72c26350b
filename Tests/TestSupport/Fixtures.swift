import Engine
import Foundation

/// One case of a fixture file written by `scripts/fixtures/*.py` from PyTorch: inputs in
/// Graft's layouts (NHWC, HWIO), outputs, an upstream gradient for output "y" and the
/// gradients of `sum(y * upstream)` for each differentiable input.
public struct FixtureCase {
    public let name: String
    public let op: String
    public let attrs: [String: Any]
    public let inputs: [String: Tensor]
    public let outputs: [String: Tensor]
    public let upstream: Tensor
    public let grads: [String: Tensor]

    public func int(_ key: String) -> Int { (attrs[key] as! NSNumber).intValue }
    public func float(_ key: String) -> Float { (attrs[key] as! NSNumber).floatValue }
    public func bool(_ key: String) -> Bool { (attrs[key] as! NSNumber).boolValue }
    public func pair(_ key: String) -> (Int, Int) {
        let a = (attrs[key] as! [NSNumber]).map(\.intValue)
        return (a[0], a[1])
    }
    public func ints(_ key: String) -> [Int]? { (attrs[key] as? [NSNumber])?.map(\.intValue) }
    public var padding: Padding {
        if let s = attrs["padding"] as? String { return s == "same" ? .same : .valid }
        let p = (attrs["padding"] as! [NSNumber]).map(\.intValue)
        return .explicit(top: p[0], bottom: p[1], left: p[2], right: p[3])
    }
}

public enum Fixtures {
    /// The `Fixtures` folder beside the calling test file's folder: pass `#filePath`.
    public static func directory(besides testFile: String) -> URL {
        var url = URL(fileURLWithPath: testFile).deletingLastPathComponent()
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Fixtures").path) {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("Fixtures")
    }

    /// The parsed JSON root of a fixture file (for files with their own layout).
    public static func json(_ file: String, testFile: String = #filePath) throws -> [String: Any] {
        let data = try Data(contentsOf: directory(besides: testFile).appendingPathComponent(file))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// A `{"shape": [...], "data": [...]}` object as a tensor.
    public static func tensor(_ any: Any) -> Tensor {
        let d = any as! [String: Any]
        return Tensor(shape: (d["shape"] as! [NSNumber]).map(\.intValue), scalars: (d["data"] as! [NSNumber]).map(\.floatValue))
    }

    /// The cases of a file in the common layout (inputs, outputs, upstream, grads).
    public static func load(_ file: String, testFile: String = #filePath) throws -> [FixtureCase] {
        let data = try Data(contentsOf: directory(besides: testFile).appendingPathComponent(file))
        let root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        func tensors(_ any: Any?) -> [String: Tensor] {
            ((any as? [String: Any]) ?? [:]).mapValues(tensor)
        }
        return (root["cases"] as! [[String: Any]]).map { c in
            FixtureCase(name: c["name"] as! String, op: c["op"] as! String,
                        attrs: (c["attrs"] as? [String: Any]) ?? [:],
                        inputs: tensors(c["inputs"]), outputs: tensors(c["outputs"]),
                        upstream: tensor(c["upstream"]!), grads: tensors(c["grads"]))
        }
    }
}
