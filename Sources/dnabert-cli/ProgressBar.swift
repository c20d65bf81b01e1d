import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on standard error when it is a terminal; occasional plain lines otherwise.
final class ProgressBar {
    private let isTTY = isatty(2) != 0
    private var lastStage = ""
    private var lastPrint = 0.0
    private let quiet: Bool

    init(quiet: Bool) { self.quiet = quiet }

    /// `detail` (e.g. the current loss) is shown after the bar; only a change of `stage` starts a new line.
    func update(stage: String, current: Int64, total: Int64, elapsed: Double, eta: Double, detail: String = "") {
        if quiet { return }
        let now = elapsed
        let stageChanged = stage != lastStage
        if !stageChanged && now - lastPrint < (isTTY ? 0.1 : 5.0) && current != total { return }
        if stageChanged && !lastStage.isEmpty && isTTY { fputs("\n", stderr) }
        lastStage = stage
        lastPrint = now
        var line = "\(stage)"
        if total > 0 {
            let frac = min(1.0, max(0.0, Double(current) / Double(total)))
            let width = 30
            let filled = Int(frac * Double(width))
            line += " [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
            line += " \(current)/\(total) \(Int(frac * 100))%"
        } else {
            line += " \(current)"
        }
        line += "  \(formatSeconds(elapsed))"
        if eta >= 0 { line += " eta \(formatSeconds(eta))" }
        if !detail.isEmpty { line += "  " + detail }
        if isTTY { fputs("\r\u{1B}[K" + line, stderr) } else { fputs(line + "\n", stderr) }
    }

    func finish() {
        if !quiet && isTTY && !lastStage.isEmpty { fputs("\n", stderr) }
    }
}

func formatSeconds(_ s: Double) -> String {
    if s < 60 { return String(Int(s * 10) / 10) + "." + String(Int(s * 10) % 10) + "s" }
    let m = Int(s) / 60, sec = Int(s) % 60
    if m < 60 { return "\(m)m\(sec < 10 ? "0" : "")\(sec)s" }
    return "\(m / 60)h\((m % 60) < 10 ? "0" : "")\(m % 60)m"
}

/// Monotonic seconds: the library's one clock.
func now() -> Double { Clock.now() }
