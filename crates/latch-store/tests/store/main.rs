//! The store test suite: every check runs on SQLite (a temporary file) and on PostgreSQL (a fresh
//! database on the shared throwaway cluster of `latch-testkit`).
//!
//! Each check is an `async fn check_xxx(store: Store) -> anyhow::Result<()>` in one of the modules
//! below; [`on_both_backends!`] turns it into the tests `xxx_sqlite` and `xxx_postgres`. The
//! PostgreSQL variant prints a skip line and passes when no PostgreSQL is installed, unless
//! `LATCH_REQUIRE_POSTGRES=1`.

mod access_policies;
mod access_requests;
mod audit;
mod break_glass;
mod checkouts;
mod fixtures;
mod harness;
mod identity;
mod inventory;
mod machine_identities;
mod retention;
mod session_reports;
mod siem_cursors;
mod siem_session_events;
mod ssh_keys;
mod transactions;
mod vault;

/// For each `check => sqlite_test, postgres_test;` defines the two tests.
macro_rules! on_both_backends {
    ($($check:path => $sqlite:ident, $postgres:ident;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $sqlite() -> anyhow::Result<()> {
                harness::run_on_sqlite($check).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $postgres() -> anyhow::Result<()> {
                harness::run_on_postgres(stringify!($postgres), $check).await
            }
        )*
    };
}

on_both_backends! {
    identity::check_users => users_sqlite, users_postgres;
    identity::check_user_lockout_and_login => user_lockout_and_login_sqlite, user_lockout_and_login_postgres;
    identity::check_totp_steps => totp_steps_sqlite, totp_steps_postgres;
    identity::check_user_delete_cascades => user_delete_cascades_sqlite, user_delete_cascades_postgres;
    identity::check_groups => groups_sqlite, groups_postgres;
    identity::check_auth_sessions => auth_sessions_sqlite, auth_sessions_postgres;
    vault::check_vault_meta => vault_meta_sqlite, vault_meta_postgres;
    vault::check_vault_secrets_and_root_keys => vault_secrets_and_root_keys_sqlite, vault_secrets_and_root_keys_postgres;
    audit::check_audit_list_filters => audit_list_filters_sqlite, audit_list_filters_postgres;
    audit::check_audit_verify_in_chunks => audit_verify_in_chunks_sqlite, audit_verify_in_chunks_postgres;
    audit::check_audit_tamper_details => audit_tamper_details_sqlite, audit_tamper_details_postgres;
    audit::check_audit_tamper_gap => audit_tamper_gap_sqlite, audit_tamper_gap_postgres;
    audit::check_audit_tamper_last_row => audit_tamper_last_row_sqlite, audit_tamper_last_row_postgres;
    audit::check_audit_tamper_swapped_seq => audit_tamper_swapped_seq_sqlite, audit_tamper_swapped_seq_postgres;
    audit::check_audit_concurrent_appends => audit_concurrent_appends_sqlite, audit_concurrent_appends_postgres;
    inventory::check_targets => targets_sqlite, targets_postgres;
    inventory::check_target_search_agrees_with_matches =>
        target_search_agrees_with_matches_sqlite, target_search_agrees_with_matches_postgres;
    inventory::check_accounts => accounts_sqlite, accounts_postgres;
    inventory::check_target_delete_with_secrets => target_delete_with_secrets_sqlite, target_delete_with_secrets_postgres;
    machine_identities::check_api_accounts => api_accounts_sqlite, api_accounts_postgres;
    machine_identities::check_api_tokens => api_tokens_sqlite, api_tokens_postgres;
    ssh_keys::check_user_ssh_keys => user_ssh_keys_sqlite, user_ssh_keys_postgres;
    transactions::check_dropped_transaction_leaves_nothing =>
        dropped_transaction_leaves_nothing_sqlite, dropped_transaction_leaves_nothing_postgres;
    access_policies::check_policies => policies_sqlite, policies_postgres;
    access_policies::check_policy_reads_are_consistent =>
        policy_reads_are_consistent_sqlite, policy_reads_are_consistent_postgres;
    access_requests::check_access_requests => access_requests_sqlite, access_requests_postgres;
    access_requests::check_request_decision_race => request_decision_race_sqlite, request_decision_race_postgres;
    access_requests::check_request_approval_quorum_race =>
        request_approval_quorum_race_sqlite, request_approval_quorum_race_postgres;
    access_requests::check_grants => grants_sqlite, grants_postgres;
    access_requests::check_gateway_sessions => gateway_sessions_sqlite, gateway_sessions_postgres;
    access_requests::check_end_abandoned_during_end =>
        end_abandoned_during_end_sqlite, end_abandoned_during_end_postgres;
    checkouts::check_checkouts => checkouts_sqlite, checkouts_postgres;
    checkouts::check_rotation_queue => rotation_queue_sqlite, rotation_queue_postgres;
    checkouts::check_exclusive_checkout_race => exclusive_checkout_race_sqlite, exclusive_checkout_race_postgres;
    siem_cursors::check_siem_cursors => siem_cursors_sqlite, siem_cursors_postgres;
    siem_cursors::check_siem_cursor_races => siem_cursor_races_sqlite, siem_cursor_races_postgres;
    siem_cursors::check_audit_stream_shows_no_gaps_while_appending =>
        audit_stream_shows_no_gaps_while_appending_sqlite, audit_stream_shows_no_gaps_while_appending_postgres;
    siem_session_events::check_session_events_export_in_whole_positions =>
        session_events_export_in_whole_positions_sqlite, session_events_export_in_whole_positions_postgres;
    siem_session_events::check_session_events_stream_skips_nothing_while_sessions_end =>
        session_events_stream_skips_nothing_while_sessions_end_sqlite,
        session_events_stream_skips_nothing_while_sessions_end_postgres;
    break_glass::check_break_glass => break_glass_sqlite, break_glass_postgres;
    session_reports::check_session_report_filters =>
        session_report_filters_sqlite, session_report_filters_postgres;
    session_reports::check_session_events => session_events_sqlite, session_events_postgres;
    break_glass::check_break_glass_grants_and_sessions =>
        break_glass_grants_and_sessions_sqlite, break_glass_grants_and_sessions_postgres;
    retention::check_recordings_due => recordings_due_sqlite, recordings_due_postgres;
    retention::check_recordings_due_in_pages => recordings_due_in_pages_sqlite, recordings_due_in_pages_postgres;
    retention::check_legal_holds => legal_holds_sqlite, legal_holds_postgres;
}
