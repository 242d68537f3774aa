//! Charts drawn on the server as SVG: stacked bars over time, coloured by class from
//! the console's stylesheet (no inline style, no script). Each bar carries its numbers
//! as a tooltip, and the chart a text alternative; the figures are also in a table
//! beside it.

use maud::{Markup, html};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
/// Room for the value axis on the left and the time labels below.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// One stacked series: its name and a value per bucket.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<u64>,
}

/// A round number at or above `max` for the top of the value axis.
fn axis_top(max: u64) -> u64 {
    let mut step = 1u64;
    while step.saturating_mul(10) <= max {
        step = step.saturating_mul(10);
    }
    let top = max.div_ceil(step).saturating_mul(step);
    top.max(1)
}

fn value_axis(top: u64) -> Markup {
    let plot = HEIGHT - BOTTOM - TOP;
    html! {
        @for i in 0..=2u32 {
            @let v = top * u64::from(i) / 2;
            @let y = TOP + plot - plot * f64::from(i) / 2.0;
            line.grid x1=(LEFT) x2=(WIDTH) y1=(y) y2=(y) {}
            text.axis x=(LEFT - 4.0) y=(y + 4.0) text-anchor="end" { (v) }
        }
    }
}

fn time_axis(labels: &[String], bar: f64) -> Markup {
    let n = labels.len();
    let picks = [0, n / 2, n.saturating_sub(1)];
    html! {
        @for (k, &i) in picks.iter().enumerate() {
            @if k == 0 || i != picks[k - 1] {
                @let anchor = ["start", "middle", "end"][k];
                @let x = LEFT + bar * i as f64 + if k == 2 { bar } else { 0.0 };
                text.axis x=(x) y=(HEIGHT - 6.0) text-anchor=(anchor) { (labels[i]) }
            }
        }
    }
}

/// One drawn bar segment: its series, where it stands, and its tooltip.
struct Segment {
    series: usize,
    x: f64,
    y: f64,
    height: f64,
    tip: String,
}

fn segments(series: &[Series<'_>], labels: &[String], top: u64, bar: f64) -> Vec<Segment> {
    let plot = HEIGHT - BOTTOM - TOP;
    let scale = plot / top as f64;
    let mut out = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + bar * i as f64;
        let mut base = TOP + plot;
        for (s, one) in series.iter().enumerate() {
            let v = one.values.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let height = v as f64 * scale;
            base -= height;
            let tip = format!("{label}, {}: {v}", one.name);
            out.push(Segment {
                series: s,
                x,
                y: base,
                height,
                tip,
            });
        }
    }
    out
}

fn bars(series: &[Series<'_>], labels: &[String], top: u64, bar: f64) -> Markup {
    let width = (bar * 0.85).max(1.0);
    html! {
        @for g in segments(series, labels, top, bar) {
            rect class={ "s" (g.series) } x=(g.x) y=(g.y) width=(width) height=(g.height) {
                title { (g.tip) }
            }
        }
    }
}

/// Stacked bars, one per bucket (`labels`), each series a colour; `title` names the
/// chart for assistive technology.
pub fn stacked(title: &str, labels: &[String], series: &[Series<'_>]) -> Markup {
    let totals = (0..labels.len()).map(|i| {
        series
            .iter()
            .map(|s| s.values.get(i).copied().unwrap_or(0))
            .sum::<u64>()
    });
    let top = axis_top(totals.max().unwrap_or(0));
    let bar = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let summary: Vec<String> = series
        .iter()
        .map(|s| format!("{} {}", s.name, s.values.iter().sum::<u64>()))
        .collect();
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-label={ (title) ": " (summary.join(", ")) } {
                (value_axis(top))
                (bars(series, labels, top, bar))
                @if !labels.is_empty() { (time_axis(labels, bar)) }
            }
            figcaption {
                (title) ":"
                @for (s, one) in series.iter().enumerate() {
                    " " span class={ "key s" (s) } {} " " (one.name)
                    " (" (one.values.iter().sum::<u64>()) ")"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_number() {
        assert_eq!(axis_top(0), 1);
        assert_eq!(axis_top(7), 7);
        assert_eq!(axis_top(42), 50);
        assert_eq!(axis_top(100), 100);
        assert_eq!(axis_top(101), 200);
    }

    #[test]
    fn bars_stack_and_say_what_they_show() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let s = [
            Series {
                name: "in",
                values: vec![1, 0],
            },
            Series {
                name: "out",
                values: vec![3, 2],
            },
        ];
        let svg = stacked("Messages", &labels, &s).into_string();
        assert_eq!(svg.matches("<rect").count(), 3, "no bar for a zero");
        assert!(
            svg.contains("aria-label=\"Messages: in 1, out 5\""),
            "{svg}"
        );
        assert!(svg.contains("<title>b, out: 2</title>"), "{svg}");
        assert!(!svg.contains("style="), "no inline style under the CSP");
    }
}
