//! Retention policies of scheduled snapshots (issue 15): how many to keep, as restic's
//! `forget --keep-last/--keep-hourly/--keep-daily/--keep-weekly/--keep-monthly`, and the
//! preview of what a policy keeps and deletes.
//!
//! The rule itself (buckets, order, reasons) is written where it is applied, in the
//! service's `retention` module; this file holds the shapes and the bounds every side
//! checks: the REST body and query, the dashboard form, the CLI flags and the OpenAPI
//! schema all use [`MAX_KEEP`].

use serde::{Deserialize, Serialize};

/// The largest count any rule of a [`KeepPolicy`] takes (the smallest is 0). Ten thousand
/// hours is over a year of hourly snapshots; a bound catches typos like `1e9` and keeps a
/// plan small. The OpenAPI schema states the same bound (`maximum = 10000` below), and a
/// server test checks that the two agree.
pub const MAX_KEEP: u32 = 10_000;

/// The rule names, in the order restic applies them and the API writes them.
pub const KEEP_FIELDS: [&str; 5] = ["last", "hourly", "daily", "weekly", "monthly"];

/// How many scheduled snapshots a schedule keeps, as restic's `forget --keep-*`: every field
/// is optional, a whole number from 0 to 10000 (`MAX_KEEP`). A field left out, or 0, is a rule
/// that keeps nothing; a policy whose every field is absent or 0 is no policy at all (the
/// schedule's snapshots are then kept until their `expiry`, if any).
///
/// - `last`: the N newest scheduled snapshots;
/// - `hourly`, `daily`, `weekly`, `monthly`: walking from the newest snapshot to the
///   oldest, the newest snapshot of each calendar hour, day, ISO week (Monday to Sunday) or
///   month, **in UTC**, until N such hours (days, weeks, months) are kept. Periods without a
///   snapshot are not counted.
///
/// A snapshot kept by any rule is kept; the others are deleted. As restic (0.17) does, when
/// a calendar rule still has room after the oldest snapshot, that oldest snapshot is kept
/// too ("oldest daily"), so a young history is not thinned to nothing.
///
/// In JSON it is an object only: serde's derived reader would also take an array (`[]`, read
/// as a policy with no rules), which no one means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// For the schema (`additionalProperties: false`); the reader below refuses unknown fields.
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"last": 5, "hourly": 24, "daily": 7, "weekly": 4, "monthly": 12})))]
pub struct KeepPolicy {
    /// Keep the N newest scheduled snapshots.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 0, maximum = 10000, example = 5))]
    pub last: Option<u32>,
    /// Keep the newest snapshot of each of the N newest UTC hours that have one.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 0, maximum = 10000, example = 24))]
    pub hourly: Option<u32>,
    /// Keep the newest snapshot of each of the N newest UTC days that have one.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 0, maximum = 10000, example = 7))]
    pub daily: Option<u32>,
    /// Keep the newest snapshot of each of the N newest ISO weeks (Monday 00:00 to Sunday
    /// 23:59 UTC) that have one.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 0, maximum = 10000, example = 4))]
    pub weekly: Option<u32>,
    /// Keep the newest snapshot of each of the N newest UTC calendar months that have one.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 0, maximum = 10000, example = 12))]
    pub monthly: Option<u32>,
}

/// The fields of a [`KeepPolicy`] as JSON spells them: what its reader fills once it knows
/// the value is an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeepFields {
    #[serde(default, deserialize_with = "count")]
    last: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    hourly: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    daily: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    weekly: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    monthly: Option<u32>,
}

impl<'de> Deserialize<'de> for KeepPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = KeepPolicy;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an object of counts such as {\"last\": 5, \"daily\": 7} (fields last, \
                     hourly, daily, weekly, monthly)",
                )
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<KeepPolicy, A::Error> {
                let f = KeepFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(KeepPolicy::from_counts([
                    f.last, f.hourly, f.daily, f.weekly, f.monthly,
                ]))
            }
        }
        d.deserialize_map(Object)
    }
}

