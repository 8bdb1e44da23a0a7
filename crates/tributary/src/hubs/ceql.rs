//! CEQL, Cloud Elements' query language, as the `where` parameter of a hub list call
//! (`startTime='2017-06-01' and endTime='2017-06-27'`): parsed into an [`Expr`], which prints
//! back as canonical CEQL. What a resource makes of it is [`super::where_clause`]'s business;
//! the errors of both are [`CeqlError`].
//!
//! Grammar (keywords case-insensitive; whitespace allowed between any two tokens):
//!
//! ```text
//! where     = or
//! or        = and { "or" and }
//! and       = primary { "and" primary }
//! primary   = "(" or ")" | condition
//! condition = field ( compare value
//!                   | [ "not" ] "like" string
//!                   | [ "not" ] "in" "(" value { "," value } ")"
//!                   | "is" [ "not" ] "null" )
//! compare   = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! field     = name { "." part } | "`" { any character but "`" } "`"
//! name      = ( letter | "_" ) { letter | digit | "_" }        ASCII, not a keyword
//! part      = ( letter | digit | "_" ) { letter | digit | "_" }
//! value     = string | number | "true" | "false" | "null"
//! string    = "'" { any character but "'" | "''" } "'"
//! number    = [ "-" ] digit { digit } [ "." digit { digit } ]
//! ```
//!
//! - In a string, `''` stands for one quote, as in SQL. A backslash is an ordinary character,
//!   so `'C:\'` is the text `C:\`: Cloud Elements documents no escape, and accepting `\'` as
//!   well would leave such values unterminated.
//! - A field is its name: `` `a.b` `` and `a.b` are the same field. Backticks let a name hold
//!   any character but a backtick, or be a keyword (`` `in` ``).
//! - Numbers are kept as written (`007`, `-0.50`), so a vendor receives what the caller sent.
//! - Positions in errors count characters from 1.
//! - At most [`MAX_LENGTH`] characters and [`MAX_DEPTH`] nested parentheses: a hostile clause
//!   costs little and cannot exhaust the stack. `and`/`or` chains are flat lists, not nested
//!   nodes, so their length costs no depth.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest clause accepted, in characters.
pub const MAX_LENGTH: usize = 4096;
/// The deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 32;

/// Keywords, which a bare field name cannot be.
const KEYWORDS: &[&str] = &["and", "or", "not", "like", "in", "is", "null", "true", "false"];

/// A parsed `where` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// All of these hold: two or more, none of them an `And` (the parser flattens them).
    And(Vec<Expr>),
    /// One of these holds: two or more, none of them an `Or`.
    Or(Vec<Expr>),
    Condition(Condition),
}

/// `field <test>`: `startTime = '2017-06-01'`, `name in ('a', 'b')`, `owner is null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: Field,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Compare(Comparison, Value),
    /// `%` is the wildcard; what it matches is the vendor's business.
    Like {
        negated: bool,
        pattern: String,
    },
    /// One or more values.
    In {
        negated: bool,
        values: Vec<Value>,
    },
    Null {
        negated: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    /// `!=` or `<>`.
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Every operator of the grammar, named as a resource's field map declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    NotLike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

/// A field's name, without backticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    String(String),
    Number(Number),
    Boolean(bool),
    Null,
}

/// A number as written: `-`, digits, and maybe a dot and more digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

/// Why a clause was refused: by the parser, or by the resource it was sent to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CeqlError {
    /// `position` counts characters from 1; `None` is the end of the clause.
    #[error("where: {message} {}", At(*.position))]
    Syntax { message: String, position: Option<usize> },
    #[error("where: the expression is empty")]
    Empty,
    #[error("where: the expression is {length} characters long; at most {MAX_LENGTH} are accepted")]
    TooLong { length: usize },
    #[error("where: {}", unsupported_field(.field, .supported))]
    UnsupportedField { field: String, supported: Vec<String> },
    #[error("where: {field} does not support '{operator}'; it supports {}", quoted(.supported))]
    UnsupportedOperator {
        field: String,
        operator: Operator,
        supported: Vec<Operator>,
    },
    #[error(
        "where: this resource cannot combine conditions with 'or': its provider only takes conditions that \
         must all hold; use 'and', or make one request per alternative"
    )]
    Or,
    #[error("where: {field} is given more than once; the provider takes it once{}", repeat_hint(.field, *.listable))]
    Repeated { field: String, listable: bool },
    #[error("where: {field} {reason}")]
    BadValue { field: String, reason: String },
}

