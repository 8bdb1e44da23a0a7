//! The HTML a browser sees at `/oauth2/auth`: the consent page (pick a member, Approve/Deny)
//! and the error page shown when the request cannot be redirected back to the client.

use super::{AuthParams, OAuthError};

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}}\
         select{{font-size:1rem;margin:.5rem 0 1.5rem;display:block}}</style></head>\n\
         <body><main>\n{body}</main></body>\n</html>\n",
        title = escape(title)
    )
}

fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "offline" => "Stay connected while you are away (refresh tokens)",
        _ => "Read your analytics",
    }
}

/// A member of the simulated world, as offered in the sign-in list.
pub struct MemberChoice {
    pub id: String,
    pub label: String,
}

pub fn consent_page(app_name: &str, scopes: &[String], members: &[MemberChoice], params: &AuthParams) -> String {
    let scope_items = if scopes.is_empty() {
        "<li>Basic access to your Hootsuite account</li>\n".to_owned()
    } else {
        scopes
            .iter()
            .map(|s| format!("<li><code>{}</code>: {}</li>\n", escape(s), describe_scope(s)))
            .collect()
    };
    let hidden: String = params
        .fields()
        .into_iter()
        .filter_map(|(name, value)| {
            value.map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n", escape(v)))
        })
        .collect();
    let options: String = members
        .iter()
        .map(|m| format!("<option value=\"{}\">{}</option>\n", escape(&m.id), escape(&m.label)))
        .collect();
    let app = escape(app_name);
    document(
        &format!("Authorize {app_name} - Hootsuite simulator"),
        &format!(
            "<h1>Authorize {app}</h1>\n\
             <p><strong>{app}</strong> wants to access your Hootsuite account.</p>\n\
             <h2>Requested permissions</h2>\n<ul id=\"scopes\">\n{scope_items}</ul>\n\
             <form method=\"post\" action=\"/oauth2/auth\">\n{hidden}\
             <label for=\"member_id\">Sign in as</label>\n\
             <select id=\"member_id\" name=\"member_id\">\n{options}</select>\n\
             <button type=\"submit\" id=\"approve\" name=\"decision\" value=\"approve\" \
             aria-label=\"Approve access for {app}\">Approve</button>\n\
             <button type=\"submit\" id=\"deny\" name=\"decision\" value=\"deny\" \
             aria-label=\"Deny access for {app}\">Deny</button>\n\
             </form>\n"
        ),
    )
}

pub fn error_page(error: &OAuthError) -> String {
    document(
        "Authorization error - Hootsuite simulator",
        &format!(
            "<h1>The authorization request failed</h1>\n\
             <p id=\"error\"><code>{}</code>: {}</p>\n<p id=\"error_hint\">{}</p>\n",
            error.kind.as_str(),
            escape(error.kind.description()),
            escape(&error.hint)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorKind;

    #[test]
    fn escapes_everything_user_controlled() {
        let params = AuthParams {
            state: Some("\"><script>alert(1)</script>".into()),
            ..AuthParams::default()
        };
        let members = [MemberChoice {
            id: "1".into(),
            label: "<b>Joe</b>".into(),
        }];
        let html = consent_page("A & B", &["offline".into()], &members, &params);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
        assert!(html.contains("&lt;b&gt;Joe&lt;/b&gt;"));
        assert!(html.contains("Authorize A &amp; B"));
        assert!(html.contains("id=\"approve\"") && html.contains("id=\"deny\""));
        assert!(html.contains("<select id=\"member_id\" name=\"member_id\">"));
    }

    #[test]
    fn error_page_names_the_error() {
        let html = error_page(&OAuthError::new(ErrorKind::UnknownRedirectUri, "x < y"));
        assert!(html.contains("unknown_redirect_uri"));
        assert!(html.contains("x &lt; y"));
    }
}
