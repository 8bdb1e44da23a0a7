//! Lists as Cloud Elements pages them: `pageSize`, `nextPage` (the token of the previous
//! answer) and `page` ask; the answer is the array with `Elements-Returned-Count`, and
//! `Elements-Next-Page-Token` while there is more.
//!
//! A token carries the position of the last item shown (keyset paging), never an offset:
//! items added meanwhile neither repeat nor hide any, and the query it drives can walk an
//! index from that key. It is the unpadded URL-safe Base64 of a small JSON object naming
//! the list, as Cloud Elements' were Base64 JSON; clients treat it as opaque.

use std::future::Future;

use axum::{
    Json,
    extract::{Query, rejection::QueryRejection},
    http::{HeaderName, HeaderValue},
    response::{IntoResponse, Response},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::IntoParams;

use super::error::ApiError;

pub const RETURNED_COUNT: HeaderName = HeaderName::from_static("elements-returned-count");
pub const NEXT_PAGE_TOKEN: HeaderName = HeaderName::from_static("elements-next-page-token");

/// Items per page when `pageSize` is not given (Cloud Elements' default).
pub const DEFAULT_PAGE_SIZE: u32 = 200;
pub const MAX_PAGE_SIZE: u32 = 500;
/// The most items a bare `page=K` walks past to find its page; further on, `nextPage`.
const MAX_WALK: u64 = 10_000;

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page: 1 to 500, default 200.
    page_size: Option<u32>,
    /// The `Elements-Next-Page-Token` of the previous page; empty or absent for the first.
    next_page: Option<String>,
    /// 1-based page number, for clients without a token: `page=K` walks the K-1 pages
    /// before it (at most 10 000 items). Ignored when `nextPage` is given.
    #[param(minimum = 1)]
    page: Option<u32>,
}

/// One list's position in a token: the key of the last item shown.
pub trait PageKey: Serialize + DeserializeOwned + Clone + Send {
    /// Which list the token belongs to: a token of another list is refused.
    const LIST: &'static str;

    /// A token of an older form this list still takes.
    fn legacy(_token: &str) -> Option<Self> {
        None
    }
}

#[derive(Serialize, Deserialize)]
struct Token<K> {
    list: String,
    after: K,
}

fn encode<K: PageKey>(after: &K) -> String {
    let token = Token {
        list: K::LIST.to_string(),
        after: after.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("page tokens serialize"))
}

fn decode<K: PageKey>(text: &str) -> Option<K> {
    if let Some(key) = K::legacy(text) {
        return Some(key);
    }
    // Either alphabet, padded or not: a client may have re-encoded it.
    let trimmed = text.trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .ok()?;
    let token: Token<serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    (token.list == K::LIST)
        .then(|| serde_json::from_value(token.after).ok())
        .flatten()
}

/// Which page a request asks for.
pub struct PageRequest<K> {
    after: Option<K>,
    size: u32,
    /// Pages to walk past first (a bare `page`).
    skip: u32,
}

impl<K: PageKey> PageRequest<K> {
    pub fn parse(query: Result<Query<PageQuery>, QueryRejection>) -> Result<Self, ApiError> {
        let Query(query) =
            query.map_err(|e| ApiError::BadRequest(format!("Invalid query string: {}.", e.body_text())))?;
        let size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::BadRequest(format!(
                "pageSize must be 1 to {MAX_PAGE_SIZE}, got {size}."
            )));
        }
        let after = match query.next_page.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(decode::<K>(text).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "nextPage {text:?} is not a page token of this list: send the Elements-Next-Page-Token \
                     of the previous page, unchanged."
                ))
            })?),
        };
        let skip = match (query.page, &after) {
            (Some(0), _) => return Err(ApiError::BadRequest("page starts at 1.".into())),
            (Some(page), None) => page - 1,
            _ => 0,
        };
        if u64::from(skip) * u64::from(size) > MAX_WALK {
            return Err(ApiError::BadRequest(format!(
                "page {} of {size} is more than {MAX_WALK} items in: follow Elements-Next-Page-Token with nextPage \
                 instead.",
                skip + 1
            )));
        }
        Ok(Self { after, size, skip })
    }

    /// The page: `fetch(after, limit)` reads up to `limit` items after `after` in the list's
    /// order, and `key` is an item's position.
    pub async fn fetch<T, F, Fut>(self, mut fetch: F, key: impl Fn(&T) -> K) -> Result<Listed<T>, ApiError>
    where
        F: FnMut(Option<K>, u32) -> Fut,
        Fut: Future<Output = Result<Vec<T>, ApiError>>,
    {
        let mut after = self.after;
        for _ in 0..self.skip {
            let walked = fetch(after.clone(), self.size).await?;
            match walked.last() {
                Some(last) if walked.len() == self.size as usize => after = Some(key(last)),
                // The list ends before the page asked for.
                _ => return Ok(Listed::new(Vec::new(), None)),
            }
        }
        // One more than the page tells whether there is a next one.
        let mut items = fetch(after, self.size + 1).await?;
        let more = items.len() > self.size as usize;
        items.truncate(self.size as usize);
        let next = more.then(|| items.last().map(|last| encode(&key(last)))).flatten();
        Ok(Listed::new(items, next))
    }
}

/// A list answer: the items as a JSON array, their count, and the next page's token.
pub struct Listed<T> {
    items: Vec<T>,
    next: Option<String>,
}