/// What a count must be, in the words every error message uses.
fn allowed() -> String {
    format!("a whole number from 0 to {MAX_KEEP}")
}

/// Reads one count of a JSON body. JSON numbers only (a string is a wrong type, as
/// everywhere in the API); a negative, fractional or too large number is refused with the
/// range (the body reader adds which field).
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(&allowed())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Count)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            match u32::try_from(v) {
                Ok(n) if n <= MAX_KEEP => Ok(Some(n)),
                _ => Err(E::custom(format!("{v} is out of range: use {}", allowed()))),
            }
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::custom(format!("{v} is out of range: use {}", allowed()))),
            }
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // JSON reads a whole number beyond 64 bits (or written `5.0`) as a float.
            if v.fract() == 0.0 && v >= 0.0 {
                return if v <= f64::from(MAX_KEEP) {
                    Ok(Some(v as u32))
                } else {
                    Err(E::custom(format!("{v} is out of range: use {}", allowed())))
                };
            }
            Err(E::custom(format!(
                "{v} is not a whole number: use {}",
                allowed()
            )))
        }
    }
    d.deserialize_any(Count)
}

impl KeepPolicy {
    /// The counts in [`KEEP_FIELDS`] order.
    pub fn counts(&self) -> [Option<u32>; 5] {
        [
            self.last,
            self.hourly,
            self.daily,
            self.weekly,
            self.monthly,
        ]
    }

    /// A policy from counts in [`KEEP_FIELDS`] order.
    pub fn from_counts(c: [Option<u32>; 5]) -> KeepPolicy {
        KeepPolicy {
            last: c[0],
            hourly: c[1],
            daily: c[2],
            weekly: c[3],
            monthly: c[4],
        }
    }

    /// Whether no rule keeps anything (every count absent or 0): no policy.
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(|c| c.unwrap_or(0) == 0)
    }

    /// The policy as it is stored and shown: zero counts left out, and `None` when nothing
    /// is left (an empty `keep` is no policy).
    pub fn normalized(self) -> Option<KeepPolicy> {
        let p = KeepPolicy::from_counts(self.counts().map(|c| c.filter(|&n| n > 0)));
        (!p.is_empty()).then_some(p)
    }

    /// Checks every count against [`MAX_KEEP`] (a policy built in code, not read from JSON,
    /// may hold anything); the error names the field and the range.
    pub fn check(&self) -> Result<(), String> {
        for (field, c) in KEEP_FIELDS.iter().zip(self.counts()) {
            if let Some(n) = c.filter(|&n| n > MAX_KEEP) {
                return Err(format!("keep.{field} must be {} (got {n})", allowed()));
            }
        }
        Ok(())
    }

    /// Reads one count typed into a form or a query string (`field` is its name in
    /// [`KEEP_FIELDS`]): empty is "not set"; anything but a whole number from 0 to
    /// [`MAX_KEEP`] is refused with a sentence naming the field and the range.
    pub fn parse_count(field: &str, text: &str) -> Result<Option<u32>, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match t.parse::<u32>() {
            Ok(n) if n <= MAX_KEEP => Ok(Some(n)),
            _ => Err(format!("keep.{field} must be {} (got {t:?})", allowed())),
        }
    }

    /// The policy in words, for tables and the dashboard: `last 5, daily 7, weekly 4`, or
    /// `none`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = KEEP_FIELDS
            .iter()
            .zip(self.counts())
            .filter_map(|(f, c)| c.filter(|&n| n > 0).map(|n| format!("{f} {n}")))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// One snapshot in a [`RetentionPreview`], with why it is where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionEntry {
    #[cfg_attr(feature = "openapi", schema(example = "snap-20261129-030000"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(example = "auto-20261129-0300"))]
    pub alias: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "2026-11-29T03:00:00.000Z"))]
    pub created_at: String,
    /// Kept: every rule that keeps it (`last`, `hourly 2026-11-29 03:00`, `daily
    /// 2026-11-29`, `weekly 2026-W48`, `monthly 2026-11`, `oldest daily`). Deleted: what
    /// each rule said (`daily 2026-11-29: snap-20261129-230000 is newer`, `weekly: 4 newer
    /// weeks kept`). Untouched: `manual` or `pinned`.
    #[cfg_attr(feature = "openapi", schema(example = json!(["last", "daily 2026-11-29"])))]
    pub reasons: Vec<String>,
}

