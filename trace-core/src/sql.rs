//! SQL text for spans: a sanitiser that replaces every literal with `?`, and a summariser that gives
//! `db.query.summary` (`SELECT orders`, `INSERT shipping_details SELECT orders`), the operation and
//! the single table.
//!
//! A hand-written lexer, one pass over the bytes, no allocation beyond the output: linear time, and
//! no input can make it panic. String literals (`'...'` with `''` and, where the dialect has them,
//! backslash escapes; `E'...'`, `N'...'`, `X'...'`, `B'...'`, `U&'...'`), dollar-quoted strings
//! (`$$...$$`, `$tag$...$tag$`, recognised in every dialect), numbers (decimal, exponent, hex), `TRUE`/`FALSE` and, in MySQL,
//! double-quoted strings become `?`; comments are dropped; runs of white space become one space;
//! `IN (?, ?, ?)` becomes `IN (?)`. Placeholders (`?`, `$1`, `:name`, `@p1`), identifiers and
//! keywords are kept. An unterminated literal swallows the rest of the text (it becomes `?`).
//!
//! ```
//! use trace_core::sql::{sanitize, summarize, Dialect};
//! assert_eq!(
//!     sanitize("SELECT * FROM users WHERE name = 'bob' AND id IN (1, 2, 3) -- hi", Dialect::Postgres, 1000),
//!     "SELECT * FROM users WHERE name = ? AND id IN (?)"
//! );
//! let s = summarize("INSERT INTO shipping_details (id) SELECT id FROM orders");
//! assert_eq!(s.summary, "INSERT shipping_details SELECT orders");
//! ```

use std::borrow::Cow;

/// Which SQL dialect the text is in (decides escapes and quote meanings).
///
/// ```
/// use trace_core::sql::{sanitize, Dialect};
/// // "..." is an identifier in PostgreSQL and a string in MySQL
/// assert_eq!(sanitize(r#"SELECT "name" FROM t"#, Dialect::Postgres, 100), r#"SELECT "name" FROM t"#);
/// assert_eq!(sanitize(r#"SELECT "name" FROM t"#, Dialect::MySql, 100), "SELECT ? FROM t");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL: `"` quotes identifiers, `E'..'` has backslash escapes, `$$` strings.
    Postgres,
    /// MySQL / MariaDB: `'` and `"` are strings with backslash escapes, `` ` `` quotes identifiers, `#` comments.
    MySql,
    /// SQLite: `"` quotes identifiers, no backslash escapes.
    Sqlite,
}

/// How much of the statement text a span records.
///
/// ```
/// use trace_core::sql::{analyze, Dialect, QueryText};
/// let sql = "SELECT * FROM users WHERE email = 'ada@example.com'";
/// let text = |mode| analyze(sql, Dialect::Postgres, mode, 2048, "postgresql").text.clone();
/// assert_eq!(text(QueryText::Sanitized).unwrap().as_str(), "SELECT * FROM users WHERE email = ?");
/// assert_eq!(text(QueryText::Full).unwrap().as_str(), sql); // opt-in only
/// assert!(text(QueryText::Off).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryText {
    /// Nothing.
    Off,
    /// Literals replaced by `?`, comments dropped (the default).
    Sanitized,
    /// The text as written (it may hold values: opt in only when it cannot).
    Full,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Sanitises `sql` (see the module documentation), cutting the result at `max_len` bytes.
///
/// ```
/// use trace_core::sql::{sanitize, Dialect};
/// assert_eq!(
///     sanitize("SELECT id FROM t WHERE id IN (1, 2, 3) AND n = 'x' -- note", Dialect::Postgres, 1024),
///     "SELECT id FROM t WHERE id IN (?) AND n = ?"
/// );
/// ```
pub fn sanitize(sql: &str, dialect: Dialect, max_len: usize) -> Cow<'_, str> {
    let mut out = sanitize_owned(sql, dialect);
    // only a text with at least two `?` can hold an `IN (?, ?)` list to collapse
    if out.bytes().filter(|b| *b == b'?').nth(1).is_some() {
        if let Cow::Owned(collapsed) = collapse_in_lists(&out) {
            out = collapsed;
        }
    }
    if out.len() > max_len {
        let mut end = max_len;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    if out == sql {
        Cow::Borrowed(sql)
    } else {
        Cow::Owned(out)
    }
}