impl<T> Listed<T> {
    /// A whole list (one page, no token) or a page.
    pub fn new(items: Vec<T>, next: Option<String>) -> Self {
        Self { items, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listed<U> {
        Listed {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }

    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Listed<U>, E> {
        Ok(Listed {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            next: self.next,
        })
    }
}

/// A whole list, in one answer.
impl<T> FromIterator<T> for Listed<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Self::new(items.into_iter().collect(), None)
    }
}

impl<T: Serialize> IntoResponse for Listed<T> {
    fn into_response(self) -> Response {
        let count = HeaderValue::from(self.items.len());
        let mut response = Json(self.items).into_response();
        let headers = response.headers_mut();
        headers.insert(RETURNED_COUNT, count);
        if let Some(next) = self.next {
            headers.insert(
                NEXT_PAGE_TOKEN,
                HeaderValue::from_str(&next).expect("Base64 is header-safe"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Numbers(u32);

    impl PageKey for Numbers {
        const LIST: &'static str = "numbers";
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Letters(String);

    impl PageKey for Letters {
        const LIST: &'static str = "letters";

        fn legacy(token: &str) -> Option<Self> {
            token.starts_with('=').then(|| Self(token[1..].to_string()))
        }
    }

    fn request<K: PageKey>(query: &str) -> Result<PageRequest<K>, ApiError> {
        let uri: axum::http::Uri = format!("/?{query}").parse().unwrap();
        PageRequest::parse(Query::try_from_uri(&uri))
    }

    /// Pages of the numbers 1 to `n`, as a store would read them.
    async fn page(query: &str, n: u32) -> (Vec<u32>, Option<String>) {
        let listed = request::<Numbers>(query)
            .unwrap()
            .fetch(
                |after: Option<Numbers>, limit| async move {
                    let start = after.map_or(1, |Numbers(last)| last + 1);
                    Ok((start..=n).take(limit as usize).collect::<Vec<u32>>())
                },
                |item| Numbers(*item),
            )
            .await
            .unwrap();
        (listed.items, listed.next)
    }

    #[tokio::test]
    async fn pages_follow_their_tokens_to_the_end() {
        let (first, token) = page("pageSize=2", 5).await;
        assert_eq!(first, [1, 2]);
        let token = token.unwrap();
        assert!(!token.contains(['=', '+', '/']), "{token}");
        let (second, token) = page(&format!("pageSize=2&nextPage={token}"), 5).await;
        assert_eq!(second, [3, 4]);
        let (last, token) = page(&format!("pageSize=2&nextPage={}", token.unwrap()), 5).await;
        assert_eq!((last, token), (vec![5], None));
        let (exact, token) = page("pageSize=5", 5).await;
        assert_eq!((exact.len(), token), (5, None), "no token when nothing follows");
    }

    #[tokio::test]
    async fn a_bare_page_walks_the_pages_before_it() {
        assert_eq!(page("pageSize=2&page=1", 5).await.0, [1, 2]);
        assert_eq!(page("pageSize=2&page=3", 5).await, (vec![5], None));
        assert_eq!(page("pageSize=2&page=4", 5).await, (vec![], None));
        let (_, token) = page("pageSize=2", 5).await;
        let with_both = format!("pageSize=2&page=3&nextPage={}", token.unwrap());
        assert_eq!(page(&with_both, 5).await.0, [3, 4], "nextPage wins over page");
        assert_eq!(
            page("pageSize=2&nextPage=", 5).await.0,
            [1, 2],
            "empty is the first page"
        );
        assert_eq!(page("", 500).await.0.len(), 200, "the default page size");
    }

    #[test]
    fn bad_requests_say_what_to_send() {
        let message = |query: &str| match request::<Numbers>(query) {
            Err(ApiError::BadRequest(message)) => message,
            _ => panic!("{query} was accepted"),
        };
        assert!(message("pageSize=0").contains("pageSize must be 1 to 500"));
        assert!(message("pageSize=501").contains("pageSize must be 1 to 500"));
        assert!(message("page=0").contains("page starts at 1"));
        assert!(message("page=52&pageSize=200").contains("follow Elements-Next-Page-Token"));
        assert!(message("nextPage=bm90IGEgdG9rZW4").contains("not a page token"));
        let letters = encode(&Letters("b".into()));
        assert!(
            message(&format!("nextPage={letters}")).contains("not a page token"),
            "a token of another list"
        );
        assert!(message("pageSize=x").contains("Invalid query string"));
    }

    #[test]
    fn tokens_decode_in_either_alphabet_and_in_older_forms() {
        let token = encode(&Letters("ü?~".into()));
        assert_eq!(decode::<Letters>(&token), Some(Letters("ü?~".into())));
        let standard = STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(&token).unwrap());
        assert_eq!(decode::<Letters>(&format!("{standard}==")), Some(Letters("ü?~".into())));
        assert_eq!(decode::<Letters>("=old"), Some(Letters("old".into())));
    }

    #[test]
    fn listed_answers_carry_their_count_and_token() {
        let response = Listed::new(vec![1, 2], Some("abc".into())).into_response();
        assert_eq!(response.headers()[RETURNED_COUNT], "2");
        assert_eq!(response.headers()[NEXT_PAGE_TOKEN], "abc");
        let response = std::iter::empty::<u32>().collect::<Listed<_>>().into_response();
        assert_eq!(response.headers()[RETURNED_COUNT], "0");
        assert!(!response.headers().contains_key(NEXT_PAGE_TOKEN));
    }
}
