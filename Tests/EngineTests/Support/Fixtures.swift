import Engine
import Foundation

/// One case of a fixture file written by `scripts/fixtures/*.py` from PyTorch: inputs in
/// Graft's layouts (NHWC, HWIO), outputs, an upstream gradient for output "y" and the
/// gradients of `sum(y * upstream)` for each differentiable input.
struct FixtureCase {
    let name: String
    let op: String
    let attrs: [String: Any]
    let inputs: [String: Tensor]
    let outputs: [String: Tensor]
    let upstream: Tensor
    let grads: [String: Tensor]

    func int(_ key: String) -> Int { (attrs[key] as! NSNumber).intValue }
    func float(_ key: String) -> Float { (attrs[key] as! NSNumber).floatValue }
    func bool(_ key: String) -> Bool { (attrs[key] as! NSNumber).boolValue }
    func pair(_ key: String) -> (Int, Int) {
        let a = (attrs[key] as! [NSNumber]).map(\.intValue)
        return (a[0], a[1])
    }
    func ints(_ key: String) -> [Int]? { (attrs[key] as? [NSNumber])?.map(\.intValue) }
    var padding: Padding {
        if let s = attrs["padding"] as? String { return s == "same" ? .same : .valid }
        let p = (attrs["padding"] as! [NSNumber]).map(\.intValue)
        return .explicit(top: p[0], bottom: p[1], left: p[2], right: p[3])
    }
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func load(_ file: String) throws -> [FixtureCase] {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        let root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        func tensor(_ any: Any) -> Tensor {
            let d = any as! [String: Any]
            return Tensor(shape: (d["shape"] as! [NSNumber]).map(\.intValue),
                          scalars: (d["data"] as! [NSNumber]).map(\.floatValue))
        }
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
