//! Small SVG charts for the report, written as text (no plotting crate): a
//! histogram of latency samples and a line chart of series against a
//! (log-scaled) x axis.

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn frame(out: &mut String, title: &str, x_label: &str, y_label: &str) {
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ =
        writeln!(out, r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#, W / 2.0, escape(title));
    let _ = writeln!(out, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, W / 2.0, H - 10.0, escape(x_label));
    let _ = writeln!(
        out,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
        H / 2.0,
        H / 2.0,
        escape(y_label)
    );
    let _ = writeln!(out, r#"<path d="M{LEFT} {TOP} V{} H{}" fill="none" stroke="black"/>"#, H - BOTTOM, W - RIGHT);
}

fn tick(out: &mut String, x: Option<f64>, y: Option<f64>, label: &str) {
    match (x, y) {
        (Some(x), _) => {
            let _ = writeln!(
                out,
                r#"<line x1="{x:.1}" y1="{b}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"#,
                H - BOTTOM + 5.0,
                H - BOTTOM + 18.0,
                b = H - BOTTOM
            );
        }
        (None, Some(y)) => {
            let _ = writeln!(
                out,
                r#"<line x1="{}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="black"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"#,
                LEFT - 5.0,
                LEFT - 8.0,
                y + 4.0
            );
        }
        _ => {}
    }
}

fn nice(v: f64) -> String {
    if v == 0.0 || (0.01..10_000.0).contains(&v.abs()) {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

/// A histogram of `samples` (e.g. milliseconds) in `bins` equal bins from 0
/// to the largest sample.
pub fn histogram(title: &str, x_label: &str, samples: &[f64], bins: usize) -> String {
    let mut out = String::new();
    frame(&mut out, title, x_label, "pods");
    let max = samples.iter().copied().fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let bins = bins.max(1);
    let mut counts = vec![0u64; bins];
    for s in samples {
        let i = ((s / max) * bins as f64) as usize;
        counts[i.min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let bw = pw / bins as f64;
    for (i, c) in counts.iter().enumerate() {
        let h = *c as f64 / top * ph;
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"/>"#,
            LEFT + i as f64 * bw,
            H - BOTTOM - h,
            (bw - 1.0).max(0.5),
            COLORS[0]
        );
    }
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        tick(&mut out, Some(LEFT + f * pw), None, &nice(f * max));
        tick(&mut out, None, Some(H - BOTTOM - f * ph), &nice(f * top));
    }
    out.push_str("</svg>\n");
    out
}

/// Lines through each series' (x, y) points; x on a log10 scale when `log_x`.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    let mut out = String::new();
    frame(&mut out, title, x_label, y_label);
    let fx = |x: f64| if log_x { x.max(f64::MIN_POSITIVE).log10() } else { x };
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
    for (x, y) in points {
        x0 = x0.min(fx(*x));
        x1 = x1.max(fx(*x));
        y1 = y1.max(*y);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        (x0, x1) = (x0 - 0.5, x1 + 0.5);
    }
    let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |x: f64| LEFT + (fx(x) - x0) / (x1 - x0) * pw;
    let py = |y: f64| H - BOTTOM - y / y1 * ph;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
        let _ =
            writeln!(out, r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#, path.join(" "));
        for (x, y) in pts {
            let _ = writeln!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#, px(*x), py(*y));
        }
        let ly = TOP + 4.0 + 16.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="12" height="3" fill="{color}"/><text x="{}" y="{}">{}</text>"#,
            LEFT + 12.0,
            ly,
            LEFT + 30.0,
            ly + 5.0,
            escape(name)
        );
    }
    let mut xs: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(|(x, _)| *x)).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    for x in xs {
        tick(&mut out, Some(px(x)), None, &nice(x));
    }
    for k in 0..=4 {
        let y = k as f64 / 4.0 * y1;
        tick(&mut out, None, Some(py(y)), &nice(y));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_closed_svg_documents() {
        let h = histogram("startup", "ms", &[1.0, 2.0, 2.5, 10.0], 10);
        assert!(h.starts_with("<svg") && h.ends_with("</svg>\n"), "{h}");
        assert_eq!(h.matches("<rect").count(), 1 + 10);
        let l = line_chart("t", "nodes", "ms", true, &[("e2e", vec![(100.0, 1.0), (1000.0, 2.0)]), ("a<b", vec![])]);
        assert!(l.contains("<polyline") && l.contains("a&lt;b") && l.ends_with("</svg>\n"), "{l}");
        assert!(histogram("empty", "ms", &[], 5).ends_with("</svg>\n"));
    }
}
