//! Route registration: every route goes through `routes!`, so the OpenAPI document lists all of them.

mod access;
mod api_accounts;
mod audit;
mod auth;
mod break_glass;
mod checkouts;
mod dashboard;
mod groups;
mod integrations;
mod inventory;
mod oauth;
mod openapi;
mod policies;
mod recordings;
pub(crate) mod sessions;
mod ssh_keys;
mod sys;
mod users;

use crate::HttpState;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn register(router: OpenApiRouter<HttpState>) -> OpenApiRouter<HttpState> {
    router
        .routes(routes!(openapi::document))
        .routes(routes!(sys::status))
        .routes(routes!(sys::unseal))
        .routes(routes!(sys::seal))
        .routes(routes!(sys::rotate_root_key))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::begin_totp))
        .routes(routes!(auth::confirm_totp))
        .routes(routes!(ssh_keys::list_own, ssh_keys::add_own))
        .routes(routes!(ssh_keys::remove_own))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::disable))
        .routes(routes!(users::enable))
        .routes(routes!(users::unlock))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::reset_totp))
        .routes(routes!(ssh_keys::list_for_user, ssh_keys::add_for_user))
        .routes(routes!(ssh_keys::remove_for_user))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::get, groups::update, groups::delete))
        .routes(routes!(groups::add_member, groups::remove_member))
        .routes(routes!(inventory::search_targets, inventory::create_target))
        .routes(routes!(inventory::get_target, inventory::update_target, inventory::delete_target))
        .routes(routes!(inventory::fetch_host_key))
        .routes(routes!(inventory::pin_host_key))
        .routes(routes!(inventory::create_account))
        .routes(routes!(inventory::get_account, inventory::update_account, inventory::delete_account))
        .routes(routes!(inventory::export))
        .routes(routes!(inventory::import))
        .routes(routes!(api_accounts::list, api_accounts::create))
        .routes(routes!(api_accounts::get, api_accounts::update))
        .routes(routes!(api_accounts::rotate_secret))
        .routes(routes!(api_accounts::revoke))
        .routes(routes!(oauth::token))
        .routes(routes!(audit::events))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::record_export))
        .routes(routes!(policies::list, policies::create))
        .routes(routes!(policies::get, policies::update, policies::delete))
        .routes(routes!(access::list_requests, access::create_request))
        .routes(routes!(access::get_request))
        .routes(routes!(access::approve))
        .routes(routes!(access::deny))
        .routes(routes!(access::cancel))
        .routes(routes!(access::list_grants))
        .routes(routes!(access::get_grant))
        .routes(routes!(access::revoke_grant))
        .routes(routes!(integrations::tasks))
        .routes(routes!(integrations::test))
        .routes(routes!(integrations::incident_closed))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::get))
        .routes(routes!(sessions::events))
        .routes(routes!(sessions::terminate))
        .routes(routes!(sessions::watch))
        .routes(routes!(sessions::hold, sessions::release))
        .routes(routes!(recordings::set_credential))
        .routes(routes!(recordings::backlog))
        .routes(routes!(recordings::files))
        .routes(routes!(recordings::file))
        .routes(routes!(dashboard::dashboard))
        .routes(routes!(checkouts::list, checkouts::create))
        .routes(routes!(checkouts::get))
        .routes(routes!(checkouts::reveal))
        .routes(routes!(checkouts::check_in))
        .routes(routes!(checkouts::rotations))
        .routes(routes!(break_glass::list, break_glass::activate))
        .routes(routes!(break_glass::end))
}

/// Makes the generated document available to its own route.
pub(crate) fn with_openapi_document(
    router: Router<HttpState>,
    doc: std::sync::Arc<utoipa::openapi::OpenApi>,
) -> Router<HttpState> {
    router.layer(axum::Extension(doc))
}
