//! One method per route of the HTTP API, grouped as the server's `routes` module is.

use super::{Client, ClientError};
use crate::*;
use reqwest::Method;

const API: [&str; 2] = ["api", "v1"];

/// `["api", "v1", rest…]`
macro_rules! path {
    ($($segment:expr),* $(,)?) => {
        &[API[0], API[1], $($segment),*]
    };
}

/// The system: status, unseal, seal, root-key rotation.
impl Client {
    pub async fn status(&self) -> Result<VaultStatusView, ClientError> {
        self.get(path!("sys", "status")).await
    }

    pub async fn unseal(&self, request: &UnsealRequest) -> Result<VaultStatusView, ClientError> {
        self.post(path!("sys", "unseal"), request).await
    }

    pub async fn seal(&self) -> Result<VaultStatusView, ClientError> {
        self.post_empty(path!("sys", "seal")).await
    }

    pub async fn rotate_root_key(&self) -> Result<RotationView, ClientError> {
        self.post_empty(path!("sys", "rotate-root-key")).await
    }
}

/// The caller's own login, session, password and second factor.
impl Client {
    pub async fn login(&self, request: &LoginRequest) -> Result<LoginResponse, ClientError> {
        self.post(path!("auth", "login"), request).await
    }

    pub async fn me(&self) -> Result<MeView, ClientError> {
        self.get(path!("auth", "me")).await
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        self.empty(self.request(Method::POST, path!("auth", "logout"))?).await
    }

    pub async fn change_password(&self, request: &ChangePasswordRequest) -> Result<(), ClientError> {
        self.empty(self.request(Method::POST, path!("auth", "password"))?.json(request)).await
    }

    pub async fn totp_enroll(&self) -> Result<TotpEnrollmentView, ClientError> {
        self.post_empty(path!("auth", "totp", "enroll")).await
    }

    pub async fn totp_confirm(&self, request: &TotpConfirmRequest) -> Result<(), ClientError> {
        self.empty(self.request(Method::POST, path!("auth", "totp", "confirm"))?.json(request)).await
    }
}

/// SSH public keys: the caller's own (`user = None`) or a user's, by id or username.
impl Client {
    pub async fn list_ssh_keys(&self, user: Option<&str>) -> Result<SshKeyListView, ClientError> {
        match user {
            Some(user) => self.get(path!("users", user, "ssh-keys")).await,
            None => self.get(path!("auth", "ssh-keys")).await,
        }
    }

    pub async fn add_ssh_key(&self, user: Option<&str>, request: &AddSshKeyRequest) -> Result<SshKeyView, ClientError> {
        match user {
            Some(user) => self.post(path!("users", user, "ssh-keys"), request).await,
            None => self.post(path!("auth", "ssh-keys"), request).await,
        }
    }

    pub async fn remove_ssh_key(&self, user: Option<&str>, key: &str) -> Result<(), ClientError> {
        match user {
            Some(user) => self.delete(path!("users", user, "ssh-keys", key)).await,
            None => self.delete(path!("auth", "ssh-keys", key)).await,
        }
    }
}

/// Users, by id or username.
impl Client {
    pub async fn list_users(&self, limit: Option<i64>, offset: Option<i64>) -> Result<UserListView, ClientError> {
        let query: Vec<(&str, i64)> = [("limit", limit), ("offset", offset)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
        self.get_query(path!("users"), &query).await
    }

    pub async fn create_user(&self, request: &CreateUserRequest) -> Result<CreateUserResponse, ClientError> {
        self.post(path!("users"), request).await
    }

    pub async fn get_user(&self, user: &str) -> Result<UserView, ClientError> {
        self.get(path!("users", user)).await
    }

    pub async fn update_user(&self, user: &str, request: &UpdateUserRequest) -> Result<UserView, ClientError> {
        self.patch(path!("users", user), request).await
    }

    pub async fn delete_user(&self, user: &str) -> Result<(), ClientError> {
        self.delete(path!("users", user)).await
    }

    pub async fn disable_user(&self, user: &str) -> Result<UserView, ClientError> {
        self.post_empty(path!("users", user, "disable")).await
    }

    pub async fn enable_user(&self, user: &str) -> Result<UserView, ClientError> {
        self.post_empty(path!("users", user, "enable")).await
    }

    pub async fn unlock_user(&self, user: &str) -> Result<UserView, ClientError> {
        self.post_empty(path!("users", user, "unlock")).await
    }

    pub async fn reset_user_password(&self, user: &str) -> Result<PasswordResetView, ClientError> {
        self.post_empty(path!("users", user, "reset-password")).await
    }

    pub async fn reset_user_totp(&self, user: &str) -> Result<UserView, ClientError> {
        self.post_empty(path!("users", user, "reset-totp")).await
    }
}

/// Groups, by id or name.
impl Client {
    pub async fn list_groups(&self) -> Result<GroupListView, ClientError> {
        self.get(path!("groups")).await
    }

