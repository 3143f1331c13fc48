//! The metadata of a GGUF file: key/value pairs in file order with a key
//! index, and typed getters that say clearly what is missing or wrong.

use std::collections::HashMap;

use super::{GgufType, GgufValue, MetaError};

/// Metadata key/value pairs, in file order, with an index by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    entries: Vec<(String, GgufValue)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    /// Empty metadata with room for `n` keys.
    pub fn with_capacity(n: usize) -> Metadata {
        Metadata {
            entries: Vec::with_capacity(n),
            index: HashMap::with_capacity(n),
        }
    }

    /// Builds metadata from pairs in file order; gives back the first
    /// duplicated key as the error.
    pub fn from_entries(entries: Vec<(String, GgufValue)>) -> Result<Metadata, String> {
        let mut m = Metadata::with_capacity(entries.len());
        for (key, value) in entries {
            if m.contains(&key) {
                return Err(key);
            }
            m.push(key, value);
        }
        Ok(m)
    }

    /// Appends a pair; the caller has checked that `key` is new (a repeated
    /// key would shadow the earlier one in lookups).
    pub(crate) fn push(&mut self, key: String, value: GgufValue) {
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Key/value pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &GgufValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// The value of `key` converted to `T`; an error if it is missing or does
    /// not convert (see [`FromGguf`] for what converts).
    pub fn get_as<'a, T: FromGguf<'a>>(&'a self, key: &str) -> Result<T, MetaError> {
        match self.get(key) {
            Some(v) => convert(key, v),
            None => Err(MetaError::Missing {
                key: key.to_owned(),
            }),
        }
    }

    /// Like [`Metadata::get_as`], but a missing key is `Ok(None)`; a present
    /// key of the wrong type is still an error.
    pub fn get_opt<'a, T: FromGguf<'a>>(&'a self, key: &str) -> Result<Option<T>, MetaError> {
        self.get(key).map(|v| convert(key, v)).transpose()
    }

    /// The elements of the array `key` with their declared type.
    pub fn get_array(&self, key: &str) -> Result<(GgufType, &[GgufValue]), MetaError> {
        match self.get(key) {
            Some(GgufValue::Array(ty, items)) => Ok((*ty, items)),
            Some(v) => Err(wrong_type(key, "array", v)),
            None => Err(MetaError::Missing {
                key: key.to_owned(),
            }),
        }
    }

    /// The array `key` with every element converted to `T`.
    pub fn get_vec<'a, T: FromGguf<'a>>(&'a self, key: &str) -> Result<Vec<T>, MetaError> {
        let (ty, items) = self.get_array(key)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match T::from_value(item) {
                Ok(x) => out.push(x),
                Err(Mismatch::WrongType) => {
                    return Err(MetaError::WrongType {
                        key: key.to_owned(),
                        expected: T::ARRAY_EXPECTED,
                        found: format!("array of {ty}"),
                    })
                }
                Err(Mismatch::OutOfRange) => {
                    return Err(MetaError::OutOfRange {
                        key: format!("{key}[{i}]"),
                        expected: T::EXPECTED,
                        value: show(item),
                    })
                }
            }
        }
        Ok(out)
    }

    /// The array of strings `key` (e.g. `tokenizer.ggml.tokens`).
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, MetaError> {
        self.get_vec(key)
    }
}

fn convert<'a, T: FromGguf<'a>>(key: &str, v: &'a GgufValue) -> Result<T, MetaError> {
    T::from_value(v).map_err(|m| match m {
        Mismatch::WrongType => wrong_type(key, T::EXPECTED, v),
        Mismatch::OutOfRange => MetaError::OutOfRange {
            key: key.to_owned(),
            expected: T::EXPECTED,
            value: show(v),
        },
    })
}

fn wrong_type(key: &str, expected: &'static str, v: &GgufValue) -> MetaError {
    MetaError::WrongType {
        key: key.to_owned(),
        expected,
        found: describe(v),
    }
}

/// `u32`, `string`, `array of i32`, …
pub(crate) fn describe(v: &GgufValue) -> String {
    match v {
        GgufValue::Array(ty, _) => format!("array of {ty}"),
        v => v.kind().name().to_owned(),
    }
}

fn show(v: &GgufValue) -> String {
    match v.as_i128() {
        Some(i) => i.to_string(),
        None => format!("{v:?}"),
    }
}

