/// A self-contained SVG plot of training and validation loss against step, written by the CLI at the end of a
/// run (no plotting library needed to look at a run).
public enum LossCurveSVG {
    public static func render(_ history: [TrainingProgress], title: String = "MLM loss") -> String {
        let w = 640.0, h = 400.0, left = 60.0, right = 20.0, top = 40.0, bottom = 50.0
        let train = history.map { (Double($0.step), $0.loss) }.filter { $0.1.isFinite }
        let val = history.compactMap { p in p.validationLoss.map { (Double(p.step), $0) } }.filter { $0.1.isFinite }
        let all = train + val
        guard let maxStep = all.map(\.0).max(), let lo0 = all.map(\.1).min(), let hi0 = all.map(\.1).max() else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\"><text x=\"20\" y=\"40\">no data</text></svg>\n"
        }
        let lo = lo0 - 0.05 * max(hi0 - lo0, 1e-3), hi = hi0 + 0.05 * max(hi0 - lo0, 1e-3)
        func x(_ s: Double) -> Double { left + (w - left - right) * s / max(maxStep, 1) }
        func y(_ v: Double) -> Double { top + (h - top - bottom) * (hi - v) / (hi - lo) }
        func fmt(_ v: Double) -> String { String(Double(Int(v * 100)) / 100) }
        func path(_ pts: [(Double, Double)]) -> String {
            pts.enumerated().map { (i, p) in (i == 0 ? "M" : "L") + fmt(x(p.0)) + "," + fmt(y(p.1)) }.joined(separator: " ")
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(fmt(w / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(title)</text>\n"
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        for i in 0...4 {
            let v = lo + (hi - lo) * Double(i) / 4
            s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y(v) + 4))\" text-anchor=\"end\">\(fmt(v))</text>\n"
            let st = maxStep * Double(i) / 4
            s += "<text x=\"\(fmt(x(st)))\" y=\"\(fmt(h - bottom + 18))\" text-anchor=\"middle\">\(Int(st))</text>\n"
        }
        s += "<text x=\"\(fmt(w / 2))\" y=\"\(fmt(h - 10))\" text-anchor=\"middle\">step</text>\n"
        if !train.isEmpty { s += "<path d=\"\(path(train))\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\n" }
        if !val.isEmpty {
            s += "<path d=\"\(path(val))\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n"
            for p in val { s += "<circle cx=\"\(fmt(x(p.0)))\" cy=\"\(fmt(y(p.1)))\" r=\"3\" fill=\"#d62728\"/>\n" }
        }
        s += "<text x=\"\(fmt(w - right - 150))\" y=\"\(fmt(top + 14))\" fill=\"#1f77b4\">training loss</text>\n"
        s += "<text x=\"\(fmt(w - right - 150))\" y=\"\(fmt(top + 30))\" fill=\"#d62728\">validation loss</text>\n"
        s += "</svg>\n"
        return s
    }
}
