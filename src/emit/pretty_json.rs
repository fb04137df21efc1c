//! Pretty JSON whose one large collection (a plan's targets) is rendered over the cores.
//!
//! A bake file or plan of thousands of targets is mostly those targets: rendering them one
//! after the other leaves the other cores idle for most of the write. Here each member is
//! rendered by serde_json's pretty printer on its own, in chunks spread over the cores, and
//! the chunks are written in order, a few at a time (the whole text is never held at once).
//!
//! The text is byte for byte what `serde_json::to_writer_pretty` writes for the whole
//! value: a member is rendered by serde_json's serializer with a [`Nested`] formatter, its
//! pretty printer's layout begun at the member's depth rather than at the top level.

use std::io::{self, Write};

use serde::Serialize;

use crate::parallel;

/// The large collection's JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// `[value, ...]`.
    Array,
    /// `{"key": value, ...}`.
    Object,
}

/// Members rendered per chunk (one chunk is one task for a core).
const MEMBERS_PER_CHUNK: usize = 128;
/// Chunks rendered per core before they are written: bounds the text held at once.
const CHUNKS_PER_CORE: usize = 2;
/// The indentation of the collection's members: the collection is a field of the top level.
const MEMBER_INDENT: &[u8] = b"    ";

/// Writes `head` (a struct) with one more field, last: `key`, holding one member per item,
/// as `serde_json::to_writer_pretty` would write the whole. `render` writes an item's
/// member ([`Member::value`] for an array, [`Member::entry`] for an object).
pub fn write_with_collection<H: Serialize, T: Sync>(
    out: &mut (impl Write + ?Sized),
    head: &H,
    key: &str,
    collection: Collection,
    items: &[T],
    render: impl Fn(&T, &mut Member<'_>) -> io::Result<()> + Sync + Send,
) -> io::Result<()> {
    let head = serde_json::to_vec_pretty(head)?;
    // A struct with fields ends with "\n}"; one without is "{}".
    match head.strip_suffix(b"\n}") {
        Some(fields) => {
            out.write_all(fields)?;
            out.write_all(b",\n  ")?;
        }
        None => out.write_all(b"{\n  ")?,
    }
    serde_json::to_writer(&mut *out, key)?;
    let (open, close) = match collection {
        Collection::Array => (b"[", b"]"),
        Collection::Object => (b"{", b"}"),
    };
    out.write_all(b": ")?;
    out.write_all(open)?;
    let chunks: Vec<(usize, &[T])> = items
        .chunks(MEMBERS_PER_CHUNK)
        .enumerate()
        .map(|(i, chunk)| (i * MEMBERS_PER_CHUNK, chunk))
        .collect();
    for wave in chunks.chunks(CHUNKS_PER_CORE * rayon::current_num_threads()) {
        let rendered = parallel::map(wave, 1, |&(first, chunk)| {
            let mut text = Vec::with_capacity(chunk.len() * 768);
            for (i, item) in chunk.iter().enumerate() {
                text.extend_from_slice(if first + i == 0 { b"\n" } else { b",\n" });
                text.extend_from_slice(MEMBER_INDENT);
                render(item, &mut Member { text: &mut text })?;
            }
            Ok::<_, io::Error>(text)
        });
        for text in rendered {
            out.write_all(&text?)?;
        }
    }
    if !items.is_empty() {
        out.write_all(b"\n  ")?;
    }
    out.write_all(close)?;
    out.write_all(b"\n}")
}

/// One member of the collection, written where it stands in the whole.
pub struct Member<'a> {
    text: &'a mut Vec<u8>,
}

impl Member<'_> {
    /// An array's member: `value`.
    pub fn value(&mut self, value: &impl Serialize) -> io::Result<()> {
        let mut serializer = serde_json::Serializer::with_formatter(&mut *self.text, Nested::new());
        Ok(value.serialize(&mut serializer)?)
    }

    /// An object's member: `"key": value`.
    pub fn entry(&mut self, key: &str, value: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut *self.text, key)?;
        self.text.extend_from_slice(b": ");
        self.value(value)
    }
}

