//! The terminal UI: model, pure `update`, rendering, keymaps and themes, and the runtime that
//! performs effects and owns the terminal.
pub mod action;
pub mod app;
pub mod color;
pub mod command;
pub mod decisions;
/// The diff screen's state lives with the model (`model::diff`); the old path stays.
pub use model::diff as diffview;
pub mod effect;
pub mod keymap;
pub mod load;
pub mod model;
pub mod msg;
/// Dialogs and operations: the update side lives in `update::dialog`; the old path stays.
pub use update::dialog as ops;
pub mod runtime;
pub mod theme;
pub mod ui;
pub mod update;
pub mod views;
