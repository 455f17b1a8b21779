import Foundation

/// One line of a chart, with an optional confidence band.
public struct ChartSeries {
    /// Legend text.
    public var name: String
    /// CSS colour.
    public var color: String
    /// (x, y) points, in x order.
    public var points: [(x: Double, y: Double)]
    /// (x, low, high) band drawn under the line.
    public var band: [(x: Double, low: Double, high: Double)] = []
    /// Dashed line (second figures).
    public var dashed = false

    /// A series; `band` and `dashed` as their properties.
    public init(name: String, color: String, points: [(x: Double, y: Double)], band: [(x: Double, low: Double, high: Double)] = [],
                dashed: Bool = false) {
        self.name = name
        self.color = color
        self.points = points
        self.band = band
        self.dashed = dashed
    }
}

/// A static line chart rendered as inline SVG: axes with rounded ticks, one polyline and markers
/// per series, shaded bands, a legend. No scripts, no external resources.
public struct LineChart {
    /// The chart's title.
    public var title: String
    /// The x axis's label.
    public var xLabel = "round"
    /// The y axis's label.
    public var yLabel: String
    /// The lines.
    public var series: [ChartSeries]
    /// Fixed y range (e.g. 0...1 for rates); nil fits the data.
    public var yRange: ClosedRange<Double>?
    /// Tick and tooltip text of a y value; nil: as many decimals as the tick step needs.
    public var formatY: ((Double) -> String)?
    /// Whether the y axis starts at zero (for counts such as bytes).
    public var includeZero = false
    /// Size in pixels.
    public var width = 760.0, height = 300.0