    pub async fn create_group(&self, request: &CreateGroupRequest) -> Result<GroupView, ClientError> {
        self.post(path!("groups"), request).await
    }

    pub async fn get_group(&self, group: &str) -> Result<GroupDetailsView, ClientError> {
        self.get(path!("groups", group)).await
    }

    pub async fn update_group(&self, group: &str, request: &UpdateGroupRequest) -> Result<GroupView, ClientError> {
        self.patch(path!("groups", group), request).await
    }

    pub async fn delete_group(&self, group: &str) -> Result<(), ClientError> {
        self.delete(path!("groups", group)).await
    }

    pub async fn add_group_member(&self, group: &str, user: &str) -> Result<(), ClientError> {
        self.empty(self.request(Method::PUT, path!("groups", group, "members", user))?).await
    }

    pub async fn remove_group_member(&self, group: &str, user: &str) -> Result<(), ClientError> {
        self.delete(path!("groups", group, "members", user)).await
    }
}

/// Targets and their accounts, and the inventory as a document.
impl Client {
    pub async fn search_targets(&self, params: &TargetSearchParams) -> Result<TargetSearchView, ClientError> {
        self.get_query(path!("targets"), params).await
    }

    pub async fn create_target(&self, request: &CreateTargetRequest) -> Result<TargetView, ClientError> {
        self.post(path!("targets"), request).await
    }

    pub async fn get_target(&self, target: &str) -> Result<TargetDetailsView, ClientError> {
        self.get(path!("targets", target)).await
    }

    pub async fn update_target(&self, target: &str, request: &UpdateTargetRequest) -> Result<TargetView, ClientError> {
        self.patch(path!("targets", target), request).await
    }

    /// The SSH host key the target presents to the Latch server (not trusted by this call).
    pub async fn fetch_host_key(&self, target: &str) -> Result<PresentedHostKeyView, ClientError> {
        self.post_empty(path!("targets", target, "host-key", "fetch")).await
    }

    pub async fn pin_host_key(&self, target: &str, request: &PinHostKeyRequest) -> Result<TargetView, ClientError> {
        self.put(path!("targets", target, "host-key"), request).await
    }

    pub async fn delete_target(&self, target: &str) -> Result<(), ClientError> {
        self.delete(path!("targets", target)).await
    }

    pub async fn create_account(
        &self,
        target: &str,
        request: &CreateAccountRequest,
    ) -> Result<AccountView, ClientError> {
        self.post(path!("targets", target, "accounts"), request).await
    }

    pub async fn get_account(&self, account: &str) -> Result<AccountView, ClientError> {
        self.get(path!("accounts", account)).await
    }

    pub async fn update_account(
        &self,
        account: &str,
        request: &UpdateAccountRequest,
    ) -> Result<AccountView, ClientError> {
        self.patch(path!("accounts", account), request).await
    }

    pub async fn delete_account(&self, account: &str) -> Result<(), ClientError> {
        self.delete(path!("accounts", account)).await
    }

    pub async fn export_inventory(&self) -> Result<InventoryDocumentView, ClientError> {
        self.get(path!("inventory", "export")).await
    }

    pub async fn import_inventory(&self, document: &InventoryDocumentView) -> Result<ImportReportView, ClientError> {
        self.post(path!("inventory", "import"), document).await
    }
}

/// API accounts and their OAuth client-credentials tokens.
impl Client {
    pub async fn list_api_accounts(&self) -> Result<ApiAccountListView, ClientError> {
        self.get(path!("api-accounts")).await
    }

    pub async fn create_api_account(
        &self,
        request: &CreateApiAccountRequest,
    ) -> Result<ApiAccountSecretView, ClientError> {
        self.post(path!("api-accounts"), request).await
    }

    pub async fn get_api_account(&self, api_account: &str) -> Result<ApiAccountView, ClientError> {
        self.get(path!("api-accounts", api_account)).await
    }

    pub async fn update_api_account(
        &self,
        api_account: &str,
        request: &UpdateApiAccountRequest,
    ) -> Result<ApiAccountView, ClientError> {
        self.patch(path!("api-accounts", api_account), request).await
    }

