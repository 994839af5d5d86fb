//! The store's behaviour, the same suite on SQLite (a temporary file) and PostgreSQL (a
//! throw-away server the tests start; see `support/postgres.rs`).

mod support;

use support::{suite, Fixture};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    suite::$name(&Fixture::sqlite()).await;
                }
            )*
        }

        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(fixture) = Fixture::postgres(stringify!($name)).await else {
                        return;
                    };
                    suite::$name(&fixture).await;
                }
            )*
        }
    };
}

on_both_backends!(
    domains_add_list_remove,
    users_add_get_update_remove,
    duplicate_number_refused_naming_the_number,
    numbers_follow_the_line_uri,
    all_numbers_list_every_holder,
    extensions_share_a_main_number,
    credentials_set_get_replace,
    paging_walks_every_user_once,
    batch_is_all_or_nothing,
    generation_counts_provisioning_writes_only,
    second_writer_is_seen_by_the_first,
    bindings_upsert_list_remove,
    expired_before_is_strict,
    data_survives_reopen,
    batch_input_is_validated,
    racing_claims_of_one_number_one_wins,
    large_batch_applies_in_one_go,
    manual_presence_set_replace_clear,
    access_rules_by_watcher,
    contact_list_keeps_order,
    calendar_set_and_clear,
    publications_replace_and_expire,
    subscriptions_survive_reopen,
    presence_generation_is_for_provisioning_only,
    presence_goes_with_the_user,
);
