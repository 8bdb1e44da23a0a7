//! OAuth 2.0 with providers: authorization URLs, the code exchange, token refresh and the
//! identity check, driven by the element definition ([`client`]); and the token lifecycle
//! that keeps every instance's access token fresh ([`tokens`]).

pub mod client;
pub mod tokens;

pub use client::{OAuthClient, OAuthError, TokenResponse};
pub use tokens::TokenManager;
