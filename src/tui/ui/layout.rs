//! Layout as pure functions of the size and the model, shared by `draw` and `update` (page
//! sizes), so scrolling and drawing always agree.

use ratatui::layout::Rect;

use crate::tui::model::Model;

/// Below this the screen shows a message instead of a garbled layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

pub fn too_small(size: (u16, u16)) -> bool {
    size.0 < MIN_WIDTH || size.1 < MIN_HEIGHT
}

/// Areas of the fleet screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetLayout {
    pub summary: Rect,
    pub instances: Rect,
    pub filter: Option<Rect>,
    pub header: Rect,
    pub body: Rect,
    pub status: Rect,
}

pub fn filter_visible(m: &Model) -> bool {
    m.input.is_some() || !m.view.filter.is_empty()
}

pub fn fleet(size: (u16, u16), filter: bool) -> FleetLayout {
    let (w, h) = size;
    let line = |y: u16| Rect::new(0, y.min(h.saturating_sub(1)), w, 1);
    let mut y = 0;
    let summary = line(y);
    y += 1;
    let instances = line(y);
    y += 1;
    let filter_r = if filter {
        let r = line(y);
        y += 1;
        Some(r)
    } else {
        None
    };
    let header = line(y);
    y += 1;
    let status = line(h.saturating_sub(1));
    let body = Rect::new(0, y, w, h.saturating_sub(y + 1));
    FleetLayout {
        summary,
        instances,
        filter: filter_r,
        header,
        body,
        status,
    }
}

/// Rows of the fleet table that fit on screen.
pub fn fleet_page(m: &Model) -> usize {
    fleet(m.size, filter_visible(m)).body.height as usize
}

/// Areas of the app screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppLayout {
    pub header: Rect,
    pub tabs: Rect,
    pub list_header: Rect,
    pub body: Rect,
    pub status: Rect,
}

pub const APP_HEADER_LINES: u16 = 5;

pub fn app(size: (u16, u16)) -> AppLayout {
    let (w, h) = size;
    let header = Rect::new(0, 0, w, APP_HEADER_LINES.min(h));
    let tabs = Rect::new(0, APP_HEADER_LINES.min(h), w, 1);
    let list_header = Rect::new(0, (APP_HEADER_LINES + 1).min(h), w, 1);
    let top = APP_HEADER_LINES + 2;
    let body = Rect::new(0, top.min(h), w, h.saturating_sub(top + 1));
    let status = Rect::new(0, h.saturating_sub(1), w, 1);
    AppLayout {
        header,
        tabs,
        list_header,
        body,
        status,
    }
}

pub fn app_page(size: (u16, u16)) -> usize {
    app(size).body.height as usize
}

/// The centred box of an overlay.
pub fn overlay(size: (u16, u16), want_w: u16, want_h: u16) -> Rect {
    let (w, h) = size;
    let bw = want_w.min(w.saturating_sub(4)).max(10.min(w));
    let bh = want_h.min(h.saturating_sub(2)).max(3.min(h));
    Rect::new((w - bw) / 2, (h - bh) / 2, bw, bh)
}

/// Rows of the facet picker that fit (inside its border).
pub fn facets_page(size: (u16, u16)) -> usize {
    overlay(size, 56, size.1.saturating_sub(4))
        .height
        .saturating_sub(3) as usize
}

/// Areas of the diff screen: a title line, the body, the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffLayout {
    pub title: Rect,
    pub body: Rect,
    pub status: Rect,
}

pub fn diff(size: (u16, u16)) -> DiffLayout {
    let (w, h) = size;
    DiffLayout {
        title: Rect::new(0, 0, w, 1.min(h)),
        body: Rect::new(0, 1.min(h), w, h.saturating_sub(2)),
        status: Rect::new(0, h.saturating_sub(1), w, 1),
    }
}

pub fn diff_page(size: (u16, u16)) -> usize {
    diff(size).body.height as usize
}
