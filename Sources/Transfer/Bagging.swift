import Foundation
import Logging
import Vision

/// Bagging (Breiman, 1996; the lecture notes' first way of avoiding overfitting): `models`
/// ordinary runs, each on its own bootstrap resample of the training split
/// (`FineTuneOptions.bootstrap`), vote by averaging their probabilities (`Ensemble`). The seed,
/// and so the validation and test splits, is the same for every member, so the ensemble is
/// scored on images none of them trained on.
public enum Bagging {
    /// The members and how their ensemble scores.
    public struct Result: Sendable {
        /// The members' runs, resample 1 first.
        public var members: [FineTuneResult]
        /// The ensemble on the shared validation split.
        public var validation: Evaluation
        /// The ensemble on the shared held-out test split, when there is one.
        public var test: Evaluation?

        /// The members' model files, for `finetune predict --model … --model …`.
        public var files: [String] { members.map { $0.runFolder + "/model.h5" } }

        /// "bagged ensemble of 3 models: validation accuracy 60.3% (members 55.2–58.6%), …".
        public var summaryLine: String {
            let each = members.map(\.validation.accuracy)
            var line = String(
                format: "bagged ensemble of %d models: validation accuracy %.1f%% (members %.1f–%.1f%%)", members.count,
                validation.accuracy * 100, (each.min() ?? 0) * 100, (each.max() ?? 0) * 100)
            if let test {
                let tests = members.compactMap { $0.test?.accuracy }
                line += String(
                    format: ", held-out test accuracy %.1f%% (members %.1f–%.1f%%)", test.accuracy * 100,
                    (tests.min() ?? 0) * 100, (tests.max() ?? 0) * 100)
            }
            return line
        }
    }

    /// Trains `models` members (resamples 1 through `models` of `options`' training split) and
    /// scores their ensemble.
    /// - Throws: `LimitError` for fewer than 2 models, and whatever a member's run throws.
    public static func run(_ options: FineTuneOptions, models: Int, log: Logger = .graft) throws -> Result {
        guard models >= 2 else {
            throw LimitError(option: "models", value: "\(models)", allowed: "at least 2 for an ensemble")
        }
        var members: [FineTuneResult] = []
        for draw in 1...models {
            var member = options
            member.bootstrap = draw
            log.info("bagging: model \(draw) of \(models)")
            members.append(try FineTune.run(member, log: log))
        }
        let data = try FineTune.loadData(try FineTune.resolve(options), log: .silent)
        let ensemble = try Ensemble(files: members.map { $0.runFolder + "/model.h5" })
        return Result(
            members: members, validation: ensemble.evaluate(data.images, indices: data.split.validation),
            test: data.split.test.isEmpty ? nil : ensemble.evaluate(data.images, indices: data.split.test))
    }
}
