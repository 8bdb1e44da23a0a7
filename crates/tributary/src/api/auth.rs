//! Who is calling: the Cloud Elements `Authorization` header and the [`Caller`] it resolves to.
//!
//! The header is a comma-separated list of `Scheme value` pairs in any order:
//! `User <user secret>, Organization <organization secret>` for platform calls, `User <user
//! secret>, Element <instance token>` for calls about one instance, or all three. An element
//! token alone confines the caller to its own instance, by construction: [`Caller::instance`]
//! is the only way a handler learns which instance to touch. With the organization's secret
//! beside it (Cloud Elements' clients add the token to every call once they have one), the
//! call has the organization's reach, and the token only names the instance of the forms
//! without an id (`PATCH /instances`).
//!
//! Without the header, the web console's session cookie authenticates its user with the
//! organization's reach (see `console.rs`); a request that changes something must then also
//! carry the session's CSRF token.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use secrecy::SecretString;

use super::{console::Session, error::ApiError};
use crate::{
    app::AppState,
    crypto::CredentialHash,
    ids::{InstanceId, OrgId},
    store::User,
};

const EXPECTED: &str = "Authorization: User <user secret>, Organization <organization secret> \
     (or User <user secret>, Element <instance token> for one instance)";

/// The secrets found in an `Authorization` header.
#[derive(Debug, Default)]
pub struct Credentials {
    pub user: Option<SecretString>,
    pub organization: Option<SecretString>,
    pub element: Option<SecretString>,
}

/// Parses `User x, Organization y, Element z` in any order, any case of the scheme names and
/// any spacing; refuses unknown schemes, repeats and empty values.
pub fn parse_authorization(header: &str) -> Result<Credentials, String> {
    let mut credentials = Credentials::default();
    for part in header.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (scheme, value) = part
            .split_once(char::is_whitespace)
            .map(|(s, v)| (s, v.trim()))
            .ok_or_else(|| format!("{part:?} has no value; write it as `<Scheme> <secret>`"))?;
        if value.is_empty() || value.contains(char::is_whitespace) {
            return Err(format!("the {scheme} value must be one word without spaces"));
        }
        let slot = match scheme.to_ascii_lowercase().as_str() {
            "user" => &mut credentials.user,
            "organization" => &mut credentials.organization,
            "element" => &mut credentials.element,
            _ => {
                return Err(format!("unknown scheme {scheme:?}; use User, Organization and Element"));
            }
        };
        if slot.replace(SecretString::from(value)).is_some() {
            return Err(format!("{scheme} is given twice"));
        }
    }
    Ok(credentials)
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    reach: Reach,
}

/// What a caller may touch.
#[derive(Debug, Clone, Copy)]
enum Reach {
    /// The organization's credentials (or the console's session): every instance of the
    /// organization. `token` is the instance of an element token sent alongside, which the
    /// forms without an id act on.
    Organization { token: Option<InstanceId> },
    /// An element token without the organization's secret: this instance, and only this one.
    Instance { instance: InstanceId, disabled: bool },
}

impl Caller {
    pub fn org(&self) -> OrgId {
        self.user.org
    }

    /// The instance a request is about: the one in the path, or the element token's own when
    /// the path has none. An element token never reaches another instance (404, as if it did
    /// not exist), and a disabled instance's token is refused (403).
    pub fn instance(&self, in_path: Option<InstanceId>) -> Result<InstanceId, ApiError> {
        let id = self.instance_even_disabled(in_path)?;
        if matches!(self.reach, Reach::Instance { disabled: true, .. }) {
            return Err(ApiError::Forbidden(format!(
                "Instance {id} is disabled; enable it again (PUT /instances/{id}/enabled) to use its token."
            )));
        }
        Ok(id)
    }

    /// Like [`Caller::instance`], but lets a disabled instance's token through (to re-enable it).
    pub fn instance_even_disabled(&self, in_path: Option<InstanceId>) -> Result<InstanceId, ApiError> {
        match (self.reach, in_path) {
            (Reach::Instance { instance, .. }, Some(id)) if instance != id => {
                Err(ApiError::NotFound(format!("instance {id} not found")))
            }
            (Reach::Instance { instance, .. }, _) => Ok(instance),
            (Reach::Organization { .. }, Some(id)) => Ok(id),
            (Reach::Organization { token: Some(instance) }, None) => Ok(instance),
            (Reach::Organization { token: None }, None) => Err(ApiError::BadRequest(
                "This endpoint acts on one instance: put its id in the path (/instances/{id}/…) or \
                 authenticate with its token (Authorization: User <user secret>, Element <instance token>)."
                    .into(),
            )),
        }
    }

