//! Control of registered apps and their grants: create/patch apps, ping their webhook URL,
//! install/uninstall them, revoke tokens, and read the token-request log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::json;

use super::{ControlError, ControlResult, nullable};
use crate::directory::{App, Subject, check_registrable_redirect};
use crate::ids::random_secret;
use crate::state::{Sim, World};
use crate::webhooks::{check_secret, dispatcher, url_policy};

async fn check_webhook(sim: &Sim, url: Option<&str>, secret: Option<&str>) -> Result<(), ControlError> {
    if let Some(url) = url {
        let strict = sim.with_world(|w| w.config.strict_webhook_urls);
        url_policy::check(url, strict)
            .await
            .map_err(ControlError::bad_request)?;
    }
    secret.map_or(Ok(()), check_secret).map_err(ControlError::bad_request)
}

fn check_redirects(uris: &[String]) -> Result<(), ControlError> {
    uris.iter()
        .try_for_each(|uri| check_registrable_redirect(uri))
        .map_err(ControlError::bad_request)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApp {
    client_id: Option<String>,
    client_secret: Option<String>,
    name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    allow_loopback_redirects: bool,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
}

pub async fn create(State(sim): State<Arc<Sim>>, Json(body): Json<NewApp>) -> ControlResult {
    check_redirects(&body.redirect_uris)?;
    check_webhook(&sim, body.webhook_url.as_deref(), body.webhook_secret.as_deref()).await?;
    sim.with_world(|w| {
        let client_id = body
            .client_id
            .unwrap_or_else(|| format!("l7xx{:032x}", rand::random::<u128>()));
        if w.directory.app(&client_id).is_some() {
            return Err(ControlError::conflict(format!("app {client_id} already exists")));
        }
        let app = App {
            id: w.ids.next_id(),
            client_id,
            client_secret: body.client_secret.unwrap_or_else(random_secret),
            name: body.name.unwrap_or_else(|| "Simulated App".to_owned()),
            redirect_uris: body.redirect_uris,
            allow_loopback_redirects: body.allow_loopback_redirects,
            webhook_url: body.webhook_url,
            webhook_secret: body.webhook_secret,
        };
        let view = app.to_json();
        w.directory.add_app(app);
        Ok(Json(view))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppPatch {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    allow_loopback_redirects: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    webhook_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    webhook_secret: Option<Option<String>>,
}

pub async fn update(
    State(sim): State<Arc<Sim>>,
    Path(client_id): Path<String>,
    Json(patch): Json<AppPatch>,
) -> ControlResult {
    check_redirects(patch.redirect_uris.as_deref().unwrap_or_default())?;
    check_webhook(
        &sim,
        patch.webhook_url.clone().flatten().as_deref(),
        patch.webhook_secret.clone().flatten().as_deref(),
    )
    .await?;
    sim.with_world(|w| {
        let app = w
            .directory
            .app_mut(&client_id)
            .ok_or_else(|| ControlError::not_found(format!("app {client_id}")))?;
        if let Some(name) = patch.name {
            app.name = name;
        }
        if let Some(uris) = patch.redirect_uris {
            app.redirect_uris = uris;
        }
        if let Some(allow) = patch.allow_loopback_redirects {
            app.allow_loopback_redirects = allow;
        }
        if let Some(url) = patch.webhook_url {
            app.webhook_url = url;
        }
        if let Some(secret) = patch.webhook_secret {
            app.webhook_secret = secret;
        }
        Ok(Json(app.to_json()))
    })
}

pub async fn ping(State(sim): State<Arc<Sim>>, Path(client_id): Path<String>) -> ControlResult {
    let url = sim.with_world(|w| {
        let app = w
            .directory
            .app(&client_id)
            .ok_or_else(|| ControlError::not_found(format!("app {client_id}")))?;
        app.webhook_url
            .clone()
            .ok_or_else(|| ControlError::bad_request(format!("app {client_id} has no webhookUrl")))
    })?;
    Ok(Json(dispatcher::ping(&sim, &url).await))
}

/// `{"organizationId": …}` or `{"memberId": …}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallTarget {
    organization_id: Option<String>,
    member_id: Option<String>,
}

impl InstallTarget {
    fn resolve(self, w: &World) -> Result<Subject, ControlError> {
        match (self.organization_id, self.member_id) {
            (Some(org), None) if w.directory.organization(&org).is_some() => Ok(Subject::Organization(org)),
            (None, Some(member)) if w.directory.member(&member).is_some() => Ok(Subject::Member(member)),
            (Some(org), None) => Err(ControlError::not_found(format!("organization {org}"))),
            (None, Some(member)) => Err(ControlError::not_found(format!("member {member}"))),
            _ => Err(ControlError::bad_request(
                "give exactly one of organizationId and memberId",
            )),
        }
    }
}

fn known_app(w: &World, client_id: &str) -> Result<(), ControlError> {
    w.directory
        .app(client_id)
        .map(|_| ())
        .ok_or_else(|| ControlError::not_found(format!("app {client_id}")))
}

pub async fn install(
    State(sim): State<Arc<Sim>>,
    Path(client_id): Path<String>,
    Json(target): Json<InstallTarget>,
) -> ControlResult {
    let now = sim.clock.now();
    sim.with_world(|w| {
        known_app(w, &client_id)?;
        let target = target.resolve(w)?;
        match &target {
            Subject::Member(member) => w.directory.grant_member(&client_id, member),
            Subject::Organization(org) => w.directory.install_organization(&client_id, org),
        }
        w.announce_app(&client_id, "INSTALLED", &target, now);
        Ok(Json(json!({ "clientId": client_id, "state": "INSTALLED" })))
    })
}

/// Removes the installation, revokes the tokens it allowed, and emits `UNINSTALLED`.
pub async fn uninstall(
    State(sim): State<Arc<Sim>>,
    Path(client_id): Path<String>,
    Json(target): Json<InstallTarget>,
) -> ControlResult {
    let now = sim.clock.now();
    sim.with_world(|w| {
        known_app(w, &client_id)?;
        let target = target.resolve(w)?;
        let (was_installed, revoked) = match &target {
            Subject::Member(member) => (
                w.directory.revoke_member(&client_id, member),
                w.grants.revoke(&client_id, |s| s.member_id() == Some(member)),
            ),
            Subject::Organization(org) => {
                let was_installed = w.directory.uninstall_organization(&client_id, org);
                let directory = &w.directory;
                let revoked = w.grants.revoke(&client_id, |s| directory.standing(s, org).is_some());
                (was_installed, revoked)
            }
        };
        if !was_installed {
            return Err(ControlError::conflict(format!(
                "app {client_id} is not installed there"
            )));
        }
        w.announce_app(&client_id, "UNINSTALLED", &target, now);
        Ok(Json(
            json!({ "clientId": client_id, "state": "UNINSTALLED", "revoked": revoked }),
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Revoke {
    client_id: String,
    member_id: Option<String>,
}

/// Revokes access and refresh tokens of the app (for one member, or all); installations stay.
pub async fn revoke_grants(State(sim): State<Arc<Sim>>, Json(body): Json<Revoke>) -> ControlResult {
    sim.with_world(|w| {
        known_app(w, &body.client_id)?;
        let member = body.member_id.as_deref();
        let revoked = w
            .grants
            .revoke(&body.client_id, |s| member.is_none_or(|m| s.member_id() == Some(m)));
        Ok(Json(json!({ "revoked": revoked })))
    })
}

pub async fn token_requests(State(sim): State<Arc<Sim>>) -> Json<serde_json::Value> {
    Json(sim.with_world(|w| w.grants.requests_json()))
}
