//! What a person sees of their access, with names instead of ids: the targets and accounts policies let them
//! reach (standing or on request) and whether that access is valid now, and requests and grants described for
//! reading. The web pages show these; the decisions stay with [`access_to`](crate::access::access_to) and the
//! request and grant use cases, which these only call.

use crate::access::access_to;
use crate::{App, AppError, GrantScope, Principal, RequestScope};
use latch_domain::access_request::{AccessRequest, RequestStatus};
use latch_domain::account::Account;
use latch_domain::grant::Grant;
use latch_domain::permission::Permission;
use latch_domain::policy::{Policy, Requester};
use latch_domain::target::{Target, TargetQuery};
use latch_domain::{AccountId, GroupId, TargetId, Timestamp, UserId};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The most targets one overview lists.
const MAX_TARGETS: i64 = 200;

/// A target the person may reach under at least one policy, with those accounts.
#[derive(Debug, Clone)]
pub struct ReachableTarget {
    pub target: Target,
    pub accounts: Vec<ReachableAccount>,
}

/// An account a policy covers for the person, and whether access to it is valid now.
#[derive(Debug, Clone)]
pub struct ReachableAccount {
    pub account: Account,
    /// The names of the enabled policies covering it.
    pub policies: Vec<String>,
    /// Some covering policy is on request (so a request can be made).
    pub requestable: bool,
    /// Access valid now: standing (`None`) or a grant until its end (`Some`).
    pub active: Option<ActiveAccess>,
    /// Access is valid now under a policy that lets the person check the secret out and see it.
    pub revealable: bool,
    /// The incident integration of an on-request policy covering it: requests name a ticket whose tasks it knows.
    pub integration: Option<String>,
}

/// Access that is valid now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveAccess {
    Standing,
    GrantUntil(Timestamp),
}

/// A request with the names a reader needs.
#[derive(Debug, Clone)]
pub struct DescribedRequest {
    pub request: AccessRequest,
    pub requester: String,
    pub target: String,
    pub account: String,
}

/// A grant with the names a reader needs.
#[derive(Debug, Clone)]
pub struct DescribedGrant {
    pub grant: Grant,
    pub target: String,
    pub account: String,
}

impl App {
    /// The targets matching `query` on which some enabled policy covers the calling user, each with the covered
    /// accounts and whether access is valid now (standing access in schedule, or a valid grant).
    pub async fn my_access(
        &self,
        principal: &Principal,
        query: &TargetQuery,
    ) -> Result<Vec<ReachableTarget>, AppError> {
        principal.require(Permission::RequestsWrite)?;
        let me = principal.as_user()?;
        let now = self.now();
        let mut conn = self.store().read().await?;
        let groups: Vec<GroupId> =
            latch_store::groups::of_user(&mut conn, me.user().id).await?.iter().map(|g| g.id).collect();
        let policies = latch_store::policies::list(&mut conn).await?;
        let who = Requester { user_id: me.user().id, groups: &groups };
        let mut reachable = Vec::new();
        for target in latch_store::targets::search(&mut conn, query, MAX_TARGETS, 0).await? {
            let mut accounts = Vec::new();
            for account in latch_store::accounts::list_for_target(&mut conn, target.id).await? {
                let covering: Vec<&Policy> = policies.iter().filter(|p| p.covers(who, &target, &account)).collect();
                if covering.is_empty() {
                    continue;
                }
                let access = access_to(&mut conn, &policies, who, &target, &account, now).await?;
                let revealable = access.as_ref().is_some_and(|(policy, _)| policy.spec.rules.reveal_allowed);
                let active = match access {
                    Some((_, Some(grant))) => Some(ActiveAccess::GrantUntil(grant.ends_at)),
                    Some((_, None)) => Some(ActiveAccess::Standing),
                    None => None,
                };
                accounts.push(ReachableAccount {
                    policies: covering.iter().map(|p| p.spec.name.to_string()).collect(),
                    requestable: covering.iter().any(|p| !p.is_standing()),
                    integration: covering
                        .iter()
                        .filter(|p| !p.is_standing())
                        .find_map(|p| p.spec.rules.integration.clone()),
                    active,
                    revealable,
                    account,
                });
            }
            if !accounts.is_empty() {
                reachable.push(ReachableTarget { target, accounts });
            }
        }
        Ok(reachable)
    }