/// The layout of `serde_json::to_writer_pretty` (two spaces a level, a line per element),
/// begun at the depth of the collection's members: inside the top-level object and the
/// collection.
struct Nested {
    depth: usize,
    /// Whether the collection being written holds anything yet.
    has_value: bool,
}

impl Nested {
    fn new() -> Nested {
        Nested {
            depth: MEMBER_INDENT.len() / 2,
            has_value: false,
        }
    }

    fn open<W: Write + ?Sized>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close<W: Write + ?Sized>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(out)?;
        }
        out.write_all(bracket)
    }

    /// A line break and the current depth's indentation.
    fn line<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        out.write_all(b"\n")?;
        for _ in 0..self.depth {
            out.write_all(b"  ")?;
        }
        Ok(())
    }

    fn element<W: Write + ?Sized>(&self, out: &mut W, first: bool) -> io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        self.line(out)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: Write + ?Sized>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: Write + ?Sized>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: Write + ?Sized>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.element(out, first)
    }

    fn end_array_value<W: Write + ?Sized>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: Write + ?Sized>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"{")
    }

    fn end_object<W: Write + ?Sized>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: Write + ?Sized>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.element(out, first)
    }

    fn begin_object_value<W: Write + ?Sized>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: Write + ?Sized>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Head {
        name: &'static str,
        count: usize,
    }

    #[derive(Serialize)]
    struct Whole<T> {
        name: &'static str,
        count: usize,
        members: T,
    }

    fn member(i: usize) -> BTreeMap<String, serde_json::Value> {
        let mut m = BTreeMap::new();
        m.insert("index".to_string(), serde_json::json!(i));
        m.insert(
            "lines".to_string(),
            serde_json::json!(["a\nb", {"nested": [1, {}], "empty": []}]),
        );
        m
    }

    fn ours(collection: Collection, n: usize) -> String {
        let items: Vec<usize> = (0..n).collect();
        let mut out = Vec::new();
        write_with_collection(
            &mut out,
            &Head {
                name: "x",
                count: n,
            },
            "members",
            collection,
            &items,
            |&i, out| match collection {
                Collection::Array => out.value(&member(i)),
                Collection::Object => out.entry(&format!("m{i:05}"), &member(i)),
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn by_serde_json(collection: Collection, n: usize) -> String {
        let whole = |members| Whole {
            name: "x",
            count: n,
            members,
        };
        match collection {
            Collection::Array => serde_json::to_string_pretty(&whole(
                serde_json::to_value((0..n).map(member).collect::<Vec<_>>()).unwrap(),
            )),
            Collection::Object => serde_json::to_string_pretty(&whole(
                serde_json::to_value(
                    (0..n)
                        .map(|i| (format!("m{i:05}"), member(i)))
                        .collect::<BTreeMap<_, _>>(),
                )
                .unwrap(),
            )),
        }
        .unwrap()
    }

    #[test]
    fn the_text_is_serde_jsons_for_the_whole() {
        // Empty, one chunk, several waves of chunks.
        for n in [0, 1, 3, MEMBERS_PER_CHUNK + 1, MEMBERS_PER_CHUNK * 9 + 7] {
            for collection in [Collection::Array, Collection::Object] {
                assert_eq!(
                    ours(collection, n),
                    by_serde_json(collection, n),
                    "{collection:?} of {n}"
                );
            }
        }
    }

    #[test]
    fn a_head_without_fields() {
        #[derive(Serialize)]
        struct Empty {}
        #[derive(Serialize)]
        struct Only {
            items: Vec<u8>,
        }
        let mut out = Vec::new();
        write_with_collection(
            &mut out,
            &Empty {},
            "items",
            Collection::Array,
            &[1u8, 2],
            |i, out| out.value(i),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&Only { items: vec![1, 2] }).unwrap()
        );
    }
}
