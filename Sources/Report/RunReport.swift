import Foundation
import Vision

/// report.html: one self-contained page for a run (no network; the charts are the PNGs beside
/// it, the thumbnails inline): the options and recipe, the epoch table, the curves, the
/// confusion matrix, per-class precision, recall and F1, the misclassified validation images
/// with their true and predicted labels, and the augmentation preview.
public struct RunReport {
    /// A misclassified validation image, shown as a thumbnail with its labels.
    public struct Mistake {
        /// The image as the run decoded it (values in [0, 1]), inlined as PNG.
        public var image: Image
        /// The image's path (the page shows its file name).
        public var name: String
        /// The true class's name.
        public var truth: String
        /// The predicted class's name.
        public var predicted: String
        /// The softmax probability of the predicted class, in [0, 1].
        public var confidence: Double
        /// A mistake of `image` at `name`, true class `truth`, predicted `predicted` with `confidence`.
        public init(image: Image, name: String, truth: String, predicted: String, confidence: Double) {
            self.image = image
            self.name = name
            self.truth = truth
            self.predicted = predicted
            self.confidence = confidence
        }
    }

    /// The page's title and heading.
    public var title: String
    /// (name, value) pairs shown first: base, data, freeze, recipe, results.
    public var facts: [(String, String)]
    /// The epoch table: a header row, then one row per epoch.
    public var epochHeader: [String]
    /// One row of cells per epoch, under `epochHeader`; a row's first cell is its epoch number.
    public var epochRows: [[String]]
    /// The epoch whose row is highlighted; nil: none.
    public var bestEpoch: Int?
    /// The class names in label order, for the per-class table.
    public var classNames: [String]
    /// The validation confusion matrix (rows: true class, columns: predicted).
    public var confusion: [[Int]]
    /// The misclassified images to show, in the order given (the run puts the most confident first).
    public var mistakes: [Mistake]
    /// PNG files beside report.html.
    public var charts: [(file: String, caption: String)]

    /// A report of these parts; `html` renders it.
    public init(title: String, facts: [(String, String)], epochHeader: [String], epochRows: [[String]], bestEpoch: Int?,
                classNames: [String], confusion: [[Int]], mistakes: [Mistake], charts: [(file: String, caption: String)]) {
        self.title = title
        self.facts = facts
        self.epochHeader = epochHeader
        self.epochRows = epochRows
        self.bestEpoch = bestEpoch
        self.classNames = classNames
        self.confusion = confusion
        self.mistakes = mistakes
        self.charts = charts
    }

    /// Precision, recall and F1 per class from the confusion matrix (rows: truth).
    public static func perClass(_ m: [[Int]]) -> [(precision: Double, recall: Double, f1: Double, support: Int)] {
        m.indices.map { c in
            let tp = Double(m[c][c])
            let predicted = Double(m.reduce(0) { $0 + $1[c] })
            let actual = Double(m[c].reduce(0, +))
            let precision = predicted > 0 ? tp / predicted : 0
            let recall = actual > 0 ? tp / actual : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return (precision, recall, f1, Int(actual))
        }
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The page as one HTML document: inline CSS and thumbnails, the charts linked by file name
    /// (`augmentation` files in their own section).
    public var html: String {
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title))</title>
        <style>
        body { font-family: "DejaVu Sans", sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
        h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
        table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
        th { background: #f3f4f6; } td.left, th.left { text-align: left; } tr.best { background: #fff5d6; font-weight: bold; }
        .charts img { max-width: 100%; margin: 6px 0; } .mistakes { display: flex; flex-wrap: wrap; gap: 10px; }
        .mistake { width: 120px; font-size: 11px; overflow-wrap: anywhere; } .mistake img { width: 112px; height: 112px; image-rendering: pixelated; border: 1px solid #ccc; }
        .facts td:first-child { font-weight: bold; text-align: left; } .facts td { text-align: left; }
        </style></head><body>
        <h1>\(Self.escape(title))</h1>
        <table class="facts">

        """
        for (name, value) in facts { h += "<tr><td>\(Self.escape(name))</td><td>\(Self.escape(value))</td></tr>\n" }
        h += "</table>\n<h2>Curves</h2>\n<div class=\"charts\">\n"
        for chart in charts where !chart.file.contains("augmentation") {
            h += "<figure><img src=\"\(chart.file)\" alt=\"\(Self.escape(chart.caption))\"><figcaption>\(Self.escape(chart.caption))</figcaption></figure>\n"
        }
        h += "</div>\n<h2>Epochs</h2>\n<table><tr>" + epochHeader.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>\n"
        for row in epochRows {
            let best = Int(row.first ?? "") == bestEpoch
            h += "<tr\(best ? " class=\"best\"" : "")>" + row.map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>\n"
        }
        h += "</table>\n<h2>Per class (validation split)</h2>\n<table><tr><th class=\"left\">class</th><th>precision</th><th>recall</th><th>F1</th><th>images</th></tr>\n"
        for (name, m) in zip(classNames, Self.perClass(confusion)) {
            h += String(format: "<tr><td class=\"left\">%@</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td></tr>\n",
                        Self.escape(name), m.precision, m.recall, m.f1, m.support)
        }
        h += "</table>\n<h2>Misclassified validation images</h2>\n"
        if mistakes.isEmpty { h += "<p>None.</p>\n" }
        h += "<div class=\"mistakes\">\n"
        for m in mistakes {
            let data = (try? m.image.pngData()).map { Data($0).base64EncodedString() } ?? ""
            h += "<div class=\"mistake\"><img src=\"data:image/png;base64,\(data)\" alt=\"\(Self.escape(m.name))\"><br>"
                + "true <b>\(Self.escape(m.truth))</b><br>predicted <b>\(Self.escape(m.predicted))</b> "
                + String(format: "(%.0f%%)", m.confidence * 100) + "<br>\(Self.escape((m.name as NSString).lastPathComponent))</div>\n"
        }
        h += "</div>\n<h2>Augmentation</h2>\n<div class=\"charts\">\n"
        for chart in charts where chart.file.contains("augmentation") {
            h += "<figure><img src=\"\(chart.file)\" alt=\"augmentation preview\"><figcaption>\(Self.escape(chart.caption))</figcaption></figure>\n"
        }
        h += "</div>\n</body></html>\n"
        return h
    }
}