    pub async fn rotate_api_account_secret(&self, api_account: &str) -> Result<ApiAccountSecretView, ClientError> {
        self.post_empty(path!("api-accounts", api_account, "rotate-secret")).await
    }

    pub async fn revoke_api_account(&self, api_account: &str) -> Result<ApiAccountView, ClientError> {
        self.post_empty(path!("api-accounts", api_account, "revoke")).await
    }

    /// `POST /oauth/token` with the request as a form (client credentials in the form).
    pub async fn oauth_token(&self, request: &TokenRequest) -> Result<TokenResponse, ClientError> {
        self.json(self.http.post(self.url(&["oauth", "token"])?).form(request)).await
    }
}

/// The audit log.
impl Client {
    pub async fn audit_events(&self, params: &AuditQueryParams) -> Result<AuditPageView, ClientError> {
        self.get_query(path!("audit", "events"), params).await
    }

    pub async fn audit_verify(&self, params: &AuditVerifyParams) -> Result<AuditVerifyView, ClientError> {
        self.get_query(path!("audit", "verify"), params).await
    }

    pub async fn audit_record_export(&self, report: &AuditExportReport) -> Result<AuditExportRecorded, ClientError> {
        self.post(path!("audit", "exports"), report).await
    }
}

/// Access policies, by id or name.
impl Client {
    pub async fn list_policies(&self) -> Result<PolicyListView, ClientError> {
        self.get(path!("policies")).await
    }

    pub async fn create_policy(&self, request: &PolicyRequest) -> Result<PolicyView, ClientError> {
        self.post(path!("policies"), request).await
    }

    pub async fn get_policy(&self, policy: &str) -> Result<PolicyView, ClientError> {
        self.get(path!("policies", policy)).await
    }

    pub async fn update_policy(&self, policy: &str, request: &PolicyRequest) -> Result<PolicyView, ClientError> {
        self.put(path!("policies", policy), request).await
    }

    pub async fn delete_policy(&self, policy: &str) -> Result<(), ClientError> {
        self.delete(path!("policies", policy)).await
    }
}

/// Requests for time-bound access and their decisions.
impl Client {
    pub async fn request_access(&self, request: &CreateAccessRequest) -> Result<RequestOutcomeView, ClientError> {
        self.post(path!("requests"), request).await
    }

    pub async fn list_requests(&self, params: &RequestListParams) -> Result<AccessRequestListView, ClientError> {
        self.get_query(path!("requests"), params).await
    }

    pub async fn get_request(&self, request: &str) -> Result<AccessRequestView, ClientError> {
        self.get(path!("requests", request)).await
    }

    pub async fn approve_request(
        &self,
        request: &str,
        decision: &DecisionRequest,
    ) -> Result<RequestOutcomeView, ClientError> {
        self.post(path!("requests", request, "approve"), decision).await
    }

    pub async fn deny_request(
        &self,
        request: &str,
        decision: &DecisionRequest,
    ) -> Result<RequestOutcomeView, ClientError> {
        self.post(path!("requests", request, "deny"), decision).await
    }

    pub async fn cancel_request(&self, request: &str) -> Result<AccessRequestView, ClientError> {
        self.post_empty(path!("requests", request, "cancel")).await
    }
}

/// Incident integrations: the open tasks of a ticket, and test mode (admin).
impl Client {
    pub async fn incident_tasks(
        &self,
        integration: &str,
        params: &IncidentTasksParams,
    ) -> Result<IncidentTaskListView, ClientError> {
        self.get_query(path!("integrations", integration, "tasks"), params).await
    }

    pub async fn test_integration(
        &self,
        integration: &str,
        request: &IntegrationTestRequest,
    ) -> Result<IntegrationTestView, ClientError> {
        self.post(path!("integrations", integration, "test"), request).await
    }
}

/// Grants: time-bound access given by approved requests.
impl Client {
    pub async fn list_grants(&self, params: &GrantListParams) -> Result<GrantListView, ClientError> {
        self.get_query(path!("grants"), params).await
    }

    pub async fn get_grant(&self, grant: &str) -> Result<GrantView, ClientError> {
        self.get(path!("grants", grant)).await
    }

    pub async fn revoke_grant(&self, grant: &str, request: &RevokeGrantRequest) -> Result<GrantView, ClientError> {
        self.post(path!("grants", grant, "revoke"), request).await
    }
}

/// Gateway sessions.
impl Client {
    pub async fn list_sessions(&self, params: &SessionListParams) -> Result<SessionListView, ClientError> {
        self.get_query(path!("sessions"), params).await
    }