/// Parses a `where` clause. A blank clause is [`CeqlError::Empty`]: whether no clause means
/// "no filter" is the caller's decision.
pub fn parse(text: &str) -> Result<Expr, CeqlError> {
    let length = text.chars().count();
    if length > MAX_LENGTH {
        return Err(CeqlError::TooLong { length });
    }
    let tokens = Lexer { text, at: 0 }.tokens()?;
    if tokens.len() == 1 {
        return Err(CeqlError::Empty);
    }
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
        depth: 0,
    };
    let expr = parser.or()?;
    match parser.peek().token {
        Token::End => Ok(expr),
        Token::Close => Err(parser.error("')' without a matching '('".into())),
        _ => Err(parser.expected("'and' or 'or'")),
    }
}

impl Field {
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Whether the name can be written without backticks.
    fn is_bare(&self) -> bool {
        self.0.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && !is_keyword(&self.0)
            && self
                .0
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(is_name_char))
    }
}

impl Number {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Test {
    pub fn operator(&self) -> Operator {
        match *self {
            Test::Compare(comparison, _) => comparison.into(),
            Test::Like { negated: false, .. } => Operator::Like,
            Test::Like { negated: true, .. } => Operator::NotLike,
            Test::In { negated: false, .. } => Operator::In,
            Test::In { negated: true, .. } => Operator::NotIn,
            Test::Null { negated: false } => Operator::IsNull,
            Test::Null { negated: true } => Operator::IsNotNull,
        }
    }
}

impl From<Comparison> for Operator {
    fn from(comparison: Comparison) -> Self {
        match comparison {
            Comparison::Eq => Operator::Eq,
            Comparison::Ne => Operator::Ne,
            Comparison::Lt => Operator::Lt,
            Comparison::Le => Operator::Le,
            Comparison::Gt => Operator::Gt,
            Comparison::Ge => Operator::Ge,
        }
    }
}

impl Operator {
    const ALL: [Operator; 12] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Le,
        Operator::Gt,
        Operator::Ge,
        Operator::Like,
        Operator::NotLike,
        Operator::In,
        Operator::NotIn,
        Operator::IsNull,
        Operator::IsNotNull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Like => "like",
            Operator::NotLike => "not like",
            Operator::In => "in",
            Operator::NotIn => "not in",
            Operator::IsNull => "is null",
            Operator::IsNotNull => "is not null",
        }
    }
}

impl TryFrom<String> for Operator {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Operator::ALL
            .into_iter()
            .find(|operator| operator.as_str() == name)
            .ok_or_else(|| format!("unknown operator {name:?}; operators are {}", quoted(&Operator::ALL)))
    }
}

impl From<Operator> for &'static str {
    fn from(operator: Operator) -> Self {
        operator.as_str()
    }
}

// Printing: canonical CEQL, which parses back to the same tree. Parentheses appear only
// where `and` holds an `or`; keywords are lowercase; `<>` prints as `!=`.

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (items, separator) = match self {
            Expr::Condition(condition) => return condition.fmt(f),
            Expr::And(items) => (items, " and "),
            Expr::Or(items) => (items, " or "),
        };
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                f.write_str(separator)?;
            }
            match (self, item) {
                (Expr::And(_), Expr::Or(_)) => write!(f, "({item})")?,
                _ => item.fmt(f)?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.test)
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Compare(comparison, value) => write!(f, "{} {value}", Operator::from(*comparison)),
            Test::Like { pattern, .. } => write!(f, "{} {}", self.operator(), Literal(pattern)),
            Test::In { values, .. } => {
                write!(f, "{} (", self.operator())?;
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    value.fmt(f)?;
                }
                f.write_str(")")
            }
            Test::Null { .. } => self.operator().fmt(f),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_bare() {
            f.write_str(&self.0)
        } else {
            write!(f, "`{}`", self.0)
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(text) => Literal(text).fmt(f),
            Value::Number(number) => f.write_str(&number.0),
            Value::Boolean(value) => value.fmt(f),
            Value::Null => f.write_str("null"),
        }
    }
}

