//! The bindable verbs. Every action has a snake_case name (what keymaps use) and a description
//! (what the help overlay and `print-default keymap` show).

macro_rules! actions {
    ($( $variant:ident => $name:literal, $desc:literal; )*) => {
        /// A verb a key can be bound to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $( $variant, )* }

        impl Action {
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )* ];

            pub fn name(self) -> &'static str {
                match self { $( Action::$variant => $name, )* }
            }

            pub fn description(self) -> &'static str {
                match self { $( Action::$variant => $desc, )* }
            }

            pub fn from_name(s: &str) -> Option<Action> {
                match s { $( $name => Some(Action::$variant), )* _ => None }
            }
        }
    };
}

actions! {
    Quit => "quit", "quit driftdeck";
    ToggleHelp => "toggle_help", "show or hide this help";
    Back => "back", "go back / close / clear";
    SelectNext => "select_next", "move down";
    SelectPrev => "select_prev", "move up";
    PageDown => "page_down", "page down";
    PageUp => "page_up", "page up";
    SelectFirst => "select_first", "go to the top";
    SelectLast => "select_last", "go to the bottom";
    Filter => "filter", "filter: text and facets (status:OutOfSync,Degraded env:prod)";
    CommandLine => "command_line", "the command line: :ctx, :cluster, :project, :ns, :sync, :diff, :queue, :theme, :q (tab completes)";
    Complete => "complete", "complete the command or its argument (again: the next candidate)";
    ClearFilter => "clear_filter", "clear the filter";
    ToggleAttention => "toggle_attention", "only apps that need attention";
    Facets => "facets", "pick status, env, instance, cluster, project facets";
    SortNext => "sort_next", "sort by the next column";
    SortPrev => "sort_prev", "sort by the previous column";
    SortReverse => "sort_reverse", "reverse the sort order";
    GroupNext => "group_next", "group by instance, cluster, project, or not at all";
    OpenApp => "open_app", "open the selected app";
    NextTab => "next_tab", "next tab";
    PrevTab => "prev_tab", "previous tab";
    TabResources => "tab_resources", "resource tree tab";
    TabConditions => "tab_conditions", "conditions tab";
    TabHistory => "tab_history", "history tab";
    TabEvents => "tab_events", "events tab";
    TabDecision => "tab_decision", "decision tab: what to do about the drift, and why";
    TabCluster => "tab_cluster", "cluster tab: the live pods, container states, restarts and events";
    Logs => "logs", "follow the log of the pod under the cursor (cluster tab), or open the child app (app of apps)";
    PreviousLogs => "previous_logs", "the previous container's log (a restarting pod's crash), or back to the live one";
    Describe => "describe", "describe the pod or workload under the cursor: conditions, container states, last termination, events";
    Yaml => "yaml", "the live YAML of the pod or workload under the cursor";
    PauseLogs => "pause_logs", "pause or resume the followed log (lines keep coming; the view stays)";
    NextMatch => "next_match", "the next line that matches the search";
    PrevMatch => "prev_match", "the previous line that matches the search";
    NextContainer => "next_container", "the log of the pod's next container";
    NextInstance => "next_instance", "narrow the fleet to the next Argo CD instance (then all again), like k9s's :ctx";
    DriftQueue => "drift_queue", "the drift queue: every drifted app, most urgent first";
    ShadowReport => "shadow_report", "the shadow report: how often the advice matched operators";
    Approve => "approve", "record that you agree with the advice";
    ChooseAllow => "choose_allow", "record your verdict: allow the drift";
    ChooseDefer => "choose_defer", "record your verdict: defer the revert";
    ChooseEnforce => "choose_enforce", "record your verdict: enforce Git";
    ChooseNeedsHuman => "choose_needs_human", "record your verdict: needs a human (no safe answer)";
    Reload => "reload", "reload the app's details now";
    Reconnect => "reconnect", "reconnect now to the instances that are down";
    Sync => "sync", "sync the app (or the marked apps): plan, options, confirm";
    Refresh => "refresh", "refresh the app (or the marked apps) from Git";
    HardRefresh => "hard_refresh", "hard refresh: re-render the manifests";
    Terminate => "terminate", "terminate the running operation";
    Rollback => "rollback", "roll back to the deployment under the cursor (history tab)";
    Defer => "defer", "defer the revert: pause self-heal until a time, with a reason";
    Annotate => "annotate", "annotate incident drift: incident id, note, label live resources";
    Adopt => "adopt", "adopt allowed drift: the ignoreDifferences entry and the Git patch";
    ResourceActions => "resource_actions", "the actions Argo CD offers for the resource under the cursor (restart, scale, a Rollout's promote or abort): pick, confirm";
    ToggleMark => "toggle_mark", "mark or unmark the app for an action on several";
    Diff => "diff", "show the live-vs-Git diff of the app";
    NextHunk => "next_hunk", "next change";
    PrevHunk => "prev_hunk", "previous change";
    NextResource => "next_resource", "next resource";
    PrevResource => "prev_resource", "previous resource";
    ToggleFold => "toggle_fold", "fold or unfold the resource (or unfold hidden lines)";
    ToggleView => "toggle_view", "unified or side-by-side";
    ToggleAll => "toggle_all", "show resources in sync too";
    CopyHunk => "copy_hunk", "copy the change under the cursor (OSC 52, works over SSH)";
    CopyDiff => "copy_diff", "copy the whole diff (OSC 52)";
    OpenPager => "open_pager", "open the diff in $PAGER";
    ExternalDiff => "external_diff", "open the two sides in the configured diff tool";
    Accept => "accept", "apply";
    Cancel => "cancel", "cancel";
    ToggleItem => "toggle_item", "toggle the item under the cursor";
    ClearItems => "clear_items", "clear every choice";
    DeleteChar => "delete_char", "delete the character before the cursor";
    DeleteWord => "delete_word", "delete the word before the cursor";
    ClearLine => "clear_line", "clear the input";
    CursorLeft => "cursor_left", "move the cursor left";
    CursorRight => "cursor_right", "move the cursor right";
}

impl Action {
    /// A movement in a list: one row, a page, or to an end.
    pub fn moves(self) -> bool {
        matches!(
            self,
            Action::SelectNext
                | Action::SelectPrev
                | Action::PageDown
                | Action::PageUp
                | Action::SelectFirst
                | Action::SelectLast
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(*a));
            assert!(seen.insert(a.name()));
            assert!(!a.description().is_empty());
        }
        assert_eq!(Action::from_name("nope"), None);
    }
}