    /// The element token's instance, when the caller is confined to one.
    pub fn only_instance(&self) -> Option<InstanceId> {
        match self.reach {
            Reach::Instance { instance, .. } => Some(instance),
            Reach::Organization { .. } => None,
        }
    }

    /// Refuses callers confined to one instance where organization credentials are needed.
    pub fn require_organization(&self, action: &str) -> Result<(), ApiError> {
        match self.reach {
            Reach::Instance { .. } => Err(ApiError::Forbidden(format!(
                "{action} needs the organization's credentials (Authorization: User <user secret>, \
                 Organization <organization secret>), not an instance token."
            ))),
            Reach::Organization { .. } => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, state).await?;
        state.limits.api(caller.org())?;
        Ok(caller)
    }
}

/// Resolves the request's credentials (header or console session) to a caller.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
        // The web console's browser session stands in for the header: its user, with the
        // organization's reach, as long as writes carry its CSRF token.
        let session = Session::from_headers(&parts.headers, state)
            .await?
            .ok_or_else(|| ApiError::Unauthorized(format!("No Authorization header. Send {EXPECTED}.")))?;
        session.check_csrf(&parts.method, &parts.headers)?;
        return Ok(Caller {
            user: session.user,
            reach: Reach::Organization { token: None },
        });
    };
    let header = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized(format!("The Authorization header is not plain text. Send {EXPECTED}.")))?;
    let credentials = parse_authorization(header).map_err(|problem| {
        ApiError::Unauthorized(format!(
            "Authorization header not understood: {problem}. Send {EXPECTED}."
        ))
    })?;
    let Some(user) = &credentials.user else {
        return Err(ApiError::Unauthorized(format!(
            "The Authorization header lacks the User secret. Send {EXPECTED}."
        )));
    };
    let user_hash = CredentialHash::of(user);
    let store = &state.store;
    match (&credentials.organization, &credentials.element) {
        (None, None) => Err(ApiError::Unauthorized(format!(
            "The Authorization header needs an Organization secret or an Element token with the User secret. Send {EXPECTED}."
        ))),
        (organization, Some(token)) => {
            let caller = store
                .find_instance_caller(&user_hash, &CredentialHash::of(token))
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "Invalid credentials: the user secret or element token is wrong, or the instance was deleted."
                            .into(),
                    )
                })?;
            // Every secret sent must be right and belong together, even one that the call
            // then does not need.
            let reach = match organization {
                None => Reach::Instance {
                    instance: caller.instance,
                    disabled: caller.disabled,
                },
                Some(organization) => {
                    let same = store
                        .find_platform_caller(&user_hash, &CredentialHash::of(organization))
                        .await?
                        .is_some_and(|u| u.org == caller.user.org);
                    if !same {
                        return Err(ApiError::Unauthorized(
                            "Invalid credentials: the organization secret does not belong with this user and element token.".into(),
                        ));
                    }
                    Reach::Organization {
                        token: Some(caller.instance),
                    }
                }
            };
            Ok(Caller {
                user: caller.user,
                reach,
            })
        }
        (Some(organization), None) => {
            let user = store
                .find_platform_caller(&user_hash, &CredentialHash::of(organization))
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "Invalid credentials: no user with this secret in the organization with this secret.".into(),
                    )
                })?;
            Ok(Caller {
                user,
                reach: Reach::Organization { token: None },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn parsed(header: &str) -> (Option<String>, Option<String>, Option<String>) {
        let c = parse_authorization(header).unwrap();
        let show = |s: Option<SecretString>| s.map(|s| s.expose_secret().to_string());
        (show(c.user), show(c.organization), show(c.element))
    }

    #[test]
    fn any_order_case_and_spacing() {
        let expected = (Some("u/+=".to_string()), Some("o".to_string()), None);
        assert_eq!(parsed("User u/+=, Organization o"), expected);
        assert_eq!(parsed("Organization o,User u/+="), expected);
        assert_eq!(parsed("  organization   o ,  USER u/+=  ,"), expected);
        assert_eq!(
            parsed("User u, Organization o, Element e"),
            (Some("u".into()), Some("o".into()), Some("e".into()))
        );
    }

    #[test]
    fn malformed_headers_say_why() {
        for (header, why) in [
            ("User", "has no value"),
            ("Bearer abc", "unknown scheme \"Bearer\""),
            ("User a, User b", "User is given twice"),
            ("User a b", "one word"),
            ("User a, Organization", "has no value"),
        ] {
            let err = parse_authorization(header).unwrap_err();
            assert!(err.contains(why), "{header}: {err}");
        }
    }
}