    /// [`list_requests`](App::list_requests), with requester, target and account names.
    pub async fn list_requests_described(
        &self,
        principal: &Principal,
        scope: RequestScope,
        status: Option<RequestStatus>,
        limit: i64,
    ) -> Result<Vec<DescribedRequest>, AppError> {
        let requests = self.list_requests(principal, scope, status, limit, 0).await?;
        let mut names = Names::default();
        let mut described = Vec::with_capacity(requests.len());
        for request in requests {
            let (target, account) = names.target_and_account(self, request.target_id, request.account_id).await?;
            let requester = names.user(self, request.requester).await?;
            described.push(DescribedRequest { request, requester, target, account });
        }
        Ok(described)
    }

    /// [`get_request`](App::get_request), with requester, target and account names.
    pub async fn get_request_described(&self, principal: &Principal, id: &str) -> Result<DescribedRequest, AppError> {
        let request = self.get_request(principal, id).await?;
        let mut names = Names::default();
        let (target, account) = names.target_and_account(self, request.target_id, request.account_id).await?;
        let requester = names.user(self, request.requester).await?;
        Ok(DescribedRequest { request, requester, target, account })
    }

    /// [`list_grants`](App::list_grants) of the caller's current grants, with target and account names.
    pub async fn my_current_grants(&self, principal: &Principal) -> Result<Vec<DescribedGrant>, AppError> {
        let grants = self.list_grants(principal, GrantScope::Mine, true, 100, 0).await?;
        let mut names = Names::default();
        let mut described = Vec::with_capacity(grants.len());
        for grant in grants {
            let (target, account) = names.target_and_account(self, grant.target_id, grant.account_id).await?;
            described.push(DescribedGrant { grant, target, account });
        }
        Ok(described)
    }
}

/// Names looked up once per listing. Something deleted since shows as "(deleted)".
#[derive(Debug, Default)]
struct Names {
    targets: HashMap<TargetId, String>,
    accounts: HashMap<AccountId, String>,
    users: HashMap<UserId, String>,
}

const DELETED: &str = "(deleted)";

impl Names {
    async fn target_and_account(
        &mut self,
        app: &App,
        target: TargetId,
        account: AccountId,
    ) -> Result<(String, String), AppError> {
        let target = match self.targets.entry(target) {
            Entry::Occupied(name) => name.get().clone(),
            Entry::Vacant(slot) => {
                let mut conn = app.store().read().await?;
                let found = latch_store::targets::find(&mut conn, target).await?;
                slot.insert(found.map_or_else(|| DELETED.to_owned(), |t| t.spec.name.to_string())).clone()
            }
        };
        let account = match self.accounts.entry(account) {
            Entry::Occupied(name) => name.get().clone(),
            Entry::Vacant(slot) => {
                let mut conn = app.store().read().await?;
                let found = latch_store::accounts::find(&mut conn, account).await?;
                slot.insert(found.map_or_else(|| DELETED.to_owned(), |a| a.spec.username.to_string())).clone()
            }
        };
        Ok((target, account))
    }

    async fn user(&mut self, app: &App, user: UserId) -> Result<String, AppError> {
        if let Some(name) = self.users.get(&user) {
            return Ok(name.clone());
        }
        let mut conn = app.store().read().await?;
        let found = latch_store::users::find(&mut conn, user).await?;
        let name = found.map_or_else(|| DELETED.to_owned(), |u| u.username.to_string());
        self.users.insert(user, name.clone());
        Ok(name)
    }
}
