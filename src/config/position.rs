//! Where a key or value sits in the YAML text, for messages that name the line.
//!
//! serde_yaml tells only where an error happened, so to find a node we raise
//! an error there.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::shape::position_of;

/// One step of a path into the document.
#[derive(Clone, Copy)]
pub(super) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The message of the error [`locate`] raises on purpose.
const LOCATED: &str = "@hotreload: located@";

/// Line and column (1-based) of the value at `path`, or with `key_itself` of
/// the `nth` occurrence (0-based) of the last key. serde_yaml attaches a
/// position to errors raised while reading a node, so we raise one there.
pub(super) fn locate(
    text: &str,
    path: &[Seg<'_>],
    key_itself: bool,
    nth: usize,
) -> Option<(usize, usize)> {
    let seek = Seek {
        path,
        key_itself,
        nth,
    };
    match seek.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Err(e) if e.to_string().contains(LOCATED) => position_of(&e),
        _ => None,
    }
}

struct Seek<'p> {
    path: &'p [Seg<'p>],
    key_itself: bool,
    nth: usize,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.path.split_first() {
            None => d.deserialize_any(Here),
            Some((Seg::Key(key), rest)) => d.deserialize_any(SeekMap {
                key,
                rest,
                key_itself: self.key_itself,
                nth: self.nth,
            }),
            Some((Seg::Index(index), rest)) => d.deserialize_any(SeekSeq {
                index: *index,
                rest: Seek {
                    path: rest,
                    key_itself: self.key_itself,
                    nth: self.nth,
                },
            }),
        }
    }
}

/// Fails on whatever node it meets, so the error carries that node's position.
struct Here;

impl Visitor<'_> for Here {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(LOCATED)
    }
}

struct SeekMap<'p> {
    key: &'p str,
    rest: &'p [Seg<'p>],
    key_itself: bool,
    nth: usize,
}

impl<'de> Visitor<'de> for SeekMap<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0;
        let raise = self.key_itself && self.rest.is_empty();
        loop {
            let found = map.next_key_seed(KeySeed {
                want: self.key,
                raise: raise.then_some(self.nth),
                seen: &mut seen,
            })?;
            match found {
                None => return Ok(()),
                Some(true) => map.next_value_seed(Seek {
                    path: self.rest,
                    key_itself: self.key_itself,
                    nth: self.nth,
                })?,
                Some(false) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
    }
}

struct SeekSeq<'p> {
    index: usize,
    rest: Seek<'p>,
}

impl<'de> Visitor<'de> for SeekSeq<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(self.rest)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// Reads a key; true when it is the one wanted (the first occurrence), or
/// fails on the `raise`-th occurrence so the error carries its position.
struct KeySeed<'s> {
    want: &'s str,
    raise: Option<usize>,
    seen: &'s mut usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        if key != self.want {
            return Ok(false);
        }
        let this = *self.seen;
        *self.seen += 1;
        match self.raise {
            Some(nth) if nth == this => Err(E::custom(LOCATED)),
            Some(_) => Ok(false),
            None => Ok(this == 0),
        }
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_points_at_values_and_keys() {
        let text = "app: 1\nhot_reload:\n  patterns:\n    - a\n    - b\n  port: 80\n  port: 81\n";
        /// (path, the key itself rather than its value, occurrence, position).
        type Row<'a> = (&'a [Seg<'a>], bool, usize, Option<(usize, usize)>);
        let rows: &[Row<'_>] = &[
            (&[], false, 0, Some((1, 1))),
            (&[Seg::Key("hot_reload")], true, 0, Some((2, 1))),
            (
                &[Seg::Key("hot_reload"), Seg::Key("patterns"), Seg::Index(1)],
                false,
                0,
                Some((5, 7)),
            ),
            (
                &[Seg::Key("hot_reload"), Seg::Key("patterns"), Seg::Index(2)],
                false,
                0,
                None,
            ),
            (
                &[Seg::Key("hot_reload"), Seg::Key("port")],
                false,
                0,
                Some((6, 9)),
            ),
            (
                &[Seg::Key("hot_reload"), Seg::Key("port")],
                true,
                1,
                Some((7, 3)),
            ),
            (&[Seg::Key("hot_reload"), Seg::Key("port")], true, 2, None),
            (&[Seg::Key("nothing")], false, 0, None),
            (&[Seg::Key("app"), Seg::Key("x")], false, 0, None),
        ];
        for (path, key_itself, nth, want) in rows {
            assert_eq!(
                locate(text, path, *key_itself, *nth),
                *want,
                "{:?}",
                path.len()
            );
        }
    }
}
