import Engine
import Foundation

/// The base class of every layer and model (a reference type, as MLX Swift's `Module`).
///
/// Children, parameters and buffers are discovered from stored properties by reflection:
/// a property `conv1: Conv2D` holding a `weight: Parameter` yields the key
/// `conv1.weight`; an array property `blocks: [Module]` yields `blocks.0`, `blocks.1`, ….
/// These dotted keys are also the checkpoint keys. Subclasses override `forward(_:)`
/// (`callAsFunction(_:)` is final and calls it), and may override `namedChildren` to choose
/// their own names.
///
/// A module starts in inference mode; `train()` / `eval()` set the mode recursively.
open class Module: CustomStringConvertible {
    /// True in training mode (dropout active, BatchNorm on batch statistics).
    public private(set) var isTraining = false

    public init() {}

    /// The forward pass; subclasses override it. Call a module as `module(x)`.
    open func forward(_ x: Variable) -> Variable {
        fatalError("\(type(of: self)) does not implement forward(_:)")
    }

    /// Runs `forward(_:)`, reporting the output to an active `trace(_:)`.
    public final func callAsFunction(_ x: Variable) -> Variable {
        let y = forward(x)
        if let tracer = Tracer.current { tracer.record(self, y.shape) }
        return y
    }

    /// Runs the model once on `input` without gradients and returns every module's output
    /// shape in call order, with its key (what `finetune summary` prints).
    public func trace(_ input: Tensor) -> [(key: String, module: Module, outputShape: [Int])] {
        let keys = Dictionary(namedModules.map { (ObjectIdentifier($0.module), $0.key) }, uniquingKeysWith: { a, _ in a })
        let tracer = Tracer()
        Tracer.current = tracer
        defer { Tracer.current = nil }
        _ = predict(input)
        return tracer.calls.map { (keys[ObjectIdentifier($0.module)] ?? "?", $0.module, $0.shape) }
    }

    /// The forward pass on a plain tensor in inference, without recording gradients.
    public func predict(_ x: Tensor) -> Tensor {
        Autodiff.withoutGradients { self(Variable(x)).value }
    }

    // MARK: Tree

    /// Direct children with their names (from stored properties, in declaration order).
    open var namedChildren: [(name: String, module: Module)] {
        reflectedMembers().compactMap { member in (member.value as? Module).map { (member.name, $0) } }
    }

    /// This module's own parameters (not its children's), by name.
    open var ownParameters: [(name: String, parameter: Parameter)] {
        reflectedMembers().compactMap { member in (member.value as? Parameter).map { (member.name, $0) } }
    }

    /// This module's own buffers, by name.
    open var ownBuffers: [(name: String, buffer: Buffer)] {
        reflectedMembers().compactMap { member in (member.value as? Buffer).map { (member.name, $0) } }
    }

    /// Stored properties of the whole class chain, arrays of modules flattened to `name.i`.
    private func reflectedMembers() -> [(name: String, value: Any)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror { mirrors.insert(m, at: 0); mirror = m.superclassMirror }
        var members: [(String, Any)] = []
        for m in mirrors {
            for child in m.children {
                guard var name = child.label else { continue }
                if name.hasPrefix("_") { name.removeFirst() }
                if name.hasPrefix("$__lazy_storage_$_") { continue }
                if let array = child.value as? [Module] {
                    for (i, module) in array.enumerated() { members.append(("\(name).\(i)", module)) }
                } else {
                    members.append((name, child.value))
                }
            }
        }
        return members
    }

    /// Every module of the tree with its dotted key, this one first (key "").
    public var namedModules: [(key: String, module: Module)] {
        var result: [(String, Module)] = [("", self)]
        for (name, child) in namedChildren {
            result += child.namedModules.map { (key, module) in (key.isEmpty ? name : "\(name).\(key)", module) }
        }
        return result
    }

    /// Every parameter of the tree by dotted key (`stage2.block1.conv1.weight`).
    public var namedParameters: [(key: String, parameter: Parameter)] {
        namedModules.flatMap { (prefix, module) in
            module.ownParameters.map { (prefix.isEmpty ? $0.name : "\(prefix).\($0.name)", $0.parameter) }
        }
    }

    /// Every buffer of the tree by dotted key (`bn1.runningMean`).
    public var namedBuffers: [(key: String, buffer: Buffer)] {
        namedModules.flatMap { (prefix, module) in
            module.ownBuffers.map { (prefix.isEmpty ? $0.name : "\(prefix).\($0.name)", $0.buffer) }
        }
    }