/// Why a value does not convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The value has another type.
    WrongType,
    /// The value is an integer that does not fit.
    OutOfRange,
}

/// Types a metadata value converts to. Integers accept a value of any
/// integer type that fits (writers differ: llama.cpp's converter stores token
/// ids as u32, others as i32); floats accept f32 and f64; strings and bools
/// must be exactly that.
pub trait FromGguf<'a>: Sized {
    /// The type's name in messages (`u32`).
    const EXPECTED: &'static str;
    /// The array form's name in messages (`array of u32`).
    const ARRAY_EXPECTED: &'static str;
    /// Converts one value.
    fn from_value(v: &'a GgufValue) -> Result<Self, Mismatch>;
}

macro_rules! from_gguf_int {
    ($($t:ty),*) => {$(
        impl FromGguf<'_> for $t {
            const EXPECTED: &'static str = stringify!($t);
            const ARRAY_EXPECTED: &'static str = concat!("array of ", stringify!($t));
            fn from_value(v: &GgufValue) -> Result<Self, Mismatch> {
                let i = v.as_i128().ok_or(Mismatch::WrongType)?;
                <$t>::try_from(i).map_err(|_| Mismatch::OutOfRange)
            }
        }
    )*};
}

from_gguf_int!(u8, i8, u16, i16, u32, i32, u64, i64, usize);

impl FromGguf<'_> for f32 {
    const EXPECTED: &'static str = "f32";
    const ARRAY_EXPECTED: &'static str = "array of f32";
    fn from_value(v: &GgufValue) -> Result<Self, Mismatch> {
        match *v {
            GgufValue::F32(x) => Ok(x),
            GgufValue::F64(x) => Ok(x as f32),
            _ => Err(Mismatch::WrongType),
        }
    }
}

impl FromGguf<'_> for f64 {
    const EXPECTED: &'static str = "f64";
    const ARRAY_EXPECTED: &'static str = "array of f64";
    fn from_value(v: &GgufValue) -> Result<Self, Mismatch> {
        match *v {
            GgufValue::F32(x) => Ok(x.into()),
            GgufValue::F64(x) => Ok(x),
            _ => Err(Mismatch::WrongType),
        }
    }
}

impl FromGguf<'_> for bool {
    const EXPECTED: &'static str = "bool";
    const ARRAY_EXPECTED: &'static str = "array of bool";
    fn from_value(v: &GgufValue) -> Result<Self, Mismatch> {
        v.as_bool().ok_or(Mismatch::WrongType)
    }
}

impl<'a> FromGguf<'a> for &'a str {
    const EXPECTED: &'static str = "string";
    const ARRAY_EXPECTED: &'static str = "array of string";
    fn from_value(v: &'a GgufValue) -> Result<Self, Mismatch> {
        v.as_str().ok_or(Mismatch::WrongType)
    }
}