    pub async fn get_session(&self, session: &str) -> Result<SessionView, ClientError> {
        self.get(path!("sessions", session)).await
    }

    pub async fn session_events(
        &self,
        session: &str,
        params: &SessionEventParams,
    ) -> Result<SessionEventListView, ClientError> {
        self.get_query(path!("sessions", session, "events"), params).await
    }

    pub async fn terminate_session(&self, session: &str) -> Result<SessionView, ClientError> {
        self.post_empty(path!("sessions", session, "terminate")).await
    }

    /// Places a legal hold on the session's recording; answers with the session.
    pub async fn hold_session(&self, session: &str, request: &LegalHoldRequest) -> Result<SessionView, ClientError> {
        self.post(path!("sessions", session, "legal-hold"), request).await
    }

    /// Releases the legal hold on the session's recording; answers with the session.
    pub async fn release_session(&self, session: &str) -> Result<SessionView, ClientError> {
        self.json(self.request(Method::DELETE, path!("sessions", session, "legal-hold"))?).await
    }

    /// The dashboard's counts over the last `params.days` days.
    pub async fn dashboard(&self, params: &DashboardParams) -> Result<DashboardView, ClientError> {
        self.get_query(path!("dashboard"), params).await
    }

    /// The files of a session's recording.
    pub async fn recording_files(&self, session: &str) -> Result<RecordingFilesView, ClientError> {
        self.get(path!("sessions", session, "recording")).await
    }

    /// One file of a session's recording, as stored.
    pub async fn recording_file(&self, session: &str, file: &str) -> Result<Vec<u8>, ClientError> {
        self.bytes(self.request(Method::GET, path!("sessions", session, "recording", file))?).await
    }

    /// Stores the recording storage's credential in the vault.
    pub async fn set_storage_credential(&self, request: &StorageCredentialRequest) -> Result<(), ClientError> {
        self.empty(self.request(Method::PUT, path!("recordings", "storage-credential"))?.json(request)).await
    }

    /// The answering node's recording upload backlog.
    pub async fn upload_backlog(&self) -> Result<UploadBacklogView, ClientError> {
        self.get(path!("recordings", "backlog")).await
    }

    /// Follows a live session as asciicast v2 lines (see [`ASCIICAST_CONTENT_TYPE`]) until it ends.
    pub async fn watch_session(&self, session: &str) -> Result<super::LineStream, ClientError> {
        self.lines(self.request(Method::GET, path!("sessions", session, "watch"))?).await
    }
}

/// Credential check-outs and the rotation queue they feed.
impl Client {
    pub async fn check_out(&self, request: &CreateCheckoutRequest) -> Result<CheckoutView, ClientError> {
        self.post(path!("checkouts"), request).await
    }

    pub async fn list_checkouts(&self, params: &CheckoutListParams) -> Result<CheckoutListView, ClientError> {
        self.get_query(path!("checkouts"), params).await
    }

    pub async fn get_checkout(&self, checkout: &str) -> Result<CheckoutView, ClientError> {
        self.get(path!("checkouts", checkout)).await
    }

    /// The secret, once per check-out.
    pub async fn reveal_checkout(&self, checkout: &str) -> Result<RevealedSecretView, ClientError> {
        self.post_empty(path!("checkouts", checkout, "reveal")).await
    }

    pub async fn check_in(&self, checkout: &str) -> Result<CheckoutView, ClientError> {
        self.post_empty(path!("checkouts", checkout, "checkin")).await
    }

    pub async fn list_rotations(
        &self,
        params: &QueuedRotationListParams,
    ) -> Result<QueuedRotationListView, ClientError> {
        self.get_query(path!("rotations"), params).await
    }
}

/// Break-glass: emergency access switched on for named targets.
impl Client {
    pub async fn activate_break_glass(
        &self,
        request: &ActivateBreakGlassRequest,
    ) -> Result<BreakGlassView, ClientError> {
        self.post(path!("break-glass"), request).await
    }

    pub async fn list_break_glass(&self, params: &BreakGlassListParams) -> Result<BreakGlassListView, ClientError> {
        self.get_query(path!("break-glass"), params).await
    }

    pub async fn end_break_glass(&self, break_glass: &str) -> Result<BreakGlassView, ClientError> {
        self.post_empty(path!("break-glass", break_glass, "end")).await
    }
}
