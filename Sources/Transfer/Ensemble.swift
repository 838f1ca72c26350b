import Engine
import Foundation
import Layers
import Vision
import Zoo

/// Several trained models that vote by averaging their class probabilities (the lecture
/// notes: "average top performing models"). Each model sees the images through its own
/// preprocessing; all must name the same classes in the same order.
public struct Ensemble {
    /// The models that vote, each with its own preprocessing; never empty.
    public let members: [TrainedModel]
    /// The class names every member shares, in output order.
    public var classNames: [String] { members[0].classNames }

    /// An ensemble of `members`.
    /// - Throws: `EnsembleError.empty` without members, `.differentClasses` when their class names differ.
    public init(_ members: [TrainedModel]) throws {
        guard let first = members.first else { throw EnsembleError.empty }
        for m in members where m.classNames != first.classNames {
            throw EnsembleError.differentClasses(first.classNames, m.classNames)
        }
        self.members = members
    }

    /// An ensemble of the Graft weight files at `files` (loaded as `TrainedModel(contentsOf:)`).
    public init(files: [String]) throws {
        try self.init(try files.map { try TrainedModel(contentsOf: $0) })
    }

    /// The averaged probabilities of each image file (decoded once per input size).
    public func probabilities(ofFile path: String, decoder: ImageDecoder = ImageDecoder()) throws -> [Float] {
        var sum = [Float](repeating: 0, count: classNames.count)
        for member in members {
            let size = (member.preprocessing.inputSize[1], member.preprocessing.inputSize[0])
            let p = member.probabilities([try decoder.decode(contentsOf: path, fitting: size)])[0]
            for i in sum.indices { sum[i] += p[i] / Float(members.count) }
        }
        return sum
    }

    /// Accuracy and confusion matrix of the averaged prediction on the images of `source` at
    /// `indices` (nil: every image); the loss is the cross-entropy of the averaged probabilities.
    public func evaluate(_ source: LabeledImageSource, indices: [Int]? = nil) -> Evaluation {
        let k = classNames.count
        var sums: [Int: [Float]] = [:]
        var labels: [Int: Int] = [:]
        for member in members {
            let loader = member.loader(source, indices: indices)
            member.model.eval()
            for batch in loader.batches(epoch: 0) {
                let p = Kernels.softmax(member.model.predict(batch.images), axis: 1)
                for (row, index) in batch.indices.enumerated() {
                    var s = sums[index] ?? [Float](repeating: 0, count: k)
                    for c in 0..<k { s[c] += p.scalars[row * k + c] / Float(members.count) }
                    sums[index] = s
                    labels[index] = batch.labels[row]
                }
            }
        }
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var loss = 0.0
        for (index, p) in sums {
            let truth = labels[index]!
            confusion[truth][p.indices.max { p[$0] < p[$1] }!] += 1
            loss -= Foundation.log(Double(max(p[truth], 1e-12)))
        }
        let n = max(sums.count, 1)
        let correct = (0..<k).reduce(0) { $0 + confusion[$1][$1] }
        return Evaluation(loss: loss / Double(n), accuracy: Double(correct) / Double(n), confusion: confusion)
    }
}

/// Why models cannot form an ensemble.
public enum EnsembleError: Error, CustomStringConvertible {
    /// No model was given.
    case empty
    /// Two members name different classes (or the same in another order): the first's, then the other's.
    case differentClasses([String], [String])
    /// A one-line message for users.
    public var description: String {
        switch self {
        case .empty: return "an ensemble needs at least one --model"
        case .differentClasses(let a, let b):
            return
                "the models name different classes (\(a.joined(separator: ", ")) and \(b.joined(separator: ", "))); an ensemble averages the same classes"
        }
    }
}
