import Foundation

/// The lecture notes' reading of the accuracy curves: "big gap = overfitting ⇒ increase
/// regularization strength; no gap ⇒ increase model capacity". Judged at the best epoch from
/// its training accuracy (measured during the epoch, with augmentation and dropout on, so a
/// little below the model's) against its validation accuracy.
public enum FitDiagnosis: Equatable, Sendable {
    /// Training accuracy `gap` (in [0, 1]) or more above validation accuracy.
    case overfitting(gap: Double)
    /// Training accuracy `train` well short of 100% and no more than a small gap above validation.
    case underfitting(train: Double)
    /// Neither: training a little above validation, or both near the top.
    case balanced

    /// A gap at least this large (15 points) reads as overfitting.
    public static let overfittingGap = 0.15
    /// A gap below this (5 points) with training accuracy under `fittedTrainAccuracy` reads as underfitting.
    public static let underfittingGap = 0.05
    /// Training accuracy from which a run counts as fitting its training data (95%).
    public static let fittedTrainAccuracy = 0.95

    /// The verdict for `history` at `bestEpoch` (1-based; nil: the last epoch); nil without a
    /// validation accuracy to compare with.
    public static func diagnose(_ history: [EpochRecord], bestEpoch: Int?) -> FitDiagnosis? {
        let record = bestEpoch.flatMap { epoch in history.first { $0.epoch == epoch } } ?? history.last
        guard let record, let validation = record.validationAccuracy else { return nil }
        let gap = record.trainAccuracy - validation
        if gap >= overfittingGap { return .overfitting(gap: gap) }
        if gap < underfittingGap && record.trainAccuracy < fittedTrainAccuracy {
            return .underfitting(train: record.trainAccuracy)
        }
        return .balanced
    }

    /// What the verdict means and what to try, for the run summary; nil when balanced.
    public var advice: String? {
        switch self {
        case .overfitting(let gap):
            return String(
                format:
                    "overfitting: training accuracy %.0f points above validation at the best epoch; regularise more "
                    + "(stronger --pipeline augmentation, --weight-decay, --mixup/--cutmix, a deeper --freeze) or add images",
                gap * 100)
        case .underfitting(let train):
            return String(
                format:
                    "underfitting: %.0f%% training accuracy with almost no gap to validation; give the model more "
                    + "capacity (a shallower --freeze, more --epochs, a higher --lr) or regularise less",
                train * 100)
        case .balanced:
            return nil
        }
    }
}

extension FitDiagnosis {
    /// The advice for a fine-tuning run, nil when balanced or when mixup / cutmix leave no
    /// hard-label training accuracy to compare.
    static func advice(_ history: [EpochRecord], bestEpoch: Int?, options: FineTuneOptions) -> String? {
        guard options.mixup == nil, options.cutmix == nil else { return nil }
        return diagnose(history, bestEpoch: bestEpoch)?.advice
    }
}
