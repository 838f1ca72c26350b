import Foundation
import Logging
import Vision

/// Bagging (Breiman, 1996; the lecture notes' first way of avoiding overfitting): `models`
/// ordinary runs, each on its own bootstrap resample of the training split
/// (`FineTuneOptions.bootstrap`), vote by averaging their probabilities (`Ensemble`). The seed,
/// and so the validation and test splits, is the same for every member, so the ensemble is
/// scored on images none of them trained on.
public enum Bagging {
    /// One member: its run folder and how its model.h5 scores on the shared splits.
    public struct Member: Sendable {
        /// The member's run folder (`NAME-bagK`).
        public var runFolder: String
        /// Its model on the shared validation split.
        public var validation: Evaluation
        /// Its model on the shared held-out test split, when there is one.
        public var test: Evaluation?
        /// How this call got it: trained now, resumed from its checkpoint, or reused as it was.
        public var origin: Origin
    }

    /// Where a member came from.
    public enum Origin: String, Sendable {
        /// Trained from the start by this call.
        case trained
        /// An interrupted run of the same member, finished from its last checkpoint.
        case resumed
        /// A finished run of the same member (same options, same resample), used as it is.
        case reused
    }

    /// The members and how their ensemble scores.
    public struct Result: Sendable {
        /// The members, resample 1 first.
        public var members: [Member]
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
    /// scores their ensemble. A member that an earlier call already trained (a run folder
    /// with the same options and the same resample) is reused when it finished and resumed
    /// from its checkpoint when it was interrupted, so running the command again after Ctrl-C
    /// loses nothing; `fresh` trains every member anew instead.
    /// - Throws: `LimitError` for fewer than 2 models, and whatever a member's run throws.
    public static func run(
        _ options: FineTuneOptions, models: Int, fresh: Bool = false, log: Logger = .graft
    ) throws -> Result {
        guard models >= 2 else {
            throw LimitError(option: "models", value: "\(models)", allowed: "at least 2 for an ensemble")
        }
        let data = try FineTune.loadData(try FineTune.resolve(options), log: .silent)
        var folders: [(String, Origin)] = []
        for draw in 1...models {
            var member = options
            member.bootstrap = draw
            var split = data.split
            split.train = FineTune.bootstrapped(
                data.split.train, labels: data.images.labels, seed: options.seed, draw: draw)
            switch fresh ? nil : try earlierRun(of: member, split: split) {
            case .some((let folder, true)):
                log.info("bagging: model \(draw) of \(models): reusing the finished run \(folder)")
                folders.append((folder, .reused))
            case .some((let folder, false)):
                log.info("bagging: model \(draw) of \(models): resuming the interrupted run \(folder)")
                folders.append((try FineTune.resume(folder, log: log).runFolder, .resumed))
            case .none:
                log.info("bagging: model \(draw) of \(models)")
                folders.append((try FineTune.run(member, log: log).runFolder, .trained))
            }
        }
        func score(_ models: [TrainedModel]) throws -> (Evaluation, Evaluation?) {
            let ensemble = try Ensemble(models)
            return (
                ensemble.evaluate(data.images, indices: data.split.validation),
                data.split.test.isEmpty ? nil : ensemble.evaluate(data.images, indices: data.split.test)
            )
        }
        let models = try folders.map { try TrainedModel(contentsOf: $0.0 + "/model.h5") }
        let members = try zip(folders, models).map { member, model in
            let (validation, test) = try score([model])
            return Member(runFolder: member.0, validation: validation, test: test, origin: member.1)
        }
        let (validation, test) = try score(models)
        return Result(members: members, validation: validation, test: test)
    }

    /// A run folder of `member` under its runs directory (`NAME-bagK`, `NAME-bagK-2`, …) that
    /// started with the same options and trained on `split`, and whether it finished; a
    /// finished one is preferred to an interrupted one with a checkpoint, a later one to an
    /// earlier. Runs that diverged, or have neither, do not count.
    static func earlierRun(of member: FineTuneOptions, split: DatasetSplit) throws -> (String, finished: Bool)? {
        let name = try FineTune.resolve(member).runName
        let root = member.runsDirectory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let candidates = names.filter {
            $0 == name || ($0.hasPrefix(name + "-") && Int($0.dropFirst(name.count + 1)) != nil)
        }
        var found: [(String, finished: Bool)] = []
        for candidate in candidates {
            let folder = root + "/" + candidate
            guard let (saved, status) = try? RunFolder.readStart(folder), sameRequest(saved, member),
                (try? DatasetSplit.load(folder + "/split.json")) == split
            else { continue }
            if status.state == .finished, FileManager.default.fileExists(atPath: folder + "/model.h5") {
                found.append((folder, true))
            } else if status.state != .diverged, FileManager.default.fileExists(atPath: folder + "/checkpoint.h5") {
                found.append((folder, false))
            }
        }
        func suffix(_ folder: String) -> Int { Int(folder.dropFirst(root.count + 1 + name.count + 1)) ?? 1 }
        return found.max { ($0.finished ? 1 : 0, suffix($0.0)) < ($1.finished ? 1 : 0, suffix($1.0)) }
    }

    /// Whether a run folder's options.json (what `--lr auto` and `--freeze auto` resolved to)
    /// records a run of `requested`.
    static func sameRequest(_ saved: FineTuneOptions, _ requested: FineTuneOptions) -> Bool {
        var saved = saved
        if requested.autoLearningRate {
            saved.learningRate = requested.learningRate
            saved.autoLearningRate = true
        }
        if requested.freeze == .auto { saved.freeze = .auto }
        return saved == requested
    }
}
