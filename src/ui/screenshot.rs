//! `--screenshot FILE`: render a few frames, capture the window to PNG, then close.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use eframe::egui;

/// Frames to wait so fonts, layout and panel sizes have settled before capturing.
const SETTLE_FRAMES: u32 = 5;

const PENDING: u8 = 0;
const REQUESTED: u8 = 1;
const DONE: u8 = 2;

pub struct ScreenshotJob {
    path: PathBuf,
    frames: u32,
    phase: Arc<AtomicU8>,
}

impl ScreenshotJob {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            frames: 0,
            phase: Arc::new(AtomicU8::new(PENDING)),
        }
    }

    pub fn tick(&mut self, ctx: &egui::Context) {
        self.frames += 1;
        match self.phase.load(Ordering::Acquire) {
            PENDING if self.frames >= SETTLE_FRAMES => {
                self.phase.store(REQUESTED, Ordering::Release);
                let path = self.path.clone();
                let phase = self.phase.clone();
                let repaint = ctx.clone();
                ctx.request_screenshot(move |image| {
                    if let Err(e) = save_png(&path, &image) {
                        eprintln!("swarmdeck: cannot write screenshot {}: {e}", path.display());
                    }
                    phase.store(DONE, Ordering::Release);
                    repaint.request_repaint();
                });
            }
            DONE => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            _ => {}
        }
        ctx.request_repaint();
    }
}

fn save_png(path: &std::path::Path, image: &egui::ColorImage) -> anyhow::Result<()> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buf = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or_else(|| anyhow::anyhow!("screenshot has an unexpected size"))?;
    let mut png = std::io::Cursor::new(Vec::new());
    buf.write_to(&mut png, image::ImageFormat::Png)?;
    crate::fsutil::write_atomic(path, png.get_ref(), 0o644)?;
    Ok(())
}