    /// The parameters an optimiser should see: the trainable ones.
    public var trainableParameters: [(key: String, parameter: Parameter)] {
        namedParameters.filter { $0.parameter.trainable }
    }

    /// The child (or descendant) at a dotted key, e.g. `"stage3"` or `"features.0"`.
    public func module(at key: String) -> Module? {
        namedModules.first { $0.key == key }?.module
    }

    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.parameter.value.count } }
    public var trainableParameterCount: Int { trainableParameters.reduce(0) { $0 + $1.parameter.value.count } }

    // MARK: Mode and freezing

    /// Sets training mode on this module and every descendant.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules { m.isTraining = on }
    }

    /// Sets inference mode on this module and every descendant.
    public func eval() { train(false) }

    /// Freezes every parameter of this subtree: no gradient, no backward work, no updates.
    public func freeze() { for (_, p) in namedParameters { p.trainable = false } }

    /// Makes every parameter of this subtree trainable again.
    public func unfreeze() { for (_, p) in namedParameters { p.trainable = true } }

    /// Freezes (or unfreezes) the parameters whose key matches `pattern`: a key or key prefix
    /// (`"stage1"` matches `stage1.block0.conv1.weight`), with `*` matching any run of
    /// characters (`"*.bn*"`). Returns the keys it changed, so a caller can report them.
    @discardableResult
    public func freeze(matching pattern: String, _ frozen: Bool = true) -> [String] {
        let matched = namedParameters.filter { Module.key($0.key, matches: pattern) }
        for (_, p) in matched { p.trainable = !frozen }
        return matched.map(\.key)
    }

    static func key(_ key: String, matches pattern: String) -> Bool {
        if !pattern.contains("*") { return key == pattern || key.hasPrefix(pattern + ".") }
        let regex = "^" + pattern.split(separator: "*", omittingEmptySubsequences: false)
            .map { NSRegularExpression.escapedPattern(for: String($0)) }.joined(separator: ".*") + "(\\..*)?$"
        return key.range(of: regex, options: .regularExpression) != nil
    }

    /// True when the subtree has parameters and none is trainable.
    public var isFrozen: Bool {
        let params = namedParameters
        return !params.isEmpty && params.allSatisfy { !$0.parameter.trainable }
    }

    // MARK: Description

    /// One line describing this module's configuration (e.g. `Conv2D(3→64, 3x3, stride 2, same)`).
    open var summary: String { String(describing: type(of: self)) }

    /// The tree with parameter shapes and counts; frozen parts are marked.
    public var description: String {
        var lines: [String] = []
        func visit(_ module: Module, name: String, depth: Int) {
            let indent = String(repeating: "  ", count: depth)
            let own = module.ownParameters.map { "\($0.name) \($0.parameter.shape)" }.joined(separator: ", ")
            let count = module.parameterCount
            var line = indent + (name.isEmpty ? "" : "(\(name)) ") + module.summary
            if !own.isEmpty { line += "  " + own }
            if count > 0 { line += "  [\(count.commaGrouped) params\(module.isFrozen ? ", frozen" : "")]" }
            lines.append(line)
            for (childName, child) in module.namedChildren { visit(child, name: childName, depth: depth + 1) }
        }
        visit(self, name: "", depth: 0)
        lines.append("Total: \(parameterCount.commaGrouped) parameters, \(trainableParameterCount.commaGrouped) trainable")
        return lines.joined(separator: "\n")
    }
}

extension Int {
    /// Thousands separated by commas (61,706).
    /// Thousands separated by commas, as the lecture notes' parameter tables print them.
    public var commaGrouped: String {
        let digits = String(Swift.abs(self))
        var out = ""
        for (i, ch) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (self < 0 ? "-" : "") + String(out.reversed())
    }
}

/// Collects module outputs during `Module.trace(_:)` (one per thread).
final class Tracer {
    var calls: [(module: Module, shape: [Int])] = []
    func record(_ module: Module, _ shape: [Int]) { calls.append((module, shape)) }

    private static let key = "graft.module.tracer"
    static var current: Tracer? {
        get { Thread.current.threadDictionary[key] as? Tracer }
        set { Thread.current.threadDictionary[key] = newValue }
    }
}