/// Generates the named typed getters (`get_u32`, `get_str`, …) on a type
/// that has `fn metadata(&self) -> &Metadata` and a method `$wrap` turning a
/// `MetaError` into its own error type `$err`.
macro_rules! typed_getters {
    ($err:ty, $wrap:ident) => {
        /// The value of `key` as a u16 (any integer type whose value fits).
        pub fn get_u16(&self, key: &str) -> Result<u16, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` as a u32 (any integer type whose value fits).
        pub fn get_u32(&self, key: &str) -> Result<u32, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` as a u64 (any integer type whose value fits).
        pub fn get_u64(&self, key: &str) -> Result<u64, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` as an i32 (any integer type whose value fits).
        pub fn get_i32(&self, key: &str) -> Result<i32, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` as an i64 (any integer type whose value fits).
        pub fn get_i64(&self, key: &str) -> Result<i64, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` as an f32 (stored as f32 or f64).
        pub fn get_f32(&self, key: &str) -> Result<f32, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` as a bool.
        pub fn get_bool(&self, key: &str) -> Result<bool, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` as a string.
        pub fn get_str(&self, key: &str) -> Result<&str, $err> {
            self.metadata().get_as(key).map_err(|e| self.$wrap(e))
        }
        /// The array of strings `key`.
        pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, $err> {
            self.metadata()
                .get_str_array(key)
                .map_err(|e| self.$wrap(e))
        }
        /// The array of integers `key` as i32 (elements of any integer type that fit).
        pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>, $err> {
            self.metadata().get_vec(key).map_err(|e| self.$wrap(e))
        }
        /// The array of floats `key` as f32.
        pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, $err> {
            self.metadata().get_vec(key).map_err(|e| self.$wrap(e))
        }
        /// The value of `key` converted to `T`, or `None` if the key is absent.
        pub fn get_opt<'a, T: $crate::gguf::FromGguf<'a>>(
            &'a self,
            key: &str,
        ) -> Result<Option<T>, $err> {
            self.metadata().get_opt(key).map_err(|e| self.$wrap(e))
        }
    };
}

pub(crate) use typed_getters;

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata::from_entries(vec![
            ("a.u8".into(), GgufValue::U8(200)),
            ("a.i32".into(), GgufValue::I32(-1)),
            ("a.u64".into(), GgufValue::U64(1 << 40)),
            ("a.f64".into(), GgufValue::F64(0.5)),
            ("a.s".into(), GgufValue::String("hi".into())),
            (
                "a.toks".into(),
                GgufValue::Array(
                    GgufType::String,
                    vec![GgufValue::String("x".into()), GgufValue::String("y".into())],
                ),
            ),
            (
                "a.ids".into(),
                GgufValue::Array(
                    GgufType::U32,
                    vec![GgufValue::U32(1), GgufValue::U32(u32::MAX)],
                ),
            ),
        ])
        .expect("no duplicates")
    }

    #[test]
    fn order_and_lookup() {
        let m = meta();
        let keys: Vec<&str> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(keys[0], "a.u8");
        assert_eq!(keys[6], "a.ids");
        assert_eq!(m.get("a.s"), Some(&GgufValue::String("hi".into())));
        assert!(m.get("nope").is_none());
        assert_eq!(
            Metadata::from_entries(vec![
                ("k".into(), GgufValue::U8(1)),
                ("k".into(), GgufValue::U8(2))
            ]),
            Err("k".to_owned())
        );
    }

    #[test]
    fn integers_of_any_width_that_fit() {
        let m = meta();
        assert_eq!(m.get_as::<u32>("a.u8"), Ok(200));
        assert_eq!(m.get_as::<i64>("a.i32"), Ok(-1));
        assert_eq!(m.get_as::<u64>("a.u64"), Ok(1 << 40));
        let e = m.get_as::<u32>("a.i32").expect_err("negative");
        assert_eq!(
            e.to_string(),
            "metadata key 'a.i32' is -1, which does not fit in u32"
        );
        let e = m.get_as::<u32>("a.u64").expect_err("too big");
        assert!(matches!(e, MetaError::OutOfRange { .. }));
        let e = m.get_as::<u32>("a.s").expect_err("string");
        assert_eq!(
            e.to_string(),
            "metadata key 'a.s' has type string; expected u32"
        );
        let e = m.get_as::<u32>("a.missing").expect_err("missing");
        assert_eq!(e.to_string(), "metadata key 'a.missing' is missing");
        assert_eq!(m.get_opt::<u32>("a.missing"), Ok(None));
        assert!(m.get_opt::<u32>("a.s").is_err());
    }

    #[test]
    fn floats_strings_arrays() {
        let m = meta();
        assert_eq!(m.get_as::<f32>("a.f64"), Ok(0.5));
        assert!(m.get_as::<f32>("a.u8").is_err());
        assert_eq!(m.get_as::<&str>("a.s"), Ok("hi"));
        assert_eq!(m.get_str_array("a.toks"), Ok(vec!["x", "y"]));
        let e = m.get_str_array("a.ids").expect_err("ints");
        assert_eq!(
            e.to_string(),
            "metadata key 'a.ids' has type array of u32; expected array of string"
        );
        assert_eq!(m.get_vec::<u64>("a.ids"), Ok(vec![1, u32::MAX as u64]));
        let e = m.get_vec::<i32>("a.ids").expect_err("u32::MAX");
        assert_eq!(
            e.to_string(),
            "metadata key 'a.ids[1]' is 4294967295, which does not fit in i32"
        );
        let e = m.get_str_array("a.s").expect_err("not an array");
        assert_eq!(
            e.to_string(),
            "metadata key 'a.s' has type string; expected array"
        );
    }
}