    /// A chart; the other properties keep their defaults.
    public init(title: String, xLabel: String = "round", yLabel: String, series: [ChartSeries], yRange: ClosedRange<Double>? = nil,
                formatY: ((Double) -> String)? = nil, includeZero: Bool = false, width: Double = 760, height: Double = 300) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yRange = yRange
        self.formatY = formatY
        self.includeZero = includeZero
        self.width = width
        self.height = height
    }

    /// Line colours, in series order.
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf"]

    /// The chart as an `<svg>` element.
    public func svg() -> String {
        let left = 74.0, right = 16.0, top = 28.0
        let columns = legendColumns
        let legendRows = Int((Double(series.count) / Double(columns)).rounded(.up))
        let bottom = 44.0 + 18.0 * Double(legendRows)
        let plotW = width - left - right, plotH = height - top - bottom
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"system-ui, sans-serif\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\n"
        out += "<text x=\"\(f(left))\" y=\"18\" font-size=\"13\" font-weight=\"600\">\(HTML.escape(title))</text>\n"
        let xs = series.flatMap { $0.points.map(\.x) + $0.band.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) + $0.band.flatMap { [$0.low, $0.high] } }.filter(\.isFinite)
        guard let xMinData = xs.min(), let xMaxData = xs.max(), !ys.isEmpty else {
            out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" font-size=\"13\" fill=\"#999\">"
                + "no data</text>\n</svg>"
            return out
        }
        // Half a round of margin on each side, so a point of the first or last round (a client
        // sampled once, a one-round run) sits clear of the axes.
        let xMin = xMinData - 0.5, xMax = xMaxData + 0.5
        var yLow = yRange?.lowerBound ?? ys.min() ?? 0, yHigh = yRange?.upperBound ?? ys.max() ?? 1
        if includeZero { yLow = min(yLow, 0) }
        if yHigh <= yLow {
            let pad = max(abs(yHigh) * 0.1, 0.5)
            yLow -= includeZero && yLow == 0 ? 0 : pad
            yHigh += pad
        }
        let yTicks = Self.ticks(yLow, yHigh, count: 5)
        let step = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        let decimals = max(0, min(6, Int((-log10(step)).rounded(.up))))
        let label = formatY ?? { abs($0) >= 1e4 ? Self.compact($0) : String(format: "%.\(decimals)f", $0) }
        let tooltip = formatY ?? { String(format: "%.4g", $0) }
        if yRange == nil, let first = yTicks.first, let last = yTicks.last { yLow = min(yLow, first); yHigh = max(yHigh, last) }
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - yLow) / (yHigh - yLow) * plotH }

        // Grid and axes.
        for t in yTicks where t >= yLow - 1e-12 && t <= yHigh + 1e-12 {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(t)))\" stroke=\"#e6e6e6\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#444\">\(HTML.escape(label(t)))</text>\n"
        }
        for t in Self.ticks(xMin, xMax, count: 8, integer: true) where t >= xMin && t <= xMax {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + plotH + 4))\" stroke=\"#888\"/>"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">\(Self.compact(t))</text>\n"
        }
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"#888\"/>"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" stroke=\"#888\"/>\n"
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 32))\" text-anchor=\"middle\" font-size=\"12\">\(HTML.escape(xLabel))</text>"
        out += "<text transform=\"translate(14 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">"
            + "\(HTML.escape(yLabel))</text>\n"

        // Bands, then lines and markers.
        for s in series where !s.band.isEmpty {
            let upper = s.band.map { "\(f(px($0.x))),\(f(py($0.high)))" }
            let lower = s.band.reversed().map { "\(f(px($0.x))),\(f(py($0.low)))" }
            out += "<polygon class=\"band\" fill-opacity=\"0.15\" stroke=\"none\" fill=\"\(s.color)\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
        }
        for s in series where !s.points.isEmpty {
            let points = s.points.filter { $0.y.isFinite }.map { "\(f(px($0.x))),\(f(py($0.y)))" }
            out += "<polyline class=\"line\" fill=\"none\" stroke-width=\"1.8\" stroke=\"\(s.color)\"\(s.dashed ? " stroke-dasharray=\"5 3\"" : "") "
                + "points=\"\(points.joined(separator: " "))\"/>\n"
            for p in s.points where p.y.isFinite {
                out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(s.points.count == 1 ? 4 : 2.5)\" fill=\"\(s.color)\">"
                    + "<title>\(HTML.escape(s.name)) round \(Self.compact(p.x)): \(HTML.escape(tooltip(p.y)))</title></circle>"
            }
            out += "\n"
        }

        // Legend.
        for (i, s) in series.enumerated() {
            let x = left + Double(i % columns) * (plotW / Double(columns)), y = top + plotH + 48 + Double(i / columns) * 18
            out += "<rect x=\"\(f(x))\" y=\"\(f(y - 9))\" width=\"12\" height=\"10\" fill=\"\(s.color)\"/>"
            out += "<text x=\"\(f(x + 16))\" y=\"\(f(y))\" font-size=\"11\" fill=\"#333\">\(HTML.escape(s.name))</text>\n"
        }
        return out + "</svg>"
    }

    /// Legend entries per row: as many as fit their longest name (about 6.5 px per character).
    var legendColumns: Int {
        let longest = Double(series.map(\.name.count).max() ?? 1)
        return max(1, min(6, Int((width - 80) / (longest * 6.5 + 28))))
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Round tick values covering [low, high]: steps of 1, 2 or 5 × 10^k.
    static func ticks(_ low: Double, _ high: Double, count: Int, integer: Bool = false) -> [Double] {
        guard high > low, count > 0 else { return [low] }
        let raw = (high - low) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = max([1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw, integer ? 1 : 0)
        var t = floor(low / step) * step, out: [Double] = []
        while out.last.map({ $0 < high - step * 1e-9 }) ?? true, out.count < 4 * count + 2 {
            out.append(t)
            t += step
        }
        return out
    }

    /// `12`, `0.25`, `1.5k`, `3.2M`.
    static func compact(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e9 { return String(format: "%.3gG", v / 1e9) }
        if a >= 1e6 { return String(format: "%.3gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%.3gk", v / 1e3) }
        if v == v.rounded() { return String(Int(v)) }
        return String(format: a >= 1 ? "%.2f" : "%.3f", v)
    }
}

/// HTML text helpers for the self-contained reports.
public enum HTML {
    /// A whole page around `body`: inline CSS, no scripts, no external resources.
    public static func page(title: String, body: String, maxWidth: Int = 980) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>\(escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: \(maxWidth)px; color: #222; }
        h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
        table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
        th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .muted { color: #777; } pre.config { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
        svg.chart { display: block; margin: 0.6em 0; }
        .refused { color: #2a7a2a; } .complied { color: #b22; }
        </style></head><body>
        \(body)</body></html>

        """
    }

    /// `s` with `&`, `<`, `>`, `"` and `'` escaped.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