/// What a keep policy would do to a container's snapshots now, deleting nothing
/// (`GET /api/v1/containers/{id}/schedule/preview`). Each list is newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionPreview {
    #[cfg_attr(feature = "openapi", schema(example = "890abcdef12345678901cdef"))]
    pub container_id: String,
    /// The policy previewed (the saved one, or the one given in the query); `null` when
    /// there is none, and then every scheduled snapshot is kept.
    pub policy: Option<KeepPolicy>,
    /// Scheduled snapshots the policy keeps.
    pub keep: Vec<RetentionEntry>,
    /// Scheduled snapshots the policy deletes (the background job does it on its next pass).
    pub delete: Vec<RetentionEntry>,
    /// Snapshots no policy ever touches: taken by hand (or by the API, a restore's safety
    /// snapshot, the demo) or pinned after a schedule took them.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub untouched: Vec<RetentionEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionPreviewData {
    pub preview: RetentionPreview,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Result<KeepPolicy, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn counts_read_from_json_within_bounds_only() {
        let p = body(r#"{"last": 5, "daily": 0, "monthly": 10000, "weekly": null}"#).unwrap();
        assert_eq!(
            p.counts(),
            [Some(5), None, Some(0), None, Some(10000)],
            "{p:?}"
        );
        assert_eq!(body("{}").unwrap(), KeepPolicy::default());
        // A whole number written as a float is that number.
        assert_eq!(body(r#"{"last": 5.0}"#).unwrap().last, Some(5));
        for (bad, says) in [
            (r#"{"daily": -1}"#, "-1 is out of range"),
            (r#"{"daily": 10001}"#, "10001 is out of range"),
            (r#"{"daily": 99999999999999999999}"#, "is out of range"),
            (r#"{"daily": 1e30}"#, "is out of range"),
            (r#"{"daily": 2.5}"#, "2.5 is not a whole number"),
            (r#"{"daily": "7"}"#, "invalid type"),
            (r#"{"daily": true}"#, "invalid type"),
            (r#"{"yearly": 1}"#, "unknown field"),
            ("[]", "an object of counts"),
            ("[5]", "an object of counts"),
            (r#""x""#, "an object of counts"),
            ("7", "an object of counts"),
        ] {
            let e = body(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            if !says.contains("unknown") && !says.contains("object") {
                assert!(e.contains("from 0 to 10000"), "{bad}: {e}");
            }
        }
    }

    #[test]
    fn zero_counts_are_no_rule_and_all_zero_is_no_policy() {
        let p = KeepPolicy {
            last: Some(0),
            daily: Some(7),
            ..Default::default()
        };
        assert_eq!(
            p.normalized(),
            Some(KeepPolicy {
                daily: Some(7),
                ..Default::default()
            })
        );
        let zero = KeepPolicy::from_counts([Some(0); 5]);
        assert!(zero.is_empty());
        assert_eq!(zero.normalized(), None);
        assert_eq!(KeepPolicy::default().normalized(), None);
        assert_eq!(zero.describe(), "none");
        assert_eq!(p.describe(), "daily 7");
    }

    #[test]
    fn typed_counts_name_the_field_and_range() {
        assert_eq!(KeepPolicy::parse_count("daily", " 7 "), Ok(Some(7)));
        assert_eq!(KeepPolicy::parse_count("daily", ""), Ok(None));
        for bad in ["-1", "1.5", "abc", "10001", "1e3"] {
            let e = KeepPolicy::parse_count("weekly", bad).unwrap_err();
            assert!(
                e.contains("keep.weekly") && e.contains("0 to 10000"),
                "{bad}: {e}"
            );
        }
        let e = KeepPolicy {
            hourly: Some(MAX_KEEP + 1),
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(e.contains("keep.hourly") && e.contains("10001"), "{e}");
    }
}
