//! The desktop app (egui/eframe). It renders state and sends commands to the service;
//! it never touches the network itself.

use std::path::PathBuf;

mod activity_panel;
pub(crate) mod app;
mod backups_panel;
#[cfg(feature = "bench")]
pub mod bench;
mod certs_panel;
mod connectivity_panel;
pub mod console_panel;
mod doctor_panel;
mod health;
pub mod hosts_panel;
mod jobs;
mod log_buffer;
pub mod logs_panel;
mod maintenance_panel;
mod networks_panel;
mod node_labels;
mod overview;
pub mod panel;
mod placement_panel;
pub mod plan_flow;
pub mod preflight_view;
mod quorum_panel;
mod registry;
mod rollout_view;
mod screenshot;
mod secrets_panel;
mod services_panel;
mod stacks_panel;
mod state;
mod style;
mod topology;
pub mod wizard_panel;
mod workload_view;

pub use app::SwarmdeckApp;
pub use hosts_panel::TestState;
pub use state::{AppState, Panel, Source};

/// How the window starts.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Open on the built-in demo cluster.
    pub demo: bool,
    /// Open on this inventory and take a live snapshot.
    pub inventory: Option<PathBuf>,
    /// Render this panel, write a PNG here and exit (for docs and visual checks).
    pub screenshot: Option<PathBuf>,
    /// Open this bundle (or snapshot) file for offline troubleshooting.
    pub open: Option<PathBuf>,
    pub panel: Option<Panel>,
    /// When the process started, to report the time to the first frame.
    pub started: Option<std::time::Instant>,
    /// Print the time to first frame and peak memory on exit (for benchmarks).
    pub report_startup: bool,
}

/// Opens the window and runs until it is closed.
pub fn run(opts: RunOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("swarmdeck")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([720.0, 480.0])
            .with_app_id("swarmdeck")
            .with_icon(
                eframe::icon_data::from_png_bytes(include_bytes!(
                    "../../assets/icons/swarmdeck-256.png"
                ))
                .unwrap_or_default(),
            ),
        ..Default::default()
    };
    eframe::run_native(
        "swarmdeck",
        native,
        Box::new(move |cc| Ok(Box::new(SwarmdeckApp::new(&cc.egui_ctx, opts)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
