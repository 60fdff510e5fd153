//! Colours and labels for states, shared by every panel so they mean the same everywhere.

use eframe::egui::{self, Color32, RichText, Ui};

use crate::quorum::Verdict;
use crate::snapshot::{Availability, NodeState};

pub fn ok(ui: &Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(0x5c, 0xd6, 0x7a)
    } else {
        Color32::from_rgb(0x1a, 0x7f, 0x37)
    }
}

pub fn warn(ui: &Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(0xf2, 0xc1, 0x4e)
    } else {
        Color32::from_rgb(0x9a, 0x67, 0x00)
    }
}

pub fn bad(ui: &Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(0xff, 0x6b, 0x6b)
    } else {
        Color32::from_rgb(0xc0, 0x1c, 0x28)
    }
}

/// How much a finding matters, as a colour: errors bad, warnings warn, notes plain.
pub fn severity(ui: &Ui, severity: crate::severity::Severity) -> Color32 {
    use crate::severity::Severity;
    match severity {
        Severity::Error => bad(ui),
        Severity::Warning => warn(ui),
        Severity::Info => ui.visuals().text_color(),
    }
}

/// A node's state word, coloured: ready is good, anything else needs attention.
pub fn node_state(ui: &Ui, state: &NodeState) -> RichText {
    RichText::new(crate::untrusted::visible(state.as_str())).color(node_state_color(ui, state))
}

/// The colour of a node's state: ready is good, unknown uncertain, anything else bad.
pub fn node_state_color(ui: &Ui, state: &NodeState) -> Color32 {
    match state {
        NodeState::Ready => ok(ui),
        NodeState::Unknown => warn(ui),
        _ => bad(ui),
    }
}

pub fn availability(ui: &Ui, availability: &Availability) -> RichText {
    let color = match availability {
        Availability::Active => ok(ui),
        Availability::Pause | Availability::Drain => warn(ui),
        Availability::Other(_) => bad(ui),
    };
    RichText::new(crate::untrusted::visible(availability.as_str())).color(color)
}

pub fn verdict(ui: &Ui, verdict: Verdict) -> RichText {
    let color = match verdict {
        Verdict::Healthy => ok(ui),
        Verdict::AtRisk => warn(ui),
        Verdict::Lost | Verdict::NoManagers => bad(ui),
    };
    RichText::new(verdict.describe()).color(color).strong()
}

/// egui's bundled fonts lack arrows and check marks that the engine's messages use
/// (e.g. "node1→node4"); DejaVu (assets/fonts, free licence) fills those gaps as fallback.
pub fn install_fallback_fonts(ctx: &egui::Context) {
    use egui::epaint::text::{FontData, FontInsert, FontPriority, InsertFontFamily};
    let fallback = |family| InsertFontFamily {
        family,
        priority: FontPriority::Lowest,
    };
    ctx.add_font(FontInsert::new(
        "DejaVuSans",
        FontData::from_static(include_bytes!("../../assets/fonts/DejaVuSans.ttf")),
        vec![fallback(egui::FontFamily::Proportional)],
    ));
    ctx.add_font(FontInsert::new(
        "DejaVuSansMono",
        FontData::from_static(include_bytes!("../../assets/fonts/DejaVuSansMono.ttf")),
        vec![fallback(egui::FontFamily::Monospace)],
    ));
}