/// A string as a CEQL literal.
struct Literal<'a>(&'a str);

impl fmt::Display for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0.replace('\'', "''"))
    }
}

/// Where a syntax error is.
struct At(Option<usize>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(position) => write!(f, "at position {position}"),
            None => f.write_str("at the end"),
        }
    }
}

fn quoted(operators: &[Operator]) -> String {
    let names: Vec<String> = operators.iter().map(|o| format!("'{o}'")).collect();
    names.join(", ")
}

fn unsupported_field(field: &str, supported: &[String]) -> String {
    if supported.is_empty() {
        "this resource takes no where clause".into()
    } else {
        format!(
            "this resource cannot filter on {field}; it filters on {}",
            supported.join(", ")
        )
    }
}

fn repeat_hint(field: &str, listable: bool) -> String {
    if listable {
        format!(" (for several values, write {field} in (…))")
    } else {
        String::new()
    }
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|keyword| keyword.eq_ignore_ascii_case(word))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Open,
    Close,
    Comma,
    Compare(Comparison),
    String(String),
    Number(&'a str),
    /// A bare name or keyword.
    Word(&'a str),
    /// A backticked name, without its backticks.
    Quoted(String),
    End,
}

#[derive(Debug)]
struct Spanned<'a> {
    token: Token<'a>,
    /// Byte offset in the clause.
    start: usize,
    /// The token as written.
    text: &'a str,
}

struct Lexer<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    at: usize,
}

impl<'a> Lexer<'a> {
    fn tokens(mut self) -> Result<Vec<Spanned<'a>>, CeqlError> {
        let mut tokens = Vec::new();
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.bump();
            }
            let start = self.at;
            let Some(c) = self.bump() else {
                tokens.push(Spanned {
                    token: Token::End,
                    start,
                    text: "",
                });
                return Ok(tokens);
            };
            let token = match c {
                '(' => Token::Open,
                ')' => Token::Close,
                ',' => Token::Comma,
                '=' => Token::Compare(Comparison::Eq),
                '!' if self.eat('=') => Token::Compare(Comparison::Ne),
                '<' if self.eat('=') => Token::Compare(Comparison::Le),
                '<' if self.eat('>') => Token::Compare(Comparison::Ne),
                '<' => Token::Compare(Comparison::Lt),
                '>' if self.eat('=') => Token::Compare(Comparison::Ge),
                '>' => Token::Compare(Comparison::Gt),
                '\'' => Token::String(self.string(start)?),
                '`' => Token::Quoted(self.quoted(start)?),
                '-' | '0'..='9' => Token::Number(self.number(start, c)?),
                c if c.is_ascii_alphabetic() || c == '_' => Token::Word(self.word(start)?),
                other => return Err(self.error(format!("unexpected character {other:?}"), start)),
            };
            tokens.push(Spanned {
                token,
                start,
                text: &self.text[start..self.at],
            });
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, expected: char) -> bool {
        let found = self.peek() == Some(expected);
        if found {
            self.bump();
        }
        found
    }

    /// The rest of a string whose opening quote is at `start`.
    fn string(&mut self, start: usize) -> Result<String, CeqlError> {
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string: no closing quote for the one".into(), start)),
                Some('\'') if self.eat('\'') => text.push('\''),
                Some('\'') => return Ok(text),
                Some(c) => text.push(c),
            }
        }
    }

    /// The rest of a backticked name whose opening backtick is at `start`.
    fn quoted(&mut self, start: usize) -> Result<String, CeqlError> {
        let body = self.at;
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated field name: no closing ` for the one".into(), start)),
                Some('`') if self.at - 1 == body => return Err(self.error("empty field name".into(), start)),
                Some('`') => return Ok(self.text[body..self.at - 1].to_string()),
                Some(_) => {}
            }
        }
    }

    /// The rest of a number whose first character, `first`, is at `start`.
    fn number(&mut self, start: usize, first: char) -> Result<&'a str, CeqlError> {
        if first == '-' {
            self.digits("'-'")?;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.eat('.') {
            self.digits("the decimal point")?;
        }
        Ok(&self.text[start..self.at])
    }

    /// One digit or more.
    fn digits(&mut self, after: &str) -> Result<(), CeqlError> {
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.here(format!("expected a digit after {after}")));
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        Ok(())
    }

    /// The rest of a bare name, dotted parts included.
    fn word(&mut self, start: usize) -> Result<&'a str, CeqlError> {
        loop {
            while self.peek().is_some_and(is_name_char) {
                self.bump();
            }
            if !self.eat('.') {
                return Ok(&self.text[start..self.at]);
            }
            if !self.peek().is_some_and(is_name_char) {
                return Err(self.here("expected a name after '.'".into()));
            }
        }
    }

    /// An error at the next character, or at the end.
    fn here(&self, message: String) -> CeqlError {
        CeqlError::Syntax {
            message,
            position: (self.at < self.text.len()).then(|| position(self.text, self.at)),
        }
    }

    fn error(&self, message: String, start: usize) -> CeqlError {
        CeqlError::Syntax {
            message,
            position: Some(position(self.text, start)),
        }
    }
}