fn push_space(out: &mut String) {
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Skips a quoted section starting at `i` (the opening quote); returns the index after it.
fn skip_quoted(b: &[u8], i: usize, quote: u8, backslash: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        let c = b[j];
        if backslash && c == b'\\' {
            j += 2;
            continue;
        }
        if c == quote {
            if j + 1 < b.len() && b[j + 1] == quote {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// If a dollar-quote tag starts at `i`, its length (`$$` or `$tag$`).
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        if j == i + 1 && b[j].is_ascii_digit() {
            return None; // $1 is a placeholder
        }
        j += 1;
    }
    (j < b.len() && b[j] == b'$').then_some(j + 1 - i)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The lexer. Text that stays as written (identifiers, keywords, operators, placeholders, quoted
/// identifiers, single spaces) is copied in runs: `run` is where the current run starts, and a run
/// is copied only when something replaces or drops text (a literal, a comment, other whitespace).
fn sanitize_owned(sql: &str, dialect: Dialect) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut run = 0;
    let mut i = 0;
    // Copies the run up to `end` (a character boundary: runs start and end at ASCII bytes or the
    // ends of skipped sections).
    macro_rules! flush {
        ($end:expr) => {{
            let end = $end;
            if end > run {
                out.push_str(&sql[run..end]);
            }
        }};
    }
    // Replaces `b[start..end]` with `?`.
    macro_rules! literal {
        ($start:expr, $end:expr) => {{
            flush!($start);
            out.push('?');
            i = $end;
            run = i;
        }};
    }
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                // the last byte of the output so far
                let last = if i > run {
                    Some(b[i - 1])
                } else {
                    out.as_bytes().last().copied()
                };
                let wanted = last.is_some_and(|l| l != b' ');
                if c == b' ' && wanted {
                    i += 1; // a single space stays in the run
                } else {
                    flush!(i);
                    if wanted {
                        out.push(' ');
                    }
                    i += 1;
                    run = i;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                flush!(i);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                push_space(&mut out);
                run = i;
            }
            b'#' if dialect == Dialect::MySql => {
                flush!(i);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                push_space(&mut out);
                run = i;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                flush!(i);
                let mut depth = 1;
                i += 2;
                while i < b.len() && depth > 0 {
                    if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else if dialect == Dialect::Postgres
                        && b[i] == b'/'
                        && b.get(i + 1) == Some(&b'*')
                    {
                        depth += 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                push_space(&mut out);
                run = i.min(b.len());
                i = run;
            }
            b'\'' => literal!(i, skip_quoted(b, i, b'\'', dialect == Dialect::MySql)),
            b'"' if dialect == Dialect::MySql => literal!(i, skip_quoted(b, i, b'"', true)),
            // quoted identifiers stay as written
            b'"' => i = skip_quoted(b, i, b'"', false),
            b'`' => i = skip_quoted(b, i, b'`', false),
            b'$' => match dollar_tag(b, i) {
                Some(len) => {
                    let tag = &b[i..i + len];
                    let end = find(b, i + len, tag).map_or(b.len(), |e| e + len);
                    literal!(i, end)
                }
                None => {
                    // $1 placeholder
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            },
            b'0'..=b'9' => literal!(i, skip_number(b, i)),
            b'.' if b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                literal!(i, skip_number(b, i))
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                let word = &b[start..i];
                let next = b.get(i).copied();
                // Prefixed strings: E'..', N'..', X'..', B'..', U&'..'
                if next == Some(b'\'')
                    && word.len() == 1
                    && matches!(word[0] | 0x20, b'e' | b'n' | b'x' | b'b')
                {
                    let backslash = dialect == Dialect::MySql || word[0] | 0x20 == b'e';
                    literal!(start, skip_quoted(b, i, b'\'', backslash))
                } else if next == Some(b'&')
                    && word.len() == 1
                    && word[0] | 0x20 == b'u'
                    && b.get(i + 1) == Some(&b'\'')
                {
                    literal!(start, skip_quoted(b, i + 1, b'\'', false))
                } else if (word.len() == 4 && word.eq_ignore_ascii_case(b"true"))
                    || (word.len() == 5 && word.eq_ignore_ascii_case(b"false"))
                {
                    literal!(start, i)
                }
                // else: the word stays in the run
            }
            // operators, punctuation, placeholders: ASCII bytes that stay as written
            _ => i += 1,
        }
    }
    flush!(b.len());
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

fn skip_number(b: &[u8], mut i: usize) -> usize {
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    // a number glued to letters (1abc) is still all literal
    while i < b.len() && is_ident(b[i]) {
        i += 1;
    }
    i
}

/// `IN (?, ?, ?)` → `IN (?)`, in one pass.
fn collapse_in_lists(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i + 2 < b.len() {
        let is_in = (b[i] | 0x20) == b'i'
            && (b[i + 1] | 0x20) == b'n'
            && (i == 0 || !is_ident(b[i - 1]))
            && !is_ident(b[i + 2]);
        if is_in {
            let mut j = i + 2;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            if j < b.len() && b[j] == b'(' {
                let mut k = j + 1;
                let mut marks = 0;
                while k < b.len() && matches!(b[k], b'?' | b',' | b' ') {
                    if b[k] == b'?' {
                        marks += 1;
                    }
                    k += 1;
                }
                if k < b.len() && b[k] == b')' && marks > 1 {
                    let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                    o.push_str(&s[copied..j]);
                    o.push_str("(?)");
                    copied = k + 1;
                    i = k + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[copied..]);
            Cow::Owned(o)
        }
    }
}

/// What a statement does, for the span's name and attributes.
///
/// ```
/// let s = trace_core::sql::summarize("UPDATE accounts SET balance = balance - 10 WHERE id = 7");
/// assert_eq!(s.summary, "UPDATE accounts");
/// assert_eq!(s.operation.as_deref(), Some("UPDATE"));
/// assert_eq!(s.collection.as_deref(), Some("accounts"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// `db.query.summary`: operations and their targets, at most 255 bytes.
    pub summary: String,
    /// `db.operation.name`, when the statement has one operation.
    pub operation: Option<String>,
    /// `db.collection.name`, when the statement acts on one table.
    pub collection: Option<String>,
}

const OPERATIONS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "CALL",
    "EXEC",
    "EXECUTE",
    "GRANT",
    "REVOKE",
    "VACUUM",
    "ANALYZE",
    "EXPLAIN",
    "SET",
    "SHOW",
    "USE",
    "COPY",
    "LOCK",
    "PRAGMA",
    "WITH",
];

/// Keywords after which the next name is a target table.
const TARGET_BEFORE: &[&str] = &["FROM", "JOIN", "INTO", "UPDATE", "TABLE"];

/// Summarises a statement (see [`Summary`]). Works on raw or sanitised text.
///
/// ```
/// let s = trace_core::sql::summarize("SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id");
/// assert_eq!(s.summary, "SELECT orders users");
/// assert_eq!(s.collection, None); // more than one table
/// ```
pub fn summarize(sql: &str) -> Summary {
    let b = sql.as_bytes();
    let mut parts: Vec<String> = Vec::new();
    let mut ops = 0usize;
    let mut first_op: Option<String> = None;
    let mut targets: Vec<String> = Vec::new();
    let mut expect_target = false;
    let mut len = 0usize;
    let mut i = 0;
    let push = |parts: &mut Vec<String>, s: String, len: &mut usize| {
        if *len + s.len() < 255 {
            *len += s.len() + 1;
            parts.push(s);
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            i = skip_quoted(b, i, b'\'', true);
            expect_target = false;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
        } else if c == b'"' || c == b'`' || is_ident_start(c) {
            // a (possibly qualified, possibly quoted) name
            let start = i;
            loop {
                if i < b.len() && (b[i] == b'"' || b[i] == b'`') {
                    i = skip_quoted(b, i, b[i], false);
                } else {
                    while i < b.len() && is_ident(b[i]) {
                        i += 1;
                    }
                }
                if i + 1 < b.len()
                    && b[i] == b'.'
                    && (is_ident_start(b[i + 1]) || b[i + 1] == b'"' || b[i + 1] == b'`')
                {
                    i += 1;
                    continue;
                }
                break;
            }
            let word = &sql[start..i.max(start + 1).min(sql.len())];
            let upper = word.to_ascii_uppercase();
            let filler = matches!(upper.as_str(), "ONLY" | "LATERAL" | "IF" | "NOT" | "EXISTS");
            if expect_target && !filler && !OPERATIONS.contains(&upper.as_str()) {
                expect_target = false;
                let name: String = word.chars().filter(|ch| *ch != '"' && *ch != '`').collect();
                targets.push(name.clone());
                push(&mut parts, name, &mut len);
                continue;
            }
            if filler {
                continue; // keep expecting a target: UPDATE ONLY t, DROP TABLE IF EXISTS t
            }
            expect_target = TARGET_BEFORE.contains(&upper.as_str());
            // SELECT/INSERT/UPDATE/DELETE/MERGE/CALL can appear anywhere (sub-queries, CTEs);
            // the other operation words only open a statement (UPDATE t SET ..., replace(...)).
            let anywhere = matches!(
                upper.as_str(),
                "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "CALL"
            );
            let opening = parts.is_empty() && ops == 0;
            if OPERATIONS.contains(&upper.as_str()) && upper != "WITH" && (anywhere || opening) {
                ops += 1;
                if first_op.is_none() {
                    first_op = Some(upper.clone());
                }
                push(&mut parts, upper.clone(), &mut len);
            }
        } else if c == b'(' || c == b',' || c == b')' || c == b';' {
            if c != b',' {
                expect_target = false;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    let mut unique = targets.clone();
    unique.sort();
    unique.dedup();
    Summary {
        summary: parts.join(" "),
        operation: if ops == 1 { first_op } else { None },
        collection: if unique.len() == 1 {
            unique.pop()
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(s: &str) -> String {
        sanitize(s, Dialect::Postgres, 10_000).into_owned()
    }
    fn my(s: &str) -> String {
        sanitize(s, Dialect::MySql, 10_000).into_owned()
    }

    #[test]
    fn sanitiser_table() {
        let cases: &[(&str, &str)] = &[
            ("SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = ?"),
            (
                "SELECT * FROM t WHERE a = $1 AND b = $2",
                "SELECT * FROM t WHERE a = $1 AND b = $2",
            ),
            ("SELECT 'it''s' , x", "SELECT ? , x"),
            ("SELECT E'a\\'b' FROM t", "SELECT ? FROM t"),
            ("SELECT $$ body 'x' $$, $tag$ 1 $tag$", "SELECT ?, ?"),
            (
                "SELECT '1'::int, -5, 3.14e-2, .5, 0xFF",
                "SELECT ?::int, -?, ?, ?, ?",
            ),
            (
                "SELECT * FROM t WHERE id IN (1, 2, 3)",
                "SELECT * FROM t WHERE id IN (?)",
            ),
            (
                "SELECT * FROM t WHERE id IN ($1, $2)",
                "SELECT * FROM t WHERE id IN ($1, $2)",
            ),
            (
                "SELECT a -- secret 'x'\nFROM t /* pw=hunter2 */ WHERE b",
                "SELECT a FROM t WHERE b",
            ),
            ("SELECT /* outer /* inner */ still */ 1", "SELECT ?"),
            (
                "UPDATE t SET flag = TRUE, n = NULL",
                "UPDATE t SET flag = ?, n = NULL",
            ),
            (
                "SELECT \"Weird \"\"name\"\"\" FROM \"T1\"",
                "SELECT \"Weird \"\"name\"\"\" FROM \"T1\"",
            ),
            ("SELECT col1, t2.x FROM t2", "SELECT col1, t2.x FROM t2"),
            (
                "SELECT N'abc', X'0F', B'101', U&'d\\0061t'",
                "SELECT ?, ?, ?, ?",
            ),
            ("SELECT 'unterminated", "SELECT ?"),
            ("SELECT   a,\n\t b", "SELECT a, b"),
            ("SELECT 'héllo', 'ü' FROM t", "SELECT ?, ? FROM t"),
            ("SELECT :name, @p1, ?", "SELECT :name, @p1, ?"),
        ];
        for (input, want) in cases {
            assert_eq!(pg(input), *want, "input: {input:?}");
        }
        // MySQL: backslash escapes, double-quoted strings, # comments, backticks kept
        assert_eq!(
            my("SELECT 'a\\'b', \"c\" FROM `t` # note 'x'"),
            "SELECT ?, ? FROM `t`"
        );
        // parameterised text as written comes back borrowed
        assert!(matches!(
            sanitize("SELECT a FROM t WHERE id = $1", Dialect::Postgres, 100),
            Cow::Borrowed(_)
        ));
        // truncation on a char boundary
        assert_eq!(sanitize("SELECT ééé", Dialect::Postgres, 9), "SELECT é");
    }

    #[test]
    fn summaries() {
        let s = summarize("SELECT * FROM orders WHERE id = $1");
        assert_eq!(
            (
                s.summary.as_str(),
                s.operation.as_deref(),
                s.collection.as_deref()
            ),
            ("SELECT orders", Some("SELECT"), Some("orders"))
        );
        let s = summarize("insert into public.users (a) values (1)");
        assert_eq!(s.summary, "INSERT public.users");
        assert_eq!(s.collection.as_deref(), Some("public.users"));
        let s = summarize("SELECT a FROM x JOIN y ON x.id = y.id");
        assert_eq!(s.summary, "SELECT x y");
        assert_eq!(s.collection, None);
        let s = summarize("UPDATE ONLY \"Accounts\" SET a = 1");
        assert_eq!(s.summary, "UPDATE Accounts");
        let s = summarize("DELETE FROM t WHERE id IN (SELECT id FROM u)");
        assert_eq!(s.summary, "DELETE t SELECT u");
        assert_eq!(s.operation, None);
        let s = summarize("DROP TABLE IF EXISTS tmp_1");
        assert_eq!(s.summary, "DROP tmp_1");
        let s = summarize("BEGIN");
        assert_eq!(
            (s.summary.as_str(), s.operation.as_deref()),
            ("BEGIN", Some("BEGIN"))
        );
        let s = summarize("WITH c AS (SELECT 1) SELECT * FROM c");
        assert_eq!(s.summary, "SELECT SELECT c");
        assert_eq!(summarize("").summary, "");
        assert!(summarize(&"SELECT a FROM t, ".repeat(200)).summary.len() <= 255);
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for s in [
            "'",
            "\"",
            "$",
            "$$",
            "$a",
            "/*",
            "--",
            "0x",
            "1e",
            "E'",
            "U&",
            "\u{fffd}\u{10ffff}",
            "IN (",
            "in(?,?",
        ] {
            for d in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
                let _ = sanitize(s, d, 10);
            }
            let _ = summarize(s);
        }
    }
}

/// Everything a span needs from one statement text, computed once and cached per thread.
///
/// ```
/// use trace_core::sql::{analyze, Dialect, QueryText};
/// let a = analyze("DELETE FROM sessions WHERE expires < $1", Dialect::Postgres, QueryText::Sanitized, 2048, "postgresql");
/// assert_eq!(a.name, "DELETE sessions");
/// assert!(!a.reads);
/// let op = a.operation(); // what `db::start` takes
/// assert_eq!(op.collection.as_ref().map(|c| c.as_str()), Some("sessions"));
/// ```
#[derive(Debug)]
pub struct Analysis {
    /// The span name.
    pub name: std::borrow::Cow<'static, str>,
    /// `db.query.text` as recorded (per the mode), if any.
    pub text: Option<opentelemetry::StringValue>,
    /// `db.query.summary`.
    pub summary: Option<opentelemetry::StringValue>,
    /// `db.operation.name`.
    pub operation: Option<opentelemetry::StringValue>,
    /// `db.collection.name`.
    pub collection: Option<opentelemetry::StringValue>,
    /// Whether the statement reads rows (its row count is worth recording even when zero).
    pub reads: bool,
}

impl Analysis {
    /// The span's operation description.
    ///
    /// ```
    /// use trace_core::sql::{analyze, Dialect, QueryText};
    /// let op = analyze("SELECT 1", Dialect::Sqlite, QueryText::Sanitized, 2048, "sqlite").operation();
    /// assert_eq!(op.name, "SELECT");
    /// ```
    pub fn operation(&self) -> crate::db::DbOperation {
        crate::db::DbOperation {
            name: self.name.clone(),
            query_text: self.text.clone(),
            summary: self.summary.clone(),
            operation: self.operation.clone(),
            collection: self.collection.clone(),
            batch_size: None,
        }
    }
}

fn arc_value(s: &str) -> opentelemetry::StringValue {
    opentelemetry::StringValue::from(std::sync::Arc::<str>::from(s))
}

/// A summary, operation or collection name: few per service, so interned with the span names
/// (mostly summaries). Each span takes a copy and its recycled vector drops it, maybe on another
/// thread: a `'static` string has no reference count for the two threads to share.
fn name_value(s: &str) -> opentelemetry::StringValue {
    crate::intern::ROUTES.shared_value(s)
}

fn analyze_uncached(
    sql: &str,
    dialect: Dialect,
    mode: QueryText,
    max_len: usize,
    system: &'static str,
) -> Analysis {
    let s = summarize(sql);
    let text = match mode {
        QueryText::Off => None,
        QueryText::Sanitized => Some(arc_value(&sanitize(sql, dialect, max_len))),
        QueryText::Full => Some(arc_value(&crate::limits::truncate_to(sql, max_len))),
    };
    let reads = matches!(
        s.operation.as_deref(),
        Some("SELECT" | "SHOW" | "PRAGMA" | "EXPLAIN" | "CALL") | None
    ) && !matches!(s.summary.as_str(), "BEGIN" | "COMMIT" | "ROLLBACK");
    let summary = (!s.summary.is_empty()).then_some(s.summary.as_str());
    Analysis {
        name: crate::db::span_name(
            summary,
            s.operation.as_deref(),
            s.collection.as_deref(),
            system,
        ),
        text,
        summary: summary.map(name_value),
        operation: s.operation.as_deref().map(name_value),
        collection: s.collection.as_deref().map(name_value),
        reads,
    }
}

/// Longest statement text kept in the per-thread analysis cache.
const CACHED_TEXT_MAX: usize = 16 * 1024;
const CACHE_SLOTS: usize = 128;

type Slot = Option<(
    Box<str>,
    (Dialect, QueryText, usize, &'static str),
    std::sync::Arc<Analysis>,
)>;

thread_local! {
    static ANALYSES: std::cell::RefCell<Vec<Slot>> = std::cell::RefCell::new(vec![None; CACHE_SLOTS]);
}

/// Analyses a statement: span name, recorded text, summary, operation, table. Repeated texts
/// (the usual case: statements are constants) are served from a small per-thread cache.
///
/// ```
/// use trace_core::sql::{analyze, Dialect, QueryText};
/// let first = analyze("SELECT 1", Dialect::Sqlite, QueryText::Sanitized, 2048, "sqlite");
/// let again = analyze("SELECT 1", Dialect::Sqlite, QueryText::Sanitized, 2048, "sqlite");
/// assert!(std::sync::Arc::ptr_eq(&first, &again)); // served from the cache
/// assert_eq!(first.name, "SELECT");
/// ```
pub fn analyze(
    sql: &str,
    dialect: Dialect,
    mode: QueryText,
    max_len: usize,
    system: &'static str,
) -> std::sync::Arc<Analysis> {
    if sql.len() > CACHED_TEXT_MAX {
        return std::sync::Arc::new(analyze_uncached(sql, dialect, mode, max_len, system));
    }
    let key = (dialect, mode, max_len, system);
    let mut h = crate::intern::Fnv::default();
    std::hash::Hasher::write(&mut h, sql.as_bytes());
    let slot = (std::hash::Hasher::finish(&h) as usize) % CACHE_SLOTS;
    let hit = ANALYSES.with(|c| match &c.borrow()[slot] {
        Some((text, k, a)) if **text == *sql && *k == key => Some(a.clone()),
        _ => None,
    });
    if let Some(a) = hit {
        return a;
    }
    let a = std::sync::Arc::new(analyze_uncached(sql, dialect, mode, max_len, system));
    ANALYSES.with(|c| c.borrow_mut()[slot] = Some((Box::from(sql), key, a.clone())));
    a
}

#[cfg(test)]
mod analysis_tests {
    use super::*;

    #[test]
    fn analysis_is_cached_and_right() {
        let a = analyze(
            "SELECT * FROM users WHERE id = 'x'",
            Dialect::Postgres,
            QueryText::Sanitized,
            100,
            "postgresql",
        );
        let b = analyze(
            "SELECT * FROM users WHERE id = 'x'",
            Dialect::Postgres,
            QueryText::Sanitized,
            100,
            "postgresql",
        );
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!(a.name, "SELECT users");
        assert_eq!(
            a.text.as_ref().unwrap().as_str(),
            "SELECT * FROM users WHERE id = ?"
        );
        assert!(a.reads);
        let full = analyze(
            "SELECT * FROM users WHERE id = 'x'",
            Dialect::Postgres,
            QueryText::Full,
            100,
            "postgresql",
        );
        assert_eq!(
            full.text.as_ref().unwrap().as_str(),
            "SELECT * FROM users WHERE id = 'x'"
        );
        let off = analyze(
            "INSERT INTO t VALUES (1)",
            Dialect::Postgres,
            QueryText::Off,
            100,
            "postgresql",
        );
        assert!(off.text.is_none() && !off.reads);
    }
}
