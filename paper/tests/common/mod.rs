//! Helpers shared by the paper exchange's integration tests.

#![allow(dead_code)]

/// `us` is `ms` with every member named in `keys` (at any depth, when a non-negative integer)
/// times 1000, and nothing else changed: the same members with the same values.
pub fn in_microseconds_of(ms: &serde_json::Value, us: &serde_json::Value, keys: &[&str], at: &str) {
    use serde_json::Value;
    match (ms, us) {
        (Value::Object(a), Value::Object(b)) => {
            let (ka, kb): (Vec<&String>, Vec<&String>) = (a.keys().collect(), b.keys().collect());
            assert_eq!(ka, kb, "{at}: members");
            for (k, v) in a {
                let w = &b[k];
                match v.as_i64() {
                    Some(t) if keys.contains(&k.as_str()) && t >= 0 => {
                        assert_eq!(w.as_i64(), Some(t * 1000), "{at}.{k}");
                    }
                    _ => in_microseconds_of(v, w, keys, &format!("{at}.{k}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: length");
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                in_microseconds_of(v, w, keys, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(ms, us, "{at}"),
    }
}