/// The character position, from 1, of a byte offset.
fn position(text: &str, offset: usize) -> usize {
    text[..offset].chars().count() + 1
}

struct Parser<'a> {
    text: &'a str,
    /// Ends with `Token::End`.
    tokens: Vec<Spanned<'a>>,
    next: usize,
    depth: usize,
}

/// How a run of terms is joined.
#[derive(Clone, Copy)]
enum Join {
    And,
    Or,
}

impl Parser<'_> {
    fn or(&mut self) -> Result<Expr, CeqlError> {
        let mut items = vec![self.and()?];
        while self.eat_keyword("or") {
            items.push(self.and()?);
        }
        Ok(join(items, Join::Or))
    }

    fn and(&mut self) -> Result<Expr, CeqlError> {
        let mut items = vec![self.primary()?];
        while self.eat_keyword("and") {
            items.push(self.primary()?);
        }
        Ok(join(items, Join::And))
    }

    fn primary(&mut self) -> Result<Expr, CeqlError> {
        if self.peek().token != Token::Open {
            return self.condition().map(Expr::Condition);
        }
        if self.depth == MAX_DEPTH {
            return Err(self.error(format!("parentheses nested more than {MAX_DEPTH} deep")));
        }
        let open = position(self.text, self.peek().start);
        self.advance();
        self.depth += 1;
        let expr = self.or()?;
        if self.peek().token != Token::Close {
            return Err(self.expected(&format!("'and', 'or' or ')' (to close the '(' at position {open})")));
        }
        self.advance();
        self.depth -= 1;
        Ok(expr)
    }

    fn condition(&mut self) -> Result<Condition, CeqlError> {
        let field = match &self.peek().token {
            Token::Word(word) if !is_keyword(word) => Field(word.to_string()),
            Token::Quoted(name) => Field(name.clone()),
            _ => return Err(self.expected("a field name or '('")),
        };
        self.advance();
        Ok(Condition {
            field,
            test: self.test()?,
        })
    }

    fn test(&mut self) -> Result<Test, CeqlError> {
        if let Token::Compare(comparison) = self.peek().token {
            self.advance();
            return Ok(Test::Compare(comparison, self.value()?));
        }
        let negated = self.eat_keyword("not");
        if self.eat_keyword("like") {
            let Token::String(pattern) = &self.peek().token else {
                return Err(self.expected("a quoted pattern"));
            };
            let pattern = pattern.clone();
            self.advance();
            Ok(Test::Like { negated, pattern })
        } else if self.eat_keyword("in") {
            Ok(Test::In {
                negated,
                values: self.list()?,
            })
        } else if negated {
            Err(self.expected("'like' or 'in'"))
        } else if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            if !self.eat_keyword("null") {
                return Err(self.expected(if negated { "'null'" } else { "'null' or 'not null'" }));
            }
            Ok(Test::Null { negated })
        } else {
            Err(self.expected("an operator (=, !=, <, <=, >, >=, like, not like, in, not in, is null, is not null)"))
        }
    }

    /// `( value { , value } )`
    fn list(&mut self) -> Result<Vec<Value>, CeqlError> {
        if self.peek().token != Token::Open {
            return Err(self.expected("'(' to open the list"));
        }
        self.advance();
        let mut values = Vec::new();
        loop {
            values.push(self.value()?);
            match self.peek().token {
                Token::Comma => self.advance(),
                Token::Close => {
                    self.advance();
                    return Ok(values);
                }
                _ => return Err(self.expected("',' or ')'")),
            }
        }
    }

    fn value(&mut self) -> Result<Value, CeqlError> {
        let value = match &self.peek().token {
            Token::String(text) => Value::String(text.clone()),
            Token::Number(number) => Value::Number(Number(number.to_string())),
            Token::Word(word) if word.eq_ignore_ascii_case("true") => Value::Boolean(true),
            Token::Word(word) if word.eq_ignore_ascii_case("false") => Value::Boolean(false),
            Token::Word(word) if word.eq_ignore_ascii_case("null") => Value::Null,
            _ => return Err(self.expected("a value ('text', a number, true, false or null)")),
        };
        self.advance();
        Ok(value)
    }

    fn peek(&self) -> &Spanned<'_> {
        &self.tokens[self.next]
    }

    /// Moves past the next token; `End` stays put.
    fn advance(&mut self) {
        if self.peek().token != Token::End {
            self.next += 1;
        }
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = matches!(self.peek().token, Token::Word(word) if word.eq_ignore_ascii_case(keyword));
        if found {
            self.advance();
        }
        found
    }

    /// "expected X after Y, found Z at position N": the next token did not fit.
    fn expected(&self, what: &str) -> CeqlError {
        let mut message = format!("expected {what}");
        if let Some(previous) = self.next.checked_sub(1).map(|index| &self.tokens[index]) {
            message.push_str(&format!(" after {}", describe(previous)));
        }
        if self.peek().token != Token::End {
            message.push_str(&format!(", found {}", describe(self.peek())));
        }
        self.error(message)
    }

    /// An error at the next token.
    fn error(&self, message: String) -> CeqlError {
        let next = self.peek();
        CeqlError::Syntax {
            message,
            position: (next.token != Token::End).then(|| position(self.text, next.start)),
        }
    }
}

