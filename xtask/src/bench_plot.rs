//! The failover bench as a picture: one panel per load, variant and failure, each with the
//! distribution of the takeover overshoot of keepalived and of xvrrpd, overlaid. Drawn with
//! plotters' bitmap backend; text with ab_glyph and DejaVu Sans from Debian's
//! fonts-dejavu-core (read from its file: no font-config library involved).

use std::path::Path;

use anyhow::Context as _;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::bench_failover::{Failure, Series};

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const KEEPALIVED: RGBColor = RGBColor(214, 96, 77);
const XVRRPD: RGBColor = RGBColor(33, 102, 172);
const BINS: usize = 40;

fn register_font() -> anyhow::Result<()> {
    let bytes = std::fs::read(FONT)
        .with_context(|| format!("{FONT} (Debian's fonts-dejavu-core; cargo xtask setup)"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{FONT} is not a font"))
}

/// Draws every series of `all` into `path`.
pub fn failover(all: &[Series], path: &Path) -> anyhow::Result<()> {
    register_font()?;
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for s in all {
        if !rows.contains(&(s.load, s.variant.name)) {
            rows.push((s.load, s.variant.name));
        }
    }
    let width = 1800;
    let height = 90 + 330 * rows.len() as u32;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(90);
    title.draw(&Text::new(
        "Takeover overshoot (ms) after the master fails: first advert of the new master - \
         (last advert + Master_Down_Interval), SIGTERM: - (priority 0 + Skew_Time)",
        (20, 12),
        ("sans-serif", 22).into_font(),
    ))?;
    title.draw(&Text::new(
        "keepalived 2.2.7",
        (20, 52),
        ("sans-serif", 22).into_font().color(&KEEPALIVED),
    ))?;
    title.draw(&Text::new(
        "xvrrpd (kernel master-down timer)",
        (240, 52),
        ("sans-serif", 22).into_font().color(&XVRRPD),
    ))?;
    title.draw(&Text::new(
        crate::bench_env::machine(),
        (700, 56),
        ("sans-serif", 15).into_font(),
    ))?;
    let panels = body.split_evenly((rows.len(), Failure::ALL.len()));
    for (row, (load, variant)) in rows.iter().enumerate() {
        for (column, failure) in Failure::ALL.iter().enumerate() {
            let area = &panels[row * Failure::ALL.len() + column];
            let pick = |daemon: &str| -> Vec<f64> {
                all.iter()
                    .filter(|s| {
                        s.load == *load
                            && s.variant.name == *variant
                            && s.failure == *failure
                            && s.daemon == daemon
                    })
                    .flat_map(|s| s.samples.iter().map(|x| x.overshoot_ms))
                    .collect()
            };
            let keepalived = pick("keepalived");
            let xvrrpd = pick("xvrrpd");
            panel(
                area,
                &format!("{variant}, {}, {load}", failure.name()),
                &keepalived,
                &xvrrpd,
            )?;
        }
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    keepalived: &[f64],
    xvrrpd: &[f64],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let values = || keepalived.iter().chain(xvrrpd).copied();
    let low = values().fold(0.0_f64, f64::min).floor();
    let high = values().fold(0.5_f64, f64::max) * 1.05;
    let width = (high - low) / BINS as f64;
    let count = |samples: &[f64]| {
        let mut bins = vec![0u32; BINS];
        for v in samples {
            let bin = (((v - low) / width) as usize).min(BINS - 1);
            bins[bin] += 1;
        }
        bins
    };
    let (k, x) = (count(keepalived), count(xvrrpd));
    let top = k.iter().chain(&x).copied().max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(40)
        .build_cartesian_2d(low..high, 0u32..top + top / 8 + 1)?;
    chart
        .configure_mesh()
        .x_desc("overshoot (ms)")
        .y_desc("trials")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()?;
    for (bins, color) in [(&k, KEEPALIVED), (&x, XVRRPD)] {
        chart.draw_series(
            bins.iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| {
                    let left = low + width * i as f64;
                    Rectangle::new([(left, 0), (left + width, *n)], color.mix(0.6).filled())
                }),
        )?;
    }
    Ok(())
}
