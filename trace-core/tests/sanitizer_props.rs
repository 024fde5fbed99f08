//! Property: whatever literals a statement holds, none survives sanitising, and the sanitiser and
//! summariser never panic on arbitrary input.

use proptest::prelude::*;
use trace_core::sql::{sanitize, summarize, Dialect};

fn literal() -> impl Strategy<Value = (String, String)> {
    // (the literal as written in SQL, a marker that must not appear in the output)
    prop_oneof![
        "[a-zA-Z0-9_%!@ ]{6,20}".prop_map(|m| (format!("'{m}'"), m)),
        "[a-zA-Z0-9]{6,12}".prop_map(|m| (format!("'{m}''{m}'"), m)),
        "[a-zA-Z0-9]{6,12}".prop_map(|m| (format!("E'{m}\\'x'"), m)),
        "[a-zA-Z0-9 ]{6,12}".prop_map(|m| (format!("$$ {m} $$"), m)),
        "[a-zA-Z0-9 ]{6,12}".prop_map(|m| (format!("$q$ {m} $q$"), m)),
        (100_000u64..u64::MAX).prop_map(|n| (n.to_string(), n.to_string())),
        (100_000u64..u64::MAX).prop_map(|n| (format!("-{n}.5e3"), n.to_string())),
        (0x10_0000u64..u64::MAX).prop_map(|n| (format!("0x{n:x}"), format!("{n:x}"))),
    ]
}

fn template() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("SELECT * FROM t WHERE a = {} AND b IN ({}, {})".to_string()),
        Just("INSERT INTO t (a, b) VALUES ({}, {}) -- {}".to_string()),
        Just("UPDATE t SET a = {}::text WHERE b > {} /* {} */".to_string()),
        Just("DELETE FROM t WHERE x = {} OR y = {} OR z = {}".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_literal_survives(t in template(), lits in proptest::collection::vec(literal(), 3)) {
        let mut sql = t.clone();
        for (lit, _) in &lits {
            sql = sql.replacen("{}", lit, 1);
        }
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            let out = sanitize(&sql, d, 100_000);
            for (_, marker) in &lits {
                prop_assert!(!out.contains(marker.as_str()), "{marker:?} survived in {out:?} (from {sql:?})");
            }
        }
    }

    #[test]
    fn mysql_strings_do_not_survive(m in "[a-zA-Z0-9 ]{6,20}", n in 100_000u64..u64::MAX) {
        let sql = format!("SELECT * FROM t WHERE a = \"{m}\" AND b = '{m}\\'' AND c = {n} # {m}");
        let out = sanitize(&sql, Dialect::MySql, 100_000);
        prop_assert!(!out.contains(&m) && !out.contains(&n.to_string()), "{out:?}");
    }

    #[test]
    fn never_panics(s in ".{0,300}", max in 0usize..400) {
        for d in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            let out = sanitize(&s, d, max);
            prop_assert!(out.len() <= max, "{} > {max}", out.len());
        }
        let _ = summarize(&s);
    }
}

#[test]
fn pathological_inputs_finish_and_stay_bounded() {
    // Unterminated quotes, comments and lists repeated 200 000 times: the single pass finishes
    // (a rescanning loop would not, in any reasonable time) and the output respects the limit.
    for shape in ["'", "$$", "/*", "--", "(", "IN (?, ", "E'\\"] {
        let big = shape.repeat(200_000);
        let out = sanitize(&big, Dialect::Postgres, 10_000);
        assert!(out.len() <= 10_000);
    }
}