/// A token for a message: as written, quoted unless it is a literal, long ones shortened.
fn describe(token: &Spanned<'_>) -> String {
    const LONGEST: usize = 40;
    let mut text: String = token.text.chars().take(LONGEST).collect();
    if token.text.chars().nth(LONGEST).is_some() {
        text.push('…');
    }
    match token.token {
        Token::String(_) | Token::Number(_) | Token::Quoted(_) => text,
        _ => format!("'{text}'"),
    }
}

/// `items` joined by `how`, with nested runs of the same join spliced in.
fn join(items: Vec<Expr>, how: Join) -> Expr {
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match (how, item) {
            (Join::And, Expr::And(inner)) | (Join::Or, Expr::Or(inner)) => flat.extend(inner),
            (_, other) => flat.push(other),
        }
    }
    if flat.len() == 1 {
        return flat.pop().expect("one item");
    }
    match how {
        Join::And => Expr::And(flat),
        Join::Or => Expr::Or(flat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Field {
        Field(name.into())
    }

    fn text(value: &str) -> Value {
        Value::String(value.into())
    }

    fn number(value: &str) -> Value {
        Value::Number(Number(value.into()))
    }

    fn compare(name: &str, comparison: Comparison, value: Value) -> Expr {
        Expr::Condition(Condition {
            field: field(name),
            test: Test::Compare(comparison, value),
        })
    }

    #[test]
    fn the_research_examples_parse_to_their_trees() {
        let cases = [
            // churros, with the trailing space it leaves inside the where string.
            (
                "startTime='2017-06-01' and endTime='2017-06-27' ",
                Expr::And(vec![
                    compare("startTime", Comparison::Eq, text("2017-06-01")),
                    compare("endTime", Comparison::Eq, text("2017-06-27")),
                ]),
            ),
            (
                "name IN ('Penguins.jpg','Dice.png')",
                Expr::Condition(Condition {
                    field: field("name"),
                    test: Test::In {
                        negated: false,
                        values: vec![text("Penguins.jpg"), text("Dice.png")],
                    },
                }),
            ),
            (
                "LastModifiedDate>'2018-01-15T00:00:00.000Z'",
                compare("LastModifiedDate", Comparison::Gt, text("2018-01-15T00:00:00.000Z")),
            ),
            (
                "Name='Edge Communications'",
                compare("Name", Comparison::Eq, text("Edge Communications")),
            ),
            (
                "AnnualRevenue >= 100000",
                compare("AnnualRevenue", Comparison::Ge, number("100000")),
            ),
            (
                "`metaData.lastUpdateTime` > '2017-01-01'",
                compare("metaData.lastUpdateTime", Comparison::Gt, text("2017-01-01")),
            ),
            ("a = 'it''s'", compare("a", Comparison::Eq, text("it's"))),
            (
                "Department!='Procurement'",
                compare("Department", Comparison::Ne, text("Procurement")),
            ),
            (
                "Type = 'Customer' AND (Name='Account Name' OR Industry='Apparel')",
                Expr::And(vec![
                    compare("Type", Comparison::Eq, text("Customer")),
                    Expr::Or(vec![
                        compare("Name", Comparison::Eq, text("Account Name")),
                        compare("Industry", Comparison::Eq, text("Apparel")),
                    ]),
                ]),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn valid_clauses_print_as_canonical_ceql() {
        let cases = [
            ("a=1", "a = 1"),
            ("  a = 1  ", "a = 1"),
            ("\ta\n=\r\n1 ", "a = 1"),
            ("a != 'x'", "a != 'x'"),
            ("a <> 'x'", "a != 'x'"),
            ("a<1 and b<=2 and c>3 and d>=4", "a < 1 and b <= 2 and c > 3 and d >= 4"),
            ("a = -12.50", "a = -12.50"),
            ("a = 007", "a = 007"),
            ("a = -0", "a = -0"),
            ("a = TRUE and b = False", "a = true and b = false"),
            ("a = NULL", "a = null"),
            ("a Is Null", "a is null"),
            ("a IS NOT NULL", "a is not null"),
            ("a LIKE 'Pen%'", "a like 'Pen%'"),
            ("a not like '%x'", "a not like '%x'"),
            ("a NOT IN (1, 'b', true, null)", "a not in (1, 'b', true, null)"),
            ("a in ( 1 )", "a in (1)"),
            ("a in(1,2)", "a in (1, 2)"),
            ("a = '' ", "a = ''"),
            ("a = ''''", "a = ''''"),
            ("a = 'C:\\'", "a = 'C:\\'"),
            ("a = 'x' or b = 'y' and c = 'z'", "a = 'x' or b = 'y' and c = 'z'"),
            ("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"),
            ("((a = 1))", "a = 1"),
            (
                "(a = 1 and b = 2) and (c = 3 and d = 4)",
                "a = 1 and b = 2 and c = 3 and d = 4",
            ),
            ("a = 1 or (b = 2 or c = 3)", "a = 1 or b = 2 or c = 3"),
            ("(a = 1 and b = 2) or c = 3", "a = 1 and b = 2 or c = 3"),
            ("a.b.c = 1", "a.b.c = 1"),
            ("`a.b` = 1", "a.b = 1"),
            ("`first name` = 'Jo'", "`first name` = 'Jo'"),
            ("`in` = 1", "`in` = 1"),
            ("in.x = 1", "in.x = 1"),
            ("`é` = 'ü'", "`é` = 'ü'"),
            ("_x.0 = 1", "_x.0 = 1"),
            ("a='x'and b='y'", "a = 'x' and b = 'y'"),
            ("a = 'and or ( ) = '''", "a = 'and or ( ) = '''"),
        ];
        for (input, canonical) in cases {
            let expr = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(expr.to_string(), canonical, "{input}");
            assert_eq!(parse(canonical), Ok(expr), "{canonical}");
        }
    }

    #[test]
    fn invalid_clauses_say_what_was_expected_where() {
        let cases = [
            ("", "where: the expression is empty"),
            ("   ", "where: the expression is empty"),
            (
                "startTime=",
                "where: expected a value ('text', a number, true, false or null) after '=' at the end",
            ),
            (
                "startTime = and",
                "where: expected a value ('text', a number, true, false or null) after '=', found 'and' at position 13",
            ),
            (
                "state = SENT",
                "where: expected a value ('text', a number, true, false or null) after '=', found 'SENT' at position 9",
            ),
            (
                "startTime = '2017-06-01",
                "where: unterminated string: no closing quote for the one at position 13",
            ),
            (
                "a = 'it\\'s'",
                "where: unterminated string: no closing quote for the one at position 11",
            ),
            (
                "a = 1 b = 2",
                "where: expected 'and' or 'or' after 1, found 'b' at position 7",
            ),
            ("a = 1)", "where: ')' without a matching '(' at position 6"),
            (
                "(a = 1",
                "where: expected 'and', 'or' or ')' (to close the '(' at position 1) after 1 at the end",
            ),
            (
                "x = 2 and (a = 1 b",
                "where: expected 'and', 'or' or ')' (to close the '(' at position 11) after 1, found 'b' at position 18",
            ),
            (
                "a = 1 and",
                "where: expected a field name or '(' after 'and' at the end",
            ),
            (
                "a = 1 and and b = 2",
                "where: expected a field name or '(' after 'and', found 'and' at position 11",
            ),
            ("= 1", "where: expected a field name or '(', found '=' at position 1"),
            (
                "'a' = 1",
                "where: expected a field name or '(', found 'a' at position 1",
            ),
            (
                "()",
                "where: expected a field name or '(' after '(', found ')' at position 2",
            ),
            (
                "a 1",
                "where: expected an operator (=, !=, <, <=, >, >=, like, not like, in, not in, is null, is not \
                 null) after 'a', found 1 at position 3",
            ),
            (
                "a == 1",
                "where: expected a value ('text', a number, true, false or null) after '=', found '=' at position 4",
            ),
            ("a ! 1", "where: unexpected character '!' at position 3"),
            ("a = 1 && b = 2", "where: unexpected character '&' at position 7"),
            ("a = \"x\"", "where: unexpected character '\"' at position 5"),
            (
                "a not = 1",
                "where: expected 'like' or 'in' after 'not', found '=' at position 7",
            ),
            (
                "a is 1",
                "where: expected 'null' or 'not null' after 'is', found 1 at position 6",
            ),
            (
                "a is not 1",
                "where: expected 'null' after 'not', found 1 at position 10",
            ),
            (
                "a like 5",
                "where: expected a quoted pattern after 'like', found 5 at position 8",
            ),
            (
                "a in 1",
                "where: expected '(' to open the list after 'in', found 1 at position 6",
            ),
            (
                "a in ()",
                "where: expected a value ('text', a number, true, false or null) after '(', found ')' at position 7",
            ),
            (
                "a in (1 2)",
                "where: expected ',' or ')' after 1, found 2 at position 9",
            ),
            (
                "a in (1,",
                "where: expected a value ('text', a number, true, false or null) after ',' at the end",
            ),
            ("a = -", "where: expected a digit after '-' at the end"),
            ("a = - 1", "where: expected a digit after '-' at position 6"),
            ("a = 1.", "where: expected a digit after the decimal point at the end"),
            (
                "a = 1.x",
                "where: expected a digit after the decimal point at position 7",
            ),
            ("a. = 1", "where: expected a name after '.' at position 3"),
            ("a..b = 1", "where: expected a name after '.' at position 3"),
            (
                "`a = 1",
                "where: unterminated field name: no closing ` for the one at position 1",
            ),
            ("`` = 1", "where: empty field name at position 1"),
            ("é = 1", "where: unexpected character 'é' at position 1"),
            (
                "`é` = 1 x",
                "where: expected 'and' or 'or' after 1, found 'x' at position 9",
            ),
            (
                "a = 'a very long string that goes on and on and on' x",
                "where: expected 'and' or 'or' after 'a very long string that goes on and on …, found 'x' at \
                 position 53",
            ),
        ];
        for (input, message) in cases {
            let error = parse(input).expect_err(input);
            assert_eq!(error.to_string(), message, "{input}");
        }
    }

    #[test]
    fn nesting_is_bounded_before_it_can_exhaust_the_stack() {
        let deepest = format!("{}a = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&deepest), Ok(compare("a", Comparison::Eq, number("1"))));

        let hostile = format!("{}a = 1{}", "(".repeat(2000), ")".repeat(2000));
        assert_eq!(
            parse(&hostile).expect_err("too deep").to_string(),
            format!(
                "where: parentheses nested more than {MAX_DEPTH} deep at position {}",
                MAX_DEPTH + 1
            )
        );
    }

    #[test]
    fn length_is_bounded_in_characters() {
        let longest = format!("a = '{}'", "é".repeat(MAX_LENGTH - 6));
        assert!(parse(&longest).is_ok());
        let longer = format!("a = '{}'", "é".repeat(MAX_LENGTH - 5));
        assert_eq!(
            parse(&longer).expect_err("too long").to_string(),
            format!(
                "where: the expression is {} characters long; at most {MAX_LENGTH} are accepted",
                MAX_LENGTH + 1
            )
        );
    }

    #[test]
    fn long_chains_are_flat() {
        let chain = vec!["a = 1"; 400].join(" and ");
        let Ok(Expr::And(items)) = parse(&chain) else {
            panic!("an and of conditions")
        };
        assert_eq!(items.len(), 400);
    }

    #[test]
    fn operators_are_named_as_field_maps_declare_them() {
        for operator in Operator::ALL {
            assert_eq!(Operator::try_from(operator.as_str().to_string()), Ok(operator));
        }
        assert_eq!(
            Operator::try_from("==".to_string()),
            Err(
                "unknown operator \"==\"; operators are '=', '!=', '<', '<=', '>', '>=', 'like', 'not like', 'in', \
                 'not in', 'is null', 'is not null'"
                    .to_string()
            )
        );
    }

    /// A xorshift generator: the same clauses on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    fn random_value(rng: &mut Rng) -> Value {
        match rng.below(4) {
            0 => text(rng.pick(&["", "'", "it's", "a b", "é", "\\", "%x%", "and"])),
            1 => number(rng.pick(&["0", "-1", "2.50", "007", "-0.0"])),
            2 => Value::Boolean(rng.below(2) == 0),
            _ => Value::Null,
        }
    }

    fn random_expr(rng: &mut Rng, depth: usize) -> Expr {
        if depth == 0 || rng.below(3) == 0 {
            let negated = rng.below(2) == 0;
            let test = match rng.below(4) {
                0 => Test::Compare(
                    [
                        Comparison::Eq,
                        Comparison::Ne,
                        Comparison::Lt,
                        Comparison::Le,
                        Comparison::Gt,
                        Comparison::Ge,
                    ][rng.below(6)],
                    random_value(rng),
                ),
                1 => Test::Like {
                    negated,
                    pattern: rng.pick(&["", "a%", "it's"]).to_string(),
                },
                2 => Test::In {
                    negated,
                    values: (0..=rng.below(3)).map(|_| random_value(rng)).collect(),
                },
                _ => Test::Null { negated },
            };
            let name = rng.pick(&["a", "b.c", "_x.0", "first name", "in", "NULL", "é", "a.", "1"]);
            return Expr::Condition(Condition {
                field: field(name),
                test,
            });
        }
        let items = (0..2 + rng.below(3)).map(|_| random_expr(rng, depth - 1)).collect();
        join(items, if rng.below(2) == 0 { Join::And } else { Join::Or })
    }

    /// Random trees print as CEQL that parses back to them; random edits of that CEQL never
    /// panic, and parse, when they do, to trees that round-trip too.
    #[test]
    fn generated_clauses_round_trip_and_edits_never_panic() {
        const PIECES: &[&str] = &[
            "a", "`", "'", "''", "1", "-", ".", "=", "<>", "!", "and", "OR", "not", "in", "is", "null", "(", ")", ",",
            " ", "é", "\u{0}", "\\",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut edits_parsed = 0;
        for _ in 0..5_000 {
            let expr = random_expr(&mut rng, 3);
            let printed = expr.to_string();
            assert_eq!(parse(&printed), Ok(expr), "{printed}");

            let mut edited: Vec<char> = printed.chars().collect();
            for _ in 0..=rng.below(3) {
                let at = rng.below(edited.len() + 1);
                match rng.below(2) {
                    0 if at < edited.len() => {
                        edited.remove(at);
                    }
                    _ => edited.splice(at..at, rng.pick(PIECES).chars()).for_each(drop),
                }
            }
            let edited: String = edited.into_iter().collect();
            match parse(&edited) {
                Ok(expr) => {
                    edits_parsed += 1;
                    assert_eq!(parse(&expr.to_string()), Ok(expr), "{edited}");
                }
                Err(error) => assert!(error.to_string().starts_with("where: "), "{edited}"),
            }
        }
        // Some edits must still parse, or their round trip checks nothing.
        assert!(edits_parsed > 200, "only {edits_parsed} edited clauses parsed");
    }
}
